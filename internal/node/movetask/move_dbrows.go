package movetask

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/model"
	"ferry/internal/node/dbengine"
	"ferry/internal/node/hostexec"
	"ferry/internal/node/receive"
)

// A MariaDB table that changed since the last sync is brought level row
// by row when it can be: both hosts list every row's primary key with a
// hash of the whole row, in the same order, and the old host sends only
// the rows whose hash differs or that the new host lacks, and deletes
// there the rows it no longer holds, in one transaction. It can when the
// table is the same table on both hosts (its definition, the
// AUTO_INCREMENT counter aside), has a primary key of columns whose
// values read back exactly (numbers, dates, strings), has no trigger on
// either host (a trigger would fire on the new host as the rows
// arrive), and when at most a fifth of its rows changed. Otherwise the
// table is copied whole, as before. The sums after the copy check it as
// they check a whole copy; in the final sync a table whose sums then
// differ is copied whole at once.

// receiveRows asks the new host for one table's row list.
const receiveRows = receive.CmdRows

// rowListHead is what a row list says of its table before its rows.
type rowListHead struct {
	// Def is a hash of the table's definition without its AUTO_INCREMENT
	// counter.
	Def string `json:"def"`
	// Key is the primary key's columns in order; empty when the table
	// has none whose values read back exactly (then no rows follow).
	Key []string `json:"key"`
	// Charsets are the character sets of Key's columns, "binary" for a
	// column that is not a character string.
	Charsets []string `json:"charsets"`
	// AutoIncrement is the table's AUTO_INCREMENT counter, 0 if none.
	AutoIncrement int64 `json:"auto_increment"`
	// Triggers counts the triggers on the table.
	Triggers int `json:"triggers"`
	// SumDef is the hash of the whole SHOW CREATE TABLE, as in the
	// table's sums.
	SumDef string `json:"sum_def,omitempty"`
}

// rowEntry is one row in a row list: its primary key (each column's
// bytes in upper-case hex, joined by commas) and the first 64 bits of the
// MD5 of the row (as mysqlRowSumExpr spells it).
type rowEntry struct {
	key  string
	hash uint64
	crc  uint32 // the row's CRC32 as in the table's sums; this host's rows only
}

// rowKeyTypes are the column types a primary key of the row copy may
// have: their values, read as text and written back as string literals,
// compare equal to what was read.
var rowKeyTypes = []string{"tinyint", "smallint", "mediumint", "int", "bigint", "decimal",
	"char", "varchar", "binary", "varbinary", "date", "datetime", "timestamp", "time", "year"}

// autoIncrementRe finds the AUTO_INCREMENT counter in the table options
// SHOW CREATE TABLE prints after the last column.
var autoIncrementRe = regexp.MustCompile(` AUTO_INCREMENT=[0-9]+`)

// rowDefinition is a hash of a table's SHOW CREATE TABLE without its
// AUTO_INCREMENT counter, which moves with every insert.
func rowDefinition(create string) string {
	at := strings.LastIndex(create, "\n)")
	if at < 0 {
		return shortHash(create)
	}
	return shortHash(create[:at] + autoIncrementRe.ReplaceAllString(create[at:], ""))
}

// introducerRe is a character set's name as an introducer may spell it.
var introducerRe = regexp.MustCompile(`^[a-z0-9]{1,32}$`)

// mysqlRowHead reads what a row list says of table tb of db before its rows.
func mysqlRowHead(ctx context.Context, c *sql.Conn, db, tb string) (rowListHead, error) {
	dbq, err := dbengine.MySQLIdent(db)
	if err != nil {
		return rowListHead{}, err
	}
	tq, err := dbengine.MySQLIdent(tb)
	if err != nil {
		return rowListHead{}, err
	}
	var h rowListHead
	var name, create string
	if err := c.QueryRowContext(ctx, "SHOW CREATE TABLE "+dbq+"."+tq).Scan(&name, &create); err != nil {
		return rowListHead{}, fmt.Errorf("definition of %s.%s: %w", db, tb, err)
	}
	h.Def, h.SumDef = rowDefinition(create), shortHash(create)
	var ai sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, tb).Scan(&ai); err != nil {
		return rowListHead{}, fmt.Errorf("table %s.%s: %w", db, tb, err)
	}
	h.AutoIncrement = ai.Int64
	if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?", db, tb).Scan(&h.Triggers); err != nil {
		return rowListHead{}, fmt.Errorf("triggers of %s.%s: %w", db, tb, err)
	}
	rows, err := c.QueryContext(ctx, `SELECT s.COLUMN_NAME, s.SUB_PART IS NOT NULL, c.DATA_TYPE, COALESCE(c.CHARACTER_SET_NAME, 'binary')
FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c
  ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY' ORDER BY s.SEQ_IN_INDEX`, db, tb)
	if err != nil {
		return rowListHead{}, fmt.Errorf("primary key of %s.%s: %w", db, tb, err)
	}
	defer rows.Close()
	usable := true
	for rows.Next() {
		var col, typ, cs string
		var prefix bool
		if err := rows.Scan(&col, &prefix, &typ, &cs); err != nil {
			return rowListHead{}, fmt.Errorf("primary key of %s.%s: %w", db, tb, err)
		}
		if prefix || !slices.Contains(rowKeyTypes, typ) || !introducerRe.MatchString(cs) {
			usable = false
		}
		h.Key = append(h.Key, col)
		h.Charsets = append(h.Charsets, cs)
	}
	if err := rows.Err(); err != nil {
		return rowListHead{}, fmt.Errorf("primary key of %s.%s: %w", db, tb, err)
	}
	if !usable {
		h.Key, h.Charsets = nil, nil
	}
	if h.Key == nil {
		h.Key, h.Charsets = []string{}, []string{}
	}
	return h, nil
}

// mysqlKeyedTables returns the tables of db of which a row list can be
// made: with a primary key of rowKeyTypes columns, none a prefix, and
// without triggers; as mysqlRowHead would find them.
func mysqlKeyedTables(ctx context.Context, conn interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, db string) (map[string]bool, error) {
	types := make([]string, len(rowKeyTypes))
	for i, t := range rowKeyTypes {
		types[i] = "'" + t + "'"
	}
	rows, err := conn.QueryContext(ctx, `SELECT s.TABLE_NAME FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c
  ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
WHERE s.TABLE_SCHEMA = ? AND s.INDEX_NAME = 'PRIMARY'
  AND NOT EXISTS (SELECT 1 FROM information_schema.TRIGGERS g WHERE g.EVENT_OBJECT_SCHEMA = s.TABLE_SCHEMA AND g.EVENT_OBJECT_TABLE = s.TABLE_NAME)
GROUP BY s.TABLE_NAME
HAVING SUM(s.SUB_PART IS NOT NULL OR c.DATA_TYPE NOT IN (`+strings.Join(types, ",")+`)) = 0`, db)
	if err != nil {
		return nil, fmt.Errorf("database %s: primary keys: %w", db, err)
	}
	defer rows.Close()
	keyed := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("database %s: primary keys: %w", db, err)
		}
		keyed[t] = true
	}
	return keyed, rows.Err()
}

// mysqlRowList reads table tb of db: its head, then each row in the
// order of its key's bytes, handed to each; with crc, each row's CRC32
// as the table's sums take it too. The session's time zone is UTC (as
// every session of MySQLConn), so that a TIMESTAMP key reads the same on
// both hosts and in the dump.
func (m *mover) mysqlRowList(ctx context.Context, db, tb string, crc bool, head func(rowListHead) error, each func(rowEntry) error) error {
	c, done, err := m.mysqlSession(ctx)
	if err != nil {
		return err
	}
	defer done()
	h, err := mysqlRowHead(ctx, c, db, tb)
	if err != nil {
		return err
	}
	if err := head(h); err != nil {
		return err
	}
	if len(h.Key) == 0 {
		return nil
	}
	cols, err := mysqlColumns(ctx, c, db)
	if err != nil {
		return err
	}
	row, err := mysqlRowSumExpr(cols[tb])
	if err != nil {
		return fmt.Errorf("rows of %s.%s: %w", db, tb, err)
	}
	var keys []string
	for _, k := range h.Key {
		q, err := dbengine.MySQLIdent(k)
		if err != nil {
			return err
		}
		keys = append(keys, "HEX(CAST("+q+" AS BINARY))")
	}
	dbq, _ := dbengine.MySQLIdent(db)
	tq, _ := dbengine.MySQLIdent(tb)
	key := "CAST(CONCAT_WS(','," + strings.Join(keys, ",") + ") AS BINARY)"
	crcExpr := "0"
	if crc {
		crcExpr = "CRC32(" + row + ")"
	}
	rows, err := c.QueryContext(ctx, "SELECT "+key+", LEFT(MD5("+row+"), 16), "+crcExpr+" FROM "+dbq+"."+tq+" ORDER BY 1")
	if err != nil {
		return fmt.Errorf("rows of %s.%s: %w", db, tb, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, h string
		var sum uint32
		if err := rows.Scan(&k, &h, &sum); err != nil {
			return fmt.Errorf("rows of %s.%s: %w", db, tb, err)
		}
		n, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return fmt.Errorf("rows of %s.%s: hash %q", db, tb, h)
		}
		if err := each(rowEntry{key: k, hash: n, crc: sum}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rows of %s.%s: %w", db, tb, err)
	}
	return nil
}

// receiveRowList is ferry-rows on the new host: the row list of the table
// named on stdin (a JSON string), written as a row list
// (writeRowList's format).
func (m *mover) receiveRowList(ctx context.Context, db model.MoveDB, stdin io.Reader, stdout io.Writer) error {
	if db.Engine != "mysql" {
		return receiveRefused("%s: only MariaDB tables are listed row by row", receiveRows)
	}
	data, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
	if err != nil {
		return err
	}
	var tb string
	if err := json.Unmarshal(data, &tb); err != nil || checkObjectName(db.Name, tb) != nil {
		return receiveRefused("%s: stdin is not a table's name as a JSON string", receiveRows)
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	n := 0
	err = m.mysqlRowList(ctx, db.Name, tb, false, func(h rowListHead) error {
		line, err := json.Marshal(h)
		if err != nil {
			return err
		}
		_, err = w.Write(append(line, '\n'))
		return err
	}, func(r rowEntry) error {
		n++
		_, err := fmt.Fprintf(w, "%s\t%016x\n", r.key, r.hash)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "end %d\n", n)
	return w.Flush()
}

// Bounds of what a row list may hold.
const (
	maxRowHead = 64 << 10
	// A primary key is at most 3,072 bytes in InnoDB: 6,144 hex digits,
	// with commas between up to 16 columns.
	maxRowKey = 6144 + 16
)

// parseRowList reads a row list as the new host writes it: a JSON head
// line, one "KEY<TAB>HASH" line per row with the keys strictly
// increasing, and "end N" with N the number of rows. The head goes to
// head and each row to each as they are read; a list cut short, out of
// order or with anything after its end is an error.
func parseRowList(r io.Reader, head func(rowListHead) error, each func(rowEntry) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := readRowLine(br, maxRowHead)
	if err != nil {
		return fmt.Errorf("row list head: %w", err)
	}
	var h rowListHead
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("row list head: %w", err)
	}
	if dec.More() {
		return errors.New("row list head: more than one JSON value")
	}
	if len(h.Key) != len(h.Charsets) || len(h.Key) > 16 || h.AutoIncrement < 0 || h.Triggers < 0 {
		return errors.New("row list head: key and character sets do not match")
	}
	for i, k := range h.Key {
		if k == "" || strings.ContainsRune(k, 0) || !introducerRe.MatchString(h.Charsets[i]) {
			return fmt.Errorf("row list head: key column %q (%q)", hostexec.OneLine(k, 80), hostexec.OneLine(h.Charsets[i], 40))
		}
	}
	if err := head(h); err != nil {
		return err
	}
	n, prev := 0, ""
	for {
		line, err := readRowLine(br, maxRowKey+1+16)
		if err != nil {
			return fmt.Errorf("row list after %d rows: %w", n, err)
		}
		if rest, ok := strings.CutPrefix(line, "end "); ok {
			want, err := strconv.Atoi(rest)
			if err != nil || want != n || strconv.Itoa(want) != rest {
				return fmt.Errorf("row list: %d rows, but its end says %q", n, hostexec.OneLine(rest, 40))
			}
			if _, err := br.ReadByte(); err != io.EOF {
				return errors.New("row list: more after its end")
			}
			return nil
		}
		if len(h.Key) == 0 {
			return errors.New("row list: rows of a table without a usable key")
		}
		e, err := parseRowEntry(line, len(h.Key))
		if err != nil {
			return fmt.Errorf("row list line %d: %w", n+2, err)
		}
		if n > 0 && e.key <= prev {
			return fmt.Errorf("row list line %d: keys out of order", n+2)
		}
		prev = e.key
		n++
		if err := each(e); err != nil {
			return err
		}
	}
}

// readRowLine reads one line of at most max bytes, without its newline.
func readRowLine(br *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		part, err := br.ReadSlice('\n')
		b = append(b, part...)
		if len(b) > max+1 {
			return "", fmt.Errorf("line longer than %d bytes", max)
		}
		switch {
		case err == nil:
			return string(b[:len(b)-1]), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// parseRowEntry reads "KEY<TAB>HASH" of a key of cols columns.
func parseRowEntry(line string, cols int) (rowEntry, error) {
	key, h, ok := strings.Cut(line, "\t")
	if !ok || len(h) != 16 || len(key) > maxRowKey {
		return rowEntry{}, errors.New("not KEY<TAB>HASH")
	}
	n, err := strconv.ParseUint(h, 16, 64)
	if err != nil || strings.ToLower(h) != h {
		return rowEntry{}, errors.New("hash is not 16 lower-case hex digits")
	}
	parts := strings.Split(key, ",")
	if len(parts) != cols {
		return rowEntry{}, fmt.Errorf("key has %d columns, not %d", len(parts), cols)
	}
	for _, p := range parts {
		if len(p)%2 != 0 || strings.ToUpper(p) != p {
			return rowEntry{}, errors.New("key is not upper-case hex")
		}
		if _, err := hex.DecodeString(p); err != nil {
			return rowEntry{}, errors.New("key is not upper-case hex")
		}
	}
	return rowEntry{key: key, hash: n}, nil
}

// rowDiff is what the new host must change to hold the old host's rows:
// the keys whose rows it must delete (gone here or different) and the
// keys whose rows it must get.
type rowDiff struct {
	del, send []string
	rows      int64 // rows on this host
	// changed, added and removed count the rows that differ, that only
	// this host holds and that only the new host holds.
	changed, added, removed int64
}

// tooMany says whether a diff has grown past what is worth sending row
// by row: a fifth of a table (a whole copy costs about as much then), and
// never more than a million keys held in memory.
func (d *rowDiff) tooMany() bool {
	n := int64(max(len(d.del), len(d.send)))
	return n > 1_000_000 || (n > 1000 && n*5 > d.rows)
}

// errTooManyRows stops the row lists when a whole copy is the better one.
var errTooManyRows = errors.New("too many rows changed")

// mergeRows compares the two hosts' row lists, each in key order: ours
// from mine, theirs from theirs; each returns false at its end.
func mergeRows(mine, theirs func() (rowEntry, bool)) (rowDiff, error) {
	var d rowDiff
	a, aok := mine()
	b, bok := theirs()
	for aok || bok {
		switch {
		case aok && (!bok || a.key < b.key): // only here
			d.send = append(d.send, a.key)
			d.added++
			d.rows++
			a, aok = mine()
		case !aok || b.key < a.key: // only there
			d.del = append(d.del, b.key)
			d.removed++
			b, bok = theirs()
		default: // on both
			if a.hash != b.hash {
				d.del = append(d.del, a.key)
				d.send = append(d.send, a.key)
				d.changed++
			}
			d.rows++
			a, aok = mine()
			b, bok = theirs()
		}
		if d.tooMany() {
			return d, errTooManyRows
		}
	}
	return d, nil
}

// batches reads the entries of a channel of batches one by one.
func batches(ch <-chan []rowEntry) func() (rowEntry, bool) {
	var batch []rowEntry
	return func() (rowEntry, bool) {
		for len(batch) == 0 {
			b, ok := <-ch
			if !ok {
				return rowEntry{}, false
			}
			batch = b
		}
		e := batch[0]
		batch = batch[1:]
		return e, true
	}
}

// batcher hands entries to a channel in batches of 512; flush sends the
// rest. Both stop when ctx ends.
type batcher struct {
	ctx   context.Context
	ch    chan<- []rowEntry
	batch []rowEntry
}

func (b *batcher) add(e rowEntry) error {
	b.batch = append(b.batch, e)
	if len(b.batch) < 512 {
		return nil
	}
	return b.flush()
}

func (b *batcher) flush() error {
	if len(b.batch) == 0 {
		return nil
	}
	select {
	case b.ch <- b.batch:
		b.batch = nil
		return nil
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
}

// keyLiterals spells keys (as a row list holds them) as SQL row values:
// each column's bytes as a hex literal with its character set's
// introducer, so that the comparison with the column uses its index.
func keyLiterals(head rowListHead, keys []string) ([]string, error) {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		parts := strings.Split(k, ",")
		if len(parts) != len(head.Charsets) {
			return nil, fmt.Errorf("key %q has %d columns, not %d", hostexec.OneLine(k, 80), len(parts), len(head.Charsets))
		}
		vals := make([]string, len(parts))
		for i, p := range parts {
			vals[i] = "_" + head.Charsets[i] + " X'" + p + "'"
		}
		out = append(out, "("+strings.Join(vals, ",")+")")
	}
	return out, nil
}

// keyChunks parts literals into IN lists of at most maxBytes each, every
// one "(`k1`,`k2`) IN (…)".
func keyChunks(head rowListHead, literals []string, maxBytes int) ([]string, error) {
	var cols []string
	for _, k := range head.Key {
		q, err := dbengine.MySQLIdent(k)
		if err != nil {
			return nil, err
		}
		cols = append(cols, q)
	}
	lead := "(" + strings.Join(cols, ",") + ") IN ("
	var chunks []string
	var b strings.Builder
	for _, l := range literals {
		if b.Len() > 0 && b.Len()+len(l)+2 > maxBytes {
			chunks = append(chunks, b.String()+")")
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(lead)
		} else {
			b.WriteByte(',')
		}
		b.WriteString(l)
	}
	if b.Len() > 0 {
		chunks = append(chunks, b.String()+")")
	}
	return chunks, nil
}

// maxWhere bounds one dump's --where: Linux takes at most 128 KiB in one
// argument.
const maxWhere = 96 << 10

// rowResult is what copyMySQLRows did with one table.
type rowResult struct {
	// ok: the table is level; else it was left alone and must be copied
	// whole.
	ok      bool
	sent    bool // rows or a counter were sent
	changes model.RowChanges
	// sum is this host's sums of the table, from its row list, when the
	// list was read to its end.
	sum *model.TableSum
}

// copyMySQLRows brings table tb of db level on the new host row by row,
// if it can (see the top of this file).
func (m *mover) copyMySQLRows(ctx context.Context, t moveTarget, db model.MoveDB, tb, load string, counted *atomic.Int64) (rowResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := json.Marshal(tb)
	if err != nil {
		return rowResult{}, err
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	// Their list: the new host's rows, parsed as they arrive.
	theirs := make(chan []rowEntry, 16)
	theirHead := make(chan rowListHead, 1)
	pr, pw := io.Pipe()
	sshErr := &tailBuffer{max: 8 << 10}
	wait, err := m.a.Start(ctx, hostexec.Cmd{Argv: t.command(receiveRows + " " + db.Engine + " " + db.Name),
		Stdin: strings.NewReader(string(req)), Stdout: pw, Stderr: sshErr})
	if err != nil {
		return rowResult{}, err
	}
	var theirErr, sshRunErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		sshRunErr = wait()
		pw.Close()
	}()
	go func() {
		defer wg.Done()
		defer close(theirs)
		defer close(theirHead)
		b := &batcher{ctx: ctx, ch: theirs}
		theirErr = parseRowList(countingReader{pr, counted}, func(h rowListHead) error { theirHead <- h; return nil }, b.add)
		if theirErr == nil {
			theirErr = b.flush()
		}
		if theirErr != nil {
			cancel()
			pr.CloseWithError(theirErr)
		}
	}()
	// Our list, from this host's server.
	ours := make(chan []rowEntry, 16)
	ourHead := make(chan rowListHead, 1)
	var ourErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ours)
		defer close(ourHead)
		b := &batcher{ctx: ctx, ch: ours}
		ourErr = m.mysqlRowList(ctx, db.Name, tb, true, func(h rowListHead) error { ourHead <- h; return nil }, b.add)
		if ourErr == nil {
			ourErr = b.flush()
		}
		if ourErr != nil {
			cancel()
		}
	}()
	// finish stops both lists and says why they failed, if they did
	// before stop was asked for.
	finish := func(stop bool) error {
		if stop {
			cancel()
		}
		// Drain, so that neither side waits on a full channel.
		go func() {
			for range ours {
			}
		}()
		go func() {
			for range theirs {
			}
		}()
		wg.Wait()
		if stop {
			return nil
		}
		var errs []error
		if ourErr != nil {
			errs = append(errs, fmt.Errorf("rows of %s.%s on this host: %w", db.Name, tb, ourErr))
		}
		if theirErr != nil {
			errs = append(errs, fmt.Errorf("row list of %s.%s on %s: %v", db.Name, tb, t.host(), failureText(theirErr, sshErr.String())))
		} else if sshRunErr != nil {
			errs = append(errs, fmt.Errorf("row list of %s.%s on %s: %s", db.Name, tb, t.host(), failureText(sshRunErr, sshErr.String())))
		}
		return errors.Join(errs...)
	}
	mine, ok1 := <-ourHead
	their, ok2 := <-theirHead
	if !ok1 || !ok2 {
		return rowResult{}, finish(false)
	}
	if len(mine.Key) == 0 || mine.Triggers > 0 || their.Triggers > 0 || mine.Def != their.Def ||
		!slices.Equal(mine.Key, their.Key) || !slices.Equal(mine.Charsets, their.Charsets) {
		return rowResult{}, finish(true)
	}
	// This host's sums, as mysqlSums takes them, from its list.
	var rows, crcs uint64
	next := batches(ours)
	diff, err := mergeRows(func() (rowEntry, bool) {
		e, ok := next()
		if ok {
			rows++
			crcs += uint64(e.crc)
		}
		return e, ok
	}, batches(theirs))
	if err != nil { // too many
		return rowResult{}, finish(true)
	}
	if err := finish(false); err != nil {
		return rowResult{}, err
	}
	stepSince(ctx, "db.copy.rows.lists", t0)
	res := rowResult{ok: true, sum: &model.TableSum{DB: db.Name, Table: tb, Rows: int64(rows),
		Checksum: strconv.FormatUint(crcs, 10) + "-" + mine.SumDef}}
	if len(diff.del) == 0 && len(diff.send) == 0 && mine.AutoIncrement == their.AutoIncrement {
		return res, nil
	}
	t0 = time.Now()
	if res.changes, err = m.sendRows(ctx, t, db, tb, mine, their, diff, load, counted); err != nil {
		return rowResult{}, err
	}
	stepSince(ctx, "db.copy.rows.send", t0)
	res.sent = true
	return res, nil
}

// sendRows deletes diff.del and sends diff.send of table tb in one
// transaction on the new host, then sets its AUTO_INCREMENT counter to
// this host's.
func (m *mover) sendRows(ctx context.Context, t moveTarget, db model.MoveDB, tb string, mine, their rowListHead, diff rowDiff, load string, counted *atomic.Int64) (model.RowChanges, error) {
	tq, err := dbengine.MySQLIdent(tb)
	if err != nil {
		return model.RowChanges{}, err
	}
	del, err := keyLiterals(mine, diff.del)
	if err != nil {
		return model.RowChanges{}, err
	}
	send, err := keyLiterals(mine, diff.send)
	if err != nil {
		return model.RowChanges{}, err
	}
	delChunks, err := keyChunks(mine, del, 1<<20)
	if err != nil {
		return model.RowChanges{}, err
	}
	sendChunks, err := keyChunks(mine, send, maxWhere)
	if err != nil {
		return model.RowChanges{}, err
	}
	var in remoteInput
	var b strings.Builder
	b.WriteString("SET NAMES utf8mb4;\nSET TIME_ZONE='+00:00';\nSET FOREIGN_KEY_CHECKS=0;\nSTART TRANSACTION;\n")
	for _, c := range delChunks {
		b.WriteString("DELETE FROM " + tq + " WHERE " + c + ";\n")
	}
	in.prefix = b.String()
	eng, err := dbengine.New("mysql", m.dbHost())
	if err != nil {
		return model.RowChanges{}, err
	}
	for _, c := range sendChunks {
		in.producers = append(in.producers, eng.Dump(db.Name, &dbengine.DumpPart{Tables: []string{tb}, Where: c}))
	}
	in.suffix = "COMMIT;\n"
	if mine.AutoIncrement > 0 && mine.AutoIncrement != their.AutoIncrement {
		in.suffix += "ALTER TABLE " + tq + " AUTO_INCREMENT=" + strconv.FormatInt(mine.AutoIncrement, 10) + ";\n"
	}
	if err := m.streamToRemote(ctx, t, in, load, counted); err != nil {
		return model.RowChanges{}, fmt.Errorf("table %s, changed rows: %w", tb, err)
	}
	return model.RowChanges{Changed: diff.changed, Added: diff.added, Removed: diff.removed}, nil
}

// rowCopyMinRows is the size under which a table is copied whole: one
// load is then cheaper than a row list on each host and a load.
const rowCopyMinRows = 2000

// copyChangedRows brings the tables of toCopy that the new host holds
// (onNew) level row by row where it can, a few at a time, and returns the
// tables left to copy whole, sorted. A table is tried when this host's
// sums say it has rowCopyMinRows rows or more, or when it is one of
// run.listed, whose sums were not taken: its row list gives them, and
// they are set in run.old. What each copy changed goes to
// run.res.byRows. In the final sync the new host's sums of the tables
// copied row by row are taken and must be this host's, or the table is
// copied whole; they go to run.res.after.
func (m *mover) copyChangedRows(ctx context.Context, t moveTarget, run dbSyncRun, toCopy []string, onNew map[string]bool) ([]string, error) {
	at := map[string]int{}
	for i, s := range run.old {
		if s.Kind == "" {
			at[s.Table] = i
		}
	}
	var whole, byRows []string
	for _, tb := range toCopy {
		i, ok := at[tb]
		if onNew[tb] && ok && (run.listed[tb] || run.old[i].Rows >= rowCopyMinRows) {
			byRows = append(byRows, tb)
		} else {
			whole = append(whole, tb)
		}
	}
	if len(byRows) == 0 {
		return whole, nil
	}
	var mu sync.Mutex
	var errs []error
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(m.cfg.Streams, len(byRows)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tb := range work {
				r, err := m.copyMySQLRows(ctx, t, run.db, tb, run.load, run.counted)
				mu.Lock()
				if r.sum != nil && run.listed[tb] {
					run.old[at[tb]].Rows, run.old[at[tb]].Checksum = r.sum.Rows, r.sum.Checksum
				}
				switch {
				case err != nil:
					errs = append(errs, fmt.Errorf("table %s: %w", tb, err))
				case r.ok && !r.sent:
					// The same rows on both hosts: nothing copied.
					if run.res.level == nil {
						run.res.level = map[string]bool{}
					}
					run.res.level[tb] = true
				case r.ok:
					if run.res.byRows == nil {
						run.res.byRows = map[string]model.RowChanges{}
					}
					run.res.byRows[model.TableSum{DB: run.db.Name, Table: tb}.Key()] = r.changes
				default:
					whole = append(whole, tb)
				}
				mu.Unlock()
			}
		}()
	}
	for _, tb := range byRows {
		work <- tb
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if run.final {
		if err := m.checkRowCopies(ctx, t, run, byRows, &whole); err != nil {
			return nil, err
		}
	}
	slices.Sort(whole)
	return whole, nil
}

// checkRowCopies takes the new host's sums of the tables of byRows not
// in whole: inside the freeze nothing writes, so each must be this
// host's, or the table is added to whole. The sums go to run.res.after.
func (m *mover) checkRowCopies(ctx context.Context, t moveTarget, run dbSyncRun, byRows []string, whole *[]string) error {
	var done []string
	for _, tb := range byRows {
		if !slices.Contains(*whole, tb) && !run.res.level[tb] {
			done = append(done, tb)
		}
	}
	if len(done) == 0 {
		return nil
	}
	t0 := time.Now()
	defer stepSince(ctx, "db.copy.rows.check", t0)
	// One table a session, side by side: the new host's server reads
	// them on as many cores.
	var after []model.TableSum
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, tb := range done {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums, err := m.remoteSums(ctx, t, run.db, []string{tb})
			mu.Lock()
			defer mu.Unlock()
			after = append(after, sums...)
			errs = append(errs, err)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	want := map[string]model.TableSum{}
	for _, s := range run.old {
		want[s.Key()] = s
	}
	for _, a := range after {
		if a.Kind != "" || !slices.Contains(done, a.Table) {
			continue
		}
		if w := want[a.Key()]; w.Rows != a.Rows || w.Checksum != a.Checksum {
			m.log.Warn("move sync: a table copied row by row differs; copying it whole", "database", run.db.Name, "table", a.Table)
			*whole = append(*whole, a.Table)
			continue
		}
		if run.res.after == nil {
			run.res.after = map[string]model.TableSum{}
		}
		run.res.after[a.Key()] = a
	}
	return nil
}
