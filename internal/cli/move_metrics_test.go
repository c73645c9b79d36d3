package cli

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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

	text := scrapeWithToken(t, s.url, s.dataDir)
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

// scrapeWithToken reads the control plane's /metrics with the token its
// data directory holds.
func scrapeWithToken(t *testing.T, url, dataDir string) string {
	t.Helper()
	return scrapeMetrics(t, url, nil, readToken(t, filepath.Join(dataDir, metricsTokenFile)))
}

// /metrics on the API's address answers only its own token; with
// --metrics-listen it is served there instead, without one.
func TestMetricsNeedTheirTokenOrTheirOwnAddress(t *testing.T) {
	s := startServer(t)
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	fi, err := os.Stat(filepath.Join(s.dataDir, metricsTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, want a file of mode 0600", metricsTokenFile, err)
	}
	for name, token := range map[string]string{"no token": "", "the admin token": s.adminToken, "a wrong token": "fym_wrong"} {
		if code, body := get(s.url+"/metrics", token); code != 401 || !strings.Contains(body, metricsTokenFile) {
			t.Errorf("/metrics with %s = %d %q, want 401 naming %s", name, code, body, metricsTokenFile)
		}
	}
	if text := scrapeWithToken(t, s.url, s.dataDir); !strings.Contains(text, "ferry_build_info") {
		t.Errorf("/metrics with its token lacks ferry_build_info:\n%.300s", text)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sep := serveWith(t, serveOptions{dataDir: t.TempDir(), ops: serveOps{metricsListen: addr}})
	if code, body := get("http://"+addr+"/metrics", ""); code != 200 || !strings.Contains(body, "ferry_build_info") {
		t.Errorf("/metrics on --metrics-listen = %d, want 200 with the metrics", code)
	}
	if code, _ := get("http://"+sep.addr+"/metrics", ""); code != 404 {
		t.Errorf("/metrics on the API's address with --metrics-listen = %d, want 404", code)
	}
}
