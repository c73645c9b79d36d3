package cli

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make test schemas and databases
)

// pgURL is the test server's URL with another database and search_path.
func pgURL(t *testing.T, base, db, schema string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if db != "" {
		u.Path = "/" + db
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestBackupRestoreRoundTripPostgres(t *testing.T) {
	base := os.Getenv("FERRY_TEST_PG_URL")
	if base == "" {
		const msg = "FERRY_TEST_PG_URL is not set; run scripts/test-postgres.sh go test ./internal/cli/"
		if os.Getenv("FERRY_TEST_DISALLOW_SKIP") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	clearEnv(t, "FERRY_CONFIG", "FERRY_DB", "FERRY_DATA")
	var b [6]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	schema, db := "ferry_bk_"+suffix, "ferry_rt_"+suffix
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if _, err := admin.Exec("DROP DATABASE " + db + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	srcURL := pgURL(t, base, "", schema)

	data := t.TempDir()
	first := serveWith(t, serveOptions{dataDir: data, dbURL: srcURL})
	token := readToken(t, data+"/admin.token")
	as := []string{"--server", "http://" + first.addr, "--token", token}
	seedOrders(t, as)
	want := mustRun(t, append(as, "order", "list", "--json")...)
	file := t.TempDir() + "/ferry.pgdump"
	out := mustRun(t, "backup", file, "--db", srcURL)
	if !strings.Contains(out, "backed up the postgres store") {
		t.Errorf("backup printed %q", out)
	}
	first.stop()

	// Into another database and another schema name.
	dstURL := pgURL(t, base, db, "ferry_restored")
	mustRun(t, "restore", file, "--db", dstURL)
	second := serveWith(t, serveOptions{dataDir: t.TempDir(), dbURL: dstURL})
	if got := mustRun(t, "--server", "http://"+second.addr, "--token", token, "order", "list", "--json"); got != want {
		t.Errorf("order list after restore:\n%s\nwant:\n%s", got, want)
	}
	second.stop()

	if _, errOut, code := run("restore", file, "--db", srcURL); code != ExitRefused || !strings.Contains(errOut, "--force") {
		t.Errorf("restore over a store with orders: exit %d, %s", code, errOut)
	}
	mustRun(t, "restore", file, "--db", srcURL, "--force")
	if _, errOut, code := run("restore", file, "--data", t.TempDir()); code == 0 || !strings.Contains(errOut, "postgres backup") {
		t.Errorf("restore of a PostgreSQL backup into SQLite: exit %d, %s", code, errOut)
	}
}
