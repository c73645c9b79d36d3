package controlplane_test

import (
	"context"
	"testing"
	"time"

	"ferry/internal/controlplane"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store/storetest"
)

// Two control planes on one PostgreSQL store: an item made through one
// reaches the node long-polling the other at once, not when its poll
// times out.
func TestWakeupCrossesReplicas(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := storetest.PostgresURL(t)
	start := func() *controlplane.ControlPlane {
		cp, err := controlplane.Start(ctx, controlplane.Config{StoreURL: url, Log: cptest.Quiet()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cp.Close() })
		return cp
	}
	a, b := start(), start()
	admin := panel.System
	if _, err := a.Panel.CreateHost(ctx, admin, model.Host{Name: "web1", Addresses: []string{"192.0.2.1"}, Roles: []model.Role{model.RoleWeb}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Panel.CreateMember(ctx, admin, model.Member{Name: "m", FriendlyName: "M"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Panel.CreateOrder(ctx, admin, model.Order{Identifier: "example.test", Member: "m", Host: "web1"}); err != nil {
		t.Fatal(err)
	}
	node := panel.Caller{Name: "node-web1", Role: model.RoleNode, Host: "web1"}
	// Drain what there is, then long-poll replica b for a minute.
	if _, err := b.Panel.NodeWork(ctx, node, 0); err != nil {
		t.Fatal(err)
	}
	const poll = time.Minute
	got := make(chan []string, 1)
	began := time.Now()
	go func() {
		w, err := b.Panel.NodeWork(ctx, node, poll)
		if err != nil {
			t.Error(err)
		}
		var names []string
		for _, wi := range w.Items {
			names = append(names, wi.Item.Spec.Name)
		}
		got <- names
	}()
	time.Sleep(200 * time.Millisecond) // the poll waits by now, or sees the item at once: both pass
	if _, err := a.Panel.CreateItem(ctx, admin, panel.ItemInput{Order: "example.test", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "m_shop"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case names := <-got:
		if len(names) != 1 || names[0] != "m_shop" {
			t.Fatalf("the poll on the other replica got %v, want the new m_shop database", names)
		}
		if took := time.Since(began); took >= poll {
			t.Fatalf("the poll returned after %s, at its own end: no wake-up crossed", took)
		}
	case <-time.After(poll / 2):
		t.Fatalf("the node long-polling the other replica did not learn of the new item within %s", poll/2)
	}
}
