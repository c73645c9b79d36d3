package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteBusyTimeout is how long, in milliseconds, a SQLite connection waits
// for a lock another process holds before giving up.
const sqliteBusyTimeout = "10000"

// Open opens the store at url and brings its schema up to date, applying
// the embedded migrations it has not seen yet in one transaction.
//
// url is one of:
//   - postgres://… or postgresql://…: a PostgreSQL database, in any form pgx
//     accepts; a search_path parameter (…?search_path=ferry) puts ferry's
//     tables in that schema, host=/dir reaches a unix socket, and
//     pool_max_conns=N caps the connections this process holds
//     (DefaultPoolSize when not given).
//   - sqlite:PATH, sqlite://PATH or a plain file path: an embedded SQLite
//     database in that file, made (readable by its owner only) if missing.
func Open(ctx context.Context, url string) (Store, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return openPostgres(ctx, url)
	}
	path, err := sqlitePath(url)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return openSQLite(ctx, path)
}

// sqlitePath returns the file a SQLite url names. It never repeats the url
// in an error: a mistyped PostgreSQL url may carry a password.
func sqlitePath(url string) (string, error) {
	path, ok := strings.CutPrefix(url, "sqlite:")
	if ok {
		path = strings.TrimPrefix(path, "//")
	} else if scheme, _, found := strings.Cut(url, "://"); found {
		return "", fmt.Errorf("unknown database url scheme %q (postgres, postgresql, sqlite, or a file path)", scheme)
	}
	switch {
	case path == "":
		return "", errors.New("no database file given")
	case path == ":memory:":
		return "", errors.New("sqlite needs a database file, not :memory:")
	case strings.ContainsAny(path, "?#"):
		return "", errors.New("sqlite file names may not contain ? or #")
	}
	return path, nil
}

// sqlStore is a Store over database/sql; d says which database it speaks.
type sqlStore struct {
	d dialect
	// read serves View and write serves Update. On PostgreSQL they are one
	// pool; on SQLite write is a single connection, so that writers queue
	// in the process instead of failing on a busy database.
	read, write *sql.DB
	// where names the database in an error about its disk.
	where string
	// space is the PostgreSQL schema the store's tables are in: locks and
	// wake-ups are the database's, so they carry it (cluster.go).
	space string
	// locks are the locks TryLock took and Release has not freed: Close
	// drops their connections, and the locks with them.
	locksMu sync.Mutex
	locks   map[*pgLock]bool
}

// DefaultPoolSize is how many connections to PostgreSQL one control plane
// holds at most when its URL has no pool_max_conns parameter. Requests
// beyond it queue in the process, so the server's connections are bounded
// by this setting and the number of replicas, never by the number of
// nodes or clients.
const DefaultPoolSize = 16

// poolParam is the URL parameter that sets the pool size (the name pgx's
// own pool reads).
const poolParam = "pool_max_conns"

// poolSize takes the pool_max_conns parameter out of a PostgreSQL URL and
// returns the URL without it and the pool size. It never repeats the URL
// in an error: it may carry a password.
func poolSize(raw string) (string, int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, errors.New("the database URL does not parse")
	}
	q := u.Query()
	v, ok := q[poolParam]
	if !ok {
		return raw, DefaultPoolSize, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v[len(v)-1]))
	if err != nil || n < 1 || n > 1000 {
		return "", 0, fmt.Errorf("%s must be a number of connections from 1 to 1000, not %q", poolParam, v[len(v)-1])
	}
	q.Del(poolParam)
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}

func openPostgres(ctx context.Context, raw string) (*sqlStore, error) {
	raw, size, err := poolSize(raw)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	// database/sql keeps only two idle connections by default: under
	// load every other request would open (and PostgreSQL fork) a new
	// one. Keep the whole pool open instead.
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	s := &sqlStore{d: pgDialect, read: db, write: db, where: "the PostgreSQL server"}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&s.space); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string) (*sqlStore, error) {
	// The file holds password and token hashes: make it before SQLite
	// does, so that it is not readable by all. SQLite gives its WAL and
	// shared-memory files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	f.Close()

	base := path + "?_pragma=busy_timeout(" + sqliteBusyTimeout + ")&_pragma=foreign_keys(1)"
	// BEGIN IMMEDIATE takes the write lock at the start of Update, so two
	// processes never both read and then deadlock upgrading to write.
	write, err := sql.Open("sqlite", base+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	write.SetMaxOpenConns(1)
	s := &sqlStore{d: sqliteDialect, write: write, where: path}
	if err := s.migrate(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Readers see a snapshot and never block the writer in WAL mode.
	s.read, err = sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.read.SetMaxOpenConns(8)
	return s, nil
}

// Driver names the database: "sqlite" or "postgres".
func (s *sqlStore) Driver() string { return s.d.name }

// Close closes the database connections.
func (s *sqlStore) Close() error {
	s.locksMu.Lock()
	for l := range s.locks {
		l.drop()
	}
	s.locks = nil
	s.locksMu.Unlock()
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// View runs fn in a read-only transaction that sees one snapshot of the
// store throughout (on PostgreSQL, repeatable read).
func (s *sqlStore) View(ctx context.Context, fn func(Tx) error) error {
	return s.inTx(ctx, false, func(t *tx) error { return fn(t) })
}

// Read runs fn without a transaction on PostgreSQL: each of its
// statements is one round trip and sees the store as it is when it starts,
// where View adds a BEGIN and a COMMIT. On SQLite, which runs in the
// process, it is a View that refuses writes as Read does.
func (s *sqlStore) Read(ctx context.Context, fn func(Tx) error) error {
	if !s.d.pg {
		return s.inTx(ctx, false, func(t *tx) error { t.bare = true; return fn(t) })
	}
	err := fn(&tx{d: s.d, tx: s.read, bare: true})
	if err != nil && diskFull(err) {
		return fmt.Errorf("%w (%s): %w", ErrFull, s.where, err)
	}
	return err
}

// Update runs fn in a read-write transaction, committed if fn returns nil.
// On SQLite, Updates take turns on the one writer connection, and BEGIN
// IMMEDIATE makes other processes wait. On PostgreSQL the transaction is
// read committed, and the row locks of get and HoldersOf make up for it.
func (s *sqlStore) Update(ctx context.Context, fn func(Tx) error) error {
	return s.inTx(ctx, true, func(t *tx) error { return fn(t) })
}

func (s *sqlStore) inTx(ctx context.Context, write bool, fn func(*tx) error) error {
	err := s.runTx(ctx, write, fn)
	if err != nil && diskFull(err) {
		return fmt.Errorf("%w (%s): %w", ErrFull, s.where, err)
	}
	return err
}

func (s *sqlStore) runTx(ctx context.Context, write bool, fn func(*tx) error) error {
	db, opts := s.write, &sql.TxOptions{}
	if !write {
		db, opts.ReadOnly = s.read, true
		if s.d.pg {
			opts.Isolation = sql.LevelRepeatableRead
		}
	}
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer sqlTx.Rollback() // after Commit, a no-op
	if err := fn(&tx{d: s.d, tx: sqlTx, write: write}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
