package panel_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// A hosting-order-access item lets another member's login read the order
// and manage its items, not the order's access or domains; it is active at
// once, goes to no host, and revoking it ends the access.
func TestOrderAccess(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := cptest.Panel(st, cptest.FixedClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)).Now)
	adm := panel.System
	for _, m := range []string{"alice", "bob", "carol"} {
		if _, err := p.CreateMember(ctx, adm, model.Member{Name: m}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.SetLoginPassword(ctx, adm, panel.LoginInput{Name: m, Role: model.RoleMember, Member: m, Password: "a long password"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.CreateHost(ctx, adm, model.Host{Name: "web1", Addresses: []string{"127.0.1.11"}}); err != nil {
		t.Fatal(err)
	}
	o, err := p.CreateOrder(ctx, adm, model.Order{Identifier: "alice.example", Member: "alice", Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	caller := func(name string) panel.Caller {
		c, err := p.PasswordLogin(ctx, name, "a long password", "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob, carol := caller("alice"), caller("bob"), caller("carol")
	db, err := p.CreateItem(ctx, alice, panel.ItemInput{Order: "alice.example", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "alice_db"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetOrder(ctx, bob, "alice.example"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob before access: %v, want not found", err)
	}
	var fe *model.FieldError
	for _, bad := range []string{"nobody", "alice"} {
		if _, err := p.CreateItem(ctx, alice, panel.ItemInput{Order: "alice.example", Kind: model.KindOrderAccess, Spec: model.Spec{Login: bad}}); !errors.As(err, &fe) || fe.Field != "spec.login" {
			t.Errorf("access for %q: %v, want a spec.login error", bad, err)
		}
	}
	grant, err := p.CreateItem(ctx, alice, panel.ItemInput{Order: "alice.example", Kind: model.KindOrderAccess, Spec: model.Spec{Login: "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if grant.State != model.StateActive || grant.Host != "" {
		t.Errorf("access item: state %s host %q, want active on no host", grant.State, grant.Host)
	}
	if _, err := p.CreateItem(ctx, alice, panel.ItemInput{Order: "alice.example", Kind: model.KindOrderAccess, Spec: model.Spec{Login: "bob"}}); err == nil {
		t.Error("bob was given access twice")
	}

	// bob reads the order, lists it and its items, and manages them.
	if _, err := p.GetOrder(ctx, bob, "alice.example"); err != nil {
		t.Fatalf("bob with access: %v", err)
	}
	os, err := p.ListOrders(ctx, bob, store.OrderFilter{})
	if err != nil || len(os) != 1 || os[0].ID != o.ID {
		t.Errorf("bob's orders: %+v, %v", os, err)
	}
	items, err := p.ListItems(ctx, bob, store.ItemFilter{OrderID: o.ID})
	if err != nil || len(items) != 2 {
		t.Errorf("bob lists %d items of the order (%v), want 2", len(items), err)
	}
	if _, err := p.CreateItem(ctx, bob, panel.ItemInput{Order: "alice.example", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "bob_adds"}}); err != nil {
		t.Errorf("bob adds an item: %v", err)
	}
	if _, err := p.GetItem(ctx, bob, db.ID); err != nil {
		t.Errorf("bob reads an item: %v", err)
	}
	// ... but not the access itself, nor the order's domains.
	if _, err := p.CreateItem(ctx, bob, panel.ItemInput{Order: "alice.example", Kind: model.KindOrderAccess, Spec: model.Spec{Login: "carol"}}); !errors.Is(err, panel.ErrForbidden) {
		t.Errorf("bob gives carol access: %v, want forbidden", err)
	}
	if _, err := p.SetItemState(ctx, bob, grant.ID, model.StatePendingDelete); !errors.Is(err, panel.ErrForbidden) {
		t.Errorf("bob revokes: %v, want forbidden", err)
	}
	if _, err := p.AddOrderDomain(ctx, bob, "alice.example", "alice.example.net"); err == nil {
		t.Error("bob added a domain to alice's order")
	}
	// carol still sees nothing.
	if _, err := p.GetItem(ctx, carol, db.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("carol reads alice's item: %v", err)
	}
	if items, _ := p.ListItems(ctx, carol, store.ItemFilter{OrderID: o.ID}); len(items) != 0 {
		t.Errorf("carol lists %d of alice's items", len(items))
	}

	// Revoking: deleted at once, and bob's access is gone.
	revoked, err := p.SetItemState(ctx, alice, grant.ID, model.StatePendingDelete)
	if err != nil || revoked.State != model.StateDeleted {
		t.Fatalf("revoke: %s, %v", revoked.State, err)
	}
	if _, err := p.GetOrder(ctx, bob, "alice.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob after revoking: %v, want not found", err)
	}
	if _, err := p.GetItem(ctx, bob, db.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob reads an item after revoking: %v", err)
	}
	if os, _ := p.ListOrders(ctx, bob, store.OrderFilter{}); len(os) != 0 {
		t.Errorf("bob still lists %d orders", len(os))
	}

	// Deleting the order deletes a live access item at once (no host
	// would ever report it).
	if _, err := p.CreateItem(ctx, alice, panel.ItemInput{Order: "alice.example", Kind: model.KindOrderAccess, Spec: model.Spec{Login: "carol"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DeleteOrder(ctx, adm, "alice.example"); err != nil {
		t.Fatal(err)
	}
	items, err = p.ListItems(ctx, adm, store.ItemFilter{OrderID: o.ID, Kind: model.KindOrderAccess})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.State != model.StateDeleted {
			t.Errorf("access for %s is %s after the order was deleted", it.Spec.Login, it.State)
		}
	}
}
