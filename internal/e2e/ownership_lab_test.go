//go:build lab

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"ferry/internal/client"
	"ferry/internal/labtest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// What the node would refuse is refused at the API, an item stuck in soft-
// or hard-error can be deleted, and an item whose host is down can be forgotten so
// that its order can go; once the host is back, forgotten work stays
// undone and the host holds nothing of the deleted order.
func TestLabStuckItemsCanGoAndBadOnesNeverArrive(t *testing.T) {
	e := labtest.New(t)
	ctx := context.Background()
	e.Ferry("", "member", "add", "juliet")
	e.Ferry("", "order", "add", "juliet.example", "--member", "juliet", "--host", "web2")
	e.Ferry(labtest.UserPassword+"\n", "item", "add", "juliet.example", "user-account", "--login", "juliet", "--password-file", "-")
	e.WaitItems("juliet.example", 30*time.Second)
	before := e.ItemStates("juliet.example")

	// A docroot that would break out of the vhost's quoted string.
	_, stderr, code := e.FerryCode("", "item", "add", "juliet.example", "web-conf", "--login", "juliet", "--server-name", "juliet.example", "--docroot", `web/x"y`)
	if code == 0 || !strings.Contains(stderr, "docroot") {
		t.Errorf("docroot with a quote: exit %d, stderr %q; want a refusal naming the docroot", code, stderr)
	}
	if after := e.ItemStates("juliet.example"); after != before {
		t.Errorf("a refused item changed the order: %s, was %s", after, before)
	}

	// An item in soft-error is deleted, and its vhost with it.
	e.WriteFile("web2", "/etc/apache2/conf-enabled/zz-broken.conf", "ThisIsNotADirective on\n", "")
	e.Ferry("", "item", "add", "juliet.example", "web-conf", "--login", "juliet", "--server-name", "juliet.example")
	site := e.Item("juliet.example", model.KindWebConf)
	for _, it := range e.WaitItems("juliet.example", 30*time.Second) {
		if it.ID == site.ID && it.State != model.StateSoftError {
			t.Fatalf("site on a broken Apache is %s: %s", it.State, it.Message)
		}
	}
	e.Ferry("", "item", "delete", itoa(site.ID))
	e.MustOn("web2", "rm", "/etc/apache2/conf-enabled/zz-broken.conf")
	e.WaitItems("juliet.example", 30*time.Second)
	if got, _ := e.Admin.GetItem(ctx, site.ID); got.State != model.StateDeleted {
		t.Errorf("deleted soft-error site is %s: %s", got.State, got.Message)
	}

	// The host goes down with work pending. One database fails as no retry
	// can fix (its node says hard-error) and is deleted; the other is
	// forgotten by the admin.
	if err := e.Lab.KillAgent(ctx, "web2"); err != nil {
		t.Fatal(err)
	}
	e.Ferry("", "item", "add", "juliet.example", "mysql-db", "--name", "juliet_broken")
	broken := e.Item("juliet.example", model.KindMySQLDB)
	nodeToken := strings.TrimSpace(e.MustOn("web2", "cat", "/etc/ferry-lab/node.token"))
	node, err := client.New(e.URL, nodeToken, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.ReportItem(ctx, broken.ID, wire.Report{State: model.StateHardError, Message: "disk controller gone"}); err != nil {
		t.Fatalf("web2 reports hard-error: %v", err)
	}
	e.Ferry("", "item", "delete", itoa(broken.ID))

	e.Ferry("", "item", "add", "juliet.example", "mysql-db", "--name", "juliet_never")
	pending, err := e.Admin.ListItems(ctx, wire.ItemQuery{Order: "juliet.example", States: []model.State{model.StatePendingInsert}})
	if err != nil || len(pending) != 1 || pending[0].Spec.Name != "juliet_never" {
		t.Fatalf("pending items: %v %v, want juliet_never alone", labtest.Describe(pending), err)
	}
	db := pending[0]
	if out := e.Ferry("", "item", "forget", itoa(db.ID)); !strings.Contains(out, "juliet_never") {
		t.Errorf("item forget printed %q, want it to name what may be left: the database juliet_never", out)
	}
	e.Ferry("", "order", "delete", "juliet.example")
	if err := e.Lab.StartService(ctx, "web2", "agent"); err != nil {
		t.Fatal(err)
	}
	e.WaitNothingOn("web2", "juliet", "juliet_never", model.OrderDir("juliet", "juliet.example"))
	if dbs := e.MustOn("web2", "mariadb", "-N", "-e", "SHOW DATABASES"); strings.Contains(dbs, "juliet_") {
		t.Errorf("web2 holds a database of the deleted order:\n%s", dbs)
	}
	if got, _ := e.Admin.GetItem(ctx, broken.ID); got.State != model.StateDeleted {
		t.Errorf("deleted hard-error item is %s: %s", got.State, got.Message)
	}
	if got, _ := e.Admin.GetItem(ctx, db.ID); got.State != model.StateDeleted || !strings.Contains(got.Message, "forgotten by") {
		t.Errorf("forgotten item is %s %q", got.State, got.Message)
	}
}
