//go:build lab

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/labtest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

func TestLabMoveOrderEndToEnd(t *testing.T) {
	e := labtest.New(t)
	const domain = "echo.example"
	dir := e.MovableSite("echo", domain, "echo", "echo_site")
	e.MustOn("web1", "mariadb", "echo_site", "-e", "INSERT INTO greeting (msg) VALUES ('from before the move')")
	// A sparse file (64 MiB, one byte written) and a FIFO, which a move
	// must carry as they are.
	e.MustOn("web1", "sh", "-c", "truncate -s 64M "+dir+"/sparse.img && printf x | dd of="+dir+"/sparse.img bs=1 seek=1000000 conv=notrunc status=none && mkfifo "+dir+"/queue.fifo && chown echo: "+dir+"/sparse.img "+dir+"/queue.fifo")
	w := e.StartWriter("www." + domain)
	time.Sleep(500 * time.Millisecond)

	plan := e.Ferry("", "move", "plan", domain, "--to", "web2")
	if !strings.Contains(plan, "nothing stops the move") {
		t.Fatalf("move plan:\n%s", plan)
	}
	// Both nodes found the lab's PHP 8.2 and reported it; the site keeps it.
	if !strings.Contains(plan, "PHP 8.2 on web1 → PHP 8.2 on web2 (has 8.2)") {
		t.Errorf("move plan does not show the site's PHP on both hosts:\n%s", plan)
	}
	e.Ferry("", "move", "start", domain, "--to", "web2")
	// Prepare: the site still serves from web1, through a limbo order.
	if got := e.MustOn("web1", "getent", "passwd", "echo"); got == "" {
		t.Fatal("the limbo copy stopped existing on web1")
	}
	if ans := labtest.Answer(e.Ask("www."+domain, dns.TypeA)); ans != e.Addr("web1")+" ttl=300" {
		t.Errorf("after start, www answers %q, want web1 with ttl 300", ans)
	}
	e.Ferry("", "move", "sync", domain)
	e.MustOn("web1", "mariadb", "echo_site", "-e", "INSERT INTO greeting (msg) VALUES ('written between syncs')")
	e.Ferry("", "move", "sync", domain)
	report := e.Ferry("", "move", "verify", domain)
	if !strings.Contains(report, e.Addr("web2")+" "+domain) {
		t.Errorf("verify prints no /etc/hosts line for web2:\n%s", report)
	}
	if _, errOut, code := e.FerryCode("", "move", "cutover", domain); code != 3 || !strings.Contains(errOut, "TTL") {
		t.Errorf("cutover before the old TTL ran out: exit %d %q, want a TTL guard (3)", code, errOut)
	}
	cut := e.Ferry("", "move", "cutover", domain, "--skip-ttl-wait")
	t.Logf("cutover:\n%s", cut)
	if !strings.Contains(cut, "frozen for") {
		t.Errorf("cutover does not report the freeze window:\n%s", cut)
	}
	// web1 is frozen and proxies: what it holds now is the data at cutover.
	atCutover := map[string]string{
		"tree":     e.TreeSum("web1", dir+"/web"),
		"greeting": e.TableSum("web1", "echo_site", "greeting"),
	}
	oldRows := e.MustOn("web1", "mariadb", "-N", "echo_site", "-e", "SELECT n FROM writes ORDER BY n")
	time.Sleep(time.Second) // the writer goes on through the proxy and DNS
	acked, served := w.Finish()
	t.Logf("client: %d writes acknowledged, by address %v", len(acked), served)
	if len(acked) < 10 {
		t.Fatalf("the client made only %d writes", len(acked))
	}

	if _, errOut, code := e.FerryCode("", "move", "cleanup", domain); code != 3 {
		t.Errorf("cleanup right after cutover: exit %d %q, want a guard (3)", code, errOut)
	}
	e.Ferry("", "move", "cleanup", domain, "--skip-ttl-wait")

	// The data on web2 equals web1's at cutover, and no acknowledged write
	// was lost.
	if got := e.TreeSum("web2", dir+"/web"); got != atCutover["tree"] {
		t.Errorf("file tree on web2 differs from web1's at cutover")
	}
	if got := e.TableSum("web2", "echo_site", "greeting"); got != atCutover["greeting"] {
		t.Errorf("greeting table on web2 %s, web1 at cutover %s", got, atCutover["greeting"])
	}
	newRows := e.MustOn("web2", "mariadb", "-N", "echo_site", "-e", "SELECT n FROM writes ORDER BY n")
	have := map[string]bool{}
	for _, n := range strings.Fields(newRows) {
		have[n] = true
	}
	for _, n := range strings.Fields(oldRows) {
		if !have[n] {
			t.Errorf("row %s of web1 at cutover is missing on web2", n)
		}
	}
	for _, n := range acked {
		if !have[fmt.Sprint(n)] {
			t.Errorf("acknowledged write %d is lost", n)
		}
	}

	// The site answers from web2 through ferry's DNS, TTL restored.
	if ans := labtest.Answer(e.Ask("www."+domain, dns.TypeA)); ans != e.Addr("web2")+" ttl=1800" {
		t.Errorf("www answers %q, want web2 with its ttl 1800 restored", ans)
	}
	if who, err := e.Curl("web2", e.Addr("web2"), "www."+domain, "/who.php"); err != nil || who != "web2" {
		t.Errorf("site via web2 answers %q %v", who, err)
	}
	if cron := e.MustOn("web2", "crontab", "-l", "-u", "echo"); !strings.Contains(cron, "php web/cron.php") {
		t.Errorf("crontab on web2:\n%s", cron)
	}

	if out := strings.Fields(e.MustOn("web2", "stat", "-c", "%s %b %B", dir+"/sparse.img")); len(out) != 3 || out[0] != "67108864" || atoi(out[1]) < 0 || atoi(out[2]) <= 0 || atoi(out[1])*atoi(out[2]) > 1<<20 {
		t.Errorf("sparse file on web2 (size, blocks, block size) = %v; want 64 MiB with at most 1 MiB allocated", out)
	}
	if _, err := e.On("web2", "test", "-p", dir+"/queue.fifo"); err != nil {
		t.Errorf("the FIFO did not arrive on web2 as a FIFO: %v", err)
	}

	// web1 holds nothing of the order.
	e.WaitNothingOn("web1", "echo", "echo_site", dir)
	orders, err := e.Admin.ListOrders(context.Background(), wire.OrderQuery{Identifier: domain})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		if o.State == model.OrderTransferLimbo {
			t.Errorf("limbo order %d still there", o.ID)
		}
	}
	if keys, _ := e.On("web2", "cat", "/root/.ssh/authorized_keys"); strings.Contains(keys, "ferry-move") {
		t.Errorf("the move's key is still authorised on web2:\n%s", keys)
	}
}

func TestLabMoveAbortAfterSyncRestoresTheStart(t *testing.T) {
	e := labtest.New(t)
	const domain = "foxtrot.example"
	dir := e.MovableSite("foxtrot", domain, "foxtrot", "foxtrot_site")
	before := map[string]string{
		"tree":  e.TreeSum("web1", dir),
		"table": e.TableSum("web1", "foxtrot_site", "greeting"),
		"dns":   labtest.Answer(e.Ask("www."+domain, dns.TypeA)),
		"items": e.ItemStates(domain),
	}
	e.Ferry("", "move", "start", domain, "--to", "web2")
	e.Ferry("", "move", "sync", domain)
	e.Ferry("", "move", "abort", domain)

	e.WaitNothingOn("web2", "foxtrot", "foxtrot_site", dir)
	if got := e.TreeSum("web1", dir); got != before["tree"] {
		t.Error("web1's files changed")
	}
	if got := e.TableSum("web1", "foxtrot_site", "greeting"); got != before["table"] {
		t.Error("web1's table changed")
	}
	if got := labtest.Answer(e.Ask("www."+domain, dns.TypeA)); got != before["dns"] {
		t.Errorf("dns after abort %q, before %q", got, before["dns"])
	}
	if got := e.ItemStates(domain); got != before["items"] {
		t.Errorf("items after abort:\n%s\nbefore:\n%s", got, before["items"])
	}
	if page, err := e.Curl("web1", e.Addr("web1"), domain, "/"); err != nil || !strings.Contains(page, "welcome") {
		t.Errorf("site on web1 after abort: %q %v", page, err)
	}
	o, err := e.Admin.GetOrder(context.Background(), domain)
	if err != nil || o.Host != "web1" || o.State != model.OrderActive {
		t.Errorf("order after abort: %+v %v", o, err)
	}
}
