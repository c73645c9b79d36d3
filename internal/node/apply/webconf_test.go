package apply

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/hostexec/hostexectest"
)

// webFiles are a test site's config files.
type webFiles struct{ vhost, link, pool string }

func (e *testEnv) webFiles(id string) webFiles {
	name := "ferry-example.org-" + id + ".conf"
	return webFiles{
		vhost: e.path("sites-available", name),
		link:  e.path("sites-enabled", name),
		pool:  e.path("pool.d", name),
	}
}

// snapshot reads every file and symlink under the config directories.
func (e *testEnv) snapshot(t *testing.T) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, d := range []string{"sites-available", "sites-enabled", "pool.d"} {
		entries, err := os.ReadDir(e.path(d))
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			p := e.path(d, en.Name())
			if en.Type()&fs.ModeSymlink != 0 {
				target, _ := os.Readlink(p)
				got[p] = "-> " + target
				continue
			}
			data, _ := os.ReadFile(p)
			got[p] = string(data)
		}
	}
	return got
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func webSpec(names ...string) model.Spec {
	return model.Spec{Login: "rosa", ServerNames: names}
}

func TestWebConfLifeCycle(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	f := e.webFiles("42")

	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, webSpec("example.org", "www.example.org")), model.StateActive)
	if res.Message != "site example.org served from "+e.path("members/rosa/sites/example.org/web")+" with PHP as rosa" {
		t.Errorf("message %q", res.Message)
	}
	vhost, _ := os.ReadFile(f.vhost)
	for _, want := range []string{`ServerName "example.org"`, `ServerAlias "www.example.org"`, `SetHandler "proxy:unix:/run/php/ferry-42.sock|fcgi://localhost"`} {
		if !strings.Contains(string(vhost), want) {
			t.Errorf("vhost lacks %s:\n%s", want, vhost)
		}
	}
	if target, err := os.Readlink(f.link); err != nil || target != f.vhost {
		t.Errorf("sites-enabled link: %q, %v", target, err)
	}
	if pool, _ := os.ReadFile(f.pool); !strings.Contains(string(pool), "user = rosa\n") {
		t.Errorf("pool:\n%s", pool)
	}
	// The docroot is handed to rosa only once the configs passed their tests.
	wantRan := []string{"getent passwd rosa", "php-fpm8.2 -t", "apachectl configtest", "getent passwd rosa", "getent group www-data", "apachectl -k graceful"}
	if ran := e.host.Ran(); !slices.Equal(ran, wantRan) {
		t.Errorf("insert ran\n%q\nwant\n%q", ran, wantRan)
	}
	if !e.reloadedFPM(t) {
		t.Error("php-fpm was not reloaded")
	}
	fi, err := os.Stat(e.path("members/rosa/sites/example.org/web"))
	if err != nil || fi.Mode()&fs.ModeSetgid == 0 || fi.Mode().Perm() != 0o750 {
		t.Errorf("web/: %v, %v; want setgid 0750", fi.Mode(), err)
	}

	// Applying the same item again writes the same files.
	before := e.snapshot(t)
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingUpdate, webSpec("example.org", "www.example.org")), model.StateActive)
	if after := e.snapshot(t); !mapsEqual(before, after) {
		t.Errorf("re-apply changed files:\n%v\n%v", before, after)
	}

	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDisable, webSpec("example.org", "www.example.org")), model.StateDisabled)
	if exists(f.link) || !exists(f.vhost) {
		t.Errorf("disable: link there %v, vhost there %v; want only the vhost", exists(f.link), exists(f.vhost))
	}
	e.host.Ran()
	e.reloadedFPM(t)

	// Update enables it again; without PHP the pool goes.
	spec := webSpec("example.org")
	spec.PHP = new(false)
	spec.Docroot = "web/public"
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingUpdate, spec), model.StateActive)
	if !exists(f.link) || exists(f.pool) {
		t.Errorf("update: link there %v, pool there %v; want the link, no pool", exists(f.link), exists(f.pool))
	}
	if vhost, _ := os.ReadFile(f.vhost); strings.Contains(string(vhost), "SetHandler") || strings.Contains(string(vhost), "ServerAlias") {
		t.Errorf("vhost still has PHP or the alias:\n%s", vhost)
	}
	if ran := e.host.Ran(); !slices.Contains(ran, "php-fpm8.2 -t") {
		t.Errorf("removing the pool did not test php-fpm: %q", ran)
	}
	if !e.reloadedFPM(t) {
		t.Error("removing the pool did not reload php-fpm")
	}
	if fi, err := os.Stat(e.path("members/rosa/sites/example.org/web/public")); err != nil || fi.Mode()&fs.ModeSetgid == 0 {
		t.Errorf("docroot: %v", err)
	}

	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDelete, spec), model.StateDeleted)
	if len(e.snapshot(t)) != 0 {
		t.Errorf("delete left files: %v", e.snapshot(t))
	}
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDelete, spec), model.StateDeleted)
}

// A node killed while deleting a PHP site, after it removed the pool file
// and before it reloaded PHP-FPM, deletes it again when it starts: that
// reload must still happen, or the pool runs on as the site's login.
func TestWebConfDeleteCutShortStillReloadsPHPFPM(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	f := e.webFiles("42")
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, webSpec("example.org")), model.StateActive)
	e.host.Ran()
	e.reloadedFPM(t)
	if err := os.Remove(f.pool); err != nil { // the delete got this far
		t.Fatal(err)
	}
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDelete, webSpec("example.org")), model.StateDeleted)
	if ran := e.host.Ran(); !slices.Contains(ran, "php-fpm8.2 -t") {
		t.Errorf("delete again ran %q; want php-fpm's config test", ran)
	}
	if !e.reloadedFPM(t) {
		t.Error("the delete, applied again, did not reload php-fpm: the pool runs on")
	}
}

// A site deleted while a move's site mode kept its own vhost aside (the
// old host's half of a move, cleaned up after cutover) leaves neither file.
func TestWebConfDeleteRemovesTheVhostKeptAside(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	f := e.webFiles("42")
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, webSpec("example.org")), model.StateActive)
	own, err := os.ReadFile(f.vhost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.vhost+SiteModeKeep, own, 0o644); err != nil {
		t.Fatal(err)
	}
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDelete, webSpec("example.org")), model.StateDeleted)
	if left := e.snapshot(t); len(left) != 0 {
		t.Errorf("delete left files: %v", left)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestWebConfWaitsForItsUser(t *testing.T) {
	e := newTestEnv(t)
	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, webSpec("example.org")), model.StateSoftError)
	if res.Message != "user rosa does not exist on this host (apply its user-account first)" {
		t.Errorf("message %q", res.Message)
	}
	if files := e.snapshot(t); len(files) != 0 {
		t.Errorf("wrote files: %v", files)
	}
}

// A failed config test puts every file back as it was and reloads nothing,
// so the sites that were serving keep serving.
func TestWebConfRollsBackWhatFailsItsConfigTest(t *testing.T) {
	const configtestOutput = "AH00526: Syntax error on line 12 of /etc/apache2/sites-enabled/zz-broken.conf:\n" +
		"Invalid command 'Bogus', perhaps misspelled or defined by a module not included in the server configuration\n" +
		"Action 'configtest' failed.\nThe Apache error log may have more information.\n"
	tests := []struct {
		name    string
		command string
		answer  hostexectest.Answer
		want    string
	}{
		{"apache", "apachectl configtest", hostexectest.Answer{Stdout: configtestOutput, Code: 1},
			"apache configtest failed: AH00526: Syntax error on line 12 of /etc/apache2/sites-enabled/zz-broken.conf: | Invalid command 'Bogus'"},
		{"php-fpm", "php-fpm8.2 -t", hostexectest.Answer{Stderr: "ERROR: [pool ferry-example.org-43] cannot get uid for user 'rosa'\nERROR: FPM initialization failed\n", Code: 78},
			"php-fpm config test failed: ERROR: [pool ferry-example.org-43] cannot get uid for user 'rosa' | ERROR: FPM initialization failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
			applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, webSpec("example.org")), model.StateActive)
			e.reloadedFPM(t)
			e.host.Ran()
			before := e.snapshot(t)

			e.host.Answers[tt.command] = tt.answer
			// A new site is removed again …
			res := applyOK(t, e, testItem(43, model.KindWebConf, model.StatePendingInsert, webSpec("shop.example.org")), model.StateSoftError)
			if !strings.HasPrefix(res.Message, tt.want) {
				t.Errorf("message %q\nwant prefix %q", res.Message, tt.want)
			}
			// … a changed one gets its old files back …
			applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingUpdate, webSpec("example.org", "www.example.org")), model.StateSoftError)
			// … and a deleted one stays.
			applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDelete, webSpec("example.org")), model.StateSoftError)
			if after := e.snapshot(t); !mapsEqual(before, after) {
				t.Errorf("files not restored:\nbefore %v\nafter  %v", before, after)
			}
			if ran := e.host.Ran(); slices.Contains(ran, "apachectl -k graceful") {
				t.Errorf("reloaded apache after a failed test: %q", ran)
			}
			if e.reloadedFPM(t) {
				t.Error("reloaded php-fpm after a failed test")
			}

			// Once the cause is mended, a restore goes through.
			delete(e.host.Answers, tt.command)
			applyOK(t, e, testItem(43, model.KindWebConf, model.StatePendingRestore, webSpec("shop.example.org")), model.StateActive)
		})
	}
}

func TestWebConfReportsReloadFailures(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	os.Remove(e.a.cfg.FPMPidFile)
	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, webSpec("example.org")), model.StateSoftError)
	if res.Message != "php-fpm is not running (no pid file "+e.a.cfg.FPMPidFile+")" {
		t.Errorf("message %q", res.Message)
	}
	// The configs passed their tests and stay, for the retry to reload.
	if !exists(e.webFiles("42").pool) {
		t.Error("pool removed after a failed reload")
	}
	os.WriteFile(e.a.cfg.FPMPidFile, []byte("999999999\n"), 0o644)
	res = applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingRestore, webSpec("example.org")), model.StateSoftError)
	if !strings.HasPrefix(res.Message, "php-fpm is not running (pid 999999999") {
		t.Errorf("message %q", res.Message)
	}

	e.host.Answers["apachectl -k graceful"] = hostexectest.Answer{Stderr: "httpd (pid 77) not running\n", Code: 1}
	spec := webSpec("example.org")
	spec.PHP = new(false)
	res = applyOK(t, e, testItem(44, model.KindWebConf, model.StatePendingInsert, spec), model.StateSoftError)
	if res.Message != "apache graceful reload failed: httpd (pid 77) not running" {
		t.Errorf("message %q", res.Message)
	}
}

func TestWebConfWithoutSitesAvailable(t *testing.T) {
	e := newTestEnv(t)
	e.a.cfg.ApacheSitesAvailable = "none"
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	f := e.webFiles("42")
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, webSpec("example.org")), model.StateActive)
	fi, err := os.Lstat(f.link)
	if err != nil || !fi.Mode().IsRegular() || exists(f.vhost) {
		t.Fatalf("want the vhost as a file in sites-enabled: %v", err)
	}
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDisable, webSpec("example.org")), model.StateDisabled)
	if exists(f.link) {
		t.Error("disabled vhost still in sites-enabled")
	}
}

// A member who owns web/ may plant a symlink where the docroot goes; ferry's
// chown must not follow it out of the order's directory.
func TestWebConfDocrootSymlinkStaysInside(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	outside := e.path("outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	web := e.path("members/rosa/sites/example.org/web")
	if err := os.MkdirAll(web, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(web, "public")); err != nil {
		t.Fatal(err)
	}
	spec := webSpec("example.org")
	spec.Docroot = "web/public"
	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, spec), model.StateSoftError)
	if !strings.Contains(res.Message, "make docroot web/public") {
		t.Errorf("message %q", res.Message)
	}
	if fi, _ := os.Stat(outside); fi.Mode().Perm() != 0o700 || fi.Mode()&fs.ModeSetgid != 0 {
		t.Errorf("the directory outside was changed: %v", fi.Mode())
	}
}

func TestConfigQuoting(t *testing.T) {
	for _, tt := range []struct {
		f    func(string) (string, error)
		in   string
		want string // "" for refused
	}{
		{ApacheQuote, "/home/members/a/sites/x.org/web/my site", `"/home/members/a/sites/x.org/web/my site"`},
		{ApacheQuote, `a"b`, ""},
		{ApacheQuote, `a\b`, ""},
		{ApacheQuote, "${APACHE_LOG_DIR}", ""},
		{ApacheQuote, "a\nInclude /etc/shadow", ""},
		{ApacheQuote, "", ""},
		{iniQuote, "/home/x/:/tmp/", `"/home/x/:/tmp/"`},
		{iniQuote, "${HOME}", ""},
		{iniQuote, "a\"b", ""},
		{configWord, "ferry-example.org-42", "ferry-example.org-42"},
		{configWord, "rosa", "rosa"},
		{configWord, "ro sa", ""},
		{configWord, "a]\n[www", ""},
		{configWord, "-x", ""},
	} {
		got, err := tt.f(tt.in)
		if tt.want == "" && err == nil {
			t.Errorf("%q: got %q, want refused", tt.in, got)
		}
		if tt.want != "" && (err != nil || got != tt.want) {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
