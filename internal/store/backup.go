package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Backups are files of one of two kinds, told apart by their first bytes:
// a SQLite database (a copy made by VACUUM INTO), or a pg_dump archive in
// its custom format. Each restores into a store of its own driver.
var (
	sqliteMagic = []byte("SQLite format 3\x00")
	pgDumpMagic = []byte("PGDMP")
)

// ErrNotFresh is returned by Restore for a store that already holds
// members, hosts or orders, unless forced.
var ErrNotFresh = errors.New("the store is not fresh")

// BackupInfo says what a backup holds.
type BackupInfo struct {
	Driver string // "sqlite" or "postgres"
	Size   int64
}

// Backup writes a consistent snapshot of the store at url to dest, which
// must not exist; it is made readable by its owner only, as it holds token
// and password hashes. It works beside a running `ferry serve`: SQLite's
// VACUUM INTO and pg_dump each read one snapshot.
func Backup(ctx context.Context, url, dest string) (BackupInfo, error) {
	if _, err := os.Lstat(dest); err == nil {
		return BackupInfo{}, fmt.Errorf("backup: %s exists; give a new file", dest)
	}
	part := dest + ".partial"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	f.Close()
	ok := false
	defer func() {
		if !ok {
			os.Remove(part)
		}
	}()
	info := BackupInfo{Driver: "sqlite"}
	if isPostgres(url) {
		info.Driver = "postgres"
		err = pgDump(ctx, url, part)
	} else {
		err = sqliteBackup(ctx, url, part)
	}
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(part, dest); err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	ok = true
	if fi, err := os.Stat(dest); err == nil {
		info.Size = fi.Size()
	}
	return info, nil
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

func sqliteBackup(ctx context.Context, url, dest string) error {
	path, err := sqlitePath(url)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no store at %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+sqliteBusyTimeout+")")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkFerrySchema(ctx, db); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		return fmt.Errorf("vacuum into %s: %w", dest, err)
	}
	return nil
}

func checkFerrySchema(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil || v == 0 {
		return errors.New("not a ferry store (no schema_migrations)")
	}
	return nil
}

// Inspect tells what kind of backup the file at path is.
func Inspect(path string) (BackupInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupInfo{}, err
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	fi, _ := f.Stat()
	switch {
	case bytes.Equal(head, sqliteMagic):
		return BackupInfo{Driver: "sqlite", Size: fi.Size()}, nil
	case bytes.HasPrefix(head, pgDumpMagic):
		return BackupInfo{Driver: "postgres", Size: fi.Size()}, nil
	}
	return BackupInfo{}, fmt.Errorf("%s is not a ferry backup (neither a SQLite database nor a pg_dump archive)", path)
}

// Restore replaces the store at url with the backup in src, of the same
// driver. A store that holds members, hosts or orders is replaced only
// with force (a store that `ferry serve` started once holds only its first
// admin token, and counts as fresh). The restored store is migrated to
// this ferry's schema. Nothing may use the store meanwhile: stop `ferry
// serve` first.
func Restore(ctx context.Context, url, src string, force bool) error {
	info, err := Inspect(src)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	want := "sqlite"
	if isPostgres(url) {
		want = "postgres"
	}
	if info.Driver != want {
		return fmt.Errorf("restore: %s is a %s backup; it restores into a %s store only", src, info.Driver, info.Driver)
	}
	if want == "postgres" {
		err = pgRestore(ctx, url, src, force)
	} else {
		err = sqliteRestore(ctx, url, src, force)
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Bring the schema up to date (a backup of an older ferry).
	s, err := Open(ctx, url)
	if err != nil {
		return fmt.Errorf("restore: open the restored store: %w", err)
	}
	return s.Close()
}

// contents counts what makes a store not fresh.
func contents(ctx context.Context, db *sql.DB, qualify string) (int, error) {
	var n int
	q := fmt.Sprintf("SELECT (SELECT COUNT(*) FROM %[1]smembers) + (SELECT COUNT(*) FROM %[1]shosts) + (SELECT COUNT(*) FROM %[1]sorders)", qualify)
	err := db.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

func sqliteRestore(ctx context.Context, url, src string, force bool) error {
	path, err := sqlitePath(url)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+sqliteBusyTimeout+")&_pragma=query_only(1)")
		if err != nil {
			return err
		}
		n, cerr := contents(ctx, db, "")
		db.Close()
		if cerr == nil && n > 0 && !force {
			return fmt.Errorf("%w: %s holds %d members, hosts and orders; give --force to replace them", ErrNotFresh, path, n)
		}
		if cerr != nil && !force {
			return fmt.Errorf("%w: %s is not an empty ferry store (%v); give --force to replace it", ErrNotFresh, path, cerr)
		}
	}
	db, err := sql.Open("sqlite", src+"?_pragma=query_only(1)")
	if err != nil {
		return err
	}
	err = checkFerrySchema(ctx, db)
	if err == nil {
		var res string
		if err = db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err == nil && res != "ok" {
			err = fmt.Errorf("integrity check: %s", res)
		}
	}
	db.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	tmp := path + ".restore"
	if err := copyFile(src, tmp); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, path)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// pgTarget is how pg_dump and pg_restore reach a PostgreSQL store: a
// libpq URL without the password (kept out of the process list, passed in
// PGPASSWORD) and without search_path, which libpq does not know; the
// schema is given apart.
type pgTarget struct {
	conninfo string
	password string
	schema   string
	url      string
}

func parsePG(raw string) (pgTarget, error) {
	if _, err := pgx.ParseConfig(raw); err != nil {
		return pgTarget{}, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return pgTarget{}, errors.New("the database URL does not parse")
	}
	t := pgTarget{schema: "public", url: raw}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			t.password = p
			u.User = url.User(u.User.Username())
		}
	}
	q := u.Query()
	if sp := q.Get("search_path"); sp != "" {
		t.schema = strings.TrimSpace(strings.Split(sp, ",")[0])
	}
	q.Del("search_path")
	q.Del(poolParam)
	u.RawQuery = q.Encode()
	t.conninfo = u.String()
	return t, nil
}

func (t pgTarget) env() []string {
	env := os.Environ()
	if t.password != "" {
		env = append(env, "PGPASSWORD="+t.password)
	}
	return env
}

func runPG(ctx context.Context, t pgTarget, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = t.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s not found: install postgresql-client", name)
		}
		msg := strings.TrimSpace(stderr.String())
		if t.password != "" {
			msg = strings.ReplaceAll(msg, t.password, "…")
		}
		return fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return nil
}

func pgDump(ctx context.Context, raw, dest string) error {
	t, err := parsePG(raw)
	if err != nil {
		return err
	}
	return runPG(ctx, t, "pg_dump", "--format=custom", "--schema="+t.schema, "--no-owner", "--no-privileges", "--file="+dest, "--dbname="+t.conninfo)
}

// archiveSchema is the schema a pg_dump archive's tables are in.
func archiveSchema(ctx context.Context, src string) (string, error) {
	out, err := exec.CommandContext(ctx, "pg_restore", "--list", src).Output()
	if err != nil {
		return "", fmt.Errorf("pg_restore --list %s: %w", src, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		// "215; 1259 16386 TABLE s1 members ferry"
		f := strings.Fields(line)
		if len(f) >= 6 && !strings.HasPrefix(line, ";") && f[3] == "TABLE" {
			return f[4], nil
		}
	}
	return "", fmt.Errorf("%s holds no table", src)
}

func pgRestore(ctx context.Context, raw, src string, force bool) error {
	t, err := parsePG(raw)
	if err != nil {
		return err
	}
	from, err := archiveSchema(ctx, src)
	if err != nil {
		return err
	}
	cfg, _ := pgx.ParseConfig(raw)
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	schemaExists := func(name string) (bool, error) {
		var ok bool
		err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name).Scan(&ok)
		return ok, err
	}
	exists, err := schemaExists(t.schema)
	if err != nil {
		return err
	}
	if exists {
		var tables int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = $1", t.schema).Scan(&tables); err != nil {
			return err
		}
		if tables > 0 {
			n, cerr := contents(ctx, db, pgx.Identifier{t.schema}.Sanitize()+".")
			if cerr != nil && !force {
				return fmt.Errorf("%w: schema %s holds tables that are not an empty ferry store; give --force to replace them", ErrNotFresh, t.schema)
			}
			if n > 0 && !force {
				return fmt.Errorf("%w: schema %s holds %d members, hosts and orders; give --force to replace them", ErrNotFresh, t.schema, n)
			}
		}
	}
	if from != t.schema {
		if taken, err := schemaExists(from); err != nil {
			return err
		} else if taken {
			return fmt.Errorf("the backup's schema %s exists in the target database too; restore into a database without it, or into schema %s (…?search_path=%s)", from, from, from)
		}
	}
	// Keep the old schema aside until the restore has worked.
	aside := ""
	if exists {
		aside = fmt.Sprintf("%s_before_restore_%d", t.schema, time.Now().Unix())
		if _, err := db.ExecContext(ctx, "ALTER SCHEMA "+pgx.Identifier{t.schema}.Sanitize()+" RENAME TO "+pgx.Identifier{aside}.Sanitize()); err != nil {
			return err
		}
	}
	putBack := func(cause error) error {
		if aside == "" {
			return cause
		}
		_, err := db.ExecContext(context.Background(), "ALTER SCHEMA "+pgx.Identifier{aside}.Sanitize()+" RENAME TO "+pgx.Identifier{t.schema}.Sanitize())
		return errors.Join(cause, err)
	}
	if err := runPG(ctx, t, "pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--dbname="+t.conninfo, src); err != nil {
		return putBack(err)
	}
	if from != t.schema {
		if _, err := db.ExecContext(ctx, "ALTER SCHEMA "+pgx.Identifier{from}.Sanitize()+" RENAME TO "+pgx.Identifier{t.schema}.Sanitize()); err != nil {
			return putBack(err)
		}
	}
	if aside != "" {
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+pgx.Identifier{aside}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("restored, but the old schema %s stays: %w", aside, err)
		}
	}
	return nil
}
