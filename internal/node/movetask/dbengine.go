package movetask

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/node/hostexec"
)

// dbEngine is one database server as a move sees it: how a database's
// sums are taken, how the new host's copy is brought level with this
// host's, how a load runs on the new host and how the temporary accounts
// of loads are swept. The appliers' own database code (package apply,
// mysql.go and pgsql.go) stays apart.
type dbEngine interface {
	// check validates what the engine needs of a move's database beyond
	// its name.
	check(db model.MoveDB) error
	// sums returns db's tables (those in only, when not nil) with their
	// row counts and checksums, then its other objects.
	sums(ctx context.Context, m *mover, db model.MoveDB, only []string) ([]model.TableSum, error)
	// sync sends what differs between run.old and run.cur to the new host,
	// marking in run.copied what it sent and in run.res what it dropped.
	sync(ctx context.Context, m *mover, t moveTarget, run dbSyncRun) error
	// load makes the temporary account name for a load into db and
	// returns the command that loads stdin as it, and how to drop it.
	load(ctx context.Context, m *mover, moveID int64, db model.MoveDB, name, password string, stdin io.Reader) (hostexec.Cmd, func() error, error)
	// dropLoadAccounts removes the accounts starting with prefix that
	// loads into dbs left behind, and names them.
	dropLoadAccounts(ctx context.Context, m *mover, prefix string, dbs []model.MoveDB) ([]string, error)
}

// dbEngines are the engines a move copies, by model.MoveDB.Engine.
var dbEngines = map[string]dbEngine{"mysql": mariadbEngine{}, "pgsql": postgresEngine{}}

// dbEngineOrder is the order in which engines are swept.
var dbEngineOrder = []string{"mysql", "pgsql"}

// dbSyncRun is one database's sync as its engine sees it.
type dbSyncRun struct {
	db          model.MoveDB
	old, cur    []model.TableSum // this host's and the new host's sums
	full, final bool
	load        string // the forced command that loads into db
	counted     *atomic.Int64
	copied      map[string]bool // TableSum keys sent
	res         *dbSync
}

// mariadbEngine is MariaDB (engine "mysql").
type mariadbEngine struct{}

// postgresEngine is PostgreSQL (engine "pgsql").
type postgresEngine struct{}

func (mariadbEngine) check(model.MoveDB) error { return nil }

func (postgresEngine) check(db model.MoveDB) error {
	if err := model.ValidateDatabaseName(db.Owner); err != nil {
		return fmt.Errorf("database %s: owner %q: %w", db.Name, db.Owner, err)
	}
	return nil
}

func (mariadbEngine) sums(ctx context.Context, m *mover, db model.MoveDB, only []string) ([]model.TableSum, error) {
	return m.mysqlSums(ctx, db.Name, db.Users, only)
}

func (postgresEngine) sums(ctx context.Context, m *mover, db model.MoveDB, only []string) ([]model.TableSum, error) {
	return m.pgSums(ctx, db.Name, only)
}

// sync loads a database that changed at all whole, in one transaction
// that first drops what its owner holds on the new host, so that schemas,
// types, extensions and every dependency between them arrive the way
// pg_dump orders them; when rows and sequence values alone changed, it
// empties and fills those tables instead.
func (postgresEngine) sync(ctx context.Context, m *mover, t moveTarget, run dbSyncRun) error {
	db, old, cur, full, counted, load, copied, res := run.db, run.old, run.cur, run.full, run.counted, run.load, run.copied, run.res
	toCopy, toDrop := planTableCopy(old, cur, full)
	if len(toCopy) == 0 && len(toDrop) == 0 {
		return nil
	}
	rows, ok, err := m.pgRowsOnly(ctx, db.Name, old, cur, full)
	if err != nil {
		return err
	}
	if ok {
		// Only rows and sequence values changed: those tables (with the
		// tables whose foreign keys refer to them) are emptied and
		// filled again in one transaction, and the sequences set.
		if err := m.streamToRemote(ctx, t, m.pgDataDumpArgv(db.Name, rows.tables, rows.sequences), rows.truncate, load, counted); err != nil {
			return err
		}
		for _, n := range rows.tables {
			copied[model.TableSum{DB: db.Name, Table: n}.Key()] = true
		}
		for _, n := range rows.sequences {
			copied[model.TableSum{DB: db.Name, Kind: "sequence", Table: n}.Key()] = true
		}
		return nil
	}
	// Definitions changed: the whole database, in one transaction.
	owner, err := apply.PgIdent(db.Owner)
	if err != nil {
		return err
	}
	if err := m.streamToRemote(ctx, t, m.pgDumpArgv(db.Name), "DROP OWNED BY "+owner+";\n", load, counted); err != nil {
		return err
	}
	for _, s := range old {
		copied[s.Key()] = true
	}
	for _, s := range cur {
		if !copied[s.Key()] {
			res.dropped = append(res.dropped, s.Object())
		}
	}
	return nil
}

// sync copies a database table by table (only those that changed) and
// then object by object.
func (mariadbEngine) sync(ctx context.Context, m *mover, t moveTarget, run dbSyncRun) error {
	db, old, cur, full, final, counted, load, copied, res := run.db, run.old, run.cur, run.full, run.final, run.counted, run.load, run.copied, run.res
	oldT, _ := splitSums(old)
	curT, _ := splitSums(cur)
	toCopy, toDrop := planTableCopy(oldT, curT, full)
	if len(toDrop) > 0 {
		var b strings.Builder
		b.WriteString("SET FOREIGN_KEY_CHECKS=0;\n")
		for _, tb := range toDrop {
			q, err := apply.MySQLIdent(tb)
			if err != nil {
				return err
			}
			b.WriteString("DROP TABLE IF EXISTS " + q + ";\n")
			res.dropped = append(res.dropped, db.Name+"."+tb)
		}
		if err := m.streamToRemote(ctx, t, nil, b.String(), load, counted); err != nil {
			return err
		}
	}
	if len(toCopy) > 0 {
		if err := m.copyMySQLTables(ctx, t, db.Name, toCopy, load, counted); err != nil {
			return err
		}
	}
	for _, tb := range toCopy {
		copied[model.TableSum{DB: db.Name, Table: tb}.Key()] = true
	}
	conn, err := m.a.MySQLConn(ctx)
	if err != nil {
		return err
	}
	objs, err := mysqlObjects(ctx, conn, db.Name)
	if err != nil {
		conn.Close()
		return err
	}
	grants, foreign, err := mysqlGrants(ctx, conn, db.Name, db.Users)
	conn.Close()
	if err != nil {
		return err
	}
	objs = append(objs, grants...)
	res.notes = append(res.notes, foreign...)
	create, drop := planObjects(db.Name, objs, cur, toCopy, full, final)
	if len(create) > 0 || len(drop) > 0 {
		notes, err := m.sendObjects(ctx, t, db, mysqlObjectsRequest{Drop: drop, Create: create, Final: final})
		if err != nil {
			return err
		}
		res.notes = append(res.notes, notes...)
	}
	for _, o := range create {
		copied[model.TableSum{DB: db.Name, Kind: o.Kind, Table: o.Name}.Key()] = true
	}
	for _, o := range drop {
		res.dropped = append(res.dropped, model.ObjectName(db.Name, o.Kind, o.Name))
	}
	return nil
}
func (mariadbEngine) load(ctx context.Context, m *mover, _ int64, db model.MoveDB, name, password string, stdin io.Reader) (hostexec.Cmd, func() error, error) {
	drop, err := m.mysqlLoadAccount(ctx, db.Name, name, password)
	if err != nil {
		return hostexec.Cmd{}, nil, err
	}
	return hostexec.Cmd{
		Argv: []string{"mariadb", "--no-defaults", "--protocol=socket", "--socket=" + m.cfg.Node.MySQLSocket,
			"--user=" + name, "--sandbox", "--batch", "--silent", "--default-character-set=utf8mb4", "--max-allowed-packet=1G", db.Name},
		Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/", "MYSQL_PWD=" + password},
		Stdin: stdin,
	}, drop, nil
}

func (postgresEngine) load(ctx context.Context, m *mover, moveID int64, db model.MoveDB, name, password string, stdin io.Reader) (hostexec.Cmd, func() error, error) {
	owner, err := apply.PgIdent(db.Owner)
	if err != nil {
		return hostexec.Cmd{}, nil, err
	}
	drop, host, port, err := m.pgLoadRole(ctx, db, name, password)
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

// dropLoadAccounts sweeps the server's accounts once, whatever the
// databases.
func (mariadbEngine) dropLoadAccounts(ctx context.Context, m *mover, prefix string, _ []model.MoveDB) ([]string, error) {
	var removed []string
	var errs []error
	names, err := m.mysqlLoadAccounts(ctx, prefix)
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		acct, err := apply.MySQLAccount(n)
		if err == nil {
			if err = m.mysqlExec(ctx, "DROP USER IF EXISTS "+acct); err == nil {
				removed = append(removed, "mariadb account "+n)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// dropLoadAccounts sweeps the roles of each owner's databases, handing
// what they made to the owner.
func (postgresEngine) dropLoadAccounts(ctx context.Context, m *mover, prefix string, dbs []model.MoveDB) ([]string, error) {
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
		lit, err := apply.PgString(prefix)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out, err := m.a.Run(ctx, []byte("SELECT rolname FROM pg_roles WHERE starts_with(rolname, "+lit+");\n"), m.psqlArgv(names[0])...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		roles := strings.Fields(out)
		if err := m.pgDropRoles(ctx, names, owner, roles); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range roles {
			removed = append(removed, "postgresql role "+r)
		}
	}
	return removed, errors.Join(errs...)
}
