//go:build lab

package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/lab"
	"ferry/internal/model"
)

// The lab tests run the Applier inside a lab host, on the host's real
// services: the test binary copies itself where hosts can see it and runs
// that copy in the host with applyHelperEnv set, a request on stdin and the
// Result on stdout. Then they look at the host as a user would: getent,
// SHOW DATABASES, psql, crontab -l, and web pages fetched with their Host
// header.

const applyHelperEnv = "FERRY_NODE_TEST_APPLY_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(applyHelperEnv) == "1" {
		os.Exit(applyHelper())
	}
	lab.Main(m, lab.Config{Web: 1, NoDNS: true})
}

// helperRequest is what the test sends the helper inside a host.
type helperRequest struct {
	Config         Config      `json:"config"`
	Order          model.Order `json:"order"`
	Item           model.Item  `json:"item"`
	RemoveOrderDir bool        `json:"remove_order_dir,omitempty"`
}

// applyHelper runs inside a lab host: one request, one Result.
func applyHelper() int {
	var req helperRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "read request:", err)
		return 2
	}
	a := New(req.Config)
	ctx := context.Background()
	var res Result
	if req.RemoveOrderDir {
		res = Result{State: model.StateDeleted, Message: "order directory removed"}
		if err := a.RemoveOrderDir(ctx, req.Order); err != nil {
			res = Result{State: model.StateSoftError, Message: err.Error()}
		}
	} else {
		res = a.Apply(ctx, req.Order, req.Item)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "write result:", err)
		return 2
	}
	return 0
}

// labHost is one lab host the tests apply items on.
type labHost struct {
	t      *testing.T
	l      *lab.Lab
	name   string
	addr   string
	helper string // the test binary, where the host sees it
}

func newLabHost(t *testing.T) *labHost {
	l := lab.ForTest(t)
	h, err := l.Host("web1")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The lab's directory is outside every path a host covers with its own
	// copy, so hosts see files there.
	helper := filepath.Join(l.Dir(), fmt.Sprintf("node-test-helper-%d", os.Getpid()))
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(helper, data, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(helper) })
	return &labHost{t: t, l: l, name: h.Name, addr: h.Address, helper: helper}
}

func (h *labHost) request(req helperRequest) Result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, err := h.l.Command(ctx, h.name, h.helper)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, applyHelperEnv+"=1")
	in, _ := json.Marshal(req)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &out, &errOut
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("apply helper: %v: %s", err, errOut.String())
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		h.t.Fatalf("apply helper printed %q: %v", out.String(), err)
	}
	return res
}

// apply applies it with cfg on the host and fails the test unless the
// result is want.
func (h *labHost) apply(cfg Config, o model.Order, it model.Item, want model.State) Result {
	h.t.Helper()
	res := h.request(helperRequest{Config: cfg, Order: o, Item: it})
	if res.State != want {
		h.t.Fatalf("apply %s %d %s: got %s %q, want %s", it.Kind, it.ID, it.State, res.State, res.Message, want)
	}
	h.t.Logf("%s %d %s → %s: %s", it.Kind, it.ID, it.State, res.State, res.Message)
	return res
}

// twice applies it twice: the second apply must reach the same state.
func (h *labHost) twice(cfg Config, o model.Order, it model.Item, want model.State) {
	h.t.Helper()
	h.apply(cfg, o, it, want)
	h.apply(cfg, o, it, want)
}

// run runs argv in the host and returns its trimmed output.
func (h *labHost) run(argv ...string) string {
	h.t.Helper()
	out, err := h.tryRun(argv...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *labHost) tryRun(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := h.l.Run(ctx, h.name, argv...)
	return strings.TrimSpace(out), err
}

// runStdin runs argv in the host with stdin.
func (h *labHost) runStdin(stdin string, argv ...string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, err := h.l.Command(ctx, h.name, argv...)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// writeFile writes a file inside the host, owned by owner.
func (h *labHost) writeFile(inside, content, owner string) {
	h.t.Helper()
	p, err := h.l.Path(h.name, inside)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if owner != "" {
		h.run("chown", owner, inside)
	}
}

func (h *labHost) exists(inside string) bool {
	p, err := h.l.Path(h.name, inside)
	if err != nil {
		h.t.Fatal(err)
	}
	_, err = os.Lstat(p)
	return err == nil
}

// fetch gets http://<host address>/<path> with the Host header site.
func (h *labHost) fetch(site, path string) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+h.addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = site
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// eventually retries check for a while: reloads of Apache and PHP-FPM are
// graceful, so a change shows a moment after apply returns.
func (h *labHost) eventually(what string, check func() error) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// serves waits until site answers path with 200 and a body containing all
// of want.
func (h *labHost) serves(site, path string, want ...string) {
	h.t.Helper()
	h.eventually("fetch "+site+path, func() error {
		code, body, err := h.fetch(site, path)
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("status %d: %.300s", code, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				return fmt.Errorf("body lacks %q: %.300s", w, body)
			}
		}
		return nil
	})
}

// doesNotServe waits until site's answer no longer contains marker.
func (h *labHost) doesNotServe(site, path, marker string) {
	h.t.Helper()
	h.eventually(site+" stops serving", func() error {
		_, body, err := h.fetch(site, path)
		if err == nil && strings.Contains(body, marker) {
			return fmt.Errorf("still serves %q", marker)
		}
		return nil
	})
}

func mustHash(t *testing.T, f func(string) (string, error), pw string) string {
	t.Helper()
	h, err := f(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLabOrderLifeCycle applies every kind of item of one order on a real
// host, checks each from the outside, then disables and deletes them all and
// checks that nothing is left behind.
func TestLabOrderLifeCycle(t *testing.T) {
	h := newLabHost(t)
	cfg := Config{}
	o := model.Order{ID: 1, Identifier: "lab-site.test", Member: "rosa", Host: h.name}
	dir := "/home/members/rosa/sites/lab-site.test"
	item := func(id int64, kind model.Kind, st model.State, spec model.Spec) model.Item {
		return model.Item{ID: id, OrderID: o.ID, Host: h.name, Kind: kind, State: st, Spec: spec}
	}

	// user-account
	unixHash := mustHash(t, model.HashUnixPassword, "rosa-unix-pw")
	account := model.Spec{Login: "rosa", PasswordHash: unixHash}
	h.twice(cfg, o, item(1, model.KindUserAccount, model.StatePendingInsert, account), model.StateActive)
	if got, want := h.run("getent", "passwd", "rosa"), ":"+dir+"/users/rosa:/bin/bash"; !strings.HasSuffix(got, want) {
		t.Errorf("getent passwd rosa = %q, want it to end in %q", got, want)
	}
	if got := strings.Split(h.run("getent", "shadow", "rosa"), ":")[1]; got != unixHash {
		t.Errorf("shadow hash = %q, want %q", got, unixHash)
	}
	if got := h.run("stat", "-c", "%U:%G %a", dir+"/users/rosa"); got != "rosa:rosa 750" {
		t.Errorf("home: %s", got)
	}
	account.Shell = "/bin/sh"
	h.apply(cfg, o, item(1, model.KindUserAccount, model.StatePendingUpdate, account), model.StateActive)
	if got := h.run("getent", "passwd", "rosa"); !strings.HasSuffix(got, ":/bin/sh") {
		t.Errorf("after update getent passwd rosa = %q", got)
	}

	// mysql-db, mysql-user
	h.twice(cfg, o, item(2, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "shop_db"}), model.StateActive)
	if dbs := h.run("mysql", "-N", "-e", "SHOW DATABASES"); !strings.Contains(dbs, "shop_db") {
		t.Errorf("SHOW DATABASES:\n%s", dbs)
	}
	h.twice(cfg, o, item(3, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "other_db"}), model.StateActive)
	h.run("mysql", "-e", "CREATE TABLE shop_db.notes (msg TEXT); INSERT INTO shop_db.notes VALUES ('hello from shop_db')")
	mysqlUser := model.Spec{Name: "shop_user", PasswordHash: mustHash(t, model.HashMySQLPassword, "shop-pw-1"), Databases: []string{"shop_db", "other_db"}}
	h.twice(cfg, o, item(4, model.KindMySQLUser, model.StatePendingInsert, mysqlUser), model.StateActive)
	asShopUser := []string{"mysql", "-u", "shop_user", "-pshop-pw-1", "-N", "-e"}
	if got := h.run(append(asShopUser, "SELECT msg FROM shop_db.notes")...); got != "hello from shop_db" {
		t.Errorf("shop_user reads %q", got)
	}
	// Update: one database fewer; the grant on it goes, and only on it.
	mysqlUser.Databases = []string{"shop_db"}
	h.apply(cfg, o, item(4, model.KindMySQLUser, model.StatePendingUpdate, mysqlUser), model.StateActive)
	if _, err := h.tryRun(append(asShopUser, "USE other_db")...); err == nil {
		t.Error("shop_user still reaches other_db after its grant was taken away")
	}
	if got := h.run("mysql", "-N", "--raw", "-e", "SELECT Db FROM mysql.db WHERE User = 'shop_user'"); got != `shop\_db` {
		t.Errorf("grants of shop_user: %q", got)
	}

	// pgsql-db, once over the DSN (the lab maps root to postgres) and once
	// through the psql fallback that a refused login leads to.
	pg := model.Spec{Name: "shop_pg", PasswordHash: mustHash(t, model.HashPgSQLPassword, "pg-pw-1")}
	h.twice(cfg, o, item(5, model.KindPgSQLDB, model.StatePendingInsert, pg), model.StateActive)
	refused := Config{PgDSN: "host=/run/postgresql user=ferry_no_such_role dbname=postgres sslmode=disable"}
	pg2 := model.Spec{Name: "shop_pg2", Owner: "shop_pg2_owner", PasswordHash: mustHash(t, model.HashPgSQLPassword, "pg-pw-2")}
	h.twice(refused, o, item(6, model.KindPgSQLDB, model.StatePendingInsert, pg2), model.StateActive)
	list := h.run("runuser", "-u", "postgres", "--", "psql", "-X", "-l", "-A", "-t")
	for _, want := range []string{"shop_pg|shop_pg|", "shop_pg2|shop_pg2_owner|"} {
		if !strings.Contains(list, want) {
			t.Errorf("psql -l lacks %q:\n%s", want, list)
		}
	}
	pgLogin := func(role, pw, db string) (string, error) {
		return h.tryRun("psql", "-X", "-A", "-t", "-c", "SELECT current_user",
			fmt.Sprintf("host=%s user=%s password=%s dbname=%s", h.addr, role, pw, db))
	}
	if got, err := pgLogin("shop_pg", "pg-pw-1", "shop_pg"); err != nil || got != "shop_pg" {
		t.Errorf("shop_pg logs in: %q, %v", got, err)
	}
	if got, err := pgLogin("shop_pg2_owner", "pg-pw-2", "shop_pg2"); err != nil || got != "shop_pg2_owner" {
		t.Errorf("shop_pg2_owner logs in: %q, %v", got, err)
	}
	if _, err := pgLogin("shop_pg", "pg-pw-1", "shop_pg2"); err == nil {
		t.Error("shop_pg may connect to another role's database")
	}

	// web-conf with PHP, reading from its own database.
	site := model.Spec{Login: "rosa", ServerNames: []string{"lab-site.test", "www.lab-site.test"}}
	h.twice(cfg, o, item(10, model.KindWebConf, model.StatePendingInsert, site), model.StateActive)
	if got := h.run("stat", "-c", "%U:%G %A", dir+"/web"); got != "rosa:www-data drwxr-s---" {
		t.Errorf("web/: %s", got)
	}
	h.writeFile(dir+"/web/index.php", `<?php
$db = new mysqli('localhost', 'shop_user', 'shop-pw-1', 'shop_db');
echo 'msg=', $db->query('SELECT msg FROM notes')->fetch_row()[0], "\n";
echo 'user=', posix_getpwuid(posix_geteuid())['name'], "\n";
echo 'etc=', @file_get_contents('/etc/hostname') === false ? 'closed' : 'open', "\n";
`, "rosa:www-data")
	h.serves("www.lab-site.test", "/", "msg=hello from shop_db", "user=rosa", "etc=closed")
	h.serves("lab-site.test", "/", "msg=hello from shop_db")

	// A broken config of someone else's on the host: a new site fails its
	// config test, is taken out again, and the host's sites keep serving.
	h.writeFile("/etc/apache2/sites-enabled/zz-broken.conf", "<VirtualHost *:80>\nServerName broken.test\nBogusDirective on\n</VirtualHost>\n", "")
	second := model.Spec{Login: "rosa", ServerNames: []string{"second-site.test"}, Docroot: "web/second", PHP: new(false)}
	res := h.apply(cfg, o, item(11, model.KindWebConf, model.StatePendingInsert, second), model.StateSoftError)
	for _, want := range []string{"apache configtest failed: ", "AH00526: Syntax error on line 3 of /etc/apache2/sites-enabled/zz-broken.conf", "BogusDirective"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message %q lacks %q", res.Message, want)
		}
	}
	for _, p := range []string{"/etc/apache2/sites-available/ferry-lab-site.test-11.conf", "/etc/apache2/sites-enabled/ferry-lab-site.test-11.conf"} {
		if h.exists(p) {
			t.Errorf("%s left behind after a failed config test", p)
		}
	}
	h.serves("www.lab-site.test", "/", "msg=hello from shop_db")
	h.run("rm", "/etc/apache2/sites-enabled/zz-broken.conf")
	h.apply(cfg, o, item(11, model.KindWebConf, model.StatePendingRestore, second), model.StateActive)
	h.writeFile(dir+"/web/second/index.html", "second site\n", "rosa:www-data")
	h.serves("second-site.test", "/", "second site")

	// scheduled-job next to the user's own crontab lines.
	h.runStdin("MAILTO=\"\"\n@reboot echo mine\n", "crontab", "-u", "rosa", "-")
	job := model.Spec{Login: "rosa", Schedule: "*/5 * * * *", Command: "echo ferry-job"}
	h.twice(cfg, o, item(20, model.KindScheduledJob, model.StatePendingInsert, job), model.StateActive)
	tab := h.run("crontab", "-l", "-u", "rosa")
	for _, want := range []string{"@reboot echo mine", CronBegin, "# ferry item 20\n*/5 * * * * echo ferry-job"} {
		if !strings.Contains(tab, want) {
			t.Errorf("crontab -l lacks %q:\n%s", want, tab)
		}
	}
	job.Schedule = "@hourly"
	h.apply(cfg, o, item(20, model.KindScheduledJob, model.StatePendingUpdate, job), model.StateActive)
	if tab := h.run("crontab", "-l", "-u", "rosa"); !strings.Contains(tab, "\n@hourly echo ferry-job\n") || strings.Contains(tab, "*/5") {
		t.Errorf("crontab after update:\n%s", tab)
	}

	// Disable everything, then look.
	h.apply(cfg, o, item(10, model.KindWebConf, model.StatePendingDisable, site), model.StateDisabled)
	h.doesNotServe("www.lab-site.test", "/", "hello from shop_db")
	h.serves("second-site.test", "/", "second site")
	h.apply(cfg, o, item(4, model.KindMySQLUser, model.StatePendingDisable, mysqlUser), model.StateDisabled)
	if out, err := h.tryRun(append(asShopUser, "SELECT 1")...); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("locked shop_user: %q, %v", out, err)
	}
	h.apply(cfg, o, item(5, model.KindPgSQLDB, model.StatePendingDisable, pg), model.StateDisabled)
	if _, err := pgLogin("shop_pg", "pg-pw-1", "shop_pg"); err == nil {
		t.Error("disabled shop_pg still logs in")
	}
	h.apply(cfg, o, item(20, model.KindScheduledJob, model.StatePendingDisable, job), model.StateDisabled)
	if tab := h.run("crontab", "-l", "-u", "rosa"); !strings.Contains(tab, "\n# @hourly echo ferry-job\n") {
		t.Errorf("crontab after disable:\n%s", tab)
	}
	h.apply(cfg, o, item(1, model.KindUserAccount, model.StatePendingDisable, account), model.StateDisabled)
	if f := strings.Split(h.run("getent", "shadow", "rosa"), ":"); !strings.HasPrefix(f[1], "!") || f[7] != "1" {
		t.Errorf("disabled rosa's shadow entry: %q", f)
	}

	// Updates bring them back.
	h.apply(cfg, o, item(1, model.KindUserAccount, model.StatePendingUpdate, account), model.StateActive)
	if f := strings.Split(h.run("getent", "shadow", "rosa"), ":"); f[1] != unixHash || f[7] != "" {
		t.Errorf("re-enabled rosa's shadow entry: %q", f)
	}
	h.apply(cfg, o, item(10, model.KindWebConf, model.StatePendingUpdate, site), model.StateActive)
	h.apply(cfg, o, item(4, model.KindMySQLUser, model.StatePendingUpdate, mysqlUser), model.StateActive)
	h.serves("www.lab-site.test", "/", "msg=hello from shop_db", "user=rosa")
	h.apply(cfg, o, item(5, model.KindPgSQLDB, model.StatePendingUpdate, pg), model.StateActive)
	if got, err := pgLogin("shop_pg", "pg-pw-1", "shop_pg"); err != nil || got != "shop_pg" {
		t.Errorf("re-enabled shop_pg logs in: %q, %v", got, err)
	}

	// Delete, in the order the control plane deletes: jobs and sites
	// before the accounts they run as.
	h.twice(cfg, o, item(20, model.KindScheduledJob, model.StatePendingDelete, job), model.StateDeleted)
	if tab := h.run("crontab", "-l", "-u", "rosa"); strings.Contains(tab, "ferry") || !strings.Contains(tab, "@reboot echo mine") {
		t.Errorf("crontab after delete:\n%s", tab)
	}
	h.twice(cfg, o, item(10, model.KindWebConf, model.StatePendingDelete, site), model.StateDeleted)
	h.twice(cfg, o, item(11, model.KindWebConf, model.StatePendingDelete, second), model.StateDeleted)
	h.doesNotServe("www.lab-site.test", "/", "hello from shop_db")
	h.doesNotServe("second-site.test", "/", "second site")
	for _, p := range []string{
		"/etc/apache2/sites-available/ferry-lab-site.test-10.conf", "/etc/apache2/sites-enabled/ferry-lab-site.test-10.conf",
		"/etc/php/8.2/fpm/pool.d/ferry-lab-site.test-10.conf", "/etc/apache2/sites-available/ferry-lab-site.test-11.conf",
	} {
		if h.exists(p) {
			t.Errorf("%s left behind", p)
		}
	}
	h.twice(cfg, o, item(4, model.KindMySQLUser, model.StatePendingDelete, mysqlUser), model.StateDeleted)
	if got := h.run("mysql", "-N", "-e", "SELECT COUNT(*) FROM mysql.user WHERE User = 'shop_user'"); got != "0" {
		t.Errorf("shop_user left behind")
	}
	h.twice(cfg, o, item(2, model.KindMySQLDB, model.StatePendingDelete, model.Spec{Name: "shop_db"}), model.StateDeleted)
	h.twice(cfg, o, item(3, model.KindMySQLDB, model.StatePendingDelete, model.Spec{Name: "other_db"}), model.StateDeleted)
	if dbs := h.run("mysql", "-N", "-e", "SHOW DATABASES"); strings.Contains(dbs, "shop_db") || strings.Contains(dbs, "other_db") {
		t.Errorf("databases left behind:\n%s", dbs)
	}
	h.twice(cfg, o, item(5, model.KindPgSQLDB, model.StatePendingDelete, pg), model.StateDeleted)
	h.twice(refused, o, item(6, model.KindPgSQLDB, model.StatePendingDelete, pg2), model.StateDeleted)
	if got := h.run("runuser", "-u", "postgres", "--", "psql", "-X", "-A", "-t", "-c",
		"SELECT count(*) FROM pg_database WHERE datname LIKE 'shop%' UNION ALL SELECT count(*) FROM pg_roles WHERE rolname LIKE 'shop%'"); got != "0\n0" {
		t.Errorf("postgresql databases and roles left behind: %q", got)
	}
	h.twice(cfg, o, item(1, model.KindUserAccount, model.StatePendingDelete, account), model.StateDeleted)
	if out, err := h.tryRun("getent", "passwd", "rosa"); err == nil {
		t.Errorf("getent passwd rosa after delete: %q", out)
	}
	if out, err := h.tryRun("getent", "group", "rosa"); err == nil {
		t.Errorf("getent group rosa after delete: %q", out)
	}
	for _, p := range []string{dir + "/users/rosa", "/var/spool/cron/crontabs/rosa"} {
		if h.exists(p) {
			t.Errorf("%s left behind", p)
		}
	}
	if res := h.request(helperRequest{Order: o, RemoveOrderDir: true}); res.State != model.StateDeleted {
		t.Fatalf("remove order directory: %s", res.Message)
	}
	if h.exists("/home/members/rosa") {
		t.Error("/home/members/rosa left behind")
	}
}
