// Package storetest gives each test a PostgreSQL schema of its own, so that
// tests of the store and of the packages above it can run on PostgreSQL as
// they do on SQLite.
package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to make test schemas
)

// PostgresURL makes a new schema on the PostgreSQL server at
// FERRY_TEST_PG_URL (scripts/test-postgres.sh starts one), drops it when
// the test ends, and returns a URL that uses it. Without the variable the
// test skips, unless FERRY_TEST_DISALLOW_SKIP=1, as in CI: there
// a skipped database test is a failure.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("FERRY_TEST_PG_URL")
	if base == "" {
		const msg = "FERRY_TEST_PG_URL is not set; run scripts/test-postgres.sh go test ./..."
		if os.Getenv("FERRY_TEST_DISALLOW_SKIP") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "ferry_test_" + hex.EncodeToString(b[:])
	if err := exec(base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on its own connection, so that no connection
// stays open between tests.
func exec(url, stmt string) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}
