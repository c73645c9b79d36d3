package apply

import (
	"errors"
	"testing"

	"ferry/internal/model"
)

func TestSQLQuoting(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    func(string) (string, error)
		in   string
		want string // "" for refused, which must be a hard error
	}{
		{"mysql ident", MySQLIdent, "shop_db", "`shop_db`"},
		{"mysql ident backtick", MySQLIdent, "a`b", "`a``b`"},
		{"mysql ident nul", MySQLIdent, "a\x00b", ""},
		{"mysql ident empty", MySQLIdent, "", ""},
		{"mysql string", MySQLString, "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", "'*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'"},
		{"mysql string quote", MySQLString, "it's", "'it''s'"},
		{"mysql string backslash", MySQLString, `a\'b`, ""},
		{"mysql grant db", MySQLGrantDB, "my_shop_db", "`my\\_shop\\_db`"},
		{"mysql grant pattern", MySQLGrantDB, "a%", "`a\\%`"},
		{"mysql account", MySQLAccount, "shop", "'shop'@'localhost'"},
		{"pg ident", PgIdent, "shop", `"shop"`},
		{"pg ident quote", PgIdent, `a"b`, `"a""b"`},
		{"pg ident nul", PgIdent, "a\x00", ""},
		{"pg string", PgString, "SCRAM-SHA-256$4096:c2FsdA==$a+b/c=:d+e/f=", "'SCRAM-SHA-256$4096:c2FsdA==$a+b/c=:d+e/f='"},
		{"pg string quote", PgString, "x'; DROP ROLE postgres; --", "'x''; DROP ROLE postgres; --'"},
		{"pg string backslash", PgString, `\gexec`, ""},
	} {
		got, err := tt.f(tt.in)
		if tt.want == "" {
			var h *hardError
			if !errors.As(err, &h) {
				t.Errorf("%s %q: got %q, %v; want a hard error", tt.name, tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s %q: got %q, %v; want %s", tt.name, tt.in, got, err, tt.want)
		}
	}
}

func TestPgNamesDefaultOwner(t *testing.T) {
	spec := model.Spec{Name: "shop"}
	if err := spec.Normalize(model.KindPgSQLDB, "example.org"); err != nil {
		t.Fatal(err)
	}
	n, err := quotePgNames(spec)
	if err != nil {
		t.Fatal(err)
	}
	if n != (pgNames{db: `"shop"`, role: `"shop"`, dbLit: "'shop'", roleLit: "'shop'"}) {
		t.Errorf("got %+v", n)
	}
}

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
