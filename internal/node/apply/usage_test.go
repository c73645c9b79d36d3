package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/model"
)

func TestMeasureUsage(t *testing.T) {
	e := newTestEnv(t)
	e.a.cfg.MySQLSocket = e.path("run/no-mysqld.sock")
	e.a.cfg.PgDSN = "host=" + e.path("run") + " port=1 user=postgres sslmode=disable connect_timeout=2"
	dir := filepath.Join(e.a.cfg.MembersRoot, "coop", "sites", "example.org")
	if err := os.MkdirAll(filepath.Join(dir, "web", "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(dir, "web", "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "web", "big"), filepath.Join(dir, "web", "big-again")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web", "old", "wp-config.php"), []byte("<?php define('DB_NAME', 'legacy');\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := e.a.MeasureUsage(context.Background())
	o, ok := u.Order(dir)
	if !ok {
		t.Fatalf("no usage of %s: %+v", dir, u)
	}
	if o.Bytes < 1<<20 || o.Bytes > 2<<20-1 {
		t.Errorf("%d bytes: the hard-linked 1 MiB file counts once", o.Bytes)
	}
	if len(o.AppDatabases) != 1 || o.AppDatabases[0] != (model.UnregisteredDB{Engine: "mysql", Name: "legacy", Config: "web/old/wp-config.php"}) {
		t.Errorf("app databases %+v", o.AppDatabases)
	}
	if len(u.Unreachable) != 2 || !strings.HasPrefix(u.Unreachable[0], "mariadb: ") || !strings.HasPrefix(u.Unreachable[1], "postgresql: ") {
		t.Errorf("unreachable %q, want both servers", u.Unreachable)
	}
}

func TestParsePgSize(t *testing.T) {
	for _, c := range []struct {
		line    string
		name    string
		size    int64
		ok, bad bool
	}{
		{line: `["c202_site_pg", 7631407]`, name: "c202_site_pg", size: 7631407, ok: true},
		{line: ""},
		// A database a DROP DATABASE is removing while the sizes are read.
		{line: `["c202_site_pg", null]`},
		{line: `["x", -1]`, bad: true},
		{line: `["x", 1.5]`, bad: true},
		{line: `[null, 1]`, bad: true},
		{line: `["x"]`, bad: true},
		{line: `ERROR: oops`, bad: true},
	} {
		name, size, ok, err := parsePgSize(c.line)
		if (err != nil) != c.bad || ok != c.ok || name != c.name || size != c.size {
			t.Errorf("parsePgSize(%q) = %q, %d, %v, %v; want %q, %d, %v, error %v", c.line, name, size, ok, err, c.name, c.size, c.ok, c.bad)
		}
		if err != nil && !strings.Contains(err.Error(), "psql printed") {
			t.Errorf("parsePgSize(%q): error %q does not say what psql printed", c.line, err)
		}
	}
}

func FuzzParsePgSize(f *testing.F) {
	for _, s := range []string{`["a", 1]`, `["a", null]`, `[]`, `{"a":1}`, `["a", 1e300]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		name, size, ok, err := parsePgSize(line)
		if err != nil && ok {
			t.Fatalf("ok and an error for %q", line)
		}
		if ok && (name == "" || size < 0) {
			t.Fatalf("parsePgSize(%q) = %q, %d", line, name, size)
		}
	})
}
