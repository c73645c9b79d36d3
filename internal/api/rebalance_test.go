package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"ferry/internal/client"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/rebalance"
)

// newRebalanceAPI serves the API with the rebalance runner (not started)
// over web1 holding two orders and an empty web2, both reporting.
func newRebalanceAPI(t *testing.T) (*httptest.Server, *client.Client, map[model.TokenRole]string) {
	t.Helper()
	ctx := context.Background()
	log := cptest.Quiet()
	p := cptest.Panel(cptest.SQLite(t), nil)
	eng, err := move.New(ctx, p, move.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rebalance.NewRunner(ctx, p, eng, rebalance.RunnerOptions{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(p, log)
	RegisterRebalance(s, r)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	secret, err := p.EnsureAdminToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := client.New(srv.URL, secret, client.Options{})
	tokens := map[model.TokenRole]string{model.RoleAdmin: secret}
	for i, h := range []string{"web1", "web2"} {
		if _, err := admin.CreateHost(ctx, model.Host{Name: h, Addresses: []string{"127.0.1.1" + string(rune('1'+i))}}); err != nil {
			t.Fatal(err)
		}
		nt, err := admin.CreateToken(ctx, TokenInput{Name: "node-" + h, Role: model.RoleNode, Host: h})
		if err != nil {
			t.Fatal(err)
		}
		node, _ := client.New(srv.URL, nt.Secret, client.Options{})
		if err := node.Heartbeat(ctx, model.Heartbeat{DiskUsed: int64(10-10*i) << 30, DiskFree: 50 << 30}); err != nil {
			t.Fatal(err)
		}
		tokens[model.RoleNode] = nt.Secret
	}
	if _, err := admin.CreateMember(ctx, model.Member{Name: "coop"}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"a.example", "b.example"} {
		if _, err := admin.CreateOrder(ctx, model.Order{Identifier: o, Member: "coop", Host: "web1"}); err != nil {
			t.Fatal(err)
		}
	}
	nt, err := admin.CreateToken(ctx, TokenInput{Name: "m", Role: model.RoleMember, Member: "coop"})
	if err != nil {
		t.Fatal(err)
	}
	tokens[model.RoleMember] = nt.Secret
	return srv, admin, tokens
}

func TestRebalanceIsForAdminsOnly(t *testing.T) {
	srv, _, tokens := newRebalanceAPI(t)
	calls := []struct{ method, path, body string }{
		{"GET", "/api/v1/rebalance/plan", ""},
		{"POST", "/api/v1/rebalance/batches", `{"plan": {"moves": []}}`},
		{"GET", "/api/v1/rebalance/batches", ""},
		{"GET", "/api/v1/rebalance/batches/b-0", ""},
		{"POST", "/api/v1/rebalance/batches/b-0/cancel", ""},
		{"POST", "/api/v1/hosts/web1/drain", `{}`},
	}
	for _, role := range []model.TokenRole{model.RoleMember, model.RoleNode} {
		for _, c := range calls {
			if status, e := rawCall(t, srv, tokens[role], c.method, c.path, c.body); status != http.StatusForbidden {
				t.Errorf("%s token: %s %s = %d %s, want 403", role, c.method, c.path, status, e.Code)
			}
		}
	}
}

func TestRebalanceThroughTheClient(t *testing.T) {
	_, admin, _ := newRebalanceAPI(t)
	ctx := context.Background()
	p, err := admin.PlanRebalance(ctx, rebalance.Options{By: rebalance.ByOrders})
	if err != nil || len(p.Moves) != 1 || p.Moves[0].To != "web2" {
		t.Fatalf("plan: %v %+v", err, p.Moves)
	}
	var ae *Error
	if _, err := admin.PlanRebalance(ctx, rebalance.Options{By: "weight"}); !errors.As(err, &ae) || ae.Field != "by" {
		t.Errorf("plan by weight: %v", err)
	}
	if _, err := admin.ApplyRebalance(ctx, rebalance.ApplyInput{Plan: p, ApplyOptions: rebalance.ApplyOptions{Force: true}}); !errors.As(err, &ae) || ae.Field != "force" {
		t.Errorf("force without auto-cutover: %v", err)
	}
	b, err := admin.ApplyRebalance(ctx, rebalance.ApplyInput{Plan: p, ApplyOptions: rebalance.ApplyOptions{Concurrency: 2}})
	if err != nil || b.State != rebalance.BatchRunning || len(b.Entries) != 1 || b.Concurrency != 2 {
		t.Fatalf("apply: %v %+v", err, b)
	}
	if got, err := admin.GetBatch(ctx, b.ID); err != nil || got.ID != b.ID {
		t.Errorf("get: %v", err)
	}
	if bs, err := admin.ListBatches(ctx); err != nil || len(bs) != 1 {
		t.Errorf("list: %v %d", err, len(bs))
	}
	if got, err := admin.CancelBatch(ctx, b.ID); err != nil || got.State != rebalance.BatchCancelled {
		t.Errorf("cancel: %v %s", err, got.State)
	}
	if _, err := admin.GetBatch(ctx, "b-nothing"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("unknown batch: %v", err)
	}

	d, err := admin.DrainHost(ctx, "web1", rebalance.DrainInput{})
	if err != nil || len(d.Entries) != 2 || d.Plan.Drain != "web1" {
		t.Fatalf("drain: %v %+v", err, d)
	}
	if h, _ := admin.GetHost(ctx, "web1"); h.State != model.HostDraining {
		t.Errorf("web1 is %s after drain", h.State)
	}
	if _, err := admin.CreateOrder(ctx, model.Order{Identifier: "c.example", Member: "coop", Host: "web1"}); !errors.As(err, &ae) || ae.Field != "host" {
		t.Errorf("a new order on a draining host: %v", err)
	}
	retired := model.HostRetired
	if _, err := admin.UpdateHost(ctx, "web1", panel.HostPatch{State: &retired}); !errors.As(err, &ae) || ae.Code != CodeRefused {
		t.Errorf("retire with orders on it: %v", err)
	}
	if _, err := admin.DrainHost(ctx, "web9", rebalance.DrainInput{}); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("drain of an unknown host: %v", err)
	}
}
