package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/pki"
	"ferry/internal/wire"
)

// serving is a control plane run by runServe in the test's process.
type serving struct {
	addr string
	stop func()
}

func serveWith(t *testing.T, opts serveOptions) serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	opts.listen = "127.0.0.1:0"
	opts.ready = func(a string) { ready <- a }
	g := &globals{stdout: io.Discard, stderr: io.Discard}
	go func() { done <- runServe(ctx, g, opts) }()
	select {
	case addr := <-ready:
		var once bool
		stop := func() {
			if !once {
				once = true
				cancel()
				<-done
			}
		}
		t.Cleanup(stop)
		return serving{addr: addr, stop: stop}
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	return serving{}
}

// run runs the CLI in-process and returns stdout, stderr and the exit code.
func run(args ...string) (string, string, int) {
	var out, errb strings.Builder
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := run(args...)
	if code != 0 {
		t.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func readToken(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestNodeJoinsOverPinnedTLS(t *testing.T) {
	clearEnv(t, "FERRY_CONFIG", "FERRY_CA_FILE", "FERRY_NODE_STATE", "FERRY_JOIN_TOKEN", "FERRY_TOKEN", "FERRY_TOKEN_FILE")
	data := t.TempDir()
	out := mustRun(t, "ca", "init", "--data", data, "--name", "ctl.test", "--address", "127.0.0.1")
	if !strings.Contains(out, "CA fingerprint (SHA-256): ") {
		t.Fatalf("ca init printed %q", out)
	}
	fp := strings.TrimSpace(out[strings.LastIndex(out, ": ")+2:])
	cp := serveWith(t, serveOptions{dataDir: data})
	server := "https://" + cp.addr
	admin := readToken(t, filepath.Join(data, "admin.token"))
	ca := filepath.Join(data, "pki", "ca.crt")
	as := []string{"--server", server, "--token", admin, "--ca-file", ca}

	// Without trusting the CA the CLI refuses the server.
	if _, errOut, code := run("--server", server, "--token", admin, "host", "list"); code == 0 || !strings.Contains(errOut, "certificate") {
		t.Errorf("host list without --ca-file: exit %d, %s; want a certificate error", code, errOut)
	}
	mustRun(t, append(as, "host", "add", "web1", "--address", "127.0.0.1", "--role", "web")...)
	tok := strings.TrimSpace(mustRun(t, append(as, "token", "create", "--role", "node", "--host", "web1", "--join")...))
	if secret, carried := wire.SplitJoinToken(tok); carried != fp || !strings.HasPrefix(secret, "fyj_") {
		t.Fatalf("join token %q does not carry the CA fingerprint %s", tok, fp)
	}
	if _, errOut, code := run(append(as, "token", "create", "--role", "member", "--member", "x", "--join")...); code != ExitUsage {
		t.Errorf("--join for a member token: exit %d (%s), want %d", code, errOut, ExitUsage)
	}

	// A fingerprint that is not the server's CA: refused before the
	// token is sent.
	other := t.TempDir()
	ores, err := pki.Init(other, pki.Options{Names: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := wire.SplitJoinToken(tok)
	state := t.TempDir()
	if _, errOut, code := run("--server", server, "node", "join", "--join-token", secret, "--ca-fingerprint", ores.Fingerprint, "--state", state); code == 0 || !strings.Contains(errOut, "pinned fingerprint") {
		t.Errorf("join pinned to another CA: exit %d, %s", code, errOut)
	}

	out = mustRun(t, "--server", server, "node", "join", "--join-token", tok, "--state", state)
	if !strings.Contains(out, "node of web1") || !strings.Contains(out, fp) {
		t.Errorf("node join printed %q", out)
	}
	for f, mode := range map[string]os.FileMode{nodeTokenFile: 0o600, enrolmentFile: 0o600, nodeCAFile: 0o644} {
		fi, err := os.Stat(filepath.Join(state, f))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v; want mode %v", f, err, fi.Mode().Perm(), mode)
		}
	}
	// Single use.
	if _, errOut, code := run("--server", server, "node", "join", "--join-token", tok, "--state", t.TempDir()); code != ExitNotAllowed || !strings.Contains(errOut, "was used") {
		t.Errorf("second join with one token: exit %d, %s; want %d, was used", code, errOut, ExitNotAllowed)
	}

	// ferry node, with no flags but its state directory, reaches the
	// control plane as web1 through the pinned CA.
	g := &globals{stdout: io.Discard, stderr: io.Discard, server: "http://127.0.0.1:7080", ops: opsFlags{sources: map[string]string{}}}
	c, err := g.nodeClient(nodeOptions{stateDir: state}, nil)
	if err != nil {
		t.Fatal(err)
	}
	who, err := c.WhoAmI(context.Background())
	if err != nil || who.Host != "web1" || who.Role != model.RoleNode || g.server != server {
		t.Fatalf("enrolled node: %+v, %v, server %s", who, err, g.server)
	}

	// The node's reports and heartbeats show in /metrics.
	ctx := context.Background()
	mustRun(t, append(as, "member", "add", "coop")...)
	mustRun(t, append(as, "order", "add", "coop.example", "--member", "coop", "--host", "web1")...)
	mustRun(t, append(as, "item", "add", "coop.example", "mysql-db", "--name", "coop_site")...)
	w, err := c.NodeWork(ctx, 0)
	if err != nil || len(w.Items) != 1 {
		t.Fatalf("node work: %+v, %v", w, err)
	}
	if _, err := c.ReportItem(ctx, w.Items[0].Item.ID, panel.Report{State: model.StateActive}); err != nil {
		t.Fatal(err)
	}
	if err := c.Heartbeat(ctx, model.Heartbeat{DiskFree: 1}); err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ClientConfig(ca)
	if err != nil {
		t.Fatal(err)
	}
	text := scrapeMetrics(t, server, cfg, readToken(t, filepath.Join(data, metricsTokenFile)))
	for _, want := range []string{
		`ferry_item_apply_results_total{kind="mysql-db",state="active"} 1`,
		`ferry_http_requests_total{code="200",method="POST",route="/api/v1/join"} 1`,
		`ferry_http_requests_total{code="401",method="POST",route="/api/v1/join"} 1`,
		`ferry_node_last_seen_timestamp_seconds{host="web1"} `,
		`ferry_build_info{role="serve",version="` + Version + `"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func scrapeMetrics(t *testing.T, server string, cfg *tls.Config, token string) string {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, server+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	return string(b)
}

func TestPlainHTTPToNonLoopbackRefused(t *testing.T) {
	clearEnv(t, "FERRY_CONFIG", "FERRY_INSECURE")
	// TEST-NET-1: never dialled, the refusal comes first.
	for _, args := range [][]string{
		{"--server", "http://192.0.2.1:7080", "--token", "fy_x", "order", "list"},
		{"--server", "http://192.0.2.1:7080", "--token", "fy_x", "node", "--state", t.TempDir()},
		{"--server", "http://192.0.2.1:7080", "node", "join", "--join-token", "fyj_x", "--state", t.TempDir()},
	} {
		_, errOut, code := run(args...)
		if code != ExitUsage || !strings.Contains(errOut, "clear text") || !strings.Contains(errOut, "--insecure") {
			t.Errorf("ferry %s: exit %d, %q; want %d and a refusal naming --insecure", strings.Join(args, " "), code, errOut, ExitUsage)
		}
	}
	// A fingerprint cannot pin plain http.
	_, errOut, code := run("--server", "http://127.0.0.1:1", "node", "join", "--join-token", "fyj_x."+strings.Repeat("ab", 32), "--state", t.TempDir())
	if code != ExitUsage || !strings.Contains(errOut, "plain http") {
		t.Errorf("join over http with a fingerprint: exit %d, %q", code, errOut)
	}
}

func TestBackupRestoreRoundTripSQLite(t *testing.T) {
	clearEnv(t, "FERRY_CONFIG", "FERRY_DB", "FERRY_DATA")
	src := t.TempDir()
	first := serveWith(t, serveOptions{dataDir: src})
	admin := readToken(t, filepath.Join(src, "admin.token"))
	as := []string{"--server", "http://" + first.addr, "--token", admin}
	seedOrders(t, as)
	want := mustRun(t, append(as, "order", "list", "--json")...)

	// Backed up while serve runs.
	file := filepath.Join(t.TempDir(), "ferry.backup")
	out := mustRun(t, "backup", file, "--data", src)
	if !strings.Contains(out, "backed up the sqlite store") {
		t.Errorf("backup printed %q", out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if _, errOut, code := run("backup", file, "--data", src); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("backup over an existing file: exit %d, %s", code, errOut)
	}
	mustRun(t, append(as, "member", "add", "after-backup")...)
	first.stop()

	dst := t.TempDir()
	mustRun(t, "restore", file, "--data", dst)
	second := serveWith(t, serveOptions{dataDir: dst})
	as2 := []string{"--server", "http://" + second.addr, "--token", admin}
	if got := mustRun(t, append(as2, "order", "list", "--json")...); got != want {
		t.Errorf("order list after restore:\n%s\nwant:\n%s", got, want)
	}
	if members := mustRun(t, append(as2, "member", "list")...); strings.Contains(members, "after-backup") {
		t.Error("the restored store holds a member made after the backup")
	}
	second.stop()

	// The source holds orders: restore refuses to replace it unforced.
	if _, errOut, code := run("restore", file, "--data", src); code != ExitRefused || !strings.Contains(errOut, "--force") {
		t.Errorf("restore over a store with orders: exit %d, %s; want %d naming --force", code, errOut, ExitRefused)
	}
	mustRun(t, "restore", file, "--data", src, "--force")
	third := serveWith(t, serveOptions{dataDir: src})
	as3 := []string{"--server", "http://" + third.addr, "--token", admin}
	if members := mustRun(t, append(as3, "member", "list")...); strings.Contains(members, "after-backup") {
		t.Error("a forced restore kept a member made after the backup")
	}
	if _, errOut, code := run("restore", filepath.Join(src, "admin.token"), "--data", t.TempDir()); code == 0 || !strings.Contains(errOut, "not a ferry backup") {
		t.Errorf("restore of a file that is no backup: exit %d, %s", code, errOut)
	}
}

// seedOrders makes hosts, members, orders and items through the CLI.
func seedOrders(t *testing.T, as []string) {
	t.Helper()
	mustRun(t, append(as, "host", "add", "web1", "--address", "127.0.1.11", "--role", "web")...)
	mustRun(t, append(as, "host", "add", "web2", "--address", "127.0.1.12", "--role", "web")...)
	for _, m := range []string{"alpha", "beta"} {
		mustRun(t, append(as, "member", "add", m)...)
		mustRun(t, append(as, "order", "add", m+".example", "--member", m, "--host", "web1")...)
		mustRun(t, append(as, "item", "add", m+".example", "mysql-db", "--name", m+"_db")...)
	}
	mustRun(t, append(as, "order", "add", "gamma.example", "--member", "beta", "--host", "web2")...)
	var orders []model.Order
	if err := json.Unmarshal([]byte(mustRun(t, append(as, "order", "list", "--json")...)), &orders); err != nil || len(orders) != 3 {
		t.Fatalf("seeded orders: %v, %v", orders, err)
	}
}
