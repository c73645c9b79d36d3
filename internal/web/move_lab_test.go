//go:build lab

package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ferry/internal/client"
	"ferry/internal/lab"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/wire"
)

// TestMain lets this package's lab tests share one lab with a control
// plane (ferry serve, with the UI) and node agents on web1 and web2.
func TestMain(m *testing.M) {
	lab.Main(m, lab.Config{Web: 2, ControlPlane: true})
}

// labSite makes a small site on web1 through the API: a Unix user, a
// MariaDB database with a table, a vhost with a static page, and an A
// record. It returns the order.
func labSite(t *testing.T, l *lab.Lab, admin *client.Client, member, domain string) model.Order {
	t.Helper()
	ctx := context.Background()
	web1, err := l.Host("web1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateMember(ctx, model.Member{Name: member, FriendlyName: "Web UI test"}); err != nil {
		t.Fatal(err)
	}
	o, err := admin.CreateOrder(ctx, model.Order{Identifier: domain, Member: member, Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	db := strings.ReplaceAll(member, "-", "_") + "_site"
	for _, in := range []panel.ItemInput{
		{Kind: model.KindUserAccount, Spec: model.Spec{Login: member, Password: "user-pass-1"}},
		{Kind: model.KindMySQLDB, Spec: model.Spec{Name: db}},
		{Kind: model.KindMySQLUser, Spec: model.Spec{Name: member, Password: "db-pass-123", Databases: []string{db}}},
		{Kind: model.KindWebConf, Spec: model.Spec{Login: member, ServerNames: []string{domain}}},
		{Kind: model.KindDNS, Spec: model.Spec{Type: model.RRA, Value: web1.Address, TTL: 600}},
	} {
		in.Order = domain
		if _, err := admin.CreateItem(ctx, in); err != nil {
			t.Fatalf("item %s: %v", in.Kind, err)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		items, err := admin.ListItems(ctx, wire.ItemQuery{Order: domain})
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, it := range items {
			if it.State == model.StateActive {
				active++
			} else if !it.State.Pending() {
				t.Fatalf("item %d (%s) is %s: %s", it.ID, it.Kind, it.State, it.Message)
			}
		}
		if active == len(items) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("items of %s not active after 90 s", domain)
		}
		time.Sleep(200 * time.Millisecond)
	}
	run := func(argv ...string) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if out, err := l.Run(rctx, "web1", argv...); err != nil {
			t.Fatalf("web1: %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	run("mariadb", db, "-e", "CREATE TABLE note (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT); INSERT INTO note (body) VALUES ('one'), ('two'), ('three');")
	page := o.Dir() + "/web/index.html"
	p, err := l.Path("web1", page)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("<html><head><title>"+domain+"</title></head><body>moved by the web UI</body></html>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("chown", member+":"+member, page)
	return o
}

// moveState reads the phase and status the move page shows ("" while the
// page reloads).
func moveState(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[string](`(function () {
		var p = document.querySelector('[data-field="phase"]'), s = document.querySelector('[data-field="status"]');
		return p && s ? p.textContent + "/" + s.textContent : "";
	})()`))
	if err != nil {
		return ""
	}
	return s
}

// waitMoveState waits until the move page shows one of want
// ("phase/status"); the page updates itself over server-sent events.
func waitMoveState(t *testing.T, ctx context.Context, within time.Duration, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		if s := moveState(ctx); s != "" {
			last = s
			for _, w := range want {
				if s == w {
					return s
				}
			}
			if strings.HasSuffix(s, "/failed") {
				msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#progress")))
				t.Fatalf("move failed (%s): %s", s, msg)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("the move page still shows %q after %s, want one of %v", last, within, want)
	return ""
}

// clickStep submits one of the move page's step forms, ticking its
// confirmation box when it has one, and waits for the page's answer: a
// "started" message, or the engine's refusal when refused is set.
func clickStep(t *testing.T, ctx context.Context, phase string, refused bool) {
	t.Helper()
	form := `form[action$="/` + phase + `"]`
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(form + ` button`))}
	if phase == "cutover" || phase == "cleanup" || phase == "abort" {
		steps = append(steps, chromedp.Click(chromedp.CSS(form+` input[name="confirm"]`)))
	}
	answer := "p.flash"
	if refused {
		answer = "main p.error"
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(form+` button`)), chromedp.WaitVisible(chromedp.CSS(answer)))
	do(t, ctx, steps...)
}

// TestBrowserMoveFromPlanToCleanup drives a move of a real site in
// the lab from the browser: plan, start, sync, verify (the report side by
// side), a cutover refused for the TTL wait, then forced (the freeze
// window), and a forced cleanup that ends the move.
func TestBrowserMoveFromPlanToCleanup(t *testing.T) {
	l := lab.ForTest(t)
	cp, token, admin := labAdmin(t, l)
	o := labSite(t, l, admin, "webui", "webui.lab.test")

	ctx := startChromium(t)
	shots := screenshotDir(t)
	do(t, ctx, chromedp.EmulateViewport(1280, 860), chromedp.Navigate(cp.URL+"/orders?q=webui.lab.test"))
	browserLogin(t, ctx, token)
	do(t, ctx,
		chromedp.WaitVisible(chromedp.CSS(`input#q[value="webui.lab.test"]`)),
		chromedp.Click(chromedp.CSS(`table.orders a`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/move"]`)),
		chromedp.Click(chromedp.CSS(`a[href$="/move"]`)),
		chromedp.WaitVisible(chromedp.ID("to")),
		chromedp.SetValue(chromedp.ID("to"), "web2"),
		chromedp.Click(chromedp.CSS(`form.search button`)),
		chromedp.WaitVisible(chromedp.CSS(`form.actions button`)),
	)
	plan := text(t, ctx, "main")
	for _, want := range []string{"Plan: web1 → web2", "webui_site", "webui.lab.test A", "600 s → 300 s"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "cannot start") {
		t.Fatalf("the plan refuses the move:\n%s", plan)
	}
	screenshot(t, ctx, shots, "move-plan")

	do(t, ctx, chromedp.Click(chromedp.CSS(`form.actions button`)), chromedp.WaitVisible(chromedp.ID("progress")))
	waitMoveState(t, ctx, 2*time.Minute, "prepare/succeeded")

	clickStep(t, ctx, "sync", false)
	waitMoveState(t, ctx, 3*time.Minute, "sync/succeeded")
	if syncs := text(t, ctx, "main"); !strings.Contains(syncs, "Syncs") || !strings.Contains(syncs, "copied") {
		t.Errorf("no sync report after the sync:\n%s", syncs)
	}

	clickStep(t, ctx, "verify", false)
	state := waitMoveState(t, ctx, 3*time.Minute, "verify/succeeded")
	report := text(t, ctx, "main")
	for _, want := range []string{"Verify", "web1 (old)", "web2 (new)", "webui_site.note", "webui.lab.test", "/etc/hosts"} {
		if !strings.Contains(report, want) {
			t.Errorf("verify report lacks %q", want)
		}
	}
	if !strings.Contains(report, "passed") {
		t.Errorf("verify did not pass (%s):\n%s", state, report)
	}
	screenshot(t, ctx, shots, "move-verify")

	// Cutover is refused until the old TTL (600 s) has run out; the page
	// says so.
	clickStep(t, ctx, "cutover", true)
	if msg := text(t, ctx, "main p.error"); !strings.Contains(msg, "TTL") {
		t.Errorf("cutover refusal says %q, want the TTL wait", msg)
	}
	screenshot(t, ctx, shots, "move-refused")

	// Forced, the cutover runs: the page shows the freeze window.
	do(t, ctx, chromedp.Click(chromedp.CSS(`form[action$="/cutover"] input[name="skip_ttl_wait"]`)))
	clickStep(t, ctx, "cutover", false)
	waitMoveState(t, ctx, 3*time.Minute, "cutover/succeeded")
	cut := text(t, ctx, "main")
	for _, want := range []string{"Freeze window", "DNS switched", "webui.lab.test A", "forced"} {
		if !strings.Contains(cut, want) {
			t.Errorf("cutover report lacks %q", want)
		}
	}
	screenshot(t, ctx, shots, "move-cutover")

	// Cleanup, forced past its TTL wait, ends the move with the order on
	// web2 and nothing left on web1.
	do(t, ctx, chromedp.Click(chromedp.CSS(`form[action$="/cleanup"] input[name="skip_ttl_wait"]`)))
	clickStep(t, ctx, "cleanup", false)
	waitMoveState(t, ctx, 3*time.Minute, "done/succeeded")
	if steps, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("form.phase") !== null`)); steps {
		t.Error("a finished move still offers steps")
	}
	moved, err := admin.GetOrder(context.Background(), o.Identifier)
	if err != nil || moved.Host != "web2" || moved.State != model.OrderActive {
		t.Errorf("after the move the order is %+v (%v), want active on web2", moved, err)
	}
	screenshot(t, ctx, shots, "move-done")
}

// labAdmin returns the lab's control plane, its admin token and a client
// holding that token.
func labAdmin(t *testing.T, l *lab.Lab) (*lab.ControlPlane, string, *client.Client) {
	t.Helper()
	cp := l.State().Control
	if cp == nil {
		t.Fatal("the lab runs no control plane")
	}
	secret, err := os.ReadFile(cp.AdminTokenPath)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(secret))
	admin, err := client.New(cp.URL, token, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cp, token, admin
}
