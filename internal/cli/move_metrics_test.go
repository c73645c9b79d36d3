package cli

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A move's phases, their results and what its sync sent show in /metrics.
func TestMoveMetrics(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	s.admin(t, "host", "add", "web2", "--address", "127.0.1.12", "--role", "web")
	s.seed(t, "coop", "example.org")
	s.nodes(t, "web1", "web2", "dns1")
	s.admin(t, "item", "add", "example.org", "user-account", "--login", "coop")
	s.admin(t, "item", "add", "example.org", "web-conf", "--login", "coop", "--server-name", "example.org")
	deadline := time.Now().Add(10 * time.Second)
	for r := s.ferry(t, s.adminToken, "", "move", "plan", "example.org", "--to", "web2"); r.code != 0; r = s.ferry(t, s.adminToken, "", "move", "plan", "example.org", "--to", "web2") {
		if time.Now().After(deadline) {
			t.Fatalf("the plan still refuses:\n%s", r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.admin(t, "move", "start", "example.org", "--to", "web2")
	s.admin(t, "move", "sync", "example.org")
	// Nothing answers HTTP on the lab addresses: verify fails.
	s.ferry(t, s.adminToken, "", "move", "verify", "example.org")

	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`ferry_move_phases_started_total{phase="prepare"} 1`,
		`ferry_move_phases_started_total{phase="sync"} 1`,
		`ferry_move_phases_total{phase="prepare",result="ok"} 1`,
		`ferry_move_phases_total{phase="sync",result="ok"} 1`,
		`ferry_move_phases_total{phase="verify",result="failed"} 1`,
		`ferry_move_phase_duration_seconds_count{phase="sync"} 1`,
		`ferry_move_synced_bytes_total 5.24288e+06`,
		`ferry_move_synced_files_total 12`,
		`ferry_item_apply_results_total{kind="web-conf",state="active"} `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
