//go:build lab

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/api"
	"ferry/internal/model"
)

// sitePHP reads a greeting from the site's own database.
const sitePHP = `<?php
$db = new mysqli('localhost', '%USER%', '%PASS%', '%DB%');
$row = $db->query('SELECT msg FROM greeting ORDER BY id DESC LIMIT 1')->fetch_row();
echo "<html><head><title>%TITLE%</title></head><body>", htmlspecialchars($row[0]), " from ", gethostname(), " as ", posix_getpwuid(posix_geteuid())['name'], "</body></html>\n";
`

// writeFile writes a file inside a lab host, owned by login.
func (e *env) writeFile(host, path, content, login string) {
	e.t.Helper()
	p, err := e.lab.Path(host, path)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if login != "" {
		e.mustOn(host, "chown", login+":"+login, path)
	}
}

// site makes an order with one item of each kind on web1 through the CLI
// and a PHP page reading its database; it returns the order's directory.
func (e *env) site(member, domain, login, db string) string {
	e.t.Helper()
	e.ferry("", "member", "add", member)
	e.ferry("", "order", "add", domain, "--member", member, "--host", "web1")
	e.ferry("user-pass-1\n", "item", "add", domain, "user-account", "--login", login, "--password-file", "-")
	e.ferry("", "item", "add", domain, "mysql-db", "--name", db)
	e.ferry("db-pass-123\n", "item", "add", domain, "mysql-user", "--name", login, "--database", db, "--password-file", "-")
	e.ferry("", "item", "add", domain, "pgsql-db", "--name", db+"_pg", "--password", "pg-pass-123")
	e.ferry("", "item", "add", domain, "web-conf", "--login", login, "--server-name", domain+",www."+domain)
	e.ferry("", "item", "add", domain, "scheduled-job", "--login", login, "--schedule", "*/10 * * * *", "--command", "php web/cron.php")
	e.ferry("", "item", "add", domain, "dns", "--type", "A", "--value", e.addr("web1"), "--ttl", "3600")
	e.ferry("", "item", "add", domain, "dns", "--fqdn", "www."+domain, "--type", "A", "--value", e.addr("web1"), "--ttl", "1800")
	items := e.waitItems(domain, 60*time.Second)
	for _, it := range items {
		if it.State != model.StateActive {
			e.t.Fatalf("item %d (%s) is %s: %s", it.ID, it.Kind, it.State, it.Message)
		}
	}
	dir := model.OrderDir(member, domain)
	e.mustOn("web1", "mariadb", db, "-e", "CREATE TABLE greeting (id INT AUTO_INCREMENT PRIMARY KEY, msg TEXT); INSERT INTO greeting (msg) VALUES ('hello');")
	php := strings.NewReplacer("%USER%", login, "%PASS%", "db-pass-123", "%DB%", db, "%TITLE%", domain).Replace(sitePHP)
	e.writeFile("web1", dir+"/web/index.php", php, login)
	return dir
}

func TestLabEachItemKindBecomesReal(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	dir := e.site("alpha", "alpha.example", "alpha", "alpha_site")
	t.Logf("order with every item kind active on web1 in %s", time.Since(start).Round(time.Millisecond))

	if out := e.mustOn("web1", "getent", "passwd", "alpha"); !strings.Contains(out, dir+"/users/alpha") {
		t.Errorf("getent passwd alpha on web1 = %q, want its home under %s/users", out, dir)
	}
	if _, err := e.on("web2", "getent", "passwd", "alpha"); err == nil {
		t.Error("user alpha exists on web2 too")
	}
	if out := e.mustOn("web1", "mariadb", "-N", "-e", "SHOW DATABASES"); !strings.Contains(out, "alpha_site") {
		t.Errorf("SHOW DATABASES on web1 lacks alpha_site:\n%s", out)
	}
	if out := e.mustOn("web1", "runuser", "-u", "postgres", "--", "psql", "-lqt"); !strings.Contains(out, "alpha_site_pg") {
		t.Errorf("psql -l on web1 lacks alpha_site_pg:\n%s", out)
	}
	if out := e.mustOn("web1", "crontab", "-l", "-u", "alpha"); !strings.Contains(out, "*/10 * * * * php web/cron.php") {
		t.Errorf("crontab of alpha:\n%s", out)
	}
	page, err := e.curl("web1", e.addr("web1"), "www.alpha.example", "/")
	if err != nil || !strings.Contains(page, "hello from web1 as alpha") {
		t.Errorf("PHP page by Host header = %q, %v; want it to read its database and run as alpha", page, err)
	}
	if ans := e.mustOn("web1", "dig", "+short", "@"+e.addr("dns1"), "www.alpha.example", "A"); strings.TrimSpace(ans) != e.addr("web1") {
		t.Errorf("dns answer for www.alpha.example = %q", ans)
	}

	// Update: a new schedule replaces the line; what alpha wrote by hand stays.
	e.mustOn("web1", "sh", "-c", "(crontab -l -u alpha; echo '0 3 * * * echo by-hand') | crontab -u alpha -")
	job := e.item("alpha.example", model.KindScheduledJob)
	e.ferry("", "item", "update", itoa(job.ID), "--schedule", "@daily")
	e.waitItems("alpha.example", 30*time.Second)
	cron := e.mustOn("web1", "crontab", "-l", "-u", "alpha")
	if !strings.Contains(cron, "@daily php web/cron.php") || strings.Contains(cron, "*/10") || !strings.Contains(cron, "echo by-hand") {
		t.Errorf("crontab after update:\n%s", cron)
	}

	// Delete: the database goes, nothing else does.
	pg := e.item("alpha.example", model.KindPgSQLDB)
	e.ferry("", "item", "delete", itoa(pg.ID))
	e.waitItems("alpha.example", 30*time.Second)
	if out := e.mustOn("web1", "runuser", "-u", "postgres", "--", "psql", "-lqt"); strings.Contains(out, "alpha_site_pg") {
		t.Errorf("alpha_site_pg still exists after delete:\n%s", out)
	}
	if got, _ := e.admin.GetItem(context.Background(), pg.ID); got.State != model.StateDeleted {
		t.Errorf("deleted item is %s", got.State)
	}
}

func TestLabBrokenSiteIsSoftErrorAndOthersKeepServing(t *testing.T) {
	e := newEnv(t)
	e.site("bravo", "bravo.example", "bravo", "bravo_site")
	// A stray broken file in Apache's config makes every configtest fail,
	// as a bad site would.
	e.writeFile("web1", "/etc/apache2/conf-enabled/zz-broken.conf", "ThisIsNotADirective on\n", "")
	e.ferry("pass-word-99\n", "item", "add", "bravo.example", "user-account", "--login", "bravo2", "--password-file", "-")
	e.waitItems("bravo.example", 30*time.Second)
	e.ferry("", "item", "add", "bravo.example", "web-conf", "--login", "bravo2", "--server-name", "shop.bravo.example")
	items := e.waitItems("bravo.example", 30*time.Second)
	var broken model.Item
	for _, it := range items {
		if it.Kind == model.KindWebConf && it.Spec.ServerNames[0] == "shop.bravo.example" {
			broken = it
		}
	}
	if broken.State != model.StateSoftError || !strings.Contains(broken.Message, "configtest") {
		t.Fatalf("broken site is %s %q, want soft-error naming the configtest", broken.State, broken.Message)
	}
	if page, err := e.curl("web1", e.addr("web1"), "bravo.example", "/"); err != nil || !strings.Contains(page, "hello from web1") {
		t.Errorf("the other site stopped serving: %q %v", page, err)
	}
	e.mustOn("web1", "rm", "/etc/apache2/conf-enabled/zz-broken.conf")
	e.ferry("", "item", "retry", itoa(broken.ID))
	e.waitItems("bravo.example", 30*time.Second)
	if got, _ := e.admin.GetItem(context.Background(), broken.ID); got.State != model.StateActive {
		t.Errorf("after fixing and retrying, the site is %s: %s", got.State, got.Message)
	}
}

func TestLabAgentKilledMidWorkConverges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.ferry("", "member", "add", "charlie")
	e.ferry("", "order", "add", "charlie.example", "--member", "charlie", "--host", "web2")
	for i := range 6 {
		e.ferry("", "item", "add", "charlie.example", "mysql-db", "--name", "charlie_"+itoa(int64(i)))
	}
	time.Sleep(300 * time.Millisecond)
	if err := e.lab.KillAgent(ctx, "web2"); err != nil {
		t.Fatal(err)
	}
	for i := 6; i < 9; i++ {
		e.ferry("", "item", "add", "charlie.example", "mysql-db", "--name", "charlie_"+itoa(int64(i)))
	}
	if err := e.lab.StartService(ctx, "web2", "agent"); err != nil {
		t.Fatal(err)
	}
	items := e.waitItems("charlie.example", 60*time.Second)
	dbs := e.mustOn("web2", "mariadb", "-N", "-e", "SHOW DATABASES")
	for _, it := range items {
		if it.State != model.StateActive {
			t.Errorf("item %d is %s after the agent restarted: %s", it.ID, it.State, it.Message)
		}
		if !strings.Contains(dbs, it.Spec.Name+"\n") {
			t.Errorf("database %s missing on web2", it.Spec.Name)
		}
	}
}

func (e *env) item(order string, k model.Kind) model.Item {
	e.t.Helper()
	items, err := e.admin.ListItems(context.Background(), api.ItemQuery{Order: order, Kind: string(k)})
	if err != nil || len(items) == 0 {
		e.t.Fatalf("no %s item in %s: %v", k, order, err)
	}
	return items[0]
}
