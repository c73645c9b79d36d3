package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"ferry/internal/model"
	"ferry/internal/node/hostexec"
)

// MeasureUsage measures what move plans need to know of this host: the
// allocated size of every order directory (hard links counted once) with
// the databases its app configs name, every database's size, and which
// database servers do not answer. It reads; it changes nothing. A server
// that is not installed shows as unreachable, which matters only to orders
// with databases of its engine.
func (a *Applier) MeasureUsage(ctx context.Context) model.HostUsage {
	u := model.HostUsage{MeasuredAt: time.Now().UTC()}
	members, _ := os.ReadDir(a.cfg.MembersRoot)
	for _, m := range members {
		if !m.IsDir() {
			continue
		}
		sites, _ := os.ReadDir(filepath.Join(a.cfg.MembersRoot, m.Name(), "sites"))
		for _, s := range sites {
			if !s.IsDir() || ctx.Err() != nil {
				continue
			}
			dir := filepath.Join(a.cfg.MembersRoot, m.Name(), "sites", s.Name())
			o := model.OrderUsage{Dir: dir, Bytes: allocatedBytes(dir)}
			o.AppDatabases, _ = ScanAppDatabases(dir, nil)
			u.Orders = append(u.Orders, o)
		}
	}
	if dbs, err := a.mysqlSizes(ctx); err != nil {
		u.Unreachable = append(u.Unreachable, "mariadb: "+err.Error())
	} else {
		u.Databases = append(u.Databases, dbs...)
	}
	if dbs, err := a.pgSizes(ctx); err != nil {
		u.Unreachable = append(u.Unreachable, "postgresql: "+err.Error())
	} else {
		u.Databases = append(u.Databases, dbs...)
		u.PgExtensions, _ = a.pgColumn(ctx, "", "SELECT name FROM pg_available_extensions ORDER BY 1")
	}
	return u
}

// allocatedBytes is what the tree at dir takes on disk: allocated blocks,
// each hard-linked file once.
func allocatedBytes(dir string) int64 {
	var total int64
	seen := map[[2]uint64]bool{}
	WalkStat(dir, func(_ string, fi fs.FileInfo, st *syscall.Stat_t) {
		if st.Nlink > 1 && !fi.IsDir() {
			k := [2]uint64{st.Dev, st.Ino}
			if seen[k] {
				return
			}
			seen[k] = true
		}
		total += st.Blocks * 512
	})
	return total
}

// WalkStat calls fn with the lstat of every entry below dir (dir too),
// skipping what cannot be read or vanished while walking.
func WalkStat(dir string, fn func(path string, fi fs.FileInfo, st *syscall.Stat_t)) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			fn(path, fi, st)
		}
		return nil
	})
}

// mysqlSizes is every MariaDB database but the server's own, with the size
// of its tables' data and indexes.
func (a *Applier) mysqlSizes(ctx context.Context) ([]model.DatabaseUsage, error) {
	conn, err := a.MySQLConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT s.SCHEMA_NAME, COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0)
FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME
WHERE s.SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
GROUP BY s.SCHEMA_NAME ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.DatabaseUsage
	for rows.Next() {
		d := model.DatabaseUsage{Engine: "mysql"}
		if err := rows.Scan(&d.Name, &d.Bytes); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// pgSizesSQL lists the databases with their sizes, one JSON array a line.
const pgSizesSQL = `SELECT json_build_array(datname, pg_database_size(oid)) FROM pg_database
WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY datname`

// pgSizes is every PostgreSQL database but the server's own, with its size
// and the extensions it uses.
func (a *Applier) pgSizes(ctx context.Context) ([]model.DatabaseUsage, error) {
	lines, err := a.pgColumn(ctx, "", pgSizesSQL)
	if err != nil {
		return nil, err
	}
	var out []model.DatabaseUsage
	for _, l := range lines {
		name, size, ok, err := parsePgSize(l)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		exts, _ := a.pgColumn(ctx, name, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
		out = append(out, model.DatabaseUsage{Engine: "pgsql", Name: name, Bytes: size, Extensions: exts})
	}
	return out, nil
}

// parsePgSize reads one line of pgSizesSQL's output. ok is false for an
// empty line and for a database that is being dropped at this moment
// (pg_database_size is NULL for it): neither is a database to count.
func parsePgSize(l string) (name string, size int64, ok bool, err error) {
	if l == "" {
		return "", 0, false, nil
	}
	bad := fmt.Errorf("psql printed %q", hostexec.OneLine(l, 200))
	var row []any
	if err := json.Unmarshal([]byte(l), &row); err != nil || len(row) != 2 {
		return "", 0, false, bad
	}
	name, isName := row[0].(string)
	if !isName || name == "" {
		return "", 0, false, bad
	}
	if row[1] == nil {
		return "", 0, false, nil
	}
	n, isNum := row[1].(float64)
	if !isNum || n < 0 || n != math.Trunc(n) || n > math.MaxInt64/2 {
		return "", 0, false, bad
	}
	return name, int64(n), true, nil
}

// pgColumn runs a query that returns one text column in database db (""
// for the server's own) and returns its values.
func (a *Applier) pgColumn(ctx context.Context, db, q string) ([]string, error) {
	cfg, err := pgx.ParseConfig(a.cfg.PgDSN)
	if err != nil {
		return nil, err
	}
	if db != "" {
		cfg.Database = db
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []string
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err == nil {
		defer conn.Close(context.Background())
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
	if a.cfg.PgPsql[0] == "none" {
		return nil, err
	}
	argv := slices.Concat(a.cfg.PgPsql, []string{"-A", "-t"})
	if db != "" {
		argv = append(argv, "-d", db) // psql takes the last -d
	}
	res, perr := a.Run(ctx, []byte(q+";\n"), argv...)
	if perr != nil {
		return nil, errors.Join(err, perr)
	}
	for _, l := range strings.Split(strings.TrimSpace(res), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}
