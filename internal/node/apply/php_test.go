package apply

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

// TestDiscoverPHP lays out a host's PHP under a temporary root: only the
// versions with both their pool.d and their binary count.
func TestDiscoverPHP(t *testing.T) {
	root := t.TempDir()
	etc, sbin, local := filepath.Join(root, "etc", "php"), filepath.Join(root, "sbin"), filepath.Join(root, "local", "sbin")
	mkdir := func(p string) {
		t.Helper()
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, mode os.FileMode) {
		t.Helper()
		mkdir(filepath.Dir(p))
		if err := os.WriteFile(p, []byte("#!/bin/false\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"7.4", "8.2", "8.3", "8.10", "8.4", "8.5"} {
		mkdir(filepath.Join(etc, v, "fpm", "pool.d"))
	}
	mkdir(filepath.Join(etc, "8.1", "cli"))               // the CLI alone, no FPM
	mkdir(filepath.Join(etc, "mods-available"))           // Debian's shared ini snippets
	mkdir(filepath.Join(etc, "8.2.bak", "fpm", "pool.d")) // an admin's copy
	write(filepath.Join(etc, "8.5", "fpm", "pool.d.conf"), 0o644)
	write(filepath.Join(sbin, "php-fpm8.2"), 0o755)
	write(filepath.Join(sbin, "php-fpm8.3"), 0o755)
	write(filepath.Join(local, "php-fpm8.10"), 0o755) // built by hand
	write(filepath.Join(local, "php-fpm8.3"), 0o755)  // shadowed by sbin's
	write(filepath.Join(sbin, "php-fpm8.1"), 0o755)   // no pool.d
	write(filepath.Join(sbin, "php-fpm8.4"), 0o644)   // not executable
	write(filepath.Join(sbin, "php-fpm"), 0o755)      // an alternatives link's name, no version
	write(filepath.Join(sbin, "php-fpm8.2.dpkg-old"), 0o755)
	if err := os.Remove(filepath.Join(etc, "8.5", "fpm", "pool.d")); err != nil { // 8.5's pool.d is a file
		t.Fatal(err)
	}
	write(filepath.Join(etc, "8.5", "fpm", "pool.d"), 0o644)
	write(filepath.Join(sbin, "php-fpm8.5"), 0o755)
	// 7.4 was removed without purging: its /etc/php/7.4 stays, its binary
	// is gone.

	got := discoverPHP(etc, []string{sbin, local, filepath.Join(root, "missing")}, "/run/php/php{version}-fpm.pid")
	want := []phpFPM{
		{Version: "8.2", PoolDir: filepath.Join(etc, "8.2", "fpm", "pool.d"), Binary: filepath.Join(sbin, "php-fpm8.2"), PidFile: "/run/php/php8.2-fpm.pid"},
		{Version: "8.3", PoolDir: filepath.Join(etc, "8.3", "fpm", "pool.d"), Binary: filepath.Join(sbin, "php-fpm8.3"), PidFile: "/run/php/php8.3-fpm.pid"},
		{Version: "8.10", PoolDir: filepath.Join(etc, "8.10", "fpm", "pool.d"), Binary: filepath.Join(local, "php-fpm8.10"), PidFile: "/run/php/php8.10-fpm.pid"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("discovered\n%+v\nwant\n%+v", got, want)
	}
	if got := discoverPHP(filepath.Join(root, "nothing"), []string{sbin}, "x"); len(got) != 0 {
		t.Errorf("a root without PHP: %+v", got)
	}
}

func phpSite(names string, p model.PHPSettings) model.Spec {
	s := webSpec(strings.Split(names, ",")...)
	s.PHPSettings = p
	return s
}

// A site without a version runs under the host's newest; changing its
// version moves its pool to that version's pool.d, config-tests both
// versions and points the vhost at the new version's socket.
func TestWebConfPHPVersionChange(t *testing.T) {
	e := newTestEnv(t)
	e.addPHP(t, "8.3", false) // its master is not running: leaving it needs none
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	name := "ferry-example.org-42.conf"
	vhostFile := e.path("sites-available", name)
	old, now := filepath.Join(e.poolDir("8.3"), name), filepath.Join(e.poolDir("8.2"), name)

	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, phpSite("example.org", model.PHPSettings{})), model.StateSoftError)
	if want := "php-fpm is not running (no pid file " + e.fpmPidFile("8.3") + ")"; res.Message != want {
		t.Errorf("newest version's master down: message %q, want %q", res.Message, want)
	}
	e.addPHP(t, "8.3", true)
	res = applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingRestore, phpSite("example.org", model.PHPSettings{})), model.StateActive)
	if !strings.Contains(res.Message, "with PHP 8.3 as rosa") || !exists(old) || exists(now) {
		t.Fatalf("default version: %q; pool in 8.3 %v, in 8.2 %v", res.Message, exists(old), exists(now))
	}
	if vhost, _ := os.ReadFile(vhostFile); !strings.Contains(string(vhost), "ferry-php8.3-42.sock|") {
		t.Errorf("vhost does not proxy to 8.3's socket:\n%s", vhost)
	}
	e.host.Ran()
	e.reloadedFPM(t)
	os.Remove(e.fpmPidFile("8.3"))

	res = applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingUpdate,
		phpSite("example.org", model.PHPSettings{PHPVersion: "8.2", MemoryLimit: "256M", MaxChildren: 9})), model.StateActive)
	if !strings.Contains(res.Message, "with PHP 8.2 as rosa") {
		t.Errorf("message %q", res.Message)
	}
	if exists(old) {
		t.Error("the pool stays in the old version's pool.d")
	}
	pool, err := os.ReadFile(now)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`listen = "/run/php/ferry-php8.2-42.sock"`, "pm.max_children = 9\n", "php_admin_value[memory_limit] = 256M\n"} {
		if !strings.Contains(string(pool), want) {
			t.Errorf("8.2 pool lacks %s:\n%s", want, pool)
		}
	}
	if vhost, _ := os.ReadFile(vhostFile); !strings.Contains(string(vhost), `"proxy:unix:/run/php/ferry-php8.2-42.sock|fcgi://localhost"`) {
		t.Errorf("vhost does not proxy to 8.2's socket:\n%s", vhost)
	}
	ran := e.host.Ran()
	for _, want := range []string{"php-fpm8.2 -t", "php-fpm8.3 -t"} {
		if !slices.Contains(ran, want) {
			t.Errorf("version change ran %q; want %s", ran, want)
		}
	}
	if !e.reloadedFPM(t) {
		t.Error("8.2's master was not reloaded")
	}

	// A delete finds the pool wherever it is.
	if err := os.WriteFile(old, pool, 0o644); err != nil { // as a change cut short would leave it
		t.Fatal(err)
	}
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDelete, phpSite("example.org", model.PHPSettings{PHPVersion: "8.2"})), model.StateDeleted)
	if left := e.snapshot(t); len(left) != 0 {
		t.Errorf("delete left %v", left)
	}
}

// A version the host lacks is an error naming it and the host's versions,
// and nothing is written.
func TestWebConfPHPVersionMissing(t *testing.T) {
	e := newTestEnv(t)
	e.addPHP(t, "8.3", true)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, phpSite("example.org", model.PHPSettings{PHPVersion: "8.4"})), model.StateSoftError)
	want := "this host has no PHP 8.4 (it has PHP-FPM 8.2, 8.3); install php8.4-fpm, or choose one it has with ferry item update --php-version"
	if res.Message != want {
		t.Errorf("message\n%q\nwant\n%q", res.Message, want)
	}
	if left := e.snapshot(t); len(left) != 0 {
		t.Errorf("wrote %v", left)
	}
	// Without PHP the site does not care.
	spec := webSpec("example.org")
	spec.PHP = new(false)
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingRestore, spec), model.StateActive)

	// A host without any PHP-FPM refuses a PHP site.
	e2 := newTestEnv(t)
	if err := os.RemoveAll(e2.path("sbin")); err != nil {
		t.Fatal(err)
	}
	e2.host.AddUser("rosa", e2.path("members/rosa/sites/example.org/users/rosa"))
	res = applyOK(t, e2, testItem(42, model.KindWebConf, model.StatePendingInsert, webSpec("example.org")), model.StateSoftError)
	if !strings.HasPrefix(res.Message, "this host has no PHP-FPM installed; install PHP-FPM") {
		t.Errorf("message %q", res.Message)
	}
}

// A user whose site's pool sits in any version's pool.d is not deleted.
func TestDeleteUserFindsPoolsOfEveryVersion(t *testing.T) {
	e := newTestEnv(t)
	e.addPHP(t, "8.3", true)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, phpSite("example.org", model.PHPSettings{PHPVersion: "8.2"})), model.StateActive)
	// As a version change cut short would leave it.
	if err := os.Rename(filepath.Join(e.poolDir("8.2"), "ferry-example.org-42.conf"), filepath.Join(e.poolDir("8.3"), "ferry-example.org-42.conf")); err != nil {
		t.Fatal(err)
	}
	res := applyOK(t, e, testItem(41, model.KindUserAccount, model.StatePendingDelete, model.Spec{Login: "rosa"}), model.StateSoftError)
	if !strings.Contains(res.Message, filepath.Join(e.poolDir("8.3"), "ferry-example.org-42.conf")) {
		t.Errorf("message %q", res.Message)
	}
}

// Only php-fpm followed by a version ParsePHPVersion accepts, exactly,
// names a PHP-FPM binary.
func FuzzFPMBinaryVersion(f *testing.F) {
	for _, s := range []string{"php-fpm8.2", "php-fpm8.10", "php-fpm", "php-fpm8.2.dpkg-old", "php-fpmphp8.2", "php-fpm08.2", "php8.2-fpm", "php-fpm8.2/../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, ok := fpmBinaryVersion(name)
		if !ok {
			return
		}
		if name != fpmBinaryPrefix+v {
			t.Fatalf("%q → %q", name, v)
		}
		if again, err := model.ParsePHPVersion(v); err != nil || again != v || strings.ContainsAny(v, "/ ") {
			t.Fatalf("%q → %q, which is no canonical version (%q, %v)", name, v, again, err)
		}
	})
}
