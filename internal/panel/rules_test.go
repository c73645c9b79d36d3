package panel_test

import (
	"context"
	"errors"
	"testing"

	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

var admin = panel.Caller{Name: "root", Role: model.RoleAdmin}

func memberOf(name string) panel.Caller {
	return panel.Caller{Name: name + "-token", Role: model.RoleMember, Member: name}
}

// world is a panel on a SQLite file with two members, each with an order
// on web1 and a login and a database in it.
type world struct {
	p        *panel.Panel
	ada, bob model.Order
	items    map[string]model.Item // by "member/kind"
}

func newWorld(t *testing.T) (context.Context, *world) {
	t.Helper()
	ctx := context.Background()
	w := &world{p: cptest.Panel(cptest.Store(t), nil), items: map[string]model.Item{}}
	for _, h := range []model.Host{
		{Name: "web1", Addresses: []string{"127.0.1.1"}, Roles: []model.Role{model.RoleWeb}},
		{Name: "web2", Addresses: []string{"127.0.1.2"}, Roles: []model.Role{model.RoleWeb}},
		{Name: "dns1", Addresses: []string{"127.0.1.3"}, Roles: []model.Role{model.RoleDNS}},
	} {
		if _, err := w.p.CreateHost(ctx, admin, h); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct{ member, order string }{{"ada", "ada.example"}, {"bob", "bob.example"}} {
		if _, err := w.p.CreateMember(ctx, admin, model.Member{Name: m.member, FriendlyName: m.member}); err != nil {
			t.Fatal(err)
		}
		o, err := w.p.CreateOrder(ctx, admin, model.Order{Identifier: m.order, Member: m.member, Host: "web1"})
		if err != nil {
			t.Fatal(err)
		}
		if m.member == "ada" {
			w.ada = o
		} else {
			w.bob = o
		}
		for _, in := range []panel.ItemInput{
			{Kind: model.KindUserAccount, Spec: model.Spec{Login: m.member, Password: "correct horse battery"}},
			{Kind: model.KindMySQLDB, Spec: model.Spec{Name: m.member + "_db"}},
		} {
			in.Order = o.Identifier
			it, err := w.p.CreateItem(ctx, admin, in)
			if err != nil {
				t.Fatalf("%s %s: %v", m.member, in.Kind, err)
			}
			w.items[m.member+"/"+string(in.Kind)] = it
		}
	}
	return ctx, w
}

// TestMemberReachesOnlyItsOwn: a member's token never reads, changes or
// claims another member's order, items or names; with its own it may.
func TestMemberReachesOnlyItsOwn(t *testing.T) {
	ctx, w := newWorld(t)
	bobAccount := w.items["bob/"+string(model.KindUserAccount)]
	adaAccount := w.items["ada/"+string(model.KindUserAccount)]
	for _, c := range []struct {
		name string
		do   func() error
		ok   bool
	}{
		{"read own order", func() error { _, err := w.p.GetOrder(ctx, memberOf("ada"), w.ada.Identifier); return err }, true},
		{"read other's order", func() error { _, err := w.p.GetOrder(ctx, memberOf("ada"), w.bob.Identifier); return err }, false},
		{"read own item", func() error { _, err := w.p.GetItem(ctx, memberOf("ada"), adaAccount.ID); return err }, true},
		{"read other's item", func() error { _, err := w.p.GetItem(ctx, memberOf("ada"), bobAccount.ID); return err }, false},
		{"change other's item", func() error {
			spec := bobAccount.Spec
			spec.Password = "a new long password"
			_, err := w.p.UpdateItem(ctx, memberOf("ada"), bobAccount.ID, spec)
			return err
		}, false},
		{"disable other's item", func() error {
			_, err := w.p.SetItemState(ctx, memberOf("ada"), bobAccount.ID, model.StateDisabled)
			return err
		}, false},
		{"add an item to other's order", func() error {
			_, err := w.p.CreateItem(ctx, memberOf("ada"), panel.ItemInput{Order: w.bob.Identifier, Kind: model.KindMySQLDB, Spec: model.Spec{Name: "ada_sneaky"}})
			return err
		}, false},
		{"claim other's login", func() error {
			_, err := w.p.CreateItem(ctx, admin, panel.ItemInput{Order: w.ada.Identifier, Kind: model.KindUserAccount, Spec: model.Spec{Login: "bob", Password: "correct horse battery"}})
			return err
		}, false},
		{"claim other's database name", func() error {
			_, err := w.p.CreateItem(ctx, admin, panel.ItemInput{Order: w.ada.Identifier, Kind: model.KindMySQLDB, Spec: model.Spec{Name: "bob_db"}})
			return err
		}, false},
		{"site under other's login", func() error {
			_, err := w.p.CreateItem(ctx, admin, panel.ItemInput{Order: w.ada.Identifier, Kind: model.KindWebConf, Spec: model.Spec{Login: "bob", ServerNames: []string{"ada.example"}}})
			return err
		}, false},
		{"grant on other's database", func() error {
			_, err := w.p.CreateItem(ctx, admin, panel.ItemInput{Order: w.ada.Identifier, Kind: model.KindMySQLUser, Spec: model.Spec{Name: "ada_u", Password: "another secret!", Databases: []string{"bob_db"}}})
			return err
		}, false},
		{"grant on own database", func() error {
			_, err := w.p.CreateItem(ctx, memberOf("ada"), panel.ItemInput{Order: w.ada.Identifier, Kind: model.KindMySQLUser, Spec: model.Spec{Name: "ada_u", Password: "another secret!", Databases: []string{"ada_db"}}})
			return err
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			t.Log(err)
			if !c.ok && err == nil {
				t.Fatal("allowed")
			}
		})
	}
	// Nothing of bob's changed.
	got, err := w.p.GetItem(ctx, admin, bobAccount.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != bobAccount.State || got.Spec.Password != bobAccount.Spec.Password {
		t.Errorf("bob's account changed: %s → %s", bobAccount.State, got.State)
	}
}

// TestItemsAreValidated: a spec that breaks a kind's rules is refused
// with the field named.
func TestItemsAreValidated(t *testing.T) {
	ctx, w := newWorld(t)
	for _, c := range []struct {
		name string
		kind model.Kind
		spec model.Spec
	}{
		{"account without login", model.KindUserAccount, model.Spec{Password: "correct horse battery"}},
		{"database without name", model.KindMySQLDB, model.Spec{}},
		{"job with a bad schedule", model.KindScheduledJob, model.Spec{Login: "ada", Schedule: "every day", Command: "true"}},
		{"dns record without type", model.KindDNS, model.Spec{FQDN: "ada.example", Value: "127.0.1.1", TTL: 3600}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := w.p.CreateItem(ctx, admin, panel.ItemInput{Order: w.ada.Identifier, Kind: c.kind, Spec: c.spec})
			t.Log(err)
			var fe *model.FieldError
			if !errors.As(err, &fe) && !errors.Is(err, panel.ErrRefused) {
				t.Fatalf("want a field error or a refusal, got %v", err)
			}
		})
	}
}

// TestStateTransitions: a caller may only move an item along the state
// machine; an unknown state is refused.
func TestStateTransitions(t *testing.T) {
	ctx, w := newWorld(t)
	it := w.items["ada/"+string(model.KindMySQLDB)]
	for _, c := range []struct {
		name string
		to   model.State
	}{
		{"unknown state", model.State("sleeping")},
		{"straight to deleted", model.StateDeleted},
		{"to active, which only a node reports", model.StateActive},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := w.p.SetItemState(ctx, admin, it.ID, c.to)
			t.Log(err)
			if err == nil {
				t.Fatalf("%s → %s allowed", it.State, c.to)
			}
		})
	}
}

// TestMoveOrderChangesAreAudited: the order changes a move makes in its
// own transaction (limbo order, new host, limbo retired) land together
// with their audit entries.
func TestMoveOrderChangesAreAudited(t *testing.T) {
	ctx, w := newWorld(t)
	var limbo model.Order
	err := w.p.Update(ctx, func(tx store.Tx) error {
		var err error
		if limbo, err = w.p.CreateLimboOrderTx(ctx, tx, admin, w.ada); err != nil {
			return err
		}
		o := w.ada
		if err := w.p.SetOrderHostTx(ctx, tx, admin, &o, "web2"); err != nil {
			return err
		}
		return w.p.RetireLimboOrderTx(ctx, tx, admin, &limbo)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.p.GetOrder(ctx, admin, w.ada.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != "web2" {
		t.Errorf("order host %q, want web2", got.Host)
	}
	entries, err := w.p.ListAudit(ctx, admin, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"order.create": false, "order.update": false, "order.delete": false}
	for _, e := range entries {
		if e.OrderID == limbo.ID || e.OrderID == w.ada.ID {
			if _, ok := want[e.Action]; ok && e.Actor == admin.Name {
				want[e.Action] = true
			}
		}
	}
	for a, seen := range want {
		if !seen {
			t.Errorf("no %s audit entry", a)
		}
	}
	if limbo.State != model.OrderDeleted {
		t.Errorf("limbo order is %s", limbo.State)
	}
}
