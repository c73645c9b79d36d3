//go:build lab

package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ferry/internal/client"
	"ferry/internal/lab"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// A member logs in with a password, adds a database and its user through
// the forms and sees both go active on web1 without a reload; a bad value
// comes back beside its field; a second member cannot open the order by
// URL until an admin gives their login access, and then can.
func TestBrowserMemberManagesItemsOnARealHost(t *testing.T) {
	l := lab.ForTest(t)
	cp, token, admin := labAdmin(t, l)
	bg := context.Background()
	const (
		owner, other = "panelm", "panelx"
		domain       = "panelm.lab.test"
		pw1, pw2     = "owner's long password", "other's long password"
		db, dbUser   = "panelm_db", "panelm_app"
	)
	for m, pw := range map[string]string{owner: pw1, other: pw2} {
		if _, err := admin.CreateMember(bg, model.Member{Name: m}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.SetLoginPassword(bg, m, wire.LoginInput{Role: model.RoleMember, Member: m, Password: pw}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := admin.CreateOrder(bg, model.Order{Identifier: domain, Member: owner, Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	// The order is deleted at the end, and web1 then holds nothing of it.
	t.Cleanup(func() { removeOrder(t, l, admin, o) })
	orderURL := fmt.Sprintf("%s/orders/%d", cp.URL, o.ID)

	// The session waits for web1 to apply items: room for a loaded machine.
	ctx := startChromiumFor(t, 8*time.Minute)
	shots := screenshotDir(t)
	do(t, ctx, chromedp.EmulateViewport(1280, 860), chromedp.Navigate(cp.URL+"/login"))
	browserPasswordLogin(t, ctx, owner, pw1)

	// Add the database, then its user, through the kind's forms.
	do(t, ctx,
		chromedp.Navigate(orderURL),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/items/new"]`)),
		chromedp.Click(chromedp.CSS(`a[href$="/items/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="kind=mysql-db"]`)),
	)
	screenshot(t, ctx, shots, "item-kinds")
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`a[href$="kind=mysql-db"]`)),
		chromedp.WaitVisible(chromedp.ID("f-name")),
		chromedp.SendKeys(chromedp.ID("f-name"), db),
		chromedp.Submit(chromedp.ID("f-name")),
		chromedp.WaitVisible(chromedp.CSS("table.items")),
		chromedp.Navigate(orderURL+"/items/new?kind=mysql-user"),
		chromedp.WaitVisible(chromedp.ID("f-name")),
		chromedp.SendKeys(chromedp.ID("f-name"), dbUser),
		chromedp.SendKeys(chromedp.ID("f-password"), "app password 123"),
		chromedp.SendKeys(chromedp.ID("f-databases"), db),
	)
	screenshot(t, ctx, shots, "item-form")
	do(t, ctx, chromedp.Submit(chromedp.ID("f-name")), chromedp.WaitVisible(chromedp.CSS("table.items")))

	// Both go active on the page itself (no reload: the page's poll).
	deadline := time.Now().Add(120 * time.Second)
	for {
		rows := text(t, ctx, "table.items tbody")
		if strings.Count(rows, "active") >= 2 && !strings.Contains(rows, "pending") {
			break
		}
		if strings.Contains(rows, "error") {
			t.Fatalf("an item failed:\n%s", rows)
		}
		if time.Now().After(deadline) {
			t.Fatalf("items not active on the page after 120 s:\n%s", rows)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Only what an active item allows is offered: no Enable, no Retry.
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table.items tbody button, table.items tbody a")).filter(e => e.offsetParent !== null).map(e => e.textContent.trim())`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(shown, " "); got != "Edit Disable Delete Edit Disable Delete" {
		t.Errorf("buttons shown for two active items: %q", got)
	}
	screenshot(t, ctx, shots, "order-items-active")
	rctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	out, err := l.Run(rctx, "web1", "mariadb", "-N", "-e", "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name='"+db+"'; SELECT COUNT(*) FROM mysql.user WHERE user='"+dbUser+"'")
	if err != nil || strings.Fields(out)[0] != "1" || strings.Fields(out)[1] != "1" {
		t.Fatalf("web1 should hold database %s and user %s: %q %v", db, dbUser, out, err)
	}

	// A bad value: the panel's message beside the field that was wrong.
	items, err := admin.ListItems(bg, wire.ItemQuery{Order: domain})
	if err != nil {
		t.Fatal(err)
	}
	var userID int64
	for _, it := range items {
		if it.Kind == model.KindMySQLUser {
			userID = it.ID
		}
	}
	do(t, ctx,
		chromedp.Navigate(fmt.Sprintf("%s/items/%d/edit", cp.URL, userID)),
		chromedp.WaitVisible(chromedp.ID("f-databases")),
		chromedp.SetValue(chromedp.ID("f-databases"), "Not A Database!"),
		chromedp.Submit(chromedp.ID("f-databases")),
		chromedp.WaitVisible(chromedp.ID("f-databases-error")),
	)
	if msg := text(t, ctx, "#f-databases-error"); msg == "" {
		t.Error("the databases field's error is empty")
	}
	screenshot(t, ctx, shots, "item-field-error")
	do(t, ctx, chromedp.Navigate(cp.URL+"/account"), chromedp.WaitVisible(chromedp.ID("current_password")))
	screenshot(t, ctx, shots, "account")

	// The other member: the order's URL shows nothing of it.
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`form.who button`)),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	browserPasswordLogin(t, ctx, other, pw2)
	do(t, ctx, chromedp.Navigate(orderURL), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if h := text(t, ctx, "main h1"); h != "Not Found" {
		t.Errorf("%s opening %s's order sees %q, want Not Found", other, owner, h)
	}
	if body := text(t, ctx, "body"); strings.Contains(body, domain) || strings.Contains(body, db) {
		t.Errorf("the refused page names the order or its items:\n%s", body)
	}
	screenshot(t, ctx, shots, "member-order-refused")

	// An admin gives the other member's login access through the form.
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`form.who button`)),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	browserLogin(t, ctx, token)
	do(t, ctx,
		chromedp.Navigate(orderURL+"/items/new?kind=hosting-order-access"),
		chromedp.WaitVisible(chromedp.ID("f-login")),
		chromedp.SendKeys(chromedp.ID("f-login"), other),
	)
	screenshot(t, ctx, shots, "access-form")
	do(t, ctx, chromedp.Submit(chromedp.ID("f-login")), chromedp.WaitVisible(chromedp.CSS("table.items")))
	if rows := text(t, ctx, "table.items tbody"); !strings.Contains(rows, "access for "+other) {
		t.Fatalf("the order lacks the access item:\n%s", rows)
	}
	do(t, ctx, chromedp.Navigate(cp.URL+"/members"), chromedp.WaitVisible(chromedp.CSS("table.members")))
	screenshot(t, ctx, shots, "admin-members")
	do(t, ctx, chromedp.Navigate(cp.URL+"/tokens"), chromedp.WaitVisible(chromedp.CSS("table.tokens")))
	screenshot(t, ctx, shots, "admin-tokens")
	do(t, ctx, chromedp.Navigate(cp.URL+"/audit?member="+owner), chromedp.WaitVisible(chromedp.CSS("ol.audit")))
	screenshot(t, ctx, shots, "admin-audit")
	do(t, ctx, chromedp.Navigate(cp.URL+"/hosts"), chromedp.WaitVisible(chromedp.CSS("table.hosts")))
	screenshot(t, ctx, shots, "admin-hosts")

	do(t, ctx,
		chromedp.Click(chromedp.CSS(`form.who button`)),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	browserPasswordLogin(t, ctx, other, pw2)
	if rows := text(t, ctx, "table.orders tbody"); !strings.Contains(rows, domain) {
		t.Errorf("%s's orders lack the shared order:\n%s", other, rows)
	}
	do(t, ctx, chromedp.Navigate(orderURL), chromedp.WaitVisible(chromedp.CSS("table.items")))
	if h := text(t, ctx, "main h1"); !strings.Contains(h, domain) {
		t.Errorf("%s with access sees %q", other, h)
	}
	if rows := text(t, ctx, "table.items tbody"); !strings.Contains(rows, db) {
		t.Errorf("%s with access does not see the items:\n%s", other, rows)
	}
	screenshot(t, ctx, shots, "member-shared-order")
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("table.items")))
	screenshot(t, ctx, shots, "member-shared-order-phone")
}

// removeOrder deletes the test's order through the API, waits until its
// items are gone, and checks web1 keeps nothing of it.
func removeOrder(t *testing.T, l *lab.Lab, admin *client.Client, o model.Order) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := admin.DeleteOrder(ctx, fmt.Sprint(o.ID)); err != nil {
		t.Errorf("delete order %s: %v", o.Identifier, err)
		return
	}
	for {
		items, err := admin.ListItems(ctx, wire.ItemQuery{Order: fmt.Sprint(o.ID)})
		if err != nil {
			t.Errorf("items of %s: %v", o.Identifier, err)
			return
		}
		left := 0
		for _, it := range items {
			if it.State != model.StateDeleted {
				left++
			}
		}
		if left == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Errorf("%d items of %s not deleted after 2 min", left, o.Identifier)
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	out, err := l.Run(ctx, "web1", "mariadb", "-N", "-e", "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'panelm%'; SELECT COUNT(*) FROM mysql.user WHERE user LIKE 'panelm%'")
	if err != nil || strings.Join(strings.Fields(out), " ") != "0 0" {
		t.Errorf("web1 keeps databases or users of %s: %q %v", o.Identifier, out, err)
	}
}
