//go:build lab

package rebalance_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/lab"
	"ferry/internal/labtest"
	"ferry/internal/model"
)

// The drain test needs a third web host, so it has a lab of its own.
func TestMain(m *testing.M) {
	lab.Main(m, lab.Config{Web: 3, ControlPlane: true})
}

// Draining web1 moves its three orders to web2 and web3 through real
// moves, after which web1 holds nothing and can be retired.
func TestLabDrainEmptiesAHostAndRetiresIt(t *testing.T) {
	e := labtest.New(t)
	ctx := context.Background()
	type site struct{ member, domain, login, db, dir string }
	var sites []site
	for i := range 3 {
		s := site{member: fmt.Sprintf("drain%d", i), domain: fmt.Sprintf("drain%d.example", i), login: fmt.Sprintf("drain%d", i), db: fmt.Sprintf("drain%d_site", i)}
		s.dir = e.Site(s.member, s.domain, s.login, s.db)
		sites = append(sites, s)
	}
	if _, errOut, code := e.FerryCode("", "host", "retire", "web1"); code != 3 || !strings.Contains(errOut, "still holds") {
		t.Fatalf("retire of a host with orders: exit %d %q, want a refusal (3)", code, errOut)
	}
	plan := e.Ferry("", "host", "drain", "web1", "--dry-run")
	if !strings.Contains(plan, "drain web1: 3 move(s)") {
		t.Fatalf("drain plan:\n%s", plan)
	}
	if h, _ := e.Admin.GetHost(ctx, "web1"); h.State != model.HostActive {
		t.Fatalf("a dry run changed web1 to %s", h.State)
	}

	// For a test, the moves do not wait for the TTLs (--force).
	out := e.Ferry("", "host", "drain", "web1", "--concurrency", "2", "--auto-cutover", "--skip-ttl-wait")
	t.Logf("drain:\n%s", out)
	for _, want := range []string{"web1 is draining", "finished: 3 done", "web1 holds no active order now"} {
		if !strings.Contains(out, want) {
			t.Errorf("drain output lacks %q", want)
		}
	}
	if _, errOut, code := e.FerryCode("", "order", "add", "late.example", "--member", "drain0", "--host", "web1"); code != 3 || !strings.Contains(errOut, "draining") {
		t.Errorf("a new order on a draining host: exit %d %q", code, errOut)
	}

	var onto []string
	for _, s := range sites {
		o, err := e.Admin.GetOrder(ctx, s.domain)
		if err != nil {
			t.Fatal(err)
		}
		if o.Host != "web2" && o.Host != "web3" {
			t.Errorf("%s is on %s after the drain", s.domain, o.Host)
			continue
		}
		onto = append(onto, o.Host)
		for _, it := range e.WaitItems(s.domain, 30*time.Second) {
			if it.Kind.HostBound() && (it.Host != o.Host || it.State != model.StateActive) {
				t.Errorf("%s: item %d (%s) is %s on %s", s.domain, it.ID, it.Kind, it.State, it.Host)
			}
		}
		if page, err := e.Curl(o.Host, e.Addr(o.Host), s.domain, "/"); err != nil || !strings.Contains(page, "hello from "+o.Host) {
			t.Errorf("%s on %s answers %q %v", s.domain, o.Host, page, err)
		}
		e.WaitNothingOn("web1", s.login, s.db, s.dir)
	}
	if !slices.Contains(onto, "web2") || !slices.Contains(onto, "web3") {
		t.Errorf("the orders went to %v; want both web2 and web3 used", onto)
	}

	e.Ferry("", "host", "retire", "web1")
	if h, _ := e.Admin.GetHost(ctx, "web1"); h.State != model.HostRetired {
		t.Errorf("web1 is %s, want retired", h.State)
	}
}
