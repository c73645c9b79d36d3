package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"ferry/internal/model"
)

// pgSession runs SQL on PostgreSQL as a superuser.
type pgSession interface {
	exec(ctx context.Context, sql string) error
	// count runs a query that returns one integer.
	count(ctx context.Context, sql string) (int, error)
	close()
}

// pgConn connects with Config.PgDSN. When the server refuses that login
// (Debian's peer authentication refuses root as postgres) it falls back to
// running Config.PgPsql, which on Debian is psql as the postgres user: that
// works on a stock server with no change to pg_hba.conf.
func (a *Applier) pgConn(ctx context.Context) (pgSession, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, a.cfg.PgDSN)
	if err == nil {
		return pgxSession{conn}, nil
	}
	var pgErr *pgconn.PgError
	refused := errors.As(err, &pgErr) && (pgErr.Code == "28000" || pgErr.Code == "28P01")
	if refused && a.cfg.PgPsql[0] != "none" {
		a.log.DebugContext(ctx, "postgresql refused the dsn's login; using psql", "error", err)
		return psqlSession{a}, nil
	}
	return nil, fmt.Errorf("postgresql is not reachable: %w", err)
}

type pgxSession struct{ conn *pgx.Conn }

func (s pgxSession) exec(ctx context.Context, sql string) error {
	_, err := s.conn.Exec(ctx, sql)
	return err
}

func (s pgxSession) count(ctx context.Context, sql string) (int, error) {
	var n int
	err := s.conn.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

func (s pgxSession) close() { s.conn.Close(context.Background()) }

// psqlSession runs each statement through psql, SQL on stdin.
type psqlSession struct{ a *Applier }

func (s psqlSession) exec(ctx context.Context, sql string) error {
	_, err := s.a.Run(ctx, []byte(sql+";\n"), s.a.cfg.PgPsql...)
	return err
}

func (s psqlSession) count(ctx context.Context, sql string) (int, error) {
	out, err := s.a.Run(ctx, []byte(sql+";\n"), slices.Concat(s.a.cfg.PgPsql, []string{"-A", "-t"})...)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("psql printed %q where a number was expected", strings.TrimSpace(out))
	}
	return n, nil
}

func (psqlSession) close() {}

// PgIdent quotes a PostgreSQL identifier in double quotes.
func PgIdent(s string) (string, error) {
	if s == "" || strings.ContainsRune(s, 0) {
		return "", hardf("%q cannot be a postgresql identifier", s)
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`, nil
}

// PgString quotes a PostgreSQL string literal. It refuses backslashes, so
// the literal means the same with standard_conforming_strings off, and psql
// never sees a backslash command.
func PgString(s string) (string, error) {
	if strings.ContainsAny(s, "\\\x00") {
		return "", hardf("%q cannot be a postgresql string literal", s)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}

// pgNames are a pgsql-db item's names, quoted for SQL.
type pgNames struct {
	db, role       string // identifiers
	dbLit, roleLit string // string literals, for the catalogs
}

func quotePgNames(s model.Spec) (n pgNames, err error) {
	if n.db, err = PgIdent(s.Name); err != nil {
		return pgNames{}, err
	}
	if n.role, err = PgIdent(s.Owner); err != nil {
		return pgNames{}, err
	}
	if n.dbLit, err = PgString(s.Name); err != nil {
		return pgNames{}, err
	}
	if n.roleLit, err = PgString(s.Owner); err != nil {
		return pgNames{}, err
	}
	return n, nil
}

func (a *Applier) applyPgSQLDB(ctx context.Context, it model.Item, what op) (string, error) {
	s := it.Spec
	n, err := quotePgNames(s)
	if err != nil {
		return "", err
	}
	sess, err := a.pgConn(ctx)
	if err != nil {
		return "", err
	}
	defer sess.close()
	roleExists, err := sess.count(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = "+n.roleLit)
	if err != nil {
		return "", fmt.Errorf("look up postgresql role %s: %w", s.Owner, err)
	}
	switch what {
	case opDisable:
		if roleExists == 0 {
			return "", fmt.Errorf("cannot disable postgresql role %s: it does not exist", s.Owner)
		}
		if err := sess.exec(ctx, "ALTER ROLE "+n.role+" NOLOGIN"); err != nil {
			return "", fmt.Errorf("disable postgresql role %s: %w", s.Owner, err)
		}
		return fmt.Sprintf("postgresql role %s may no longer log in; database %s kept", s.Owner, s.Name), nil
	case opDelete:
		return a.deletePgSQLDB(ctx, sess, s, n)
	}

	pw := "NULL"
	if s.PasswordHash != "" {
		if pw, err = PgString(s.PasswordHash); err != nil {
			return "", err
		}
	}
	// A SCRAM verifier given as PASSWORD is stored as it is: the plain
	// password never reaches the server.
	//
	// A CREATE that fails may have met the same CREATE from an earlier run
	// of this node that was killed mid-apply: the server finishes a
	// statement whose client died. If what was to be made is there now,
	// the ALTER that follows a found one is all that is left to do.
	alterRole := "ALTER ROLE " + n.role + " LOGIN PASSWORD " + pw
	roleSQL := alterRole
	if roleExists == 0 {
		roleSQL = "CREATE ROLE " + n.role + " LOGIN PASSWORD " + pw
	}
	err = sess.exec(ctx, roleSQL)
	if err != nil && roleExists == 0 {
		if again, cerr := sess.count(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = "+n.roleLit); cerr == nil && again > 0 {
			err = sess.exec(ctx, alterRole)
		}
	}
	if err != nil {
		return "", fmt.Errorf("set up postgresql role %s: %w", s.Owner, err)
	}
	dbCount := "SELECT count(*) FROM pg_database WHERE datname = " + n.dbLit
	dbExists, err := sess.count(ctx, dbCount)
	if err != nil {
		return "", fmt.Errorf("look up postgresql database %s: %w", s.Name, err)
	}
	alterDB := "ALTER DATABASE " + n.db + " OWNER TO " + n.role
	if dbExists == 0 {
		err = sess.exec(ctx, "CREATE DATABASE "+n.db+" OWNER "+n.role+" ENCODING 'UTF8' TEMPLATE template0")
		if err != nil {
			if again, cerr := sess.count(ctx, dbCount); cerr == nil && again > 0 {
				err = sess.exec(ctx, alterDB)
			}
		}
	} else {
		err = sess.exec(ctx, alterDB)
	}
	if err != nil {
		return "", fmt.Errorf("set up postgresql database %s: %w", s.Name, err)
	}
	// New databases let every role connect; on a shared host only the
	// owner should.
	if err := sess.exec(ctx, "REVOKE ALL ON DATABASE "+n.db+" FROM PUBLIC"); err != nil {
		return "", fmt.Errorf("restrict postgresql database %s to its owner: %w", s.Name, err)
	}
	return fmt.Sprintf("postgresql database %s ready, owned by role %s", s.Name, s.Owner), nil
}

// deletePgSQLDB drops the database, then its role unless the role still
// owns or holds rights on anything else (another order's database, say).
func (a *Applier) deletePgSQLDB(ctx context.Context, sess pgSession, s model.Spec, n pgNames) (string, error) {
	if err := sess.exec(ctx, "DROP DATABASE IF EXISTS "+n.db+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop postgresql database %s: %w", s.Name, err)
	}
	deps, err := sess.count(ctx, "SELECT count(*) FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass"+
		" AND refobjid = (SELECT oid FROM pg_roles WHERE rolname = "+n.roleLit+")")
	if err != nil {
		return "", fmt.Errorf("look up what postgresql role %s owns: %w", s.Owner, err)
	}
	if deps > 0 {
		return fmt.Sprintf("postgresql database %s dropped; role %s kept, it still owns or may use %d other objects", s.Name, s.Owner, deps), nil
	}
	if err := sess.exec(ctx, "DROP ROLE IF EXISTS "+n.role); err != nil {
		return "", fmt.Errorf("drop postgresql role %s: %w", s.Owner, err)
	}
	return fmt.Sprintf("postgresql database %s and role %s dropped", s.Name, s.Owner), nil
}
