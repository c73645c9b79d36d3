package movetask

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ferry/internal/atomicfile"
	"ferry/internal/model"
	"ferry/internal/node/dbengine"
	"ferry/internal/node/hostexec"
	"ferry/internal/node/receive"
)

// receiveStamps asks the new host for a database's stamps.
const receiveStamps = receive.CmdStamps

// dbStamps is what a server says of a database's tables without reading
// a row: its clock, and per table when it was last written and a hash of
// its definition. A re-sync uses it to know which tables it need not sum.
type dbStamps struct {
	// Now is the server's clock, in Unix seconds.
	Now int64 `json:"now"`
	// Tables are every table of the database, by name; nil when the
	// server could not say.
	Tables map[string]tableStamp `json:"tables"`
}

// tableStamp is one table's stamp.
type tableStamp struct {
	// Written is the server's time of the table's last committed write,
	// in Unix seconds (whole seconds, rounded down); -1 when the server
	// does not know it (not an InnoDB table, a partitioned one, a
	// sequence, or nothing written since the server started or since the
	// table left its cache). A table with -1 is always summed.
	Written int64 `json:"written"`
	// Def is the hash of the table's definition, as in its checksum.
	Def string `json:"def,omitempty"`
	// Keyed says a row list can be made of the table (MariaDB): it has
	// a primary key of columns whose values read back exactly, and no
	// trigger (move_dbrows.go).
	Keyed bool `json:"keyed,omitempty"`
	// Counters are PostgreSQL's counters of the table's writes
	// (pgStampsSQL), compared as they are; empty when the server cannot
	// say.
	Counters string `json:"counters,omitempty"`
}

// stampsMargin is how many seconds before a sync's start a table's last
// write must lie for the next sync to trust that the table has not
// changed since: the server stamps a write when its transaction
// commits, in whole seconds, and the margin covers a commit stamped just
// before it became visible.
const stampsMargin = 2

// mysqlStamps reads the stamps of database name on this host.
func (m *mover) mysqlStamps(ctx context.Context, name string) (dbStamps, error) {
	conn, err := m.a.MySQLConn(ctx)
	if err != nil {
		return dbStamps{}, err
	}
	defer conn.Close()
	st := dbStamps{Tables: map[string]tableStamp{}}
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_TYPE,
  CASE WHEN ENGINE = 'InnoDB' AND TABLE_TYPE = 'BASE TABLE' AND CREATE_OPTIONS NOT LIKE '%partitioned%' AND UPDATE_TIME IS NOT NULL
    THEN UNIX_TIMESTAMP(UPDATE_TIME) ELSE -1 END
FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW'`, name)
	if err != nil {
		return dbStamps{}, fmt.Errorf("database %s: stamps: %w", name, err)
	}
	for rows.Next() {
		var t, typ string
		var w float64
		if err := rows.Scan(&t, &typ, &w); err != nil {
			rows.Close()
			return dbStamps{}, fmt.Errorf("database %s: stamps: %w", name, err)
		}
		if typ != "BASE TABLE" && typ != "SEQUENCE" {
			// As mysqlSums: a system-versioned table's history would not
			// arrive.
			rows.Close()
			return dbStamps{}, fmt.Errorf("database %s: table %s is a %s table, which ferry cannot copy whole", name, t, strings.ToLower(typ))
		}
		st.Tables[t] = tableStamp{Written: int64(w)}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbStamps{}, fmt.Errorf("database %s: stamps: %w", name, err)
	}
	// The clock after the stamps, so that none lies after it.
	if err := conn.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP()").Scan(&st.Now); err != nil {
		return dbStamps{}, fmt.Errorf("database %s: server clock: %w", name, err)
	}
	dbq, err := dbengine.MySQLIdent(name)
	if err != nil {
		return dbStamps{}, err
	}
	keyed, err := mysqlKeyedTables(ctx, conn, name)
	if err != nil {
		return dbStamps{}, err
	}
	for t, s := range st.Tables {
		s.Keyed = keyed[t]
		tq, err := dbengine.MySQLIdent(t)
		if err != nil {
			return dbStamps{}, err
		}
		var tbl, create string
		if err := conn.QueryRowContext(ctx, "SHOW CREATE TABLE "+dbq+"."+tq).Scan(&tbl, &create); err != nil {
			return dbStamps{}, fmt.Errorf("definition of %s.%s: %w", name, t, err)
		}
		s.Def = shortHash(create)
		st.Tables[t] = s
	}
	return st, nil
}

// pgStampsSQL lists a database's tables, each as a JSON array: its
// quoted, qualified name, its counters and the hash of its definition
// (pgDefSQL). The counters are what the statistics say of the table's
// inserted, updated and deleted rows, with the file that holds them (a
// TRUNCATE or a rewrite makes a new one), the time the server started
// and the time the database's statistics were last reset (either loses the
// counters); they are empty, and the table is summed, when the table has
// rows outside itself (a partitioned table, a parent of inheritance) or
// the server does not count (track_counts off). The live rows' count is
// left out: VACUUM and ANALYZE set it to an estimate, which would make
// a freshly loaded table look written to.
var pgStampsSQL = `SELECT json_build_array(format('%s.%s', quote_ident(tn.nspname), quote_ident(tc.relname)),
  CASE WHEN tc.relkind = 'r' AND current_setting('track_counts')::bool AND ts.relid IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhparent = tc.oid)
    THEN concat_ws('/', ts.n_tup_ins, ts.n_tup_upd, ts.n_tup_del, tc.relfilenode,
      extract(epoch FROM pg_postmaster_start_time()), extract(epoch FROM tdb.stats_reset))
    ELSE '' END,
  ` + pgDefSQL("tc.oid") + `)
FROM pg_class tc JOIN pg_namespace tn ON tn.oid = tc.relnamespace
  LEFT JOIN pg_stat_user_tables ts ON ts.relid = tc.oid
  LEFT JOIN pg_stat_database tdb ON tdb.datname = current_database()
WHERE tc.relkind IN ('r', 'p', 'f') AND tn.nspname NOT IN ('pg_catalog', 'information_schema') AND tn.nspname NOT LIKE 'pg\_%'
AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass AND dep.objid = tc.oid AND dep.deptype = 'e');
`

// pgStamps reads the stamps of database db on this host: no table has a
// time of its last write (Written is -1), but each has its counters
// (pgStampsSQL). A backend reports its counters late (when it goes idle,
// at most once a second, and may put that off), so a re-sync trusts them
// only to skip a table whose counters are the same as at the last sync
// on both hosts, and only in a sync before the final one.
func (m *mover) pgStamps(ctx context.Context, db string) (dbStamps, error) {
	tables, err := m.pgTables(ctx, db)
	if err != nil {
		return dbStamps{}, err
	}
	// The time is not used: the host's clock stands for the server's.
	st := dbStamps{Now: time.Now().Unix(), Tables: map[string]tableStamp{}}
	for _, t := range tables {
		st.Tables[t] = tableStamp{Written: -1}
	}
	out, err := m.a.Run(ctx, []byte(pgStampsSQL), m.psqlArgv(db)...)
	if err != nil {
		return dbStamps{}, fmt.Errorf("database %s: stamps: %w", db, err)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var row []string
		if err := json.Unmarshal([]byte(l), &row); err != nil || len(row) != 3 {
			return dbStamps{}, fmt.Errorf("database %s: psql printed %q", db, hostexec.OneLine(l, 200))
		}
		s, ok := st.Tables[row[0]]
		if !ok {
			// Made since the list: summed.
			continue
		}
		s.Counters, s.Def = row[1], cutString(row[2], 8)
		st.Tables[row[0]] = s
	}
	return st, nil
}

// remoteStamps asks the new host for db's stamps.
func (m *mover) remoteStamps(ctx context.Context, t moveTarget, db model.MoveDB) (dbStamps, error) {
	var out strings.Builder
	errOut, err := m.runStreaming(ctx, t.command(receiveStamps+" "+db.Engine+" "+db.Name), nil, func(s string, newline bool) {
		out.WriteString(s)
		if newline {
			out.WriteByte('\n')
		}
	})
	if err != nil {
		return dbStamps{}, fmt.Errorf("stamps of %s on %s: %s", db.Name, t.host(), failureText(err, errOut))
	}
	st, err := parseStamps(db.Name, []byte(out.String()))
	if err != nil {
		return dbStamps{}, fmt.Errorf("stamps of %s on %s: %w", db.Name, t.host(), err)
	}
	return st, nil
}

// maxCounters is the most bytes a table's counters take: six numbers.
const maxCounters = 200

// parseStamps reads the stamps the new host printed for database db: a
// JSON object with the server's clock and the tables, each named as a
// table can be, stamped -1 or at a time not after that clock.
func parseStamps(db string, out []byte) (dbStamps, error) {
	var st dbStamps
	if err := json.Unmarshal(out, &st); err != nil {
		return dbStamps{}, err
	}
	if st.Now <= 0 {
		return dbStamps{}, fmt.Errorf("no clock (now %d)", st.Now)
	}
	if st.Tables == nil {
		st.Tables = map[string]tableStamp{}
	}
	for name, s := range st.Tables {
		if err := checkObjectName(db, name); err != nil {
			return dbStamps{}, err
		}
		if s.Written < -1 || s.Written > st.Now {
			return dbStamps{}, fmt.Errorf("table %s: stamp %d out of range", hostexec.OneLine(name, 80), s.Written)
		}
		if len(s.Counters) > maxCounters {
			return dbStamps{}, fmt.Errorf("table %s: counters of %d bytes, more than %d", hostexec.OneLine(name, 80), len(s.Counters), maxCounters)
		}
	}
	return st, nil
}

// bothStamps takes db's stamps here and on the new host side by side.
func (m *mover) bothStamps(ctx context.Context, t moveTarget, db model.MoveDB) (old, cur dbStamps, err error) {
	eng, ok := dbEngines[db.Engine]
	if !ok {
		return old, cur, fmt.Errorf("database %s: unknown engine %q", db.Name, db.Engine)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if cur, err = m.remoteStamps(ctx, t, db); err != nil {
			// A new host whose agent predates stamps: every table is
			// summed there, as before.
			m.log.Warn("move sync: no stamps from the new host; summing every table", "database", db.Name, "err", err)
			cur = dbStamps{}
		}
	}()
	old, err = eng.stamps(ctx, m, db)
	<-done
	return old, cur, err
}

// syncedTable is what the last sync left of one table: the sums both
// hosts held when it ended, and the stamps that tell whether either host
// wrote to it since.
type syncedTable struct {
	Rows        int64  `json:"rows"`
	Checksum    string `json:"checksum"`
	NewRows     int64  `json:"new_rows"`
	NewChecksum string `json:"new_checksum"`
	// OldSince is the old host's clock when the sync started: the sums
	// hold while the table's last write there lies before it.
	OldSince int64 `json:"old_since"`
	// NewWritten is the new host's stamp of the table when the sync
	// ended, and NewAt the new host's clock before its sums of the table
	// were taken: the sums hold while the stamp is the same and lay
	// before NewAt (a write in the same second as the last one counted
	// would leave the stamp as it was).
	NewWritten int64 `json:"new_written"`
	NewAt      int64 `json:"new_at"`
	// OldCounters and NewCounters are the table's counters on each host
	// (PostgreSQL), read before that host's sums of the table were
	// taken: a write they count is in the sums, and one they do not
	// count yet changes them later.
	OldCounters string `json:"old_counters,omitempty"`
	NewCounters string `json:"new_counters,omitempty"`
}

// syncState is what a move's last sync of one database left on the old
// host, by table.
type syncState struct {
	Tables map[string]syncedTable `json:"tables"`
}

// syncStatePath is where the state of a move's database lives: in the
// move's own directory, removed with it.
func (m *mover) syncStatePath(moveID int64, db model.MoveDB) string {
	return filepath.Join(m.moveDir(moveID), "dbsync-"+db.Engine+"-"+hex.EncodeToString([]byte(db.Name))+".json")
}

// takeSyncState reads the state the last sync left and removes it: a
// sync that fails halfway leaves none, and the next one sums every table.
func (m *mover) takeSyncState(moveID int64, db model.MoveDB) syncState {
	p := m.syncStatePath(moveID, db)
	b, err := os.ReadFile(p)
	if err != nil {
		return syncState{}
	}
	if err := os.Remove(p); err != nil {
		m.log.Warn("move sync: cannot remove the last sync's state; summing every table", "path", p, "err", err)
		return syncState{}
	}
	var st syncState
	if err := json.Unmarshal(b, &st); err != nil {
		m.log.Warn("move sync: unreadable state of the last sync; summing every table", "path", p, "err", err)
		return syncState{}
	}
	return st
}

// saveSyncState writes what this sync leaves for the next.
func (m *mover) saveSyncState(moveID int64, db model.MoveDB, st syncState) {
	b, err := json.Marshal(st)
	if err == nil {
		err = atomicfile.Write(m.syncStatePath(moveID, db), b, 0o600)
	}
	if err != nil {
		m.log.Warn("move sync: state not saved; the next sync sums every table", "database", db.Name, "err", err)
	}
}

// unchanged returns, for each host, the tables it did not write to since
// the last sync, with the sums that host held then. On the old host: its
// last write lies before that sync started (by stampsMargin), and its
// definition is the same as then. On the new host: its stamp is the one
// that sync saw and lay before the new host's sums were taken (by
// stampsMargin), and its definition is the same as then. Neither clock
// may have gone back. A table with counters (PostgreSQL) is known on
// both hosts or on neither: when counters is true (a sync before the
// final one) and the counters and definitions on both hosts are those the
// last sync saw. Every other table is summed on that host.
func (st syncState) unchanged(old, cur dbStamps, counters bool) (oldKnown, newKnown map[string]syncedTable) {
	oldKnown, newKnown = map[string]syncedTable{}, map[string]syncedTable{}
	for name, s := range st.Tables {
		o, ok1 := old.Tables[name]
		n, ok2 := cur.Tables[name]
		if !ok1 || !ok2 {
			continue
		}
		if o.Counters != "" || n.Counters != "" {
			if counters && o.Counters == s.OldCounters && n.Counters == s.NewCounters && s.OldCounters != "" && s.NewCounters != "" &&
				o.Def != "" && o.Def == ddlHash(s.Checksum) && n.Def == ddlHash(s.NewChecksum) {
				oldKnown[name], newKnown[name] = s, s
			}
			continue
		}
		if o.Written >= 0 && o.Def != "" && old.Now >= s.OldSince && o.Written <= s.OldSince-stampsMargin && o.Def == ddlHash(s.Checksum) {
			oldKnown[name] = s
		}
		if n.Written >= 0 && n.Def != "" && s.NewAt >= 0 && cur.Now >= s.NewAt && n.Written == s.NewWritten &&
			s.NewWritten <= s.NewAt-stampsMargin && n.Def == ddlHash(s.NewChecksum) {
			newKnown[name] = s
		}
	}
	return oldKnown, newKnown
}

// tablesOf returns the names of stamps' tables not in skip, sorted; nil
// (every table) when the stamps could not say.
func tablesOf(st dbStamps, skip map[string]syncedTable) []string {
	if st.Tables == nil {
		return nil
	}
	out := []string{}
	for name := range st.Tables {
		if _, ok := skip[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// withKnown adds the known tables' sums to sums (those of the new host
// when newSide), tables first and sorted by name, as tableSums returns
// them.
func withKnown(db string, sums []model.TableSum, known map[string]syncedTable, newSide bool) []model.TableSum {
	tables, objects := splitSums(sums)
	for name, s := range known {
		sum := model.TableSum{DB: db, Table: name, Rows: s.Rows, Checksum: s.Checksum}
		if newSide {
			sum.Rows, sum.Checksum = s.NewRows, s.NewChecksum
		}
		tables = append(tables, sum)
	}
	slices.SortFunc(tables, func(a, b model.TableSum) int { return strings.Compare(a.Table, b.Table) })
	return append(tables, objects...)
}

// countedState is what a sync leaves of a database whose tables have
// counters (PostgreSQL): every table now the same on both hosts, with the
// counters each host showed before its sums of it were taken, the new
// host's from afterSt for a table copied (its sums were taken again after
// the copy), from curSt for the others. A table without counters on
// either host is left out: the next sync sums it.
func countedState(oldSt, curSt, afterSt dbStamps, sums []model.TableSum) syncState {
	st := syncState{Tables: map[string]syncedTable{}}
	for _, s := range sums {
		if s.Kind != "" || s.Rows != s.NewRows || s.Checksum != s.NewChecksum {
			continue
		}
		newSt := curSt
		if s.Copied {
			newSt = afterSt
		}
		o, n := oldSt.Tables[s.Table], newSt.Tables[s.Table]
		if o.Counters == "" || n.Counters == "" {
			continue
		}
		st.Tables[s.Table] = syncedTable{Rows: s.Rows, Checksum: s.Checksum, NewRows: s.NewRows, NewChecksum: s.NewChecksum,
			OldCounters: o.Counters, NewCounters: n.Counters, NewAt: -1}
	}
	return st
}
