package movetask

import (
	"context"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/hostexec/hostexectest"
)

// The revoke sweeps the temporary PostgreSQL roles a cut-short load left;
// its query once lost its pattern (a backslash PgString refuses) and
// never found one.
func TestRevokeFindsTemporaryPostgresRoles(t *testing.T) {
	me := newMoveTestEnv(t)
	host := hostexectest.NewHost()
	host.Answers["runuser"] = hostexectest.Answer{} // psql as postgres: finds no role
	me.useRunner(host)
	pol := movePolicy{MoveID: 7, Databases: []model.MoveDB{{Engine: "pgsql", Name: "blog", Owner: "blogger"}}}
	if _, err := me.m.dropLoadAccounts(context.Background(), pol); err != nil {
		t.Fatal(err)
	}
	var query string
	for _, c := range host.Calls {
		if strings.Contains(c.Stdin, "pg_roles") {
			query = c.Stdin
		}
	}
	if !strings.Contains(query, "starts_with(rolname, 'ferry_mv7_')") {
		t.Errorf("the role query is %q; want it to look for ferry_mv7_ roles", query)
	}
}
