package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/rebalance"
)

// useRebalance serves a new UI with the move and rebalance pages; the
// runner is not started, so a batch stays as it was applied.
func (f *fixture) useRebalance() {
	f.t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := f.engine()
	r, err := rebalance.NewRunner(context.Background(), f.panel, eng, rebalance.RunnerOptions{Log: quiet})
	if err != nil {
		f.t.Fatal(err)
	}
	f.srv.Close()
	f.ui, err = New(f.panel, Options{Now: f.clock.Now, Log: quiet, Moves: eng, Rebalance: r})
	if err != nil {
		f.t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.ui)
	f.t.Cleanup(f.srv.Close)
}

func TestAdminSeesThePlanAsBarsAndRunsIt(t *testing.T) {
	f := newFixture(t)
	f.useRebalance()
	// web1 uses 60 GiB for its two orders, web2 10 GiB; web3 never reported.
	for h, used := range map[string]int64{"web1": 60 << 30, "web2": 10 << 30} {
		if err := f.panel.Heartbeat(context.Background(), panel.Caller{Role: model.RoleNode, Host: h}, model.Heartbeat{DiskUsed: used, DiskFree: 100<<30 - used}); err != nil {
			t.Fatal(err)
		}
	}
	b := f.browser()
	b.login(f.admin)
	if hosts := b.get("/hosts"); !strings.Contains(hosts.body, `href="/rebalance"`) {
		t.Error("no link to the rebalance page")
	}
	page := b.get("/rebalance")
	for _, want := range []string{
		`aria-label="web1: 60.0 GiB before, 30.0 GiB after"`, `aria-label="web2: 10.0 GiB before, 40.0 GiB after"`,
		"left out: its node is offline", "1 move(s), 30.0 GiB to copy", "web1 → web2", "Run these 1 moves",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("plan page lacks %q", want)
		}
	}
	csrf := formCSRF(t, page.body)

	// A plan the fleet no longer gives is not run.
	r := b.post("/rebalance", url.Values{"csrf": {csrf}, "by": {"disk"}, "plan": {"b-000000000000"}, "concurrency": {"2"}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "The hosts changed") {
		t.Errorf("stale plan: %d", r.status)
	}
	id := rebalancePlanID(t, page.body)
	r = b.post("/rebalance", url.Values{"csrf": {csrf}, "by": {"disk"}, "plan": {id}, "concurrency": {"2"}, "auto_cutover": {"yes"}})
	if r.status != http.StatusSeeOther || r.location != "/rebalance/batches/"+id {
		t.Fatalf("run: %d to %q\n%s", r.status, r.location, r.body)
	}
	batch := b.get(r.location)
	for _, want := range []string{"Batch " + id, "is running in the control plane", "2 at once", "cut over and cleaned up once its TTLs allow", `<progress max="1" value="0">`, "pending"} {
		if !strings.Contains(batch.body, want) {
			t.Errorf("batch page lacks %q", want)
		}
	}
	if list := b.get("/rebalance"); !strings.Contains(list.body, `href="/rebalance/batches/`+id+`"`) {
		t.Error("the plan page does not list the batch")
	}

	m := f.browser()
	m.login(f.alice)
	if r := m.get("/rebalance"); r.status != http.StatusForbidden {
		t.Errorf("a member sees the rebalance page: %d", r.status)
	}
}

func rebalancePlanID(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `name="plan" value="`)
	id, _, _ := strings.Cut(rest, `"`)
	if !ok || id == "" {
		t.Fatal("the plan page carries no plan id")
	}
	return id
}
