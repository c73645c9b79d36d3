package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// itemsOf lists an order's items as the panel holds them.
func (f *fixture) itemsOf(identifier string) []model.Item {
	f.t.Helper()
	items, err := f.panel.ListItems(context.Background(), panel.System, store.ItemFilter{OrderID: f.orders[identifier].ID})
	if err != nil {
		f.t.Fatal(err)
	}
	return items
}

func findItem(items []model.Item, kind model.Kind, name string) (model.Item, bool) {
	for _, it := range items {
		if it.Kind == kind && it.Spec.Summary(kind) == name {
			return it, true
		}
	}
	return model.Item{}, false
}

// Every kind of the registry gets a form, with an input per field but
// password_hash, and every required field marked.
func TestEveryKindHasAForm(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.login(f.alice)
	list := b.get(f.orderPath("alice.example") + "/items/new")
	for _, k := range model.Kinds {
		if !strings.Contains(list.body, "?kind="+string(k)) {
			t.Errorf("the kind list lacks %s", k)
		}
		r := b.get(f.orderPath("alice.example") + "/items/new?kind=" + string(k))
		if r.status != http.StatusOK {
			t.Fatalf("%s form: %d", k, r.status)
		}
		for _, field := range model.KindInfoOf(k).Fields {
			if field == "password_hash" {
				if strings.Contains(r.body, `name="password_hash"`) {
					t.Errorf("%s form offers password_hash", k)
				}
				continue
			}
			if field == "https" {
				field = "https.source"
			}
			if !strings.Contains(r.body, fmt.Sprintf(`name="%s"`, field)) {
				t.Errorf("%s form lacks the field %s", k, field)
			}
		}
	}
}

func TestMemberAddsEditsAndDeletesItemsThroughForms(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.login(f.alice)
	order := f.orderPath("alice.example")

	r := b.post(order+"/items", url.Values{"csrf": {csrf}, "kind": {"mysql-db"}, "name": {"alice_shop"}})
	if r.status != http.StatusSeeOther || r.location != order {
		t.Fatalf("add mysql-db: %d to %q\n%s", r.status, r.location, r.body)
	}
	db, ok := findItem(f.itemsOf("alice.example"), model.KindMySQLDB, "alice_shop")
	if !ok || db.State != model.StatePendingInsert {
		t.Fatalf("mysql-db alice_shop: %+v", db)
	}
	r = b.post(order+"/items", url.Values{"csrf": {csrf}, "kind": {"mysql-user"}, "name": {"alice_shop"}, "password": {"a secret password"}, "databases": {"alice_shop, alice_wp"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("add mysql-user: %d\n%s", r.status, r.body)
	}
	user, ok := findItem(f.itemsOf("alice.example"), model.KindMySQLUser, "alice_shop on alice_shop,alice_wp")
	if !ok || user.Spec.PasswordHash == "" || user.Spec.Password != "" {
		t.Fatalf("mysql-user: %+v", user)
	}

	// A bad value: the panel's message sits beside the field, the form
	// keeps what was typed but never the password.
	r = b.post(order+"/items", url.Values{"csrf": {csrf}, "kind": {"mysql-user"}, "name": {"Bad Name!"}, "password": {"another secret"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="f-name-error"`) || !strings.Contains(r.body, `value="Bad Name!"`) {
		t.Fatalf("bad name: %d, want 422 with the error beside the name\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, "another secret") {
		t.Error("the refused form shows the password back")
	}
	r = b.post(order+"/items", url.Values{"csrf": {csrf}, "kind": {"dns"}, "fqdn": {"www.alice.example"}, "type": {"A"}, "value": {"1.2.3.4"}, "ttl": {"soon"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="f-ttl-error"`) {
		t.Fatalf("ttl not a number: %d\n%s", r.status, r.body)
	}

	// The node applies the database: the page's feed says so.
	f.report(db.ID, model.StateActive, "")
	states := b.get(order + "/items.json")
	var got []itemState
	if err := json.Unmarshal([]byte(states.body), &got); err != nil {
		t.Fatalf("items.json: %v\n%s", err, states.body)
	}
	seen := false
	for _, s := range got {
		if s.ID == db.ID {
			seen = s.State == "active" && s.Class == "ok"
		}
	}
	if !seen {
		t.Errorf("items.json after the node applied the database: %s", states.body)
	}

	// Edit: an identity field cannot change; a password left empty is kept.
	f.report(user.ID, model.StateActive, "")
	edit := b.get(fmt.Sprintf("/items/%d/edit", user.ID))
	if !strings.Contains(edit.body, `name="name" type="text" value="alice_shop" readonly`) {
		t.Errorf("edit form: the user's name is not read-only\n%s", edit.body)
	}
	if strings.Contains(edit.body, user.Spec.PasswordHash) {
		t.Error("the edit form shows the password hash")
	}
	hash := f.item(user.ID).Spec.PasswordHash
	r = b.post(fmt.Sprintf("/items/%d", user.ID), url.Values{"csrf": {csrf}, "name": {"alice_shop"}, "databases": {"alice_shop"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, r.body)
	}
	after := f.item(user.ID)
	if after.State != model.StatePendingUpdate || strings.Join(after.Spec.Databases, ",") != "alice_shop" || after.Spec.PasswordHash != hash {
		t.Errorf("after edit: %s %v, password kept %v", after.State, after.Spec.Databases, after.Spec.PasswordHash == hash)
	}
	r = b.post(fmt.Sprintf("/items/%d", user.ID), url.Values{"csrf": {csrf}, "name": {"other_name"}})
	if r.status == http.StatusSeeOther || f.item(user.ID).Spec.Name != "alice_shop" {
		t.Errorf("an identity change went through: %d", r.status)
	}

	// Disable, then delete; a soft error offers a retry.
	f.report(user.ID, model.StateActive, "")
	if r := b.post(fmt.Sprintf("/items/%d/state", user.ID), url.Values{"csrf": {csrf}, "action": {"disable"}}); r.status != http.StatusSeeOther || f.item(user.ID).State != model.StatePendingDisable {
		t.Fatalf("disable: %d %s", r.status, f.item(user.ID).State)
	}
	f.report(user.ID, model.StateDisabled, "")
	if r := b.post(fmt.Sprintf("/items/%d/state", user.ID), url.Values{"csrf": {csrf}, "action": {"delete"}}); r.status != http.StatusSeeOther || f.item(user.ID).State != model.StatePendingDelete {
		t.Fatalf("delete: %d %s", r.status, f.item(user.ID).State)
	}
	f.report(db.ID, model.StatePendingDelete, "")
	f.report(db.ID, model.StateSoftError, "DROP DATABASE failed: disk busy")
	page := b.get(order)
	if !strings.Contains(page.body, "disk busy") {
		t.Error("the order page lacks the soft error's message")
	}
	if r := b.post(fmt.Sprintf("/items/%d/state", db.ID), url.Values{"csrf": {csrf}, "action": {"retry"}}); r.status != http.StatusSeeOther || f.item(db.ID).State != model.StatePendingRestore {
		t.Fatalf("retry: %d %s", r.status, f.item(db.ID).State)
	}
	// Without the session's CSRF token nothing changes.
	if r := b.post(fmt.Sprintf("/items/%d/state", db.ID), url.Values{"action": {"retry"}}); r.status != http.StatusForbidden {
		t.Errorf("state change without csrf: %d", r.status)
	}
	if r := b.post(order+"/items", url.Values{"kind": {"mysql-db"}, "name": {"no_csrf"}}); r.status != http.StatusForbidden {
		t.Errorf("add without csrf: %d", r.status)
	}
}

// Another member's order and items answer 404 on every item page and
// action, and nothing of them shows or changes.
func TestItemPagesRefuseAnotherMembersOrder(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.login(f.bob)
	alice := f.itemsOf("alice.example")
	acc, _ := findItem(alice, model.KindUserAccount, "alice")
	order := f.orderPath("alice.example")
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", order, nil},
		{"GET", order + "/items/new", nil},
		{"GET", order + "/items/new?kind=mysql-db", nil},
		{"GET", order + "/items.json", nil},
		{"GET", fmt.Sprintf("/items/%d/edit", acc.ID), nil},
		{"POST", order + "/items", url.Values{"csrf": {csrf}, "kind": {"mysql-db"}, "name": {"bob_sneaks"}}},
		{"POST", fmt.Sprintf("/items/%d", acc.ID), url.Values{"csrf": {csrf}, "login": {"alice"}, "shell": {"/bin/sh"}}},
		{"POST", fmt.Sprintf("/items/%d/state", acc.ID), url.Values{"csrf": {csrf}, "action": {"delete"}}},
	} {
		var r response
		if tc.method == "GET" {
			r = b.get(tc.path)
		} else {
			r = b.post(tc.path, tc.form)
		}
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s as bob: %d, want 404", tc.method, tc.path, r.status)
		}
		if strings.Contains(r.body, "alice.example") || strings.Contains(r.body, "alice_wp") {
			t.Errorf("%s %s as bob shows alice's things", tc.method, tc.path)
		}
	}
	if got := f.itemsOf("alice.example"); len(got) != len(alice) {
		t.Errorf("alice's order has %d items after bob's tries, want %d", len(got), len(alice))
	}
	if it := f.item(acc.ID); it.State != acc.State || it.Spec.Shell != acc.Spec.Shell {
		t.Errorf("alice's account changed: %+v", it)
	}
}

func (f *fixture) item(id int64) model.Item {
	f.t.Helper()
	var it model.Item
	if err := f.panel.View(context.Background(), func(tx store.Tx) error {
		var err error
		it, err = tx.GetItem(context.Background(), id)
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return it
}

// report sets an item's state as its node would (through the panel's
// transition), or as the control plane would for pending-* states.
func (f *fixture) report(id int64, to model.State, msg string) {
	f.t.Helper()
	ctx := context.Background()
	it := f.item(id)
	if strings.HasPrefix(string(to), "pending-") {
		if _, err := f.panel.SetItemState(ctx, panel.System, id, to); err != nil {
			f.t.Fatal(err)
		}
		return
	}
	node := panel.Caller{Name: "node-" + it.Host, Role: model.RoleNode, Host: it.Host}
	if _, err := f.panel.ReportItem(ctx, node, id, panel.Report{State: to, Message: msg}); err != nil {
		f.t.Fatalf("report %d %s: %v", id, to, err)
	}
}

// An admin gives bob's login access to alice's order through the item
// form: bob then sees the order and can add to it; revoking ends it.
func TestAccessGivenThroughTheFormOpensTheOrder(t *testing.T) {
	f := newFixture(t)
	f.setPassword("bob", "bob", "bob's long password")
	bob := f.browser()
	if r := bob.passwordLogin("bob", "bob's long password", ""); r.status != http.StatusSeeOther {
		t.Fatalf("bob's login: %d", r.status)
	}
	order := f.orderPath("alice.example")
	if r := bob.get(order); r.status != http.StatusNotFound {
		t.Fatalf("bob before access: %d, want 404", r.status)
	}
	admin := f.browser()
	csrf := admin.login(f.admin)
	r := admin.post(order+"/items", url.Values{"csrf": {csrf}, "kind": {"hosting-order-access"}, "login": {"bob"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("give access: %d\n%s", r.status, r.body)
	}
	page := bob.get(order)
	if page.status != http.StatusOK || !strings.Contains(page.body, "alice_wp") || !strings.Contains(page.body, "Add an item") {
		t.Fatalf("bob with access: %d\n%s", page.status, page.body)
	}
	if list := bob.get("/orders"); !strings.Contains(list.body, "alice.example") {
		t.Error("bob's orders page lacks the shared order")
	}
	grantRow := page.body[strings.Index(page.body, "access for bob"):]
	grantRow = grantRow[:strings.Index(grantRow, "</tr>")]
	if strings.Contains(grantRow, "<button") || strings.Contains(grantRow, `<a href="/items/`) && !strings.Contains(grantRow, "hidden>Edit") {
		t.Errorf("bob is offered changes to his own access:\n%s", grantRow)
	}
	bobCSRF := formCSRF(t, page.body)
	if r := bob.post(order+"/items", url.Values{"csrf": {bobCSRF}, "kind": {"mysql-db"}, "name": {"alice_bob"}}); r.status != http.StatusSeeOther {
		t.Errorf("bob adds a database: %d\n%s", r.status, r.body)
	}
	grant, ok := findItem(f.itemsOf("alice.example"), model.KindOrderAccess, "access for bob")
	if !ok || grant.State != model.StateActive {
		t.Fatalf("access item: %+v", grant)
	}
	if r := admin.post(fmt.Sprintf("/items/%d/state", grant.ID), url.Values{"csrf": {csrf}, "action": {"delete"}}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}
	if r := bob.get(order); r.status != http.StatusNotFound || strings.Contains(r.body, "alice_wp") {
		t.Errorf("bob after revoking: %d, want 404 showing nothing", r.status)
	}
}

// The order page marks the buttons an item's state does not allow hidden,
// and the stylesheet makes hidden win over its inline display.
func TestOrderPageOffersOnlyWhatTheStateAllows(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.login(f.alice)
	db, _ := findItem(f.itemsOf("alice.example"), model.KindMySQLDB, "alice_wp")
	f.report(db.ID, model.StateActive, "")
	page := b.get(f.orderPath("alice.example")).body
	row := page[strings.Index(page, fmt.Sprintf(`data-item="%d"`, db.ID)):]
	row = row[:strings.Index(row, "</tr>")]
	for state, hidden := range map[string]bool{`data-states="active"`: false, `data-states="disabled"`: true, `data-states="soft-error"`: true, `data-states="active disabled"`: false} {
		i := strings.Index(row, state)
		if i < 0 {
			t.Fatalf("row lacks %s:\n%s", state, row)
		}
		tag := row[i : i+strings.Index(row[i:], ">")]
		if strings.Contains(tag, "hidden") != hidden {
			t.Errorf("%s of an active item: hidden=%v, want %v", state, !hidden, hidden)
		}
	}
	css := b.get("/static/style.css").body
	if !strings.Contains(css, "[hidden] { display: none !important; }") {
		t.Error("the stylesheet lets display rules override hidden")
	}
}
