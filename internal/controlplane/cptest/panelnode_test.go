package cptest

import (
	"context"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
)

// A panel-side fake node applies its host's items, fails those it is told
// to, and goes on with the panel it is handed after a restart.
func TestPanelNode(t *testing.T) {
	ctx := context.Background()
	st := Store(t)
	p := Panel(st, nil)
	admin := panel.Caller{Name: "admin", Role: model.RoleAdmin}
	if _, err := p.CreateHost(ctx, admin, model.Host{Name: "web1", Addresses: []string{"127.0.1.11"}, Roles: []model.Role{model.RoleWeb}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateMember(ctx, admin, model.Member{Name: "coop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateOrder(ctx, admin, model.Order{Identifier: "example.org", Member: "coop", Host: "web1"}); err != nil {
		t.Fatal(err)
	}
	n := StartPanelNode(t, p, "web1", NodeOptions{Wait: 50 * time.Millisecond, DiskFree: 7 << 30})
	n.FailItems(model.KindMySQLDB, model.StateSoftError, "server away")
	add := func(kind model.Kind, spec model.Spec) int64 {
		t.Helper()
		it, err := p.CreateItem(ctx, admin, panel.ItemInput{Order: "example.org", Kind: kind, Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		return it.ID
	}
	waitState := func(p *panel.Panel, id int64, want model.State) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			it, err := p.GetItem(ctx, admin, id)
			if err != nil {
				t.Fatal(err)
			}
			if it.State == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("item %d is %s, want %s", id, it.State, want)
			}
		}
	}
	waitState(p, add(model.KindUserAccount, model.Spec{Login: "coop"}), model.StateActive)
	waitState(p, add(model.KindMySQLDB, model.Spec{Name: "coop_db"}), model.StateSoftError)
	if h, err := p.GetHost(ctx, admin, "web1"); err != nil || h.DiskFree != 7<<30 {
		t.Errorf("web1's heartbeat: %+v, %v", h, err)
	}

	again := Panel(st, nil)
	n.UsePanel(again)
	waitState(again, add(model.KindScheduledJob, model.Spec{Login: "coop", Schedule: "*/5 * * * *", Command: "true"}), model.StateActive)
}
