package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/api"
	"ferry/internal/cli"
	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// controlPlane is ferry's control plane in-process on a temporary SQLite
// store: the API with the move engine, as `ferry serve` wires them.
type controlPlane struct {
	t     *testing.T
	url   string
	admin string
	log   syncBuffer
	// web2Task is a task leased to web2 (prepareMove).
	web2Task int64
}

func newControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	cp := &controlPlane{t: t}
	log := slog.New(slog.NewTextHandler(&cp.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := panel.New(st, panel.Options{Log: log})
	if cp.admin, err = p.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	engine, err := move.New(ctx, p, move.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(p, log)
	api.RegisterMoves(srv, engine)
	hs := httptest.NewServer(srv)
	cp.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		_ = engine.Stop(context.Background())
		cancel()
		st.Close()
	})
	return cp
}

// prepareMove starts a move of order to web2 and plays the nodes of web1
// (old) and web2 (new) through prepare: heartbeats, the old host's key, the
// new host's host key.
func (cp *controlPlane) prepareMove(order, oldTok, newTok string) {
	cp.t.Helper()
	ctx := context.Background()
	nodes := map[string]*client.Client{}
	for h, tok := range map[string]string{"web1": oldTok, "web2": newTok} {
		c, err := client.New(cp.url, tok, client.Options{})
		if err != nil {
			cp.t.Fatal(err)
		}
		if err := c.Heartbeat(ctx, model.Heartbeat{DiskFree: 1 << 40}); err != nil {
			cp.t.Fatal(err)
		}
		nodes[h] = c
	}
	cp.must("move", "start", order, "--to", "web2", "--no-wait")
	results := map[string]any{
		model.TaskMoveKeygen:    model.MoveKeygenResult{PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOr+test ferry-move-1"},
		model.TaskMoveAuthorize: model.MoveAuthorizeResult{HostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHost"},
	}
	deadline := time.Now().Add(30 * time.Second)
	for done := 0; done < 2; {
		if time.Now().After(deadline) {
			cp.t.Fatalf("prepare did not hand out its tasks: %s", cp.must("move", "status", order))
		}
		for _, h := range []string{"web1", "web2"} {
			w, err := nodes[h].NodeWork(ctx, 0)
			if err != nil {
				cp.t.Fatal(err)
			}
			for _, task := range w.Tasks {
				res, _ := json.Marshal(results[task.Kind])
				if _, err := nodes[h].ReportTask(ctx, task.ID, panel.TaskReport{OK: true, Result: res}); err != nil {
					cp.t.Fatal(err)
				}
				done++
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for !strings.Contains(cp.must("move", "status", order, "--json"), `"status": "succeeded"`) {
		if time.Now().After(deadline) {
			cp.t.Fatalf("prepare did not succeed: %s", cp.must("move", "status", order))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A task of web2's, for a node that reports on another host's task.
	cp.must("order", "add", "spare.example", "--member", "coop", "--host", "web2")
	cp.must("order", "delete", "spare.example")
	w, err := nodes["web2"].NodeWork(ctx, 0)
	if err != nil || len(w.Tasks) != 1 {
		cp.t.Fatalf("no task for web2 after an order on it was deleted: %+v %v", w.Tasks, err)
	}
	cp.web2Task = w.Tasks[0].ID
}

// syncBuffer is a bytes.Buffer that goroutines may write to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ferry runs the CLI in-process with token.
func (cp *controlPlane) ferry(token, stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	full := append([]string{"--server", cp.url, "--token", token}, args...)
	code = cli.Run(context.Background(), full, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// must runs the CLI as the admin and fails the test on an error.
func (cp *controlPlane) must(args ...string) string {
	cp.t.Helper()
	out, errOut, code := cp.ferry(cp.admin, "", args...)
	if code != 0 {
		cp.t.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// call sends one raw API request and returns the status and the body.
func (cp *controlPlane) call(token, method, path, body string) (int, string) {
	cp.t.Helper()
	req, err := http.NewRequest(method, cp.url+path, strings.NewReader(body))
	if err != nil {
		cp.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cp.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// state is everything the store holds that an admin can read, as text:
// refused input must leave it as it was.
func (cp *controlPlane) state() string {
	cp.t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"member", "list"}, {"host", "list"}, {"order", "list"}, {"order", "list", "--state", "deleted"},
		{"item", "list"}, {"token", "list"}, {"move", "status"}, {"audit", "--limit", "100000"},
	} {
		fmt.Fprintf(&b, "== %s\n%s", strings.Join(args, " "), cp.must(append(args, "--json")...))
	}
	return b.String()
}

// badInput is one refused request: by the CLI (args) or the API (method,
// path, body), with the exit code or HTTP status it must get and words its
// error must hold (the field or the rule).
type badInput struct {
	name   string
	token  string // "admin", "member", "node", "revoked", "forged", "none"
	stdin  string
	args   []string
	method string
	path   string
	body   string
	want   int
	says   []string
}

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	cp := newControlPlane(t)
	cp.must("host", "add", "web1", "--address", "192.0.2.11", "--role", "web")
	cp.must("host", "add", "web2", "--address", "192.0.2.12", "--role", "web")
	cp.must("host", "add", "dns1", "--address", "192.0.2.53", "--role", "dns")
	cp.must("member", "add", "coop")
	cp.must("member", "add", "bob")
	cp.must("order", "add", "example.org", "--member", "coop", "--host", "web1")
	cp.must("order", "add", "bob.example", "--member", "bob", "--host", "web2")
	cp.must("item", "add", "example.org", "user-account", "--login", "exa", "--password", "Exa-pass-2024")
	cp.must("item", "add", "example.org", "mysql-db", "--name", "exa_site")
	cp.must("item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "example.org")
	cp.must("item", "add", "example.org", "dns", "--type", "A", "--value", "192.0.2.11")
	cp.must("item", "add", "bob.example", "mysql-db", "--name", "bob_site")
	tokens := map[string]string{"admin": cp.admin, "forged": "fy_" + strings.Repeat("x", 43), "none": ""}
	tokens["member"] = strings.TrimSpace(cp.must("token", "create", "--role", "member", "--member", "coop", "--name", "coop-member"))
	tokens["node"] = strings.TrimSpace(cp.must("token", "create", "--role", "node", "--host", "web1", "--name", "web1-node"))
	tokens["revoked"] = strings.TrimSpace(cp.must("token", "create", "--role", "admin", "--name", "gone"))
	cp.must("token", "revoke", "gone")
	// web1's node applied its items: they are active.
	var items []model.Item
	if err := json.Unmarshal([]byte(cp.must("item", "list", "--json")), &items); err != nil {
		t.Fatal(err)
	}
	nodeOf := map[string]string{"web1": tokens["node"], "dns1": strings.TrimSpace(cp.must("token", "create", "--role", "node", "--host", "dns1", "--name", "dns1-node"))}
	ids := map[string]int64{}
	for _, it := range items {
		ids[string(it.Kind)+" "+it.Host] = it.ID
		if it.OrderID != 1 { // example.org
			continue
		}
		if code, body := cp.call(nodeOf[it.Host], "POST", fmt.Sprintf("/api/v1/node/items/%d/report", it.ID), `{"state":"active"}`); code != 200 {
			t.Fatalf("report item %d active: %d %s", it.ID, code, body)
		}
	}
	userID, dnsID, bobDB := ids["user-account web1"], ids["dns dns1"], ids["mysql-db web2"]
	// A move of example.org to web2 is prepared: the test plays both nodes.
	tokens["web2"] = strings.TrimSpace(cp.must("token", "create", "--role", "node", "--host", "web2", "--name", "web2-node"))
	cp.prepareMove("example.org", tokens["node"], tokens["web2"])
	var limbo []model.Item
	if err := json.Unmarshal([]byte(cp.must("item", "list", "--state", "transfer-limbo", "--json")), &limbo); err != nil || len(limbo) == 0 {
		t.Fatalf("no limbo items after prepare: %v", err)
	}
	limboID := limbo[0].ID

	cases := []badInput{
		// Names with shell metacharacters.
		{name: "member name with a command substitution", args: []string{"member", "add", "$(reboot)"}, want: cli.ExitRefused, says: []string{"name"}},
		{name: "member name with a semicolon", args: []string{"member", "add", "a;rm -rf /"}, want: cli.ExitRefused, says: []string{"name"}},
		{name: "order identifier with a pipe", args: []string{"order", "add", "x.org|sh", "--member", "coop", "--host", "web1"}, want: cli.ExitRefused, says: []string{"identifier"}},
		{name: "login with backticks", args: []string{"item", "add", "example.org", "user-account", "--login", "a`id`"}, want: cli.ExitRefused, says: []string{"spec.login"}},
		{name: "database name with a quote and a statement", args: []string{"item", "add", "example.org", "mysql-db", "--name", "x'; DROP DATABASE mysql; --"}, want: cli.ExitRefused, says: []string{"spec.name"}},
		{name: "server name with a space and a directive", args: []string{"item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "a.org\nInclude /etc/shadow"}, want: cli.ExitRefused, says: []string{"spec.server_names"}},
		{name: "cron command with a newline (a second crontab line)", args: []string{"item", "add", "example.org", "scheduled-job", "--login", "exa", "--schedule", "@daily", "--command", "true\n* * * * * root rm -rf /"}, want: cli.ExitRefused, says: []string{"spec.command"}},
		{name: "dns TXT value with a newline", args: []string{"item", "add", "example.org", "dns", "--type", "TXT", "--value", "a\nevil IN A 192.0.2.66"}, want: cli.ExitRefused, says: []string{"spec.value"}},
		{name: "host name with a slash", args: []string{"host", "add", "../web3", "--address", "192.0.2.13"}, want: cli.ExitRefused, says: []string{"name"}},
		// Path traversal.
		{name: "docroot climbing out of the order directory", args: []string{"item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "shop.example.org", "--docroot", "../../../etc"}, want: cli.ExitRefused, says: []string{"spec.docroot"}},
		{name: "docroot as an absolute path", args: []string{"item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "shop.example.org", "--docroot", "/etc"}, want: cli.ExitRefused, says: []string{"spec.docroot"}},
		{name: "docroot with .. inside", args: []string{"item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "shop.example.org", "--docroot", "web/../../x"}, want: cli.ExitRefused, says: []string{"spec.docroot"}},
		{name: "order identifier as a path", args: []string{"order", "add", "../../etc/passwd", "--member", "coop", "--host", "web1"}, want: cli.ExitRefused, says: []string{"identifier"}},
		{name: "API path with an encoded traversal", method: "GET", path: "/api/v1/orders/..%2F..%2Fetc%2Fpasswd", want: 404, says: []string{"not_found"}},
		// Oversized fields.
		{name: "login of 300 characters", args: []string{"item", "add", "example.org", "user-account", "--login", strings.Repeat("a", 300)}, want: cli.ExitRefused, says: []string{"spec.login"}},
		{name: "database name over MariaDB's 64", args: []string{"item", "add", "example.org", "mysql-db", "--name", strings.Repeat("d", 65)}, want: cli.ExitRefused, says: []string{"spec.name"}},
		{name: "domain label over 63", args: []string{"order", "add", strings.Repeat("l", 64) + ".org", "--member", "coop", "--host", "web1"}, want: cli.ExitRefused, says: []string{"identifier"}},
		{name: "friendly name of 100 kB", method: "POST", path: "/api/v1/members", body: `{"name":"big","friendly_name":"` + strings.Repeat("x", 100000) + `"}`, want: 422, says: []string{"friendly_name"}},
		{name: "request body over 1 MiB", method: "POST", path: "/api/v1/members", body: `{"name":"huge","friendly_name":"` + strings.Repeat("x", 1<<20) + `"}`, want: 400, says: []string{"1 MiB"}},
		{name: "dns TTL too large", args: []string{"item", "add", "example.org", "dns", "--type", "A", "--value", "192.0.2.11", "--fqdn", "big.example.org", "--ttl", "2147483648"}, want: cli.ExitRefused, says: []string{"spec.ttl"}},
		// Wrong types.
		{name: "TTL that is not a number (CLI)", args: []string{"item", "add", "example.org", "dns", "--type", "A", "--value", "192.0.2.11", "--ttl", "soon"}, want: cli.ExitUsage, says: []string{"--ttl"}},
		{name: "TTL as a string (API)", method: "POST", path: "/api/v1/items", body: `{"order":"example.org","kind":"dns","spec":{"type":"A","value":"192.0.2.11","ttl":"3600"}}`, want: 400, says: []string{"spec.ttl", "number"}},
		{name: "identifier as a number", method: "POST", path: "/api/v1/orders", body: `{"identifier":42,"member":"coop","host":"web1"}`, want: 400, says: []string{"identifier", "string"}},
		{name: "unknown field", method: "POST", path: "/api/v1/orders", body: `{"identifier":"new.org","member":"coop","host":"web1","owner":"root"}`, want: 400, says: []string{"owner", "unknown field"}},
		{name: "malformed JSON", method: "POST", path: "/api/v1/orders", body: `{"identifier":`, want: 400, says: []string{"JSON"}},
		{name: "two JSON values in one body", method: "POST", path: "/api/v1/members", body: `{"name":"one"}{"name":"two"}`, want: 400, says: []string{"more than one JSON value"}},
		{name: "item id that is not a number", method: "GET", path: "/api/v1/items/abc", want: 400, says: []string{"id", "positive number"}},
		{name: "A record holding an IPv6 address", args: []string{"item", "add", "example.org", "dns", "--type", "A", "--value", "2001:db8::1"}, want: cli.ExitRefused, says: []string{"spec.value"}},
		{name: "cron schedule out of range", args: []string{"item", "add", "example.org", "scheduled-job", "--login", "exa", "--schedule", "61 * * * *", "--command", "true"}, want: cli.ExitRefused, says: []string{"spec.schedule"}},
		// Unknown enum values.
		{name: "unknown item kind", args: []string{"item", "add", "example.org", "ftp-account"}, want: cli.ExitUsage, says: []string{"kind"}},
		{name: "unknown dns type", args: []string{"item", "add", "example.org", "dns", "--type", "NAPTR", "--value", "x"}, want: cli.ExitRefused, says: []string{"spec.type"}},
		{name: "unknown host role", args: []string{"host", "add", "mail1", "--address", "192.0.2.25", "--role", "mail"}, want: cli.ExitRefused, says: []string{"role"}},
		{name: "unknown token role", args: []string{"token", "create", "--role", "root"}, want: cli.ExitRefused, says: []string{"role"}},
		{name: "unknown item state in a query", method: "GET", path: "/api/v1/items?state=haunted", want: 400, says: []string{"state", "haunted"}},
		{name: "unknown move phase", method: "POST", path: "/api/v1/moves/1/teleport", want: 422, says: []string{"phase", "teleport"}},
		{name: "the old single force", method: "POST", path: "/api/v1/moves/1/cutover", body: `{"force":true}`, want: 422, says: []string{"force", "skip_ttl_wait", "accept_verify_differences"}},
		{name: "skipping a TTL wait of a phase that has none", method: "POST", path: "/api/v1/moves/1/sync", body: `{"skip_ttl_wait":true}`, want: 422, says: []string{"skip_ttl_wait"}},
		// Duplicates.
		{name: "a database the order has already", args: []string{"item", "add", "example.org", "mysql-db", "--name", "exa_site"}, want: cli.ExitRefused, says: []string{"exa_site"}},
		{name: "a database another order has", args: []string{"item", "add", "example.org", "mysql-db", "--name", "bob_site"}, want: cli.ExitRefused, says: []string{"bob_site"}},
		{name: "a second order of the same domain", args: []string{"order", "add", "example.org", "--member", "bob", "--host", "web2"}, want: cli.ExitRefused, says: []string{"example.org"}},
		{name: "a member that exists", args: []string{"member", "add", "coop"}, want: cli.ExitRefused, says: []string{"coop"}},
		// Rules and illegal state transitions.
		{name: "a system account", args: []string{"item", "add", "example.org", "user-account", "--login", "root"}, want: cli.ExitRefused, says: []string{"spec.login", "system account"}},
		{name: "a server database", args: []string{"item", "add", "example.org", "mysql-db", "--name", "mysql"}, want: cli.ExitRefused, says: []string{"spec.name"}},
		{name: "a site running as another order's account", args: []string{"item", "add", "bob.example", "web-conf", "--login", "exa", "--server-name", "bob.example"}, want: cli.ExitRefused, says: []string{"spec.login"}},
		{name: "retry of an item its node has yet to apply", args: []string{"item", "retry", fmt.Sprint(dnsID)}, want: cli.ExitRefused, says: []string{`"pending-update"`, `"pending-restore"`}},
		{name: "retry of an item the move froze", args: []string{"item", "retry", fmt.Sprint(userID)}, want: cli.ExitRefused, says: []string{"transfer-limbo"}},
		{name: "a node reporting deleted for a frozen item", token: "node", method: "POST", path: fmt.Sprintf("/api/v1/node/items/%d/report", userID), body: `{"state":"deleted"}`, want: 409, says: []string{`\"transfer-limbo\" to \"deleted\"`}},
		{name: "an order for a member that does not exist", args: []string{"order", "add", "new.org", "--member", "nobody", "--host", "web1"}, want: cli.ExitRefused, says: []string{"member"}},
		{name: "an order on a dns host", args: []string{"order", "add", "new.org", "--member", "coop", "--host", "dns1"}, want: cli.ExitRefused, says: []string{"host"}},
		{name: "a node token without a host", args: []string{"token", "create", "--role", "node"}, want: cli.ExitRefused, says: []string{"host"}},
		{name: "move to the host the order is on", args: []string{"move", "start", "bob.example", "--to", "web2"}, want: cli.ExitRefused, says: []string{"already lives on web2"}},
		{name: "move to a host that does not exist", args: []string{"move", "start", "bob.example", "--to", "web9"}, want: cli.ExitNotFound, says: []string{"web9", "does not exist"}},
		{name: "move to a dns host", args: []string{"move", "start", "bob.example", "--to", "dns1"}, want: cli.ExitRefused, says: []string{"dns1 has no web role"}},
		{name: "cutover of an order that is not moving", args: []string{"move", "cutover", "bob.example"}, want: cli.ExitNotFound, says: []string{"bob.example", "no move"}},
		{name: "a second move of an order being moved", args: []string{"move", "start", "example.org", "--to", "web2"}, want: cli.ExitRefused, says: []string{"already"}},
		{name: "verify before any sync", args: []string{"move", "verify", "example.org"}, want: cli.ExitRefused, says: []string{"not synced"}},
		{name: "cutover before verify", args: []string{"move", "cutover", "example.org", "--skip-ttl-wait"}, want: cli.ExitRefused, says: []string{"verif"}},
		{name: "cleanup before cutover", args: []string{"move", "cleanup", "example.org", "--skip-ttl-wait"}, want: cli.ExitRefused, says: []string{"cut over"}},
		{name: "changing an item of the limbo order", args: []string{"item", "update", fmt.Sprint(limboID), "--shell", "/bin/sh"}, want: cli.ExitRefused, says: []string{"limbo"}},
		{name: "disabling an item of the limbo order", args: []string{"item", "disable", fmt.Sprint(limboID)}, want: cli.ExitRefused, says: []string{"transfer-limbo"}},
		// Tokens.
		{name: "a revoked token", token: "revoked", args: []string{"member", "list"}, want: cli.ExitNotAllowed, says: []string{"revoked"}},
		{name: "a forged token", token: "forged", args: []string{"order", "list"}, want: cli.ExitNotAllowed, says: []string{"token"}},
		{name: "no token at all", token: "none", method: "GET", path: "/api/v1/orders", want: 401, says: []string{"Bearer"}},
		{name: "a member token starting a move", token: "member", args: []string{"move", "start", "example.org", "--to", "web2"}, want: cli.ExitNotAllowed, says: []string{"member"}},
		{name: "a member token reading another member's order", token: "member", args: []string{"order", "show", "bob.example"}, want: cli.ExitNotFound, says: []string{"bob.example"}},
		{name: "a member token adding to another member's order", token: "member", args: []string{"item", "add", "bob.example", "mysql-db", "--name", "stolen"}, want: cli.ExitNotFound, says: []string{"bob.example", "not found"}},
		{name: "a member token deleting another member's item", token: "member", args: []string{"item", "delete", fmt.Sprint(bobDB)}, want: cli.ExitNotFound, says: []string{"item"}},
		{name: "a member token making a token", token: "member", args: []string{"token", "create", "--role", "admin"}, want: cli.ExitNotAllowed, says: []string{"only admins"}},
		{name: "a member token adding a host", token: "member", args: []string{"host", "add", "web3", "--address", "192.0.2.13"}, want: cli.ExitNotAllowed, says: []string{"only admins"}},
		{name: "a node token listing orders", token: "node", args: []string{"order", "list"}, want: cli.ExitNotAllowed, says: []string{"node"}},
		{name: "a node token starting a move", token: "node", method: "POST", path: "/api/v1/moves", body: `{"order":"example.org","to":"web2"}`, want: 403, says: []string{"node"}},
		{name: "a node token reporting another host's item", token: "node", method: "POST", path: fmt.Sprintf("/api/v1/node/items/%d/report", dnsID), body: `{"state":"active"}`, want: 403, says: []string{"not on host"}},
		{name: "a node token reading another host's item", token: "node", method: "GET", path: fmt.Sprintf("/api/v1/items/%d", bobDB), want: 403, says: []string{"not on host"}},
		{name: "a node token asking for another host's dns data gets its own (none)", token: "node", method: "GET", path: "/api/v1/node/dns?host=dns1", want: 200, says: []string{"[]"}},
		{name: "a node token reporting on another host's task", token: "node", method: "POST", path: fmt.Sprintf("/api/v1/node/tasks/%d/report", cp.web2Task), body: `{"ok":true}`, want: 403, says: []string{"not for host"}},
	}
	secret := []string{"Exa-pass-2024"}
	for _, tok := range tokens {
		if len(tok) > 8 {
			secret = append(secret, tok)
		}
	}
	var said strings.Builder
	var rows []string
	before := cp.state()
	for _, c := range cases {
		tok := tokens[c.token]
		if c.token == "" {
			tok = cp.admin
		}
		var got int
		var says string
		if c.args != nil {
			var out string
			out, says, got = cp.ferry(tok, c.stdin, c.args...)
			says += out
		} else {
			got, says = cp.call(tok, c.method, c.path, c.body)
		}
		said.WriteString(says)
		ok := got == c.want
		for _, w := range c.says {
			ok = ok && strings.Contains(says, w)
		}
		status := "as expected"
		if !ok {
			t.Errorf("%s: got %d %q, want %d naming %q", c.name, got, oneLine(says), c.want, c.says)
			status = "**FAILED**"
		}
		kind := "exit"
		if c.args == nil {
			kind = "HTTP"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s %d, naming %s | %s: %d, %s |", c.name, kind, c.want, strings.Join(c.says, ", "), status, got, strings.ReplaceAll(oneLine(says), "|", "\\|")))
	}
	unchanged := "as expected: identical"
	if after := cp.state(); after != before {
		t.Errorf("refused input changed the store:\n%s", lineDiff(before, after))
		unchanged = "**FAILED**: changed"
	}
	rows = append(rows, fmt.Sprintf("| the store after all %d refusals | members, hosts, orders (live and deleted), items, tokens, moves and the audit log as before | %s |", len(cases), unchanged))
	writeReport(t, rows...)
	for _, v := range secret {
		if strings.Contains(cp.log.String(), v) || strings.Contains(said.String(), v) {
			t.Errorf("a token or password (%s…) shows in the control plane's log or in an answer", v[:4])
		}
	}
	if n := len(cases); n < 40 {
		t.Errorf("only %d bad-input cases", n)
	}
}

var digits = regexp.MustCompile(`[0-9]+`)

// oneLine shortens an error for the report.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// lineDiff lists the lines of b that are not in a and the other way round.
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ia, ib := in(a), in(b)
	var d []string
	for _, l := range strings.Split(a, "\n") {
		if !ib[l] {
			d = append(d, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ia[l] {
			d = append(d, "+ "+l)
		}
	}
	return strings.Join(d, "\n")
}

// A member asking about another member's order or item gets the answer it
// would get for one that does not exist: nothing tells it what exists.
func TestMemberCannotTellOthersOrdersFromNone(t *testing.T) {
	cp := newControlPlane(t)
	cp.must("host", "add", "web1", "--address", "192.0.2.11", "--role", "web")
	cp.must("member", "add", "coop")
	cp.must("member", "add", "bob")
	cp.must("order", "add", "bob.example", "--member", "bob", "--host", "web1")
	var it model.Item
	if err := json.Unmarshal([]byte(cp.must("item", "add", "bob.example", "mysql-db", "--name", "bob_site", "--json")), &it); err != nil {
		t.Fatal(err)
	}
	member := strings.TrimSpace(cp.must("token", "create", "--role", "member", "--member", "coop"))
	missing := it.ID + 1000
	pairs := [][2][]string{
		{{"order", "show", "bob.example"}, {"order", "show", "none.example"}},
		{{"order", "show", fmt.Sprint(it.OrderID)}, {"order", "show", fmt.Sprint(missing)}},
		{{"item", "add", fmt.Sprint(it.OrderID), "mysql-db", "--name", "stolen"}, {"item", "add", fmt.Sprint(missing), "mysql-db", "--name", "stolen"}},
		{{"item", "list", "--order", "bob.example"}, {"item", "list", "--order", "none.example"}},
		{{"item", "add", "bob.example", "mysql-db", "--name", "stolen"}, {"item", "add", "none.example", "mysql-db", "--name", "stolen"}},
		{{"item", "show", fmt.Sprint(it.ID)}, {"item", "show", fmt.Sprint(missing)}},
		{{"item", "delete", fmt.Sprint(it.ID)}, {"item", "delete", fmt.Sprint(missing)}},
		{{"audit", "--order", "bob.example"}, {"audit", "--order", "none.example"}},
	}
	for _, pair := range pairs {
		_, theirs, c1 := cp.ferry(member, "", pair[0]...)
		_, none, c2 := cp.ferry(member, "", pair[1]...)
		names := strings.NewReplacer("bob.example", "X", "none.example", "X")
		norm := func(s string) string { return digits.ReplaceAllString(names.Replace(s), "N") }
		if c1 != c2 || norm(theirs) != norm(none) {
			t.Errorf("ferry %s: another member's answers %d %q, a missing one %d %q",
				strings.Join(pair[0][:2], " "), c1, strings.TrimSpace(theirs), c2, strings.TrimSpace(none))
		}
	}
	writeReport(t, fmt.Sprintf("| a member token names another member's order or item, by name and by id (%d commands: show, list, add, delete, audit) | the very answer (exit code and words) it gets for one that does not exist | %s |",
		len(pairs), passed(t)))
}
