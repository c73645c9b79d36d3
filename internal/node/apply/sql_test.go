package apply

import (
	"testing"

	"ferry/internal/model"
)

// Without a server, database items fail softly with the reason.
func TestDatabaseServerDown(t *testing.T) {
	e := newTestEnv(t)
	e.a.cfg.MySQLSocket = e.path("no-mysqld.sock")
	e.a.cfg.PgDSN = "host=" + e.path("no-postgres") + " user=postgres sslmode=disable connect_timeout=2"
	for _, it := range []model.Item{
		testItem(1, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "shop"}),
		testItem(2, model.KindMySQLUser, model.StatePendingInsert, model.Spec{Name: "shop", PasswordHash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"}),
		testItem(3, model.KindPgSQLDB, model.StatePendingDelete, model.Spec{Name: "shop"}),
	} {
		res := applyOK(t, e, it, model.StateSoftError)
		want := map[model.Kind]string{
			model.KindMySQLDB:   "mariadb is not reachable at " + e.a.cfg.MySQLSocket,
			model.KindMySQLUser: "mariadb is not reachable at " + e.a.cfg.MySQLSocket,
			model.KindPgSQLDB:   "postgresql is not reachable",
		}[it.Kind]
		if len(res.Message) < len(want) || res.Message[:len(want)] != want {
			t.Errorf("%s: message %q, want it to start with %q", it.Kind, res.Message, want)
		}
	}
}
