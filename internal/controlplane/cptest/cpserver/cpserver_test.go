package cpserver

import (
	"context"
	"testing"
	"time"

	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// eventually waits up to 10 seconds for ok.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// The kit's control plane serves the API with its tokens, and its fake
// node applies work as asked: at once, failed, or held until released.
func TestFakeNodeAppliesFailsAndHolds(t *testing.T) {
	ctx := context.Background()
	s := Start(t, Options{})
	if _, err := s.Admin.CreateHost(ctx, model.Host{Name: "web1", Addresses: []string{"127.0.1.11"}, Roles: []model.Role{model.RoleWeb}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CreateMember(ctx, model.Member{Name: "coop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CreateOrder(ctx, model.Order{Identifier: "example.org", Member: "coop", Host: "web1"}); err != nil {
		t.Fatal(err)
	}
	if who, err := s.Client(t, s.MemberToken(t, "coop")).WhoAmI(ctx); err != nil || who.Role != model.RoleMember {
		t.Fatalf("member token: %+v, %v", who, err)
	}
	n := s.Node(t, "web1", cptest.NodeOptions{})
	n.FailItems(model.KindMySQLDB, model.StateHardError, "disk on fire")
	release := n.HoldItems(model.KindWebConf)

	add := func(kind model.Kind, spec model.Spec) int64 {
		t.Helper()
		it, err := s.Admin.CreateItem(ctx, wire.ItemInput{Order: "example.org", Kind: kind, Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		return it.ID
	}
	state := func(id int64) model.State {
		it, err := s.Admin.GetItem(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return it.State
	}
	account := add(model.KindUserAccount, model.Spec{Login: "coop"})
	db := add(model.KindMySQLDB, model.Spec{Name: "coop_db"})
	site := add(model.KindWebConf, model.Spec{Login: "coop", ServerNames: []string{"example.org"}})
	eventually(t, "the account active", func() bool { return state(account) == model.StateActive })
	eventually(t, "the database failed", func() bool { return state(db) == model.StateHardError })
	time.Sleep(100 * time.Millisecond)
	if st := state(site); !st.Pending() {
		t.Fatalf("a held site is %s", st)
	}
	release()
	eventually(t, "the site active once released", func() bool { return state(site) == model.StateActive })
	if h, err := s.Admin.GetHost(ctx, "web1"); err != nil || h.DiskFree != 100<<30 {
		t.Errorf("web1 heartbeat: %+v, %v", h, err)
	}
}

// A clock of the kit moves only when told, or runs with real time from
// where it was advanced to.
func TestClock(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := cptest.FixedClock(at)
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(at.Add(time.Hour)) {
		t.Errorf("fixed clock reads %v, want %v", got, at.Add(time.Hour))
	}
	var r cptest.Clock
	r.Advance(48 * time.Hour)
	if d := time.Until(r.Now()); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("advanced real clock is %v ahead", d)
	}
}
