//go:build lab

package web

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ferry/internal/model"
	"ferry/internal/panel"
)

// chromiumPath is Debian's chromium (scripts/ui-deps.sh installs it).
const chromiumPath = "/usr/bin/chromium"

// startChromium starts a headless chromium with a fresh profile for one
// test and returns a context for its first tab. Without chromium the test
// is skipped, or fails when FERRY_TEST_DISALLOW_SKIP=1.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	return startChromiumFor(t, 90*time.Second)
}

// startChromiumFor is startChromium for a test whose browser session may
// last up to d (one that waits for a real host).
func startChromiumFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("FERRY_TEST_DISALLOW_SKIP") == "1" {
			t.Fatalf("%s is missing (run scripts/ui-deps.sh): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing (run scripts/ui-deps.sh)", chromiumPath)
	}
	profile := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile),
	)
	ctx, cancelTab := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, d)
	// Cleanups run last-in first-out: the browser stops before its
	// profile directory is removed.
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// screenshotDir is test-artifacts/screenshots at the repository root.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	out := filepath.Join(dir, "test-artifacts", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser at %s: %v", loc, err)
	}
}

func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

// screenshot saves the whole page as dir/name.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// browserLogin opens the login page's API token form, fills it and waits
// for the orders page.
func browserLogin(t *testing.T, ctx context.Context, secret string) {
	t.Helper()
	do(t, ctx,
		chromedp.WaitVisible(chromedp.CSS("details.alt-login summary")),
		chromedp.Click(chromedp.CSS("details.alt-login summary")),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), secret),
		chromedp.Click(chromedp.CSS(`details.alt-login button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("form.search")),
	)
}

// browserPasswordLogin fills the login form with a login name and
// password and waits for the orders page.
func browserPasswordLogin(t *testing.T, ctx context.Context, login, password string) {
	t.Helper()
	do(t, ctx,
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), login),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("form.search")),
	)
}

func TestBrowserAdminFindsAnOrderAndAMemberSeesOnlyTheirOwn(t *testing.T) {
	f := newFixture(t)
	bg := context.Background()
	for _, hb := range []struct {
		host       string
		free, used int64
		load       float64
	}{
		{"web1", 61 << 30, 39 << 30, 0.31},
		{"web2", 7 << 30, 93 << 30, 1.72},
	} {
		c := panel.Caller{Name: "node-" + hb.host, Role: model.RoleNode, Host: hb.host}
		if err := f.panel.Heartbeat(bg, c, model.Heartbeat{DiskFree: hb.free, DiskUsed: hb.used, Load: hb.load}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := startChromium(t)
	shots := screenshotDir(t)
	alice := strconv.FormatInt(f.orders["alice.example"].ID, 10)
	bob := strconv.FormatInt(f.orders["bob.example"].ID, 10)

	// Anyone who is not logged in lands on the login form.
	do(t, ctx,
		chromedp.EmulateViewport(1280, 860),
		chromedp.Navigate(f.srv.URL+"/orders"),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	screenshot(t, ctx, shots, "login")
	browserLogin(t, ctx, f.admin)

	do(t, ctx, chromedp.Navigate(f.srv.URL+"/hosts"), chromedp.WaitVisible(chromedp.CSS("table.hosts")))
	hosts := text(t, ctx, "table.hosts tbody")
	if !strings.Contains(hosts, "nearly full") || !strings.Contains(hosts, "down") {
		t.Errorf("hosts page does not mark web2 nearly full and web3 down:\n%s", hosts)
	}
	screenshot(t, ctx, shots, "hosts")

	// Search, then open the order from the results.
	do(t, ctx,
		chromedp.Navigate(f.srv.URL+"/orders"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "alice"),
		chromedp.Click(chromedp.CSS(`form.search button`)),
		chromedp.WaitVisible(chromedp.CSS(`input#q[value="alice"]`)),
	)
	found := text(t, ctx, "table.orders tbody")
	if !strings.Contains(found, "shop.alice.example") || strings.Contains(found, "bob.example") {
		t.Errorf("search for alice found:\n%s", found)
	}
	screenshot(t, ctx, shots, "orders-search")

	do(t, ctx,
		chromedp.Click(chromedp.CSS(`table.orders a[href="/orders/`+alice+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.items")),
	)
	items := text(t, ctx, "table.items tbody")
	for _, want := range []string{"user-account", "web-conf", "alice.example,www.alice.example as alice", "mysql-db", "alice_wp", "pending-insert"} {
		if !strings.Contains(items, want) {
			t.Errorf("order page items lack %q:\n%s", want, items)
		}
	}
	if h := text(t, ctx, "main h1"); !strings.Contains(h, "alice.example") {
		t.Errorf("order page heading %q", h)
	}
	screenshot(t, ctx, shots, "order")
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("table.items")))
	screenshot(t, ctx, shots, "order-phone")
	do(t, ctx, chromedp.EmulateViewport(1280, 860), chromedp.Navigate(f.srv.URL+"/orders/"+alice+"/delete"), chromedp.WaitVisible(chromedp.ID("confirm")))
	screenshot(t, ctx, shots, "order-delete")

	// Log out, log in as alice.
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`form.who button`)),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	browserLogin(t, ctx, f.alice)
	mine := text(t, ctx, "table.orders tbody")
	if !strings.Contains(mine, "alice.example") || strings.Contains(mine, "bob.example") {
		t.Errorf("alice's orders:\n%s", mine)
	}
	do(t, ctx, chromedp.Navigate(f.srv.URL+"/orders/"+bob), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if h := text(t, ctx, "main h1"); h != "Not Found" {
		t.Errorf("alice opening bob's order sees %q, want Not Found", h)
	}
	if body := text(t, ctx, "body"); strings.Contains(body, "bob.example") {
		t.Errorf("alice's view of bob's order id names it:\n%s", body)
	}
	screenshot(t, ctx, shots, "member-other-order")
	do(t, ctx, chromedp.Navigate(f.srv.URL+"/orders/"+alice), chromedp.WaitVisible(chromedp.CSS("table.items")))
	if body := text(t, ctx, "main"); strings.Contains(body, "Delete order") {
		t.Error("a member's order page offers to delete it")
	}
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the browser test ran out of time")
	}
}
