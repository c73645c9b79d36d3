package store_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/store/storetest"
)

// TestSQLite runs the conformance suite on SQLite, a new file per test.
func TestSQLite(t *testing.T) {
	runSuite(t, func(t *testing.T) string {
		return filepath.Join(t.TempDir(), "ferry.db")
	})
}

// TestPostgres runs the conformance suite on the PostgreSQL server at
// FERRY_TEST_PG_URL (scripts/test-postgres.sh starts one), a new schema per
// test. Without the variable it skips, unless FERRY_TEST_DISALLOW_SKIP=1,
// as in CI.
func TestPostgres(t *testing.T) {
	runSuite(t, func(t *testing.T) string { return storetest.PostgresURL(t) })
}

func TestOpenSQLiteURLForms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.db")
	first := open(t, path)
	if got := first.Driver(); got != "sqlite" {
		t.Errorf("Driver() = %q, want sqlite", got)
	}
	update(t, first, func(tx store.Tx) error {
		return tx.CreateMember(t.Context(), &model.Member{Name: "alice"})
	})
	for _, u := range []string{"sqlite:" + path, "sqlite://" + path} {
		s := open(t, u)
		view(t, s, func(tx store.Tx) error {
			_, err := tx.GetMember(t.Context(), "alice")
			return err
		})
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("database file mode %v, want 0600: it holds password hashes", mode)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{
		"",
		"sqlite:",
		":memory:",
		"sqlite::memory:",
		"mysql://ferry:s3cret@db/ferry",
		filepath.Join(dir, "a?b.db"),
		filepath.Join(dir, "missing", "ferry.db"),
		"postgres://ferry:s3cret@[::1/ferry",
	} {
		s, err := store.Open(t.Context(), u)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error shows the password: %v", u, err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.db")
	open(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2100-01-01T00:00:00.000000Z')")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer ferry succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

// A replica whose store another ferry migrated further is not ready, and
// says so; one whose database is gone does not answer.
func TestReady(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.db")
	s := open(t, path)
	if err := s.Ready(t.Context()); err != nil {
		t.Fatalf("a freshly migrated store is not ready: %v", err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2100-01-01T00:00:00.000000Z')")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(t.Context()); !errors.Is(err, store.ErrSchema) || !strings.Contains(err.Error(), "version 9999") {
		t.Errorf("Ready with a newer schema = %v, want ErrSchema naming version 9999", err)
	}
	s.Close()
	if err := s.Ready(t.Context()); err == nil || errors.Is(err, store.ErrSchema) {
		t.Errorf("Ready of a closed store = %v, want an error that it does not answer", err)
	}
}
