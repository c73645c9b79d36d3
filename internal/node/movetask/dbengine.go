package movetask

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"ferry/internal/model"
	"ferry/internal/node/dbengine"
)

// dbEngine is the part of a database server that is a move's own: how a
// database's sums are taken and how the new host's copy is brought level
// with this host's. What a move shares with the appliers (the check of a
// move's database, a load as a temporary account, the sweep of those
// accounts) is the engine of the same name in package dbengine.
type dbEngine interface {
	// sums returns db's tables (those in only, when not nil) with their
	// row counts and checksums, then its other objects.
	sums(ctx context.Context, m *mover, db model.MoveDB, only []string) ([]model.TableSum, error)
	// stamps returns what the server says of db's tables without
	// reading their rows (move_dbtrack.go).
	stamps(ctx context.Context, m *mover, db model.MoveDB) (dbStamps, error)
	// sync sends what differs between run.old and run.cur to the new host,
	// marking in run.copied what it sent and in run.res what it dropped.
	sync(ctx context.Context, m *mover, t moveTarget, run dbSyncRun) error
}

// dbEngines are the engines a move copies, by model.MoveDB.Engine.
var dbEngines = map[string]dbEngine{"mysql": mariadbEngine{}, "pgsql": postgresEngine{}}

// dbSyncRun is one database's sync as its engine sees it.
type dbSyncRun struct {
	db          model.MoveDB
	eng         dbengine.Engine  // the engine of db on this host
	old, cur    []model.TableSum // this host's and the new host's sums
	full, final bool
	load        string // the forced command that loads into db
	counted     *atomic.Int64
	copied      map[string]bool // TableSum keys sent
	res         *dbSync
	// listed are tables whose sums were not taken on this host (their
	// rows in old are -1): a copy row by row lists their rows instead.
	listed map[string]bool
	// onNew are the tables the new host holds, by its stamps (nil when
	// it could not say: then its sums).
	onNew map[string]bool
}

// mariadbEngine is MariaDB (engine "mysql").
type mariadbEngine struct{}

// postgresEngine is PostgreSQL (engine "pgsql").
type postgresEngine struct{}

func (mariadbEngine) sums(ctx context.Context, m *mover, db model.MoveDB, only []string) ([]model.TableSum, error) {
	return m.mysqlSums(ctx, db.Name, db.Users, only)
}

func (mariadbEngine) stamps(ctx context.Context, m *mover, db model.MoveDB) (dbStamps, error) {
	return m.mysqlStamps(ctx, db.Name)
}

func (postgresEngine) stamps(ctx context.Context, m *mover, db model.MoveDB) (dbStamps, error) {
	return m.pgStamps(ctx, db.Name)
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
		if err := m.streamToRemote(ctx, t, remoteInput{prefix: rows.truncate, producers: [][]string{run.eng.Dump(db.Name, &dbengine.DumpPart{Tables: rows.tables, Sequences: rows.sequences})}}, load, counted); err != nil {
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
	owner, err := dbengine.PgIdent(db.Owner)
	if err != nil {
		return err
	}
	if err := m.streamToRemote(ctx, t, remoteInput{prefix: "DROP OWNED BY " + owner + ";\n", producers: [][]string{run.eng.Dump(db.Name, nil)}}, load, counted); err != nil {
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
			q, err := dbengine.MySQLIdent(tb)
			if err != nil {
				return err
			}
			b.WriteString("DROP TABLE IF EXISTS " + q + ";\n")
			res.dropped = append(res.dropped, db.Name+"."+tb)
		}
		if err := m.streamToRemote(ctx, t, remoteInput{prefix: b.String()}, load, counted); err != nil {
			return err
		}
	}
	whole := toCopy
	if !full {
		t0 := time.Now()
		var err error
		onNew := run.onNew
		if onNew == nil {
			onNew = map[string]bool{}
			for _, s := range curT {
				onNew[s.Table] = true
			}
		}
		whole, err = m.copyChangedRows(ctx, t, run, toCopy, onNew)
		if err != nil {
			return err
		}
		stepSince(ctx, "db.copy.rows", t0)
	}
	if len(whole) > 0 {
		t0 := time.Now()
		if err := m.copyMySQLTables(ctx, t, db.Name, whole, load, counted); err != nil {
			return err
		}
		for _, tb := range whole {
			delete(res.byRows, model.TableSum{DB: db.Name, Table: tb}.Key())
		}
		stepSince(ctx, "db.copy.tables", t0)
	}
	t0 := time.Now()
	defer stepSince(ctx, "db.copy.objects", t0)
	for _, tb := range toCopy {
		if !res.level[tb] {
			copied[model.TableSum{DB: db.Name, Table: tb}.Key()] = true
		}
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
	create, drop := planObjects(db.Name, objs, cur, whole, full, final)
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
