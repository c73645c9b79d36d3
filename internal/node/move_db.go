package node

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
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ferry/internal/model"
)

// moveTableRe is what a table name (and a PostgreSQL schema name) must look
// like for ferry to copy it: it goes into SQL quoted and onto dump command
// lines, and such names need no tricks in either.
var moveTableRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_$-]{0,63}$`)

func checkTableName(db, name string) error {
	if !moveTableRe.MatchString(name) {
		return fmt.Errorf("database %s: table %q: ferry copies tables named with letters, digits, _, $ and - only", db, name)
	}
	return nil
}

// tableSums returns every base table of db on this host with its row count
// and checksum, sorted by table. The checksum covers the rows (order does
// not matter) and the table's definition, so that a schema change counts
// as a change too.
func (m *mover) tableSums(ctx context.Context, db model.MoveDB) ([]model.TableSum, error) {
	switch db.Engine {
	case "mysql":
		return m.mysqlSums(ctx, db.Name)
	case "pgsql":
		return m.pgSums(ctx, db.Name)
	}
	return nil, fmt.Errorf("database %s: unknown engine %q", db.Name, db.Engine)
}

func (m *mover) mysqlSums(ctx context.Context, name string) ([]model.TableSum, error) {
	conn, err := m.a.mysqlConn(ctx)
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
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", name)
	if err != nil {
		return nil, fmt.Errorf("database %s: list tables: %w", name, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("database %s: list tables: %w", name, err)
	}
	dbq, err := mysqlIdent(name)
	if err != nil {
		return nil, err
	}
	sums := []model.TableSum{}
	for _, t := range tables {
		if err := checkTableName(name, t); err != nil {
			return nil, err
		}
		tq, err := mysqlIdent(t)
		if err != nil {
			return nil, err
		}
		full := dbq + "." + tq
		var tbl string
		var crc sql.NullInt64
		if err := conn.QueryRowContext(ctx, "CHECKSUM TABLE "+full).Scan(&tbl, &crc); err != nil {
			return nil, fmt.Errorf("checksum %s.%s: %w", name, t, err)
		}
		var count int64
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+full).Scan(&count); err != nil {
			return nil, fmt.Errorf("count %s.%s: %w", name, t, err)
		}
		var create string
		if err := conn.QueryRowContext(ctx, "SHOW CREATE TABLE "+full).Scan(&tbl, &create); err != nil {
			return nil, fmt.Errorf("definition of %s.%s: %w", name, t, err)
		}
		sums = append(sums, model.TableSum{DB: name, Table: t, Rows: count,
			Checksum: strconv.FormatInt(crc.Int64, 10) + "-" + shortHash(create)})
	}
	return sums, nil
}

// shortHash is 8 hex digits of s's SHA-256.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// psqlArgv runs psql as the postgres user on database db, unaligned and
// without headers, tab-separated, stopping at the first error.
func (m *mover) psqlArgv(db string) []string {
	return append(slices.Clone(m.cfg.RunAsPostgres), "psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db)
}

// pgTablesSQL lists a database's own tables (not the catalogs').
const pgTablesSQL = `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1, 2;
`

// pgTables returns db's tables as "schema.table".
func (m *mover) pgTables(ctx context.Context, db string) ([]string, error) {
	out, err := m.a.run(ctx, []byte(pgTablesSQL), m.psqlArgv(db)...)
	if err != nil {
		return nil, fmt.Errorf("database %s: list tables: %w", db, err)
	}
	var tables []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		schema, table, ok := strings.Cut(l, "\t")
		if !ok {
			return nil, fmt.Errorf("database %s: psql printed %q", db, l)
		}
		if err := checkTableName(db, schema); err != nil {
			return nil, err
		}
		if err := checkTableName(db, table); err != nil {
			return nil, err
		}
		tables = append(tables, schema+"."+table)
	}
	return tables, nil
}

// pgQualified quotes "schema.table" as an SQL name.
func pgQualified(t string) (string, error) {
	schema, table, ok := strings.Cut(t, ".")
	if !ok {
		return "", hardf("table %q is not schema.table", t)
	}
	s, err := pgIdent(schema)
	if err != nil {
		return "", err
	}
	n, err := pgIdent(table)
	if err != nil {
		return "", err
	}
	return s + "." + n, nil
}

// pgSumSQL is one table's line: name, rows, the sum of the first 64 bits
// of every row's md5 (the same whatever the rows' order), and the md5 of
// its columns, indexes and constraints.
func pgSumSQL(t string) (string, error) {
	q, err := pgQualified(t)
	if err != nil {
		return "", err
	}
	if strings.Contains(t, "'") {
		return "", hardf("table %q cannot be named in a string literal", t)
	}
	lit := "'" + q + "'"
	return `SELECT '` + t + `', r.n, r.s, (SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) FROM (
  SELECT format('col %s %s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) AS x
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = ` + lit + `::regclass AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'idx ' || pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = ` + lit + `::regclass
  UNION ALL SELECT 'con ' || k.conname || ' ' || pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conrelid = ` + lit + `::regclass
) AS ddl)
FROM (SELECT count(*) AS n, coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0) AS s FROM ` + q + ` AS t) AS r;
`, nil
}

func (m *mover) pgSums(ctx context.Context, db string) ([]model.TableSum, error) {
	tables, err := m.pgTables(ctx, db)
	if err != nil {
		return nil, err
	}
	sums := []model.TableSum{}
	if len(tables) == 0 {
		return sums, nil
	}
	var q strings.Builder
	for _, t := range tables {
		line, err := pgSumSQL(t)
		if err != nil {
			return nil, err
		}
		q.WriteString(line)
	}
	out, err := m.a.run(ctx, []byte(q.String()), m.psqlArgv(db)...)
	if err != nil {
		return nil, fmt.Errorf("database %s: checksums: %w", db, err)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("database %s: psql printed %q", db, l)
		}
		rows, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("database %s: psql printed %q", db, l)
		}
		h := f[3]
		if len(h) > 8 {
			h = h[:8]
		}
		sums = append(sums, model.TableSum{DB: db, Table: f[0], Rows: rows, Checksum: f[2] + "-" + h})
	}
	if len(sums) != len(tables) {
		return nil, fmt.Errorf("database %s: %d checksums for %d tables", db, len(sums), len(tables))
	}
	return sums, nil
}

// remoteSums asks the new host for db's table sums.
func (m *mover) remoteSums(ctx context.Context, t moveTarget, db model.MoveDB) ([]model.TableSum, error) {
	var out strings.Builder
	errOut, err := runStreaming(ctx, t.command(receiveSums+" "+db.Engine+" "+db.Name), nil, func(s string, newline bool) {
		out.WriteString(s)
		if newline {
			out.WriteByte('\n')
		}
	})
	if err != nil {
		return nil, fmt.Errorf("checksums of %s on %s: %s", db.Name, t.host(), failureText(err, errOut))
	}
	var sums []model.TableSum
	if err := json.Unmarshal([]byte(out.String()), &sums); err != nil {
		return nil, fmt.Errorf("checksums of %s on %s: %w", db.Name, t.host(), err)
	}
	for _, s := range sums {
		if s.DB != db.Name || checkTableName(db.Name, strings.ReplaceAll(s.Table, ".", "_")) != nil {
			return nil, fmt.Errorf("checksums of %s on %s: unexpected table %s.%s", db.Name, t.host(), s.DB, s.Table)
		}
	}
	return sums, nil
}

// planTableCopy compares the two sides' sums and returns the tables to
// copy (all of the old side's when full) and those to drop on the new side
// (gone on the old side), both sorted.
func planTableCopy(old, cur []model.TableSum, full bool) (copyTables, dropTables []string) {
	have := map[string]model.TableSum{}
	for _, s := range cur {
		have[s.Table] = s
	}
	inOld := map[string]bool{}
	for _, s := range old {
		inOld[s.Table] = true
		n, ok := have[s.Table]
		if full || !ok || n.Rows != s.Rows || n.Checksum != s.Checksum {
			copyTables = append(copyTables, s.Table)
		}
	}
	for _, s := range cur {
		if !inOld[s.Table] {
			dropTables = append(dropTables, s.Table)
		}
	}
	slices.Sort(copyTables)
	slices.Sort(dropTables)
	return copyTables, dropTables
}

// pgReferencing adds to tables every table whose foreign keys refer to one
// of them, until none is left out: pg_dump --clean drops a table's
// constraints, which fails while another table's key depends on them,
// unless that table is dumped (and so dropped first) as well.
func (m *mover) pgReferencing(ctx context.Context, db string, tables []string) ([]string, error) {
	const q = `SELECT n1.nspname || '.' || c1.relname, n2.nspname || '.' || c2.relname FROM pg_constraint k
JOIN pg_class c1 ON c1.oid = k.conrelid JOIN pg_namespace n1 ON n1.oid = c1.relnamespace
JOIN pg_class c2 ON c2.oid = k.confrelid JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
WHERE k.contype = 'f';
`
	out, err := m.a.run(ctx, []byte(q), m.psqlArgv(db)...)
	if err != nil {
		return nil, fmt.Errorf("database %s: foreign keys: %w", db, err)
	}
	var edges [][2]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if from, to, ok := strings.Cut(l, "\t"); ok {
			edges = append(edges, [2]string{from, to})
		}
	}
	return closeOverReferences(tables, edges), nil
}

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

// mysqlDumpArgv dumps tables of db, one consistent snapshot, rows streamed
// without buffering, without triggers (their definers could not be set by
// the loading account).
func (m *mover) mysqlDumpArgv(db string, tables ...string) []string {
	argv := []string{"mariadb-dump", "--socket=" + m.cfg.Node.MySQLSocket, "--user=root",
		"--single-transaction", "--quick", "--skip-lock-tables", "--skip-triggers", "--no-tablespaces",
		"--default-character-set=utf8mb4", "--hex-blob", db}
	return append(argv, tables...)
}

// pgDumpArgv dumps tables of db as SQL that drops and recreates them,
// owned by whoever loads it.
func (m *mover) pgDumpArgv(db string, tables []string) ([]string, error) {
	argv := append(slices.Clone(m.cfg.RunAsPostgres), "pg_dump", "--clean", "--if-exists", "--no-owner", "--no-privileges", "-d", db)
	for _, t := range tables {
		q, err := pgQualified(t)
		if err != nil {
			return nil, err
		}
		argv = append(argv, "-t", q)
	}
	return argv, nil
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
// stdin: the output of the producer command, or sqlText when producer is
// nil. No temporary file: the dump flows through ssh into the load.
func (m *mover) streamToRemote(ctx context.Context, t moveTarget, producer []string, sqlText string, remote string, counted *atomic.Int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sshCmd := exec.CommandContext(ctx, t.command(remote)[0], t.command(remote)[1:]...)
	sshCmd.Env = append(os.Environ(), "LC_ALL=C")
	sshCmd.Dir = "/"
	sshErr := &tailBuffer{max: 8 << 10}
	sshCmd.Stderr = sshErr
	sshCmd.WaitDelay = 10 * time.Second
	if producer == nil {
		sshCmd.Stdin = countingReader{strings.NewReader(sqlText), counted}
		if err := sshCmd.Run(); err != nil {
			return fmt.Errorf("%s on %s: %s", remote, t.host(), failureText(err, sshErr.String()))
		}
		return nil
	}
	prod := exec.CommandContext(ctx, producer[0], producer[1:]...)
	prod.Env = append(os.Environ(), "LC_ALL=C")
	prod.Dir = "/"
	prodErr := &tailBuffer{max: 8 << 10}
	prod.Stderr = prodErr
	prod.WaitDelay = 10 * time.Second
	out, err := prod.StdoutPipe()
	if err != nil {
		return err
	}
	sshCmd.Stdin = countingReader{out, counted}
	if err := prod.Start(); err != nil {
		return fmt.Errorf("%s: %w", producer[0], err)
	}
	if err := sshCmd.Start(); err != nil {
		cancel()
		prod.Wait()
		return fmt.Errorf("ssh: %w", err)
	}
	errS := sshCmd.Wait()
	if errS != nil {
		cancel() // nobody reads the dump any more
	}
	errP := prod.Wait()
	switch {
	case errS != nil:
		return fmt.Errorf("%s on %s: %s", remote, t.host(), failureText(errS, sshErr.String()))
	case errP != nil:
		return fmt.Errorf("dump: %s", failureText(errP, prodErr.String()))
	}
	return nil
}

// syncDB copies the move's databases to the new host, only the tables
// whose row count or checksum differ (all with Full), drops the tables
// that are gone here, and reports every table with what was copied. It also
// lists databases the site's app configs name that the move does not copy.
func (m *mover) syncDB(ctx context.Context, p model.MoveTaskPayload, progress func(any)) (any, error) {
	if err := m.checkOrder(&p); err != nil {
		return nil, err
	}
	if err := checkDatabases(p.Databases); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
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
		t, err := m.target(p)
		if err != nil {
			return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
		}
		for _, db := range p.Databases {
			sums, dropped, err := m.syncOneDB(ctx, t, db, p.Full, &counted)
			if err != nil {
				return nil, fmt.Errorf("move %d: database %s: %w", p.MoveID, db.Name, err)
			}
			mu.Lock()
			res.Tables = append(res.Tables, sums...)
			for _, d := range dropped {
				res.Dropped = append(res.Dropped, db.Name+"."+d)
			}
			mu.Unlock()
		}
	}
	unreg, err := scanAppDatabases(p.OrderDir, p.Databases)
	if err != nil {
		m.log.Warn("move sync: app config scan failed", "move", p.MoveID, "err", err)
	}
	stop()
	res.Unregistered = append(res.Unregistered, unreg...)
	for _, s := range res.Tables {
		if s.Copied {
			res.TablesCopied++
		}
	}
	res.Bytes = counted.Load()
	res.Seconds = roundSeconds(time.Since(start))
	m.log.Info("move databases synced", "move", p.MoveID, "tables", len(res.Tables), "copied", res.TablesCopied,
		"dropped", len(res.Dropped), "bytes", res.Bytes, "seconds", res.Seconds, "unregistered", len(res.Unregistered))
	return res, nil
}

// syncOneDB brings one database on the new host level with this host's.
func (m *mover) syncOneDB(ctx context.Context, t moveTarget, db model.MoveDB, full bool, counted *atomic.Int64) ([]model.TableSum, []string, error) {
	old, err := m.tableSums(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	cur, err := m.remoteSums(ctx, t, db)
	if err != nil {
		return nil, nil, err
	}
	toCopy, toDrop := planTableCopy(old, cur, full)
	if db.Engine == "pgsql" && len(toCopy) > 0 {
		if toCopy, err = m.pgReferencing(ctx, db.Name, toCopy); err != nil {
			return nil, nil, err
		}
	}
	load := receiveLoad + " " + db.Engine + " " + db.Name
	if len(toDrop) > 0 {
		var b strings.Builder
		if db.Engine == "mysql" {
			b.WriteString("SET FOREIGN_KEY_CHECKS=0;\n")
		}
		for _, tb := range toDrop {
			if err := checkTableName(db.Name, strings.ReplaceAll(tb, ".", "_")); err != nil {
				return nil, nil, err
			}
			if db.Engine == "mysql" {
				q, err := mysqlIdent(tb)
				if err != nil {
					return nil, nil, err
				}
				b.WriteString("DROP TABLE IF EXISTS " + q + ";\n")
			} else {
				q, err := pgQualified(tb)
				if err != nil {
					return nil, nil, err
				}
				b.WriteString("DROP TABLE IF EXISTS " + q + " CASCADE;\n")
			}
		}
		if err := m.streamToRemote(ctx, t, nil, b.String(), load, counted); err != nil {
			return nil, nil, err
		}
	}
	if len(toCopy) > 0 {
		if db.Engine == "pgsql" {
			// One dump: one snapshot, and tables tied by foreign keys
			// dropped and made again together.
			argv, err := m.pgDumpArgv(db.Name, toCopy)
			if err != nil {
				return nil, nil, err
			}
			if err := m.streamToRemote(ctx, t, argv, "", load, counted); err != nil {
				return nil, nil, err
			}
		} else if err := m.copyMySQLTables(ctx, t, db.Name, toCopy, load, counted); err != nil {
			return nil, nil, err
		}
	}
	copied := map[string]bool{}
	for _, tb := range toCopy {
		copied[tb] = true
	}
	after := cur
	if len(toCopy) > 0 || len(toDrop) > 0 {
		if after, err = m.remoteSums(ctx, t, db); err != nil {
			return nil, nil, err
		}
	}
	for i := range old {
		old[i].Copied = copied[old[i].Table]
		for _, a := range after {
			if a.Table == old[i].Table {
				old[i].NewRows, old[i].NewChecksum = a.Rows, a.Checksum
			}
		}
	}
	return old, toDrop, nil
}

// copyMySQLTables streams each table through its own dump and load, a few
// at a time.
func (m *mover) copyMySQLTables(ctx context.Context, t moveTarget, db string, tables []string, load string, counted *atomic.Int64) error {
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
				if err := m.streamToRemote(ctx, t, m.mysqlDumpArgv(db, tb), "", load, counted); err != nil {
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
	var cmd *exec.Cmd
	var drop func() error
	switch db.Engine {
	case "mysql":
		drop, err = m.mysqlLoadAccount(ctx, db.Name, name, password)
		if err != nil {
			return err
		}
		cmd = exec.CommandContext(ctx, "mariadb", "--no-defaults", "--protocol=socket", "--socket="+m.cfg.Node.MySQLSocket,
			"--user="+name, "--sandbox", "--batch", "--silent", "--default-character-set=utf8mb4", db.Name)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/", "MYSQL_PWD=" + password}
		cmd.Stdin = o.Stdin
	case "pgsql":
		owner, qerr := pgIdent(db.Owner)
		if qerr != nil {
			return qerr
		}
		var host, port string
		drop, host, port, err = m.pgLoadRole(ctx, db, name, password)
		if err != nil {
			return err
		}
		cmd = exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
			"-h", host, "-p", port, "-U", name, "-d", db.Name)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/", "PGPASSWORD=" + password,
			"PGCONNECT_TIMEOUT=10", "PGAPPNAME=ferry-move-" + strconv.FormatInt(moveID, 10)}
		// What is made belongs to the database's owner, not to the
		// temporary role.
		cmd.Stdin = io.MultiReader(strings.NewReader("SET ROLE "+owner+";\n"), o.Stdin)
	default:
		return receiveRefused("engine %q", db.Engine)
	}
	defer func() {
		if err := drop(); err != nil {
			m.log.Warn("move load: temporary account left behind; move-revoke removes it", "account", name, "err", err)
		}
	}()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	cmd.Stdout = io.Discard
	cmd.Stderr = o.Stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("load into %s: %w", db.Name, err)
	}
	return nil
}

// mysqlLoadAccount makes a MariaDB account with every right on db and no
// other, and returns how to drop it.
func (m *mover) mysqlLoadAccount(ctx context.Context, db, name, password string) (func() error, error) {
	conn, err := m.a.mysqlConn(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := mysqlAccount(name)
	if err != nil {
		conn.Close()
		return nil, err
	}
	pw, err := mysqlString(password)
	if err != nil {
		conn.Close()
		return nil, err
	}
	grantDB, err := mysqlGrantDB(db)
	if err != nil {
		conn.Close()
		return nil, err
	}
	drop := func() error {
		defer conn.Close()
		_, err := conn.ExecContext(context.WithoutCancel(ctx), "DROP USER IF EXISTS "+acct)
		return err
	}
	if _, err := conn.ExecContext(ctx, "CREATE USER "+acct+" IDENTIFIED BY "+pw); err != nil {
		conn.Close()
		return nil, fmt.Errorf("make temporary account: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "GRANT ALL PRIVILEGES ON "+grantDB+".* TO "+acct); err != nil {
		return nil, errors.Join(fmt.Errorf("grant temporary account: %w", err), drop())
	}
	return drop, nil
}

// pgLoadRole makes a PostgreSQL login role that is a member of db's owner
// and nothing else, and returns how to drop it and where the server
// listens on TCP (password logins go there; Debian's socket allows peer
// logins only).
func (m *mover) pgLoadRole(ctx context.Context, db model.MoveDB, name, password string) (drop func() error, host, port string, err error) {
	role, err := pgIdent(name)
	if err != nil {
		return nil, "", "", err
	}
	owner, err := pgIdent(db.Owner)
	if err != nil {
		return nil, "", "", err
	}
	pw, err := pgString(password)
	if err != nil {
		return nil, "", "", err
	}
	q := "CREATE ROLE " + role + " LOGIN PASSWORD " + pw + " IN ROLE " + owner + ";\n" +
		"SELECT current_setting('listen_addresses'), current_setting('port');\n"
	out, err := m.a.run(ctx, []byte(q), m.psqlArgv(db.Name)...)
	if err != nil {
		return nil, "", "", fmt.Errorf("make temporary role: %w", err)
	}
	drop = func() error {
		return m.pgDropRoles(context.WithoutCancel(ctx), []string{db.Name}, db.Owner, []string{name})
	}
	listen, port, _ := strings.Cut(strings.TrimSpace(out), "\t")
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

// pgDropRoles hands what the roles made in dbs to owner and drops them.
func (m *mover) pgDropRoles(ctx context.Context, dbs []string, owner string, roles []string) error {
	if len(roles) == 0 {
		return nil
	}
	o, err := pgIdent(owner)
	if err != nil {
		return err
	}
	quoted := make([]string, len(roles))
	for i, r := range roles {
		if quoted[i], err = pgIdent(r); err != nil {
			return err
		}
	}
	var errs []error
	for _, db := range dbs {
		var q strings.Builder
		for _, ri := range quoted {
			q.WriteString("REASSIGN OWNED BY " + ri + " TO " + o + ";\nDROP OWNED BY " + ri + ";\n")
		}
		if _, err := m.a.run(ctx, []byte(q.String()), m.psqlArgv(db)...); err != nil {
			errs = append(errs, fmt.Errorf("database %s: %w", db, err))
		}
	}
	var q strings.Builder
	for _, ri := range quoted {
		q.WriteString("DROP ROLE IF EXISTS " + ri + ";\n")
	}
	if _, err := m.a.run(ctx, []byte(q.String()), m.psqlArgv(dbs[0])...); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dropLoadAccounts removes the temporary accounts that loads of the move
// left behind (a load killed before it could drop its own).
func (m *mover) dropLoadAccounts(ctx context.Context, pol movePolicy) ([]string, error) {
	var removed []string
	var errs []error
	prefix := loadAccountPrefix(pol.MoveID)
	var mysqlDBs bool
	pgOwners := map[string][]string{} // owner → its databases
	for _, d := range pol.Databases {
		if d.Engine == "mysql" {
			mysqlDBs = true
		} else {
			pgOwners[d.Owner] = append(pgOwners[d.Owner], d.Name)
		}
	}
	if mysqlDBs {
		names, err := m.mysqlLoadAccounts(ctx, prefix)
		if err != nil {
			errs = append(errs, err)
		}
		for _, n := range names {
			acct, err := mysqlAccount(n)
			if err == nil {
				if err = m.mysqlExec(ctx, "DROP USER IF EXISTS "+acct); err == nil {
					removed = append(removed, "mariadb account "+n)
				}
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for owner, dbs := range pgOwners {
		// No LIKE: its escape for "_" is a backslash, which pgString
		// (rightly) refuses.
		lit, err := pgString(prefix)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out, err := m.a.run(ctx, []byte("SELECT rolname FROM pg_roles WHERE starts_with(rolname, "+lit+");\n"), m.psqlArgv(dbs[0])...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		roles := strings.Fields(out)
		if err := m.pgDropRoles(ctx, dbs, owner, roles); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range roles {
			removed = append(removed, "postgresql role "+r)
		}
	}
	return removed, errors.Join(errs...)
}

func (m *mover) mysqlLoadAccounts(ctx context.Context, prefix string) ([]string, error) {
	conn, err := m.a.mysqlConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT User FROM mysql.user WHERE Host = 'localhost' AND User LIKE ?", strings.ReplaceAll(prefix, "_", `\_`)+"%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

func (m *mover) mysqlExec(ctx context.Context, q string) error {
	conn, err := m.a.mysqlConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, q)
	return err
}

// verify compares the new host with this one: the paths an rsync would
// still change, and every table's sums on both sides.
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
	for _, db := range p.Databases {
		old, err := m.tableSums(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
		}
		cur, err := m.remoteSums(ctx, t, db)
		if err != nil {
			return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
		}
		res.Old = append(res.Old, old...)
		res.New = append(res.New, cur...)
	}
	return res, nil
}
