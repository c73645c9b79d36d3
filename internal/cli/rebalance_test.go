package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/rebalance"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int{"": 0, "500": 500, "500K": 500, "20M": 20 << 10, "1.5m": 1536, "1G": 1 << 20} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"fast", "-5", "100B"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) took it", in)
		}
	}
}

// A plan written to a file and applied through the CLI: the batch runs in
// the control plane, and its one move fails at verify (nothing answers
// HTTP on the fake nodes' addresses), which the command reports.
func TestRebalanceThroughTheCLI(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	s.admin(t, "host", "add", "web2", "--address", "127.0.1.12", "--role", "web", "--capacity", "100G")
	s.seed(t, "coop", "example.org")
	s.admin(t, "order", "add", "second.example", "--member", "coop", "--host", "web1")
	s.nodes(t, "web1", "web2", "dns1")
	s.admin(t, "item", "add", "example.org", "user-account", "--login", "coop")
	s.admin(t, "item", "add", "example.org", "web-conf", "--login", "coop", "--server-name", "example.org")
	s.admin(t, "item", "add", "second.example", "user-account", "--login", "second")
	// Once the nodes made the items and report, the order can move.
	deadline := time.Now().Add(10 * time.Second)
	for r := s.ferry(t, s.adminToken, "", "move", "plan", "example.org", "--to", "web2"); r.code != 0; r = s.ferry(t, s.adminToken, "", "move", "plan", "example.org", "--to", "web2") {
		if time.Now().After(deadline) {
			t.Fatalf("the move plan still refuses:\n%s", r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	file := filepath.Join(t.TempDir(), "plan.json")
	out := s.admin(t, "rebalance", "plan", "--by", "orders", "--out", file)
	for _, want := range []string{"rebalance by orders: 1 move(s)", "spread 2 → 0", "web1  active  ████████████ 2  ██████······ 1", "2 → 1   -1 ",
		"example.org  web1 → web2", "run it with: ferry rebalance apply " + file} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dns1") {
		t.Errorf("the plan shows the dns host:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"rebalance", "apply", file, "--skip-ttl-wait"}, ExitUsage, "give --auto-cutover too"},
		{[]string{"rebalance", "apply", file, "--force"}, ExitUsage, "give --auto-cutover too"}, // the old name still works
		{[]string{"rebalance", "apply", file, "--bwlimit", "fast"}, ExitUsage, "--bwlimit"},
		{[]string{"rebalance", "apply", filepath.Join(t.TempDir(), "none.json")}, ExitUsage, "read the plan"},
		{[]string{"rebalance", "plan", "--by", "weight"}, ExitRefused, "unknown metric"},
		{[]string{"host", "drain", "web9"}, ExitNotFound, "not found"},
		{[]string{"host", "retire", "web1"}, ExitRefused, "still holds"},
	} {
		if r := s.ferry(t, s.adminToken, "", tc.args...); r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("ferry %s: exit %d %q, want %d %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.msg)
		}
	}

	r := s.ferry(t, s.adminToken, "", "rebalance", "apply", file, "--concurrency", "1", "--bwlimit", "10M")
	if r.code != ExitError || !strings.Contains(r.stderr, "1 move(s) failed") || !strings.Contains(r.stdout, "verify found differences") {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bs := decode[[]rebalance.Batch](t, s.admin(t, "rebalance", "status", "--json"))
	if len(bs) != 1 || bs[0].BWLimit != 10<<10 || bs[0].State != rebalance.BatchFinished {
		t.Fatalf("batches: %+v", bs)
	}
	if out := s.admin(t, "rebalance", "status", bs[0].ID); !strings.Contains(out, "failed") || !strings.Contains(out, "web1 → web2") {
		t.Errorf("status:\n%s", out)
	}
	if out := s.admin(t, "rebalance", "cancel", bs[0].ID); !strings.Contains(out, "is finished") {
		t.Errorf("cancel of a finished batch:\n%s", out)
	}
}
