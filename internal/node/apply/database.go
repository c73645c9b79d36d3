package apply

import (
	"context"
	"database/sql"

	"ferry/internal/model"
	"ferry/internal/node/dbengine"
)

// DatabaseHost is this host as its database engines (package dbengine)
// see it: the Applier's runner, MariaDB's socket and how PostgreSQL is
// reached.
func (a *Applier) DatabaseHost() dbengine.Host {
	return dbengine.Host{Runner: a.runner, MySQLSocket: a.cfg.MySQLSocket, PgDSN: a.cfg.PgDSN, PgPsql: a.cfg.PgPsql, Log: a.log}
}

// MySQLConn opens a connection to MariaDB over its unix socket as root
// (dbengine.Host.MySQLConn).
func (a *Applier) MySQLConn(ctx context.Context) (*sql.DB, error) {
	return a.DatabaseHost().MySQLConn(ctx)
}

// dbOps are the engines' names for the appliers' ops.
var dbOps = map[op]dbengine.Op{opEnsure: dbengine.Ensure, opDisable: dbengine.Disable, opDelete: dbengine.Delete}

// applyDatabase makes a database item through the engine of its kind.
func (a *Applier) applyDatabase(ctx context.Context, it model.Item, what op) (string, error) {
	eng, ok := dbengine.ForKind(it.Kind, a.DatabaseHost())
	if !ok {
		return "", hardf("kind %q has no database engine", it.Kind)
	}
	return eng.Apply(ctx, it.Kind, it.Spec, dbOps[what])
}
