package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"
)

// DBSpec describes a generated MariaDB database: Tables tables of about
// equal size, Bytes of row data in all, the same rows for the same Seed.
type DBSpec struct {
	Name   string
	Tables int
	Bytes  int64
	Seed   uint64
}

// tableName is the name of table i.
func tableName(i int) string { return fmt.Sprintf("t%02d", i+1) }

// tableDDL makes one table as a site's would look: a key, a few numbers,
// a date, a title and a body of text.
func tableDDL(name string) string {
	return "CREATE TABLE " + name + ` (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  author INT UNSIGNED NOT NULL,
  created DATETIME NOT NULL,
  title VARCHAR(200) NOT NULL,
  body TEXT NOT NULL,
  score DOUBLE NOT NULL,
  KEY by_author (author)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`
}

// words make the generated text: plain ASCII, so that rows need no
// escaping in tab-separated form.
var words = []string{"the", "co-op", "site", "member", "hosting", "server", "order", "page", "cache", "image",
	"upload", "theme", "plugin", "module", "node", "comment", "user", "session", "mail", "backup",
	"archive", "garden", "bread", "river", "ferry", "harbour", "market", "festival", "library", "school",
	"kitchen", "workshop", "bicycle", "repair", "concert", "meeting", "minutes", "budget", "report", "photo",
	"gallery", "event", "calendar", "news", "letter", "notice", "volunteer", "shift", "delivery", "harvest",
	"recipe", "story", "poem", "map", "route", "ticket", "price", "share", "vote", "board",
	"spring", "summer", "autumn", "winter"}

// writeTableTSV writes table i's rows, about bytes of them, as LOAD DATA
// reads them, and returns the row count.
func writeTableTSV(path string, spec DBSpec, i int, bytes int64) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rngFor(spec.Seed, "table", uint64(i)))
	var written int64
	var line []byte
	rows := 0
	for id := 1; written < bytes; id++ {
		line = line[:0]
		line = strconv.AppendInt(line, int64(id), 10)
		line = append(line, '\t')
		line = strconv.AppendInt(line, int64(r.IntN(5000)), 10)
		line = append(line, '\t')
		line = treeEpoch.Add(-time.Duration(r.Int64N(5*365*86400))*time.Second).AppendFormat(line, "2006-01-02 15:04:05")
		line = append(line, '\t')
		line = appendWords(line, r, 3+r.IntN(8))
		line = append(line, '\t')
		line = appendWords(line, r, 40+r.IntN(120))
		line = append(line, '\t')
		line = strconv.AppendFloat(line, r.Float64()*100, 'f', 4, 64)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			f.Close()
			return rows, err
		}
		written += int64(len(line))
		rows++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return rows, err
	}
	return rows, f.Close()
}

func appendWords(b []byte, r *rand.Rand, n int) []byte {
	for k := range n {
		if k > 0 {
			b = append(b, ' ')
		}
		b = append(b, words[r.IntN(len(words))]...)
	}
	return b
}

// loadDB makes spec's tables in the database on host and fills them,
// two at a time, each from a generated file loaded with LOAD DATA.
func (b *benchLab) loadDB(ctx context.Context, host string, spec DBSpec) (rows int, err error) {
	per := spec.Bytes / int64(spec.Tables)
	var mu sync.Mutex
	sem := make(chan struct{}, 2)
	errs := make(chan error, spec.Tables)
	var wg sync.WaitGroup
	for i := range spec.Tables {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := b.loadTable(ctx, host, spec, i, per)
			if err != nil {
				errs <- fmt.Errorf("table %s: %w", tableName(i), err)
				return
			}
			mu.Lock()
			rows += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	return rows, <-errs
}

func (b *benchLab) loadTable(ctx context.Context, host string, spec DBSpec, i int, bytes int64) (int, error) {
	inside := fmt.Sprintf("/tmp/ferry-bench-%s.tsv", tableName(i))
	path, err := b.lab.Path(host, inside)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	rows, err := writeTableTSV(path, spec, i, bytes)
	if err != nil {
		return 0, err
	}
	q := tableDDL(tableName(i)) + ";\n" +
		"LOAD DATA LOCAL INFILE '" + inside + "' INTO TABLE " + tableName(i) +
		" FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n';\n"
	if _, err := b.lab.Run(ctx, host, "mariadb", "--local-infile=1", spec.Name, "-e", q); err != nil {
		return 0, err
	}
	return rows, nil
}

// changedTables names the n of spec's tables that round changes.
func changedTables(spec DBSpec, round, n int) []string {
	var names []string
	n = min(n, spec.Tables)
	step := spec.Tables / max(n, 1)
	for k := range n {
		names = append(names, tableName((round*5+k*step)%spec.Tables))
	}
	return names
}

// changeTables changes n of spec's tables on host, as a live site does
// between syncs: about 2% of their rows updated. round picks which
// tables; the names come back.
func (b *benchLab) changeTables(ctx context.Context, host string, spec DBSpec, round, n int) ([]string, error) {
	names := changedTables(spec, round, n)
	for _, t := range names {
		q := fmt.Sprintf("UPDATE %s SET score = score + 1, title = CONCAT(LEFT(title, 180), ' r%d') WHERE id %% 50 = %d", t, round, round%50)
		if _, err := b.lab.Run(ctx, host, "mariadb", spec.Name, "-e", q); err != nil {
			return names, err
		}
	}
	return names, nil
}
