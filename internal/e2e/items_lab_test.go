//go:build lab

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"ferry/internal/labtest"
	"ferry/internal/model"
)

func TestLabEachItemKindBecomesReal(t *testing.T) {
	e := labtest.New(t)
	start := time.Now()
	dir := e.Site("alpha", "alpha.example", "alpha", "alpha_site")
	t.Logf("order with every item kind active on web1 in %s", time.Since(start).Round(time.Millisecond))

	if out := e.MustOn("web1", "getent", "passwd", "alpha"); !strings.Contains(out, dir+"/users/alpha") {
		t.Errorf("getent passwd alpha on web1 = %q, want its home under %s/users", out, dir)
	}
	if _, err := e.On("web2", "getent", "passwd", "alpha"); err == nil {
		t.Error("user alpha exists on web2 too")
	}
	if out := e.MustOn("web1", "mariadb", "-N", "-e", "SHOW DATABASES"); !strings.Contains(out, "alpha_site") {
		t.Errorf("SHOW DATABASES on web1 lacks alpha_site:\n%s", out)
	}
	if out := e.MustOn("web1", "runuser", "-u", "postgres", "--", "psql", "-lqt"); !strings.Contains(out, "alpha_site_pg") {
		t.Errorf("psql -l on web1 lacks alpha_site_pg:\n%s", out)
	}
	if out := e.MustOn("web1", "crontab", "-l", "-u", "alpha"); !strings.Contains(out, "*/10 * * * * php web/cron.php") {
		t.Errorf("crontab of alpha:\n%s", out)
	}
	page, err := e.Curl("web1", e.Addr("web1"), "www.alpha.example", "/")
	if err != nil || !strings.Contains(page, "hello from web1 as alpha") {
		t.Errorf("PHP page by Host header = %q, %v; want it to read its database and run as alpha", page, err)
	}
	if ans := e.MustOn("web1", "dig", "+short", "@"+e.Addr("dns1"), "www.alpha.example", "A"); strings.TrimSpace(ans) != e.Addr("web1") {
		t.Errorf("dns answer for www.alpha.example = %q", ans)
	}

	// Update: a new schedule replaces the line; what alpha wrote by hand stays.
	e.MustOn("web1", "sh", "-c", "(crontab -l -u alpha; echo '0 3 * * * echo by-hand') | crontab -u alpha -")
	job := e.Item("alpha.example", model.KindScheduledJob)
	e.Ferry("", "item", "update", itoa(job.ID), "--schedule", "@daily")
	e.WaitItems("alpha.example", 30*time.Second)
	cron := e.MustOn("web1", "crontab", "-l", "-u", "alpha")
	if !strings.Contains(cron, "@daily php web/cron.php") || strings.Contains(cron, "*/10") || !strings.Contains(cron, "echo by-hand") {
		t.Errorf("crontab after update:\n%s", cron)
	}

	// Delete: the database goes, nothing else does.
	pg := e.Item("alpha.example", model.KindPgSQLDB)
	e.Ferry("", "item", "delete", itoa(pg.ID))
	e.WaitItems("alpha.example", 30*time.Second)
	if out := e.MustOn("web1", "runuser", "-u", "postgres", "--", "psql", "-lqt"); strings.Contains(out, "alpha_site_pg") {
		t.Errorf("alpha_site_pg still exists after delete:\n%s", out)
	}
	if got, _ := e.Admin.GetItem(context.Background(), pg.ID); got.State != model.StateDeleted {
		t.Errorf("deleted item is %s", got.State)
	}
}

func TestLabBrokenSiteIsSoftErrorAndOthersKeepServing(t *testing.T) {
	e := labtest.New(t)
	e.Site("bravo", "bravo.example", "bravo", "bravo_site")
	// A stray broken file in Apache's config makes every configtest fail,
	// as a bad site would.
	e.WriteFile("web1", "/etc/apache2/conf-enabled/zz-broken.conf", "ThisIsNotADirective on\n", "")
	e.Ferry("pass-word-99\n", "item", "add", "bravo.example", "user-account", "--login", "bravo2", "--password-file", "-")
	e.WaitItems("bravo.example", 30*time.Second)
	e.Ferry("", "item", "add", "bravo.example", "web-conf", "--login", "bravo2", "--server-name", "shop.bravo.example")
	items := e.WaitItems("bravo.example", 30*time.Second)
	var broken model.Item
	for _, it := range items {
		if it.Kind == model.KindWebConf && it.Spec.ServerNames[0] == "shop.bravo.example" {
			broken = it
		}
	}
	if broken.State != model.StateSoftError || !strings.Contains(broken.Message, "configtest") {
		t.Fatalf("broken site is %s %q, want soft-error naming the configtest", broken.State, broken.Message)
	}
	if page, err := e.Curl("web1", e.Addr("web1"), "bravo.example", "/"); err != nil || !strings.Contains(page, "hello from web1") {
		t.Errorf("the other site stopped serving: %q %v", page, err)
	}
	e.MustOn("web1", "rm", "/etc/apache2/conf-enabled/zz-broken.conf")
	e.Ferry("", "item", "retry", itoa(broken.ID))
	e.WaitItems("bravo.example", 30*time.Second)
	if got, _ := e.Admin.GetItem(context.Background(), broken.ID); got.State != model.StateActive {
		t.Errorf("after fixing and retrying, the site is %s: %s", got.State, got.Message)
	}
}

func TestLabAgentKilledMidWorkConverges(t *testing.T) {
	e := labtest.New(t)
	ctx := context.Background()
	e.Ferry("", "member", "add", "charlie")
	e.Ferry("", "order", "add", "charlie.example", "--member", "charlie", "--host", "web2")
	for i := range 6 {
		e.Ferry("", "item", "add", "charlie.example", "mysql-db", "--name", "charlie_"+itoa(int64(i)))
	}
	time.Sleep(300 * time.Millisecond)
	if err := e.Lab.KillAgent(ctx, "web2"); err != nil {
		t.Fatal(err)
	}
	for i := 6; i < 9; i++ {
		e.Ferry("", "item", "add", "charlie.example", "mysql-db", "--name", "charlie_"+itoa(int64(i)))
	}
	if err := e.Lab.StartService(ctx, "web2", "agent"); err != nil {
		t.Fatal(err)
	}
	items := e.WaitItems("charlie.example", 60*time.Second)
	dbs := e.MustOn("web2", "mariadb", "-N", "-e", "SHOW DATABASES")
	for _, it := range items {
		if it.State != model.StateActive {
			t.Errorf("item %d is %s after the agent restarted: %s", it.ID, it.State, it.Message)
		}
		if !strings.Contains(dbs, it.Spec.Name+"\n") {
			t.Errorf("database %s missing on web2", it.Spec.Name)
		}
	}
}
