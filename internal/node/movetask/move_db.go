package movetask

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/node/dbengine"
	"ferry/internal/node/hostexec"
)

// checkObjectName refuses a table or object name no server makes: empty,
// or with a NUL byte. Every other name is quoted wherever it goes.
func checkObjectName(db, name string) error {
	if name == "" || len(name) > 1024 || strings.ContainsRune(name, 0) {
		return fmt.Errorf("database %s: table or object name %q cannot be copied", db, hostexec.OneLine(name, 80))
	}
	return nil
}

// tableSums returns every table of db on this host (or those in only, when
// it is not nil) with its row count and checksum, sorted by table, and then
// every other object of the database with a checksum of its definition. A table's checksum covers the rows
// (order does not matter) and the table's definition, so that a schema
// change counts as a change too.
func (m *mover) tableSums(ctx context.Context, db model.MoveDB, only []string) ([]model.TableSum, error) {
	eng, ok := dbEngines[db.Engine]
	if !ok {
		return nil, fmt.Errorf("database %s: unknown engine %q", db.Name, db.Engine)
	}
	return eng.sums(ctx, m, db, only)
}

// sumOnly says whether table t is summed when only (nil: every table) is
// asked for.
func sumOnly(only []string, t string) bool { return only == nil || slices.Contains(only, t) }

func (m *mover) mysqlSums(ctx context.Context, name string, users, only []string) ([]model.TableSum, error) {
	conn, err := m.a.MySQLConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("database %s does not exist on this host", name)
	}
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME", name)
	if err != nil {
		return nil, fmt.Errorf("database %s: list tables: %w", name, err)
	}
	var tables []string
	for rows.Next() {
		var t, typ string
		if err := rows.Scan(&t, &typ); err != nil {
			rows.Close()
			return nil, err
		}
		if !sumOnly(only, t) {
			continue
		}
		if typ != "BASE TABLE" && typ != "SEQUENCE" {
			// A system-versioned table's history would not arrive.
			rows.Close()
			return nil, fmt.Errorf("database %s: table %s is a %s table, which ferry cannot copy whole", name, t, strings.ToLower(typ))
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("database %s: list tables: %w", name, err)
	}
	dbq, err := dbengine.MySQLIdent(name)
	if err != nil {
		return nil, err
	}
	cols, err := mysqlColumns(ctx, conn, name)
	if err != nil {
		return nil, err
	}
	sums := []model.TableSum{}
	for _, t := range tables {
		if err := checkObjectName(name, t); err != nil {
			return nil, err
		}
		tq, err := dbengine.MySQLIdent(t)
		if err != nil {
			return nil, err
		}
		full := dbq + "." + tq
		row, err := mysqlRowSumExpr(cols[t])
		if err != nil {
			return nil, fmt.Errorf("checksum %s.%s: %w", name, t, err)
		}
		var count int64
		var crc sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*), SUM(CRC32("+row+")) FROM "+full).Scan(&count, &crc); err != nil {
			return nil, fmt.Errorf("checksum %s.%s: %w", name, t, err)
		}
		var tbl, create string
		if err := conn.QueryRowContext(ctx, "SHOW CREATE TABLE "+full).Scan(&tbl, &create); err != nil {
			return nil, fmt.Errorf("definition of %s.%s: %w", name, t, err)
		}
		sum := crc.String
		if !crc.Valid {
			sum = "0"
		}
		sums = append(sums, model.TableSum{DB: name, Table: t, Rows: count, Checksum: sum + "-" + shortHash(create)})
	}
	objs, err := mysqlObjects(ctx, conn, name)
	if err != nil {
		return nil, err
	}
	grants, _, err := mysqlGrants(ctx, conn, name, users)
	if err != nil {
		return nil, err
	}
	for _, o := range append(objs, grants...) {
		if err := checkObjectName(name, o.Name); err != nil {
			return nil, err
		}
		sum, err := mysqlObjectSum(name, o)
		if err != nil {
			return nil, err
		}
		sums = append(sums, sum)
	}
	return sums, nil
}

// mysqlColumns returns the columns of every table of db, in order.
func mysqlColumns(ctx context.Context, conn interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, db string) (map[string][]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION", db)
	if err != nil {
		return nil, fmt.Errorf("database %s: list columns: %w", db, err)
	}
	defer rows.Close()
	cols := map[string][]string{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, fmt.Errorf("database %s: list columns: %w", db, err)
		}
		cols[t] = append(cols[t], c)
	}
	return cols, rows.Err()
}

// mysqlRowSumExpr is the expression whose CRC32, summed over the rows, is a
// table's checksum: every column's bytes, each with whether it is NULL and
// its length in front, so that no two different rows read the same. ferry
// computes it itself rather than trusting CHECKSUM TABLE, whose result
// depends on the server's version, engine and row format.
func mysqlRowSumExpr(cols []string) (string, error) {
	if len(cols) == 0 {
		return "", errors.New("no columns")
	}
	var flags, lengths, values []string
	for _, c := range cols {
		q, err := dbengine.MySQLIdent(c)
		if err != nil {
			return "", err
		}
		flags = append(flags, "ISNULL("+q+")")
		lengths = append(lengths, "LENGTH(CAST("+q+" AS BINARY))")
		values = append(values, "CAST("+q+" AS BINARY)")
	}
	return "CONCAT_WS(','," + strings.Join(slices.Concat(flags, lengths, values), ",") + ")", nil
}

// shortHash is 8 hex digits of s's SHA-256.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// psqlArgv runs psql as the postgres user on database db, unaligned and
// without headers, tab-separated, stopping at the first error.
func (m *mover) psqlArgv(db string) []string { return m.dbHost().PsqlArgv(db) }

// pgTablesSQL lists a database's own tables (not the catalogs'), each as a
// JSON array of its quoted, qualified name and its kind: JSON keeps a
// name with a tab or a newline in one line of psql's output.
const pgTablesSQL = `SELECT json_build_array(format('%s.%s', quote_ident(n.nspname), quote_ident(c.relname)), c.relkind)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname;
`

// pgTables returns db's tables as quoted, qualified names ("public.t",
// "\"odd schema\".\"T 1\"").
func (m *mover) pgTables(ctx context.Context, db string) ([]string, error) {
	out, err := m.a.Run(ctx, []byte(pgTablesSQL), m.psqlArgv(db)...)
	if err != nil {
		return nil, fmt.Errorf("database %s: list tables: %w", db, err)
	}
	var tables []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var row []string
		if err := json.Unmarshal([]byte(l), &row); err != nil || len(row) != 2 {
			return nil, fmt.Errorf("database %s: psql printed %q", db, hostexec.OneLine(l, 200))
		}
		if err := checkObjectName(db, row[0]); err != nil {
			return nil, err
		}
		if row[1] == "f" {
			return nil, fmt.Errorf("database %s: table %s is a foreign table, whose data lives on another server; ferry cannot copy it", db, row[0])
		}
		tables = append(tables, row[0])
	}
	return tables, nil
}

// pgSumSQL is one table's line, a JSON array: name, rows, the sum of
// every row's 64-bit hash of its text (hashtextextended, PostgreSQL 11
// and later: the same whatever the rows' order, and about 1.5 times as
// fast as an md5 of the same text), and the md5 of its definition
// (pgDefSQL). t is a quoted, qualified name from pgTables.
func pgSumSQL(t string) (string, error) {
	lit, err := dbengine.PgString(t)
	if err != nil {
		return "", fmt.Errorf("table %s: %w", t, err)
	}
	return `SELECT json_build_array(` + lit + `, r.n, r.s::text, ` + pgDefSQL(lit+"::regclass") + `)
FROM (SELECT count(*) AS n, coalesce(sum(hashtextextended(t::text, 0)), 0) AS s FROM ` + t + ` AS t) AS r;
`, nil
}

// pgDefSQL is the md5 of the definition of the table whose oid is rel (an
// SQL expression): its columns, indexes, constraints, privileges and
// comments. The sums and the stamps both use it, so that a stamp's Def is
// the definition part of the table's checksum.
func pgDefSQL(rel string) string {
	return `(SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) FROM (
  SELECT format('col %s %s %s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)) AS x
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = ` + rel + ` AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'idx ' || pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = ` + rel + `
  UNION ALL SELECT 'con ' || k.conname || ' ' || pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conrelid = ` + rel + `
  UNION ALL SELECT 'acl ' || coalesce(c.relacl::text, '') || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '') FROM pg_class c WHERE c.oid = ` + rel + `
) AS ddl)`
}

// pgObjectsSQL lists every object of a database other than its tables,
// each as a JSON array: kind, name, md5 of its definition, and a number
// (a sequence's last value). What an extension made belongs to the
// extension and is not listed.
const pgObjectsSQL = `WITH nsp AS (SELECT oid, nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%'),
ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e')
SELECT json_build_array(kind, name, md5(coalesce(def, '')), num) FROM (
SELECT 'schema' AS kind, quote_ident(n.nspname) AS name, coalesce(x.nspacl::text, '') AS def, 0::bigint AS num
  FROM nsp n JOIN pg_namespace x ON x.oid = n.oid
UNION ALL
SELECT 'extension', quote_ident(e.extname), n.nspname, 0 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname <> 'plpgsql'
UNION ALL
SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' ELSE 'type' END,
  format('%s.%s', quote_ident(n.nspname), quote_ident(t.typname)),
  concat_ws(E'\n', format_type(t.typbasetype, t.typtypmod), t.typnotnull::text, t.typdefault,
    (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid),
    (SELECT string_agg(pg_get_constraintdef(k.oid), ',' ORDER BY k.conname) FROM pg_constraint k WHERE k.contypid = t.oid),
    (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
       FROM pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0),
    t.typacl::text), 0
  FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
  WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
    AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = t.oid)
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, format('%s.%s', quote_ident(n.nspname), quote_ident(c.relname)),
  pg_get_viewdef(c.oid) || coalesce(c.relacl::text, ''), 0
  FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('v', 'm') AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
UNION ALL
SELECT 'sequence', format('%s.%s', quote_ident(n.nspname), quote_ident(c.relname)),
  concat_ws(',', s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle, c.relacl::text),
  coalesce(pg_sequence_last_value(c.oid), 0)
  FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
  WHERE c.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' ELSE 'function' END,
  p.oid::regprocedure::text,
  CASE WHEN p.prokind = 'a' THEN p.oid::regprocedure::text ELSE pg_get_functiondef(p.oid) END || coalesce(p.proacl::text, ''), 0
  FROM pg_proc p JOIN nsp n ON n.oid = p.pronamespace
  WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid)
UNION ALL
SELECT 'trigger', format('%s on %s', quote_ident(t.tgname), t.tgrelid::regclass), pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text, 0
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN nsp n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal
UNION ALL
SELECT 'policy', format('%s on %s', quote_ident(p.polname), p.polrelid::regclass),
  concat_ws(' ', p.polcmd::text, p.polpermissive, p.polroles::regrole[]::text, pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)), 0
  FROM pg_policy p
UNION ALL
SELECT 'rule', format('%s on %s', quote_ident(r.rulename), r.ev_class::regclass), pg_get_ruledef(r.oid), 0
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN nsp n ON n.oid = c.relnamespace
  WHERE r.rulename <> '_RETURN'
UNION ALL
SELECT 'default privileges', concat_ws(' ', d.defaclrole::regrole::text, d.defaclobjtype, quote_ident(n.nspname)), d.defaclacl::text, 0
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
UNION ALL
SELECT 'comment', concat_ws(' ', i.type, i.identity), x.description, 0
  FROM pg_description x, LATERAL pg_identify_object(x.classoid, x.objoid, x.objsubid) i
  WHERE x.classoid <> 'pg_class'::regclass
    AND (i.schema IN (SELECT nspname FROM nsp) OR (x.classoid = 'pg_namespace'::regclass AND x.objoid IN (SELECT oid FROM nsp)))
    AND NOT (x.classoid = 'pg_namespace'::regclass AND x.objoid = 'public'::regnamespace)
    AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = x.classoid AND ext.objid = x.objoid)
) AS o ORDER BY kind, name;
`

func (m *mover) pgSums(ctx context.Context, db string, only []string) ([]model.TableSum, error) {
	all, err := m.pgTables(ctx, db)
	if err != nil {
		return nil, err
	}
	var tables []string
	for _, t := range all {
		if sumOnly(only, t) {
			tables = append(tables, t)
		}
	}
	var q strings.Builder
	for _, t := range tables {
		line, err := pgSumSQL(t)
		if err != nil {
			return nil, err
		}
		q.WriteString(line)
	}
	q.WriteString(pgObjectsSQL)
	out, err := m.a.Run(ctx, []byte(q.String()), m.psqlArgv(db)...)
	if err != nil {
		return nil, fmt.Errorf("database %s: checksums: %w", db, err)
	}
	sums := []model.TableSum{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var row []any
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber()
		if err := dec.Decode(&row); err != nil || len(row) != 4 {
			return nil, fmt.Errorf("database %s: psql printed %q", db, hostexec.OneLine(l, 200))
		}
		bad := fmt.Errorf("database %s: psql printed %q", db, hostexec.OneLine(l, 200))
		if len(sums) < len(tables) {
			// A table: name, rows, sum of row hashes, md5 of its definition.
			name, ok1 := row[0].(string)
			rows, ok2 := row[1].(json.Number)
			sum, ok3 := row[2].(string)
			h, ok4 := row[3].(string)
			n, err := rows.Int64()
			if !ok1 || !ok2 || !ok3 || !ok4 || err != nil {
				return nil, bad
			}
			sums = append(sums, model.TableSum{DB: db, Table: name, Rows: n, Checksum: sum + "-" + cutString(h, 8)})
			continue
		}
		// An object: kind, name, md5 of its definition, a number.
		kind, ok1 := row[0].(string)
		name, ok2 := row[1].(string)
		h, ok3 := row[2].(string)
		num, ok4 := row[3].(json.Number)
		n, err := num.Int64()
		if !ok1 || !ok2 || !ok3 || !ok4 || err != nil {
			return nil, bad
		}
		sums = append(sums, model.TableSum{DB: db, Kind: kind, Table: name, Rows: n, Checksum: cutString(h, 8)})
	}
	if len(sums) < len(tables) {
		return nil, fmt.Errorf("database %s: %d checksums for %d tables", db, len(sums), len(tables))
	}
	return sums, nil
}

// cutString is s cut to n bytes.
func cutString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// remoteSums asks the new host for db's table sums: every table's, or, when
// only is not nil, those of the tables in it (sent on stdin); every
// other object's either way.
func (m *mover) remoteSums(ctx context.Context, t moveTarget, db model.MoveDB, only []string) ([]model.TableSum, error) {
	var stdin io.Reader
	if only != nil {
		list, err := json.Marshal(only)
		if err != nil {
			return nil, err
		}
		stdin = strings.NewReader(string(list))
	}
	out, err := m.remoteText(ctx, t, receiveSums+" "+db.Engine+" "+db.Name, stdin)
	if err != nil {
		return nil, fmt.Errorf("checksums of %s on %s: %w", db.Name, t.host(), err)
	}
	var sums []model.TableSum
	if err := json.Unmarshal([]byte(out), &sums); err != nil {
		return nil, fmt.Errorf("checksums of %s on %s: %w", db.Name, t.host(), err)
	}
	for _, s := range sums {
		if s.DB != db.Name || checkObjectName(db.Name, s.Table) != nil || checkObjectName(db.Name, "k"+s.Kind) != nil {
			return nil, fmt.Errorf("checksums of %s on %s: unexpected table %s", db.Name, t.host(), hostexec.OneLine(s.Object(), 200))
		}
	}
	return sums, nil
}

// planTableCopy compares the two sides' sums and returns the tables (or
// objects) to copy (all of the old side's when full) and those to drop on
// the new side (gone on the old side), both sorted by name.
func planTableCopy(old, cur []model.TableSum, full bool) (copyTables, dropTables []string) {
	have := map[string]model.TableSum{}
	for _, s := range cur {
		have[s.Key()] = s
	}
	inOld := map[string]bool{}
	for _, s := range old {
		inOld[s.Key()] = true
		n, ok := have[s.Key()]
		if full || !ok || n.Rows != s.Rows || n.Checksum != s.Checksum {
			copyTables = append(copyTables, s.Table)
		}
	}
	for _, s := range cur {
		if !inOld[s.Key()] {
			dropTables = append(dropTables, s.Table)
		}
	}
	slices.Sort(copyTables)
	slices.Sort(dropTables)
	return copyTables, dropTables
}

// pgRowCopy is a re-sync of rows alone: the tables to empty and fill
// again, the sequences to set, and the statement that empties them.
type pgRowCopy struct {
	tables, sequences []string
	truncate          string
}

// pgRowsOnly says whether the differences between old and cur are rows
// and sequence values alone (no definition, no object, no table added or
// gone), and if so which tables and sequences a re-sync copies: the
// changed tables and every table whose foreign keys refer to one of them,
// unless one of those has a trigger, which would fire on the new host
// while the rows load (then the whole database is loaded instead).
func (m *mover) pgRowsOnly(ctx context.Context, db string, old, cur []model.TableSum, full bool) (pgRowCopy, bool, error) {
	if full || len(old) != len(cur) {
		return pgRowCopy{}, false, nil
	}
	have := map[string]model.TableSum{}
	for _, s := range cur {
		have[s.Key()] = s
	}
	var rc pgRowCopy
	for _, s := range old {
		n, ok := have[s.Key()]
		switch {
		case !ok:
			return pgRowCopy{}, false, nil
		case n.Rows == s.Rows && n.Checksum == s.Checksum:
		case s.Kind == "" && ddlHash(n.Checksum) == ddlHash(s.Checksum):
			rc.tables = append(rc.tables, s.Table)
		case s.Kind == "sequence" && n.Checksum == s.Checksum:
			rc.sequences = append(rc.sequences, s.Table)
		default:
			return pgRowCopy{}, false, nil
		}
	}
	if len(rc.tables) > 0 {
		const q = `WITH rel AS (SELECT c.oid, format('%s.%s', quote_ident(n.nspname), quote_ident(c.relname)) AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace)
SELECT json_build_array(a.name, b.name) FROM pg_constraint k JOIN rel a ON a.oid = k.conrelid JOIN rel b ON b.oid = k.confrelid WHERE k.contype = 'f'
UNION ALL SELECT json_build_array(a.name, '') FROM pg_trigger t JOIN rel a ON a.oid = t.tgrelid WHERE NOT t.tgisinternal;
`
		out, err := m.a.Run(ctx, []byte(q), m.psqlArgv(db)...)
		if err != nil {
			return pgRowCopy{}, false, fmt.Errorf("database %s: foreign keys and triggers: %w", db, err)
		}
		var edges [][2]string
		triggered := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var e [2]string
			if l == "" {
				continue
			}
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				return pgRowCopy{}, false, fmt.Errorf("database %s: psql printed %q", db, hostexec.OneLine(l, 200))
			}
			if e[1] == "" {
				triggered[e[0]] = true
			} else {
				edges = append(edges, e)
			}
		}
		rc.tables = closeOverReferences(rc.tables, edges)
		for _, t := range rc.tables {
			if triggered[t] {
				return pgRowCopy{}, false, nil
			}
		}
		rc.truncate = "TRUNCATE " + strings.Join(rc.tables, ", ") + ";\n"
	}
	return rc, true, nil
}

// ddlHash is the part of a table's checksum that covers its definition.
func ddlHash(sum string) string { return sum[strings.LastIndexByte(sum, '-')+1:] }

// closeOverReferences returns tables with every table that refers to one of
// them (edges are referencing → referenced), sorted.
func closeOverReferences(tables []string, edges [][2]string) []string {
	in := map[string]bool{}
	for _, t := range tables {
		in[t] = true
	}
	for changed := true; changed; {
		changed = false
		for _, e := range edges {
			if in[e[1]] && !in[e[0]] {
				in[e[0]] = true
				changed = true
			}
		}
	}
	out := make([]string, 0, len(in))
	for t := range in {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// streamToRemote runs the new host's remote command with input as its
// stdin: in.prefix, then the output of each producer command in turn,
// then in.suffix. No temporary file: the dumps flow through ssh into the
// load.
func (m *mover) streamToRemote(ctx context.Context, t moveTarget, in remoteInput, remote string, counted *atomic.Int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sshErr := &tailBuffer{max: 8 << 10}
	ssh := hostexec.Cmd{Argv: t.command(remote), Stderr: sshErr}
	if len(in.producers) == 0 {
		ssh.Stdin = countingReader{strings.NewReader(in.prefix + in.suffix), counted}
		wait, err := m.a.Start(ctx, ssh)
		if err == nil {
			err = wait()
		}
		if err != nil {
			return fmt.Errorf("%s on %s: %s", remote, t.host(), failureText(err, sshErr.String()))
		}
		return nil
	}
	prodErr := &tailBuffer{max: 8 << 10}
	dump, dumped := io.Pipe()
	prodDone := make(chan error, 1)
	go func() {
		var err error
		for _, argv := range in.producers {
			var wait func() error
			if wait, err = m.a.Start(ctx, hostexec.Cmd{Argv: argv, Stdout: dumped, Stderr: prodErr}); err != nil {
				err = fmt.Errorf("%s: %w", argv[0], err)
				break
			}
			if err = wait(); err != nil {
				break
			}
		}
		if err != nil {
			// The load must not take a dump cut short for a whole one.
			dumped.CloseWithError(err)
		} else {
			dumped.Close() // the load reads to the end of the dump
		}
		prodDone <- err
	}()
	ssh.Stdin = countingReader{io.MultiReader(strings.NewReader(in.prefix), dump, strings.NewReader(in.suffix)), counted}
	waitS, err := m.a.Start(ctx, ssh)
	if err != nil {
		cancel()
		dump.Close()
		<-prodDone
		return fmt.Errorf("ssh: %w", err)
	}
	errS := waitS()
	if errS != nil {
		cancel() // nobody reads the dump any more
	}
	dump.Close()
	errP := <-prodDone
	switch {
	case errP != nil:
		return fmt.Errorf("dump on this host: %s", failureText(errP, prodErr.String()))
	case errS != nil:
		return fmt.Errorf("%s on %s: %s", remote, t.host(), failureText(errS, sshErr.String()))
	}
	return nil
}

// remoteInput is what streamToRemote sends: SQL text, the output of
// commands run one after the other on this host, more SQL text.
type remoteInput struct {
	prefix    string
	producers [][]string
	suffix    string
}

// syncDB copies the move's databases to the new host, only the tables
// whose row count or checksum differ (all with Full), drops the tables
// that are gone here, and reports every table with what was copied. It also
// lists databases the site's app configs name that the move does not copy.
// Its ssh commands share one connection to the new host.
func (m *mover) syncDB(ctx context.Context, p model.MoveTaskPayload, progress func(any)) (any, error) {
	if err := m.checkOrder(&p); err != nil {
		return nil, err
	}
	if err := checkDatabases(p.Databases); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	var t moveTarget
	if len(p.Databases) > 0 {
		var err error
		if t, err = m.target(p); err != nil {
			return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
		}
		var closeMux func()
		t, closeMux = m.multiplex(ctx, t, m.moveDir(p.MoveID))
		defer closeMux()
	}
	fine := &stepTimes{}
	res, err := m.sendDB(withStepTimes(ctx, fine), p, t, progress)
	if err != nil {
		return nil, err
	}
	res.Steps = map[string]float64{}
	fine.into(res.Steps)
	return res, nil
}

// sendDB is a database sync of the checked payload p to t (a connection
// the caller opened, shared or not).
func (m *mover) sendDB(ctx context.Context, p model.MoveTaskPayload, t moveTarget, progress func(any)) (model.MoveSyncDBResult, error) {
	start := time.Now()
	var mu sync.Mutex
	var counted atomic.Int64
	res := model.MoveSyncDBResult{Tables: []model.TableSum{}}
	stop := everySecond(ctx, func() {
		mu.Lock()
		snap := res
		snap.Tables = slices.Clone(res.Tables)
		mu.Unlock()
		snap.Bytes = counted.Load()
		snap.Seconds = roundSeconds(time.Since(start))
		progress(snap)
	})
	defer stop()

	if len(p.Databases) > 0 {
		for _, db := range p.Databases {
			done, err := m.syncOneDB(ctx, t, p.MoveID, db, p.Full, p.Final, &counted)
			if err != nil {
				return model.MoveSyncDBResult{}, fmt.Errorf("move %d: database %s: %w", p.MoveID, db.Name, err)
			}
			mu.Lock()
			res.Tables = append(res.Tables, done.sums...)
			res.Dropped = append(res.Dropped, done.dropped...)
			res.Notes = append(res.Notes, done.notes...)
			res.TablesSummed += done.summed
			res.TablesListed += done.listed
			mu.Unlock()
		}
	}
	t0 := time.Now()
	unreg, err := apply.ScanAppDatabases(p.OrderDir, p.Databases)
	if err != nil {
		m.log.Warn("move sync: app config scan failed", "move", p.MoveID, "err", err)
	}
	stepSince(ctx, "db.scan", t0)
	stop()
	res.Unregistered = append(res.Unregistered, unreg...)
	for _, s := range res.Tables {
		switch {
		case s.Copied && s.Kind == "":
			res.TablesCopied++
			if s.ByRows != nil {
				res.TablesByRows++
				res.RowsByRows += s.ByRows.Rows()
			}
		case s.Copied:
			res.ObjectsCopied++
		}
	}
	res.Bytes = counted.Load()
	res.Seconds = roundSeconds(time.Since(start))
	m.log.Info("move databases synced", "move", p.MoveID, "tables", len(res.Tables), "summed", res.TablesSummed, "listed", res.TablesListed,
		"copied", res.TablesCopied, "by_rows", res.TablesByRows, "objects_copied", res.ObjectsCopied,
		"dropped", len(res.Dropped), "bytes", res.Bytes, "seconds", res.Seconds, "unregistered", len(res.Unregistered))
	return res, nil
}

// bothSums takes db's sums here and on the new host side by side.
func (m *mover) bothSums(ctx context.Context, t moveTarget, db model.MoveDB) (old, cur []model.TableSum, err error) {
	var wg sync.WaitGroup
	var remoteErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		cur, remoteErr = m.remoteSums(ctx, t, db, nil)
	}()
	old, err = m.tableSums(ctx, db, nil)
	wg.Wait()
	return old, cur, errors.Join(err, remoteErr)
}

// dbSync is what one database's sync did.
type dbSync struct {
	sums    []model.TableSum // the old host's, marked with what was copied
	dropped []string         // tables and objects dropped on the new host
	notes   []string
	summed  int // tables summed on this host before the copy
	listed  int // of them, listed row by row instead
	// byRows are the tables copied row by row, with what changed.
	byRows map[string]model.RowChanges
	// after are the new host's sums of tables copied row by row, taken
	// after the copy (final sync only).
	after map[string]model.TableSum
	// level are the tables whose row lists were the same on both hosts:
	// nothing was copied.
	level map[string]bool
}

// splitSums parts sums into tables and other objects.
func splitSums(sums []model.TableSum) (tables, objects []model.TableSum) {
	for _, s := range sums {
		if s.Kind == "" {
			tables = append(tables, s)
		} else {
			objects = append(objects, s)
		}
	}
	return tables, objects
}

// syncOneDB brings one database on the new host level with this host's:
// its engine's sync sends what differs (dbengine.go), and the new host's
// sums of what was sent are taken again. A table that a host did not
// write to since the last sync (its stamps say so, move_dbtrack.go) is
// not summed again there; on a new host that holds none of the tables yet, this
// host's tables are not summed before the copy either: everything is
// copied, and the new host's sums after it are those of the snapshot it
// received.
func (m *mover) syncOneDB(ctx context.Context, t moveTarget, moveID int64, db model.MoveDB, full, final bool, counted *atomic.Int64) (dbSync, error) {
	eng, ok := dbEngines[db.Engine]
	if !ok {
		return dbSync{}, fmt.Errorf("database %s: unknown engine %q", db.Name, db.Engine)
	}
	prev := m.takeSyncState(moveID, db)
	t0 := time.Now()
	oldSt, curSt, err := m.bothStamps(ctx, t, db)
	if err != nil {
		return dbSync{}, err
	}
	stepSince(ctx, "db.stamps", t0)
	oldKnown, newKnown := map[string]syncedTable{}, map[string]syncedTable{}
	if !full {
		oldKnown, newKnown = prev.unchanged(oldSt, curSt, !final)
	}
	// fresh: the new host holds none of this host's tables.
	fresh := curSt.Tables != nil && len(oldSt.Tables) > 0
	for name := range oldSt.Tables {
		if _, ok := curSt.Tables[name]; ok {
			fresh = false
		}
	}
	oldOnly := tablesOf(oldSt, oldKnown)
	if fresh {
		oldOnly = []string{}
	}
	newOnly := tablesOf(curSt, newKnown)
	// A big MariaDB table this host wrote to since the last sync is
	// listed row by row instead of summed, on both hosts, when the new
	// host holds it: the lists tell what to send, and this host's list
	// gives its sums.
	listed := map[string]bool{}
	if db.Engine == "mysql" && !full && !fresh && curSt.Tables != nil && oldOnly != nil {
		for _, name := range oldOnly {
			_, there := curSt.Tables[name]
			if s, ok := prev.Tables[name]; ok && there && s.Rows >= rowCopyMinRows && oldSt.Tables[name].Keyed && curSt.Tables[name].Keyed {
				listed[name] = true
			}
		}
		oldOnly = slices.DeleteFunc(oldOnly, func(n string) bool { return listed[n] })
		if newOnly != nil {
			newOnly = slices.DeleteFunc(newOnly, func(n string) bool { return listed[n] })
		}
	}
	var old, cur []model.TableSum
	var wg sync.WaitGroup
	var remoteErr error
	t0 = time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		cur, remoteErr = m.remoteSums(ctx, t, db, newOnly)
	}()
	old, err = m.tableSums(ctx, db, oldOnly)
	wg.Wait()
	if err = errors.Join(err, remoteErr); err != nil {
		return dbSync{}, err
	}
	stepSince(ctx, "db.sums", t0)
	if fresh {
		// Placeholders: what was copied is known from the new host's sums
		// after the copy.
		var tables []model.TableSum
		for _, name := range tablesOf(oldSt, nil) {
			if err := checkObjectName(db.Name, name); err != nil {
				return dbSync{}, err
			}
			tables = append(tables, model.TableSum{DB: db.Name, Table: name, Rows: -1})
		}
		old = append(tables, old...)
	}
	for name := range listed {
		// Placeholders: the row lists give the sums.
		old = append(old, model.TableSum{DB: db.Name, Table: name, Rows: -1})
	}
	old = withKnown(db.Name, old, oldKnown, false)
	cur = withKnown(db.Name, cur, newKnown, true)

	res := dbSync{summed: len(oldSt.Tables) - len(oldKnown), listed: len(listed)}
	if fresh {
		res.summed = 0
	}
	copied := map[string]bool{}
	load := receiveLoad + " " + db.Engine + " " + db.Name
	dbe, err := dbengine.New(db.Engine, m.dbHost())
	if err != nil {
		return dbSync{}, fmt.Errorf("database %s: %w", db.Name, err)
	}
	run := dbSyncRun{db: db, eng: dbe, old: old, cur: cur, full: full, final: final, counted: counted, load: load, copied: copied, res: &res, listed: listed}
	if curSt.Tables != nil {
		run.onNew = map[string]bool{}
		for name := range curSt.Tables {
			run.onNew[name] = true
		}
	}
	t0 = time.Now()
	if err := eng.sync(ctx, m, t, run); err != nil {
		return dbSync{}, err
	}
	stepSince(ctx, "db.copy", t0)
	t0 = time.Now()
	// The new host's sums after the copy: of the tables copied whole
	// alone. A table copied row by row holds this host's rows: in the
	// final sync its sums were taken to check that (res.after); in
	// another, a live site may have written on since its list, and the
	// next sync lists it again if so.
	after := cur
	afterAt := curSt.Now // the new host's clock before its sums in after
	afterSt := curSt     // the new host's stamps before its sums in after
	summedAfter := false // sums of the new host taken after the copy
	if len(copied) > 0 || len(res.dropped) > 0 {
		var tables []string
		objects := false
		for _, s := range old {
			switch {
			case !copied[s.Key()] || hasKey(res.byRows, s.Key()):
			case s.Kind != "":
				objects = true
			default:
				tables = append(tables, s.Table)
			}
		}
		if curSt.Tables != nil && !final {
			afterAt = -1
			afterSt = dbStamps{}
			if st, err := m.remoteStamps(ctx, t, db); err == nil {
				afterAt, afterSt = st.Now, st
				if fresh {
					// A first copy: every table is the new host's to sum
					// at the next sync unless its sums lie past the
					// margin.
					if st, err := m.outlastMargin(ctx, t, db, st, tables); err == nil {
						afterAt, afterSt = st.Now, st
					}
				}
			}
		}
		var newSums []model.TableSum
		if len(tables) > 0 || objects || len(res.dropped) > 0 {
			var err error
			if newSums, err = m.remoteSums(ctx, t, db, append([]string{}, tables...)); err != nil {
				return dbSync{}, err
			}
			summedAfter = true
		} else {
			_, newSums = splitSums(cur)
		}
		after = newSums
		for _, c := range cur {
			if c.Kind == "" && !slices.Contains(tables, c.Table) && !hasKey(res.byRows, c.Key()) && !res.level[c.Table] {
				after = append(after, c)
			}
		}
	}
	for _, s := range old {
		if s.Kind != "" || !hasKey(res.byRows, s.Key()) && !res.level[s.Table] {
			continue
		}
		a, ok := res.after[s.Key()]
		if !ok {
			a = model.TableSum{DB: db.Name, Table: s.Table, Rows: s.Rows, Checksum: s.Checksum}
		}
		after = append(after, a)
	}
	byKey := map[string]model.TableSum{}
	for _, a := range after {
		byKey[a.Key()] = a
	}
	for i := range old {
		old[i].Copied = copied[old[i].Key()]
		if c, ok := res.byRows[old[i].Key()]; ok && old[i].Copied {
			old[i].ByRows = &c
		}
		if a, ok := byKey[old[i].Key()]; ok {
			old[i].NewRows, old[i].NewChecksum = a.Rows, a.Checksum
		}
		if old[i].Kind == "" && old[i].Rows < 0 {
			if !old[i].Copied {
				return dbSync{}, fmt.Errorf("database %s: table %s was not copied", db.Name, old[i].Table)
			}
			old[i].Rows, old[i].Checksum = old[i].NewRows, old[i].NewChecksum
		}
	}
	res.sums = old
	stepSince(ctx, "db.after", t0)
	// A final sync is the last: what it would keep for a next one is never
	// read (a run of the freeze again, after a failure, sums every table).
	if curSt.Tables != nil && !final {
		t0 = time.Now()
		m.keepSyncState(ctx, t, moveID, db, oldSt, curSt, afterSt, afterAt, old, summedAfter)
		stepSince(ctx, "db.keep", t0)
	}
	return res, nil
}

// outlastMargin waits, when a table of tables (copied whole just now)
// was last written on the new host within stampsMargin of st's clock,
// until the margin has passed, and returns the new host's stamps read
// then: the sums taken next lie after its last write by the margin, so
// the next sync can trust them instead of summing the table again. It
// waits 3 s at most, and not at all when no such table was written
// within the margin; it returns st when it did not wait.
func (m *mover) outlastMargin(ctx context.Context, t moveTarget, db model.MoveDB, st dbStamps, tables []string) (dbStamps, error) {
	last := int64(-1)
	for _, tb := range tables {
		last = max(last, st.Tables[tb].Written)
	}
	wait := last + stampsMargin + 1 - st.Now
	if last < 0 || wait <= 0 {
		return st, nil
	}
	select {
	case <-time.After(time.Duration(min(wait, 3)) * time.Second):
	case <-ctx.Done():
		return st, ctx.Err()
	}
	return m.remoteStamps(ctx, t, db)
}

// hasKey says whether m holds k.
func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// keepSyncState saves, for the next sync, the sums both hosts hold of
// every table that is now the same on both, with the new host's stamps
// taken now. A copied table's new sums were taken after the new host's
// clock read afterAt (and its stamps were afterSt), the others' after its
// clock read curSt.Now (its stamps curSt). A table that differs, or whose
// stamps say nothing, is left out: the next sync sums it. Tables with
// counters (PostgreSQL) keep those read before each host's sums.
func (m *mover) keepSyncState(ctx context.Context, t moveTarget, moveID int64, db model.MoveDB, oldSt, curSt, afterSt dbStamps, afterAt int64, sums []model.TableSum, summedAfter bool) {
	tracked, counted := false, false
	for _, s := range oldSt.Tables {
		tracked = tracked || s.Written >= 0
		counted = counted || s.Counters != ""
	}
	if counted {
		m.saveSyncState(moveID, db, countedState(oldSt, curSt, afterSt, sums))
		return
	}
	if !tracked {
		return
	}
	curAt := curSt.Now
	// The new host's stamps now. Without sums taken since afterSt was
	// read, those are as good: a table written after them shows a later
	// stamp at the next sync, which then sums it.
	curSt = afterSt
	if summedAfter || afterSt.Tables == nil {
		var err error
		if curSt, err = m.remoteStamps(ctx, t, db); err != nil {
			m.log.Warn("move sync: no stamps of the new host; the next sync sums every table", "database", db.Name, "err", err)
			return
		}
	}
	st := syncState{Tables: map[string]syncedTable{}}
	for _, s := range sums {
		n, ok := curSt.Tables[s.Table]
		if s.Kind != "" || !ok || n.Written < 0 || s.Rows != s.NewRows || s.Checksum != s.NewChecksum {
			continue
		}
		at := curAt
		if s.Copied {
			at = afterAt
		}
		st.Tables[s.Table] = syncedTable{Rows: s.Rows, Checksum: s.Checksum, NewRows: s.NewRows, NewChecksum: s.NewChecksum,
			OldSince: oldSt.Now, NewWritten: n.Written, NewAt: at}
	}
	m.saveSyncState(moveID, db, st)
}

// copyMySQLTables streams each table through its own dump and load, a few
// at a time.
func (m *mover) copyMySQLTables(ctx context.Context, t moveTarget, db string, tables []string, load string, counted *atomic.Int64) error {
	eng, err := dbengine.New("mysql", m.dbHost())
	if err != nil {
		return err
	}
	dump := func(table string) []string { return eng.Dump(db, &dbengine.DumpPart{Tables: []string{table}}) }
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	errs := make(chan error, len(tables))
	var wg sync.WaitGroup
	for range min(m.cfg.Streams, len(tables)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tb := range work {
				if err := m.streamToRemote(ctx, t, remoteInput{producers: [][]string{dump(tb)}}, load, counted); err != nil {
					errs <- fmt.Errorf("table %s: %w", tb, err)
					cancel()
				}
			}
		}()
	}
feed:
	for _, tb := range tables {
		select {
		case work <- tb:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// loadAccountPrefix starts the name of every temporary account a load of
// move id makes.
func loadAccountPrefix(id int64) string { return "ferry_mv" + strconv.FormatInt(id, 10) + "_" }

// nobody returns the credential of the user "nobody", under which the
// database clients of a load run: what the old host sends is SQL, and a
// client's shell escapes then reach nothing.
func nobody() (*syscall.Credential, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("user nobody: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user nobody: uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// receiveLoad loads the SQL on stdin into one database of the move, as a
// temporary account that can reach that database and nothing else.
func (m *mover) receiveLoad(ctx context.Context, moveID int64, db model.MoveDB, o ReceiveOptions) error {
	cred, err := nobody()
	if err != nil {
		return err
	}
	name := loadAccountPrefix(moveID) + randomHex(4)
	password := randomHex(16)
	eng, err := dbengine.New(db.Engine, m.dbHost())
	if err != nil {
		return receiveRefused("engine %q", db.Engine)
	}
	cmd, drop, err := eng.Load(ctx, moveID, db, name, password, o.Stdin)
	if err != nil {
		return err
	}
	cmd.Cred, cmd.Stdout, cmd.Stderr = cred, io.Discard, o.Stderr
	defer func() {
		if err := drop(); err != nil {
			m.log.Warn("move load: temporary account left behind; move-revoke removes it", "account", name, "err", err)
		}
	}()
	wait, err := m.a.Start(ctx, cmd)
	if err == nil {
		err = wait()
	}
	if err != nil {
		return fmt.Errorf("load into %s: %w", db.Name, err)
	}
	return nil
}

// dropLoadAccounts removes the temporary accounts that loads of the move
// left behind (a load killed before it could drop its own).
func (m *mover) dropLoadAccounts(ctx context.Context, pol movePolicy) ([]string, error) {
	var removed []string
	var errs []error
	prefix := loadAccountPrefix(pol.MoveID)
	for _, name := range dbengine.Names() {
		var dbs []model.MoveDB
		for _, d := range pol.Databases {
			if d.Engine == name {
				dbs = append(dbs, d)
			}
		}
		if len(dbs) == 0 {
			continue
		}
		eng, err := dbengine.New(name, m.dbHost())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r, err := eng.DropLoadAccounts(ctx, prefix, dbs)
		removed = append(removed, r...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// verify compares the new host with this one: the paths an rsync would
// still change, the mailboxes' folders and UIDs, and every table's sums
// on both sides.
func (m *mover) verify(ctx context.Context, p model.MoveTaskPayload, progress func(any)) (any, error) {
	if err := m.checkOrder(&p); err != nil {
		return nil, err
	}
	if err := checkDatabases(p.Databases); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	t, err := m.target(p)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	stop := everySecond(ctx, func() { progress(map[string]string{"verifying": p.Order.Identifier}) })
	defer stop()
	res := model.MoveVerifyResult{Old: []model.TableSum{}, New: []model.TableSum{}}
	if res.FilesDiffering, err = m.diffFiles(ctx, p, t); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	res.FilesDiffering, res.MailboxFiles = splitMailboxFiles(res.FilesDiffering)
	if res.Mailboxes, res.MailboxProblems, err = m.compareMailboxes(ctx, p, t, false); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	sparse, err := m.diffSparse(ctx, p, t)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	res.FilesDiffering = append(res.FilesDiffering, sparse...)
	if len(p.Databases) > 0 {
		var closeMux func()
		t, closeMux = m.multiplex(ctx, t, m.moveDir(p.MoveID))
		defer closeMux()
	}
	for _, db := range p.Databases {
		old, cur, err := m.bothSums(ctx, t, db)
		if err != nil {
			return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
		}
		res.Old = append(res.Old, old...)
		res.New = append(res.New, cur...)
	}
	return res, nil
}
