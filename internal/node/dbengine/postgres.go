package dbengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"ferry/internal/model"
	"ferry/internal/node/hostexec"
)

// PostgreSQL is the PostgreSQL engine ("pgsql"): pgsql-db items (a
// database and its owner role), and a move's loads as a temporary role.
type PostgreSQL struct{ h Host }

// Name is "pgsql".
func (PostgreSQL) Name() string { return "pgsql" }

// Kinds are pgsql-db.
func (PostgreSQL) Kinds() []model.Kind { return []model.Kind{model.KindPgSQLDB} }

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
func (h Host) pgConn(ctx context.Context) (pgSession, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, h.PgDSN)
	if err == nil {
		return pgxSession{conn}, nil
	}
	var pgErr *pgconn.PgError
	refused := errors.As(err, &pgErr) && (pgErr.Code == "28000" || pgErr.Code == "28P01")
	if refused && h.PgPsql[0] != "none" {
		h.Log.DebugContext(ctx, "postgresql refused the dsn's login; using psql", "error", err)
		return psqlSession{h}, nil
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
type psqlSession struct{ h Host }

func (s psqlSession) exec(ctx context.Context, sql string) error {
	_, err := s.h.run(ctx, []byte(sql+";\n"), s.h.PgPsql...)
	return err
}

func (s psqlSession) count(ctx context.Context, sql string) (int, error) {
	out, err := s.h.run(ctx, []byte(sql+";\n"), slices.Concat(s.h.PgPsql, []string{"-A", "-t"})...)
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

// Apply makes a pgsql-db item.
func (e PostgreSQL) Apply(ctx context.Context, _ model.Kind, s model.Spec, what Op) (string, error) {
	n, err := quotePgNames(s)
	if err != nil {
		return "", err
	}
	sess, err := e.h.pgConn(ctx)
	if err != nil {
		return "", err
	}
	defer sess.close()
	roleExists, err := sess.count(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = "+n.roleLit)
	if err != nil {
		return "", fmt.Errorf("look up postgresql role %s: %w", s.Owner, err)
	}
	switch what {
	case Disable:
		if roleExists == 0 {
			return "", fmt.Errorf("cannot disable postgresql role %s: it does not exist", s.Owner)
		}
		if err := sess.exec(ctx, "ALTER ROLE "+n.role+" NOLOGIN"); err != nil {
			return "", fmt.Errorf("disable postgresql role %s: %w", s.Owner, err)
		}
		return fmt.Sprintf("postgresql role %s may no longer log in; database %s kept", s.Owner, s.Name), nil
	case Delete:
		return e.deleteDB(ctx, sess, s, n)
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

// deleteDB drops the database, then its role unless the role still
// owns or holds rights on anything else (another order's database, say).
func (e PostgreSQL) deleteDB(ctx context.Context, sess pgSession, s model.Spec, n pgNames) (string, error) {
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

// Dump writes the rows of part's tables and the values of its sequences;
// with part nil, the whole database with its definitions.
func (e PostgreSQL) Dump(db string, part *DumpPart) []string {
	if part == nil {
		return e.dumpArgv(db)
	}
	return e.dataDumpArgv(db, part.Tables, part.Sequences)
}

// dumpArgv dumps the whole of db as SQL that makes every object again,
// owned by whoever loads it, with the privileges and default privileges
// it has here.
func (e PostgreSQL) dumpArgv(db string) []string {
	return append(slices.Clone(e.h.RunAsPostgres), "pg_dump", "--no-owner", "--quote-all-identifiers", "-d", db)
}

// dataDumpArgv dumps the rows of tables and the values of sequences of
// db (quoted, qualified names, matched exactly).
func (e PostgreSQL) dataDumpArgv(db string, tables, sequences []string) []string {
	argv := append(slices.Clone(e.h.RunAsPostgres), "pg_dump", "--data-only", "--no-owner", "--strict-names", "-d", db)
	for _, t := range slices.Concat(tables, sequences) {
		argv = append(argv, "-t", t)
	}
	return argv
}

// Check refuses a move database whose owner cannot be a role's name.
func (PostgreSQL) Check(db model.MoveDB) error {
	if err := model.ValidateDatabaseName(db.Owner); err != nil {
		return fmt.Errorf("database %s: owner %q: %w", db.Name, db.Owner, err)
	}
	return nil
}

// Load makes a temporary role that is a member of db's owner and returns
// the psql that loads stdin as it, in one transaction.
func (e PostgreSQL) Load(ctx context.Context, moveID int64, db model.MoveDB, name, password string, stdin io.Reader) (hostexec.Cmd, func() error, error) {
	owner, err := PgIdent(db.Owner)
	if err != nil {
		return hostexec.Cmd{}, nil, err
	}
	drop, host, port, err := e.loadRole(ctx, db, name, password)
	if err != nil {
		return hostexec.Cmd{}, nil, err
	}
	return hostexec.Cmd{
		Argv: []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
			"-h", host, "-p", port, "-U", name, "-d", db.Name},
		Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/", "PGPASSWORD=" + password,
			"PGCONNECT_TIMEOUT=10", "PGAPPNAME=ferry-move-" + strconv.FormatInt(moveID, 10)},
		// What is made belongs to the database's owner, not to the
		// temporary role.
		Stdin: io.MultiReader(strings.NewReader("SET ROLE "+owner+";\n"), stdin),
	}, drop, nil
}

// loadRole makes a PostgreSQL login role that is a member of db's owner
// and nothing else, and returns how to drop it and where the server
// listens on TCP (password logins go there; Debian's socket allows peer
// logins only).
func (e PostgreSQL) loadRole(ctx context.Context, db model.MoveDB, name, password string) (drop func() error, host, port string, err error) {
	role, err := PgIdent(name)
	if err != nil {
		return nil, "", "", err
	}
	owner, err := PgIdent(db.Owner)
	if err != nil {
		return nil, "", "", err
	}
	pw, err := PgString(password)
	if err != nil {
		return nil, "", "", err
	}
	q := "CREATE ROLE " + role + " LOGIN PASSWORD " + pw + " IN ROLE " + owner + ";\n" +
		"SELECT current_setting('listen_addresses'), current_setting('port');\n"
	out, err := e.h.run(ctx, []byte(q), e.h.PsqlArgv(db.Name)...)
	if err != nil {
		return nil, "", "", fmt.Errorf("make temporary role: %w", err)
	}
	drop = func() error {
		return e.dropRoles(context.WithoutCancel(ctx), []string{db.Name}, db.Owner, []string{name})
	}
	listen, port, found := strings.Cut(strings.TrimSpace(out), "\t")
	if !found || port == "" {
		return nil, "", "", errors.Join(fmt.Errorf("psql printed %q where the server's listen_addresses and port were expected", hostexec.OneLine(out, 200)), drop())
	}
	host = pgLoopback(listen)
	if host == "" {
		return nil, "", "", errors.Join(fmt.Errorf("postgresql listens on no TCP address (listen_addresses %q); loads log in over TCP", listen), drop())
	}
	return drop, host, port, nil
}

// pgLoopback picks where to reach a server that listens on listen (its
// listen_addresses): the loopback address for a wildcard, else the first.
func pgLoopback(listen string) string {
	for _, a := range strings.Split(listen, ",") {
		switch a = strings.TrimSpace(a); a {
		case "":
			continue
		case "*", "0.0.0.0":
			return "127.0.0.1"
		case "::":
			return "::1"
		default:
			return a
		}
	}
	return ""
}

// dropRoles hands what the roles made in dbs to owner and drops them.
func (e PostgreSQL) dropRoles(ctx context.Context, dbs []string, owner string, roles []string) error {
	if len(roles) == 0 {
		return nil
	}
	o, err := PgIdent(owner)
	if err != nil {
		return err
	}
	quoted := make([]string, len(roles))
	for i, r := range roles {
		if quoted[i], err = PgIdent(r); err != nil {
			return err
		}
	}
	var errs []error
	for _, db := range dbs {
		var q strings.Builder
		for _, ri := range quoted {
			q.WriteString("REASSIGN OWNED BY " + ri + " TO " + o + ";\nDROP OWNED BY " + ri + ";\n")
		}
		if _, err := e.h.run(ctx, []byte(q.String()), e.h.PsqlArgv(db)...); err != nil {
			errs = append(errs, fmt.Errorf("database %s: %w", db, err))
		}
	}
	var q strings.Builder
	for _, ri := range quoted {
		q.WriteString("DROP ROLE IF EXISTS " + ri + ";\n")
	}
	if _, err := e.h.run(ctx, []byte(q.String()), e.h.PsqlArgv(dbs[0])...); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DropLoadAccounts sweeps the roles of each owner's databases, handing
// what they made to the owner.
func (e PostgreSQL) DropLoadAccounts(ctx context.Context, prefix string, dbs []model.MoveDB) ([]string, error) {
	var removed []string
	var errs []error
	var owners []string
	byOwner := map[string][]string{} // owner → its databases
	for _, d := range dbs {
		if _, ok := byOwner[d.Owner]; !ok {
			owners = append(owners, d.Owner)
		}
		byOwner[d.Owner] = append(byOwner[d.Owner], d.Name)
	}
	for _, owner := range owners {
		names := byOwner[owner]
		// No LIKE: its escape for "_" is a backslash, which PgString
		// (rightly) refuses.
		lit, err := PgString(prefix)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out, err := e.h.run(ctx, []byte("SELECT rolname FROM pg_roles WHERE starts_with(rolname, "+lit+");\n"), e.h.PsqlArgv(names[0])...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		roles := strings.Fields(out)
		if err := e.dropRoles(ctx, names, owner, roles); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range roles {
			removed = append(removed, "postgresql role "+r)
		}
	}
	return removed, errors.Join(errs...)
}
