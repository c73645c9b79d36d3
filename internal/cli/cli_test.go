package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
)

// testServer is a control plane on a temp SQLite store, served in-process.
type testServer struct {
	url, adminToken, dataDir string
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	g := &globals{stdout: io.Discard, stderr: io.Discard}
	go func() {
		done <- runServe(ctx, g, serveOptions{dataDir: dir, listen: "127.0.0.1:0", ready: func(a string) { ready <- a }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "admin.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v, want 0600 (%v)", fi.Mode().Perm(), err)
	}
	return &testServer{url: "http://" + addr, adminToken: strings.TrimSpace(string(tok)), dataDir: dir}
}

type result struct {
	stdout, stderr string
	code           int
}

// ferry runs the CLI in-process with a token.
func (s *testServer) ferry(t *testing.T, token string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--server", s.url, "--token", token}, args...)
	code := Run(context.Background(), full, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

func (s *testServer) admin(t *testing.T, args ...string) string {
	t.Helper()
	r := s.ferry(t, s.adminToken, "", args...)
	if r.code != 0 {
		t.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// seed makes a member with an order on web1 and a dns host.
func (s *testServer) seed(t *testing.T, member, domain string) model.Order {
	t.Helper()
	s.admin(t, "member", "add", member, "--friendly-name", "Member "+member)
	return decode[model.Order](t, s.admin(t, "order", "add", domain, "--member", member, "--host", "web1", "--json"))
}

// nodes starts a fake node (cptest.Node) for each of hosts, each with a
// node token made through the CLI, and returns them by host.
func (s *testServer) nodes(t *testing.T, hosts ...string) map[string]*cptest.Node {
	t.Helper()
	nodes := map[string]*cptest.Node{}
	for _, h := range hosts {
		tok := decode[struct {
			Secret string `json:"secret"`
		}](t, s.admin(t, "token", "create", "--role", "node", "--host", h, "--json"))
		nodes[h] = cptest.StartNode(t, s.url, tok.Secret, cptest.NodeOptions{DiskFree: 50 << 30})
	}
	return nodes
}

func (s *testServer) hosts(t *testing.T) {
	s.admin(t, "host", "add", "web1", "--address", "127.0.1.11", "--role", "web", "--capacity", "100G")
	s.admin(t, "host", "add", "dns1", "--address", "127.0.1.53", "--role", "dns")
}

func TestAdminCreatesOneItemOfEachKind(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	o := s.seed(t, "coop", "Example.ORG")
	if o.Identifier != "example.org" || o.Host != "web1" || o.State != model.OrderActive {
		t.Fatalf("order = %+v", o)
	}
	add := func(stdin string, args ...string) model.Item {
		t.Helper()
		r := s.ferry(t, s.adminToken, stdin, append([]string{"item", "add", "example.org"}, append(args, "--json")...)...)
		if r.code != 0 {
			t.Fatalf("item add %v: exit %d: %s", args, r.code, r.stderr)
		}
		return decode[model.Item](t, r.stdout)
	}
	ua := add("s3cret-pass\n", "user-account", "--login", "exa", "--password-file", "-")
	if ua.Spec.PasswordHash != "(set)" || ua.Spec.Password != "" {
		t.Errorf("user-account spec leaks or lacks its password: %+v", ua.Spec)
	}
	add("", "web-conf", "--login", "exa", "--server-name", "example.org,www.example.org")
	add("", "mysql-db", "--name", "exa_site")
	add("", "mysql-user", "--name", "exa", "--database", "exa_site", "--password", "another-pass")
	add("", "pgsql-db", "--name", "exa_pg", "--password", "pg-password")
	add("", "scheduled-job", "--login", "exa", "--schedule", "*/5 * * * *", "--command", "php web/cron.php")
	add("", "mailbox", "--login", "exa", "--quota-mb", "500")
	addr := add("", "email-address", "--address", "Info@Example.org", "--login", "exa", "--forward", "exa@example.net,office@example.net")
	if addr.Spec.Address != "info@example.org" || len(addr.Spec.Forward) != 2 {
		t.Errorf("email-address = %+v", addr.Spec)
	}
	dnsItem := add("", "dns", "--fqdn", "www.example.org", "--type", "a", "--value", "127.0.1.11", "--ttl", "600")
	if dnsItem.Host != "dns1" || dnsItem.Spec.Type != "A" || dnsItem.Spec.Zone != "example.org" {
		t.Errorf("dns item = %+v", dnsItem)
	}

	// Access for another member's web login: kept by the control plane,
	// so active at once.
	s.admin(t, "member", "add", "friend")
	if r := s.ferry(t, s.adminToken, "a long passphrase\n", "member", "passwd", "friend"); r.code != 0 {
		t.Fatalf("member passwd: %d %s", r.code, r.stderr)
	}
	if access := add("", "hosting-order-access", "--login", "friend"); access.State != model.StateActive || access.Host != "" {
		t.Errorf("access item = %+v, want active on no host", access)
	}

	items := decode[[]model.Item](t, s.admin(t, "item", "list", "--order", "example.org", "--json"))
	kinds := map[model.Kind]bool{}
	for _, it := range items {
		kinds[it.Kind] = true
		if want := model.StatePendingInsert; it.State != want && !model.KindInfoOf(it.Kind).ControlPlane {
			t.Errorf("item %d is %s, want %s", it.ID, it.State, want)
		}
		if strings.Contains(it.Spec.PasswordHash, "$2") || strings.HasPrefix(it.Spec.PasswordHash, "*") {
			t.Errorf("item %d shows its password hash to an admin: %q", it.ID, it.Spec.PasswordHash)
		}
	}
	if len(kinds) != len(model.Kinds) {
		t.Errorf("kinds made: %v, want all %v", kinds, model.Kinds)
	}
	found := decode[[]model.Order](t, s.admin(t, "order", "search", "www.example", "--json"))
	if len(found) != 1 || found[0].ID != o.ID {
		t.Errorf("search by a server name found %+v", found)
	}
	audit := s.admin(t, "audit", "--order", "example.org")
	if !strings.Contains(audit, "item.create") || !strings.Contains(audit, "admin") {
		t.Errorf("audit log lacks the item creations by admin:\n%s", audit)
	}
}

func TestMemberCannotReachAnotherMembersOrder(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	mine := s.seed(t, "alice", "alice.example")
	theirs := s.seed(t, "bob", "bob.example")
	s.admin(t, "item", "add", "bob.example", "mysql-db", "--name", "bob_db")
	tok := strings.TrimSpace(s.admin(t, "token", "create", "--role", "member", "--member", "alice"))

	if r := s.ferry(t, tok, "", "order", "show", "alice.example"); r.code != 0 {
		t.Fatalf("alice cannot read her own order: %d %s", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"order", "show", "bob.example"},
		{"order", "show", itoa(theirs.ID)},
		{"item", "list", "--order", "bob.example"},
		{"item", "add", "bob.example", "mysql-db", "--name", "stolen"},
	} {
		r := s.ferry(t, tok, "", args...)
		if r.code != ExitNotFound {
			t.Errorf("alice: ferry %v: exit %d (%s), want %d", args, r.code, strings.TrimSpace(r.stderr), ExitNotFound)
		}
	}
	list := decode[[]model.Order](t, s.ferry(t, tok, "", "order", "list", "--json").stdout)
	if len(list) != 1 || list[0].ID != mine.ID {
		t.Errorf("alice's order list = %+v, want only her own", list)
	}
	items := decode[[]model.Item](t, s.ferry(t, tok, "", "item", "list", "--json").stdout)
	if len(items) != 0 {
		t.Errorf("alice sees items %+v", items)
	}
	for _, args := range [][]string{{"host", "list"}, {"member", "add", "eve"}, {"token", "list"}} {
		if r := s.ferry(t, tok, "", args...); r.code != ExitNotAllowed {
			t.Errorf("alice: ferry %v: exit %d, want %d", args, r.code, ExitNotAllowed)
		}
	}
}

func TestIllegalTransitionNamesBothStates(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	s.seed(t, "coop", "example.org")
	it := decode[model.Item](t, s.admin(t, "item", "add", "example.org", "mysql-db", "--name", "exa", "--json"))
	r := s.ferry(t, s.adminToken, "", "item", "retry", itoa(it.ID))
	if r.code != ExitRefused {
		t.Fatalf("retry of a pending-insert item: exit %d, want %d", r.code, ExitRefused)
	}
	if !strings.Contains(r.stderr, `"pending-insert"`) || !strings.Contains(r.stderr, `"pending-restore"`) {
		t.Errorf("error does not name both states: %s", r.stderr)
	}
	after := decode[model.Item](t, s.admin(t, "item", "show", itoa(it.ID), "--json"))
	if after.State != model.StatePendingInsert {
		t.Errorf("state after refused transition = %s", after.State)
	}
}

func TestBadInputNamesTheFieldAndChangesNothing(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	s.seed(t, "coop", "example.org")
	before := s.admin(t, "item", "list", "--json")
	cases := []struct {
		args  []string
		field string
	}{
		{[]string{"item", "add", "example.org", "user-account", "--login", "root"}, "spec.login"},
		{[]string{"item", "add", "example.org", "user-account", "--login", "a;rm -rf /"}, "spec.login"},
		{[]string{"item", "add", "example.org", "web-conf", "--login", "x", "--server-name", "ex ample.org"}, "spec.server_names"},
		{[]string{"item", "add", "example.org", "mysql-db", "--name", "db`; DROP"}, "spec.name"},
		{[]string{"item", "add", "example.org", "dns", "--type", "A", "--value", "::1"}, "spec.value"},
		{[]string{"item", "add", "example.org", "dns", "--type", "A", "--value", "192.0.2.1", "--ttl", "5"}, "spec.ttl"},
		{[]string{"item", "add", "example.org", "dns", "--type", "NAPTR", "--value", "x"}, "spec.type"},
		{[]string{"item", "add", "example.org", "scheduled-job", "--login", "exa", "--schedule", "61 * * * *", "--command", "true"}, "spec.schedule"},
		{[]string{"item", "add", "example.org", "mysql-db", "--name", "ok_name", "--ttl", "300"}, "spec.ttl"},
		{[]string{"item", "add", "example.org", "web-conf", "--login", "x", "--server-name", "example.org", "--php-version", "8"}, "spec.php_version"},
		{[]string{"item", "add", "example.org", "web-conf", "--login", "x", "--server-name", "example.org", "--memory-limit", "1T"}, "spec.memory_limit"},
		{[]string{"item", "add", "example.org", "web-conf", "--login", "x", "--server-name", "example.org", "--post-max-size", "1M"}, "spec.post_max_size"},
		{[]string{"item", "add", "example.org", "web-conf", "--login", "x", "--server-name", "example.org", "--max-children", "99"}, "spec.max_children"},
		{[]string{"item", "add", "example.org", "web-conf", "--login", "x", "--server-name", "example.org", "--php=false", "--max-children", "9"}, "spec.max_children"},
		{[]string{"order", "add", "bad..domain", "--member", "coop", "--host", "web1"}, "identifier"},
		{[]string{"order", "add", "other.org", "--member", "nobody", "--host", "web1"}, "member"},
	}
	for _, c := range cases {
		r := s.ferry(t, s.adminToken, "", c.args...)
		if r.code != ExitRefused {
			t.Errorf("ferry %v: exit %d (%s), want %d", c.args, r.code, r.stderr, ExitRefused)
		}
		if !strings.Contains(r.stderr, c.field+":") {
			t.Errorf("ferry %v: error %q does not name %s", c.args, strings.TrimSpace(r.stderr), c.field)
		}
	}
	if after := s.admin(t, "item", "list", "--json"); after != before {
		t.Errorf("refused input changed the store:\nbefore %s\nafter %s", before, after)
	}
}

func TestRevokedTokenIsRefused(t *testing.T) {
	s := startServer(t)
	tok := strings.TrimSpace(s.admin(t, "token", "create", "--role", "admin", "--name", "ops"))
	if r := s.ferry(t, tok, "", "member", "list"); r.code != 0 {
		t.Fatalf("new admin token refused: %s", r.stderr)
	}
	s.admin(t, "token", "revoke", "ops")
	r := s.ferry(t, tok, "", "member", "list")
	if r.code != ExitNotAllowed || !strings.Contains(r.stderr, "revoked") {
		t.Errorf("revoked token: exit %d %q", r.code, r.stderr)
	}
	forged := "fy_" + strings.Repeat("A", 43)
	if r := s.ferry(t, forged, "", "member", "list"); r.code != ExitNotAllowed {
		t.Errorf("forged token: exit %d", r.code)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestOrderUpdateHandsItToAnotherMember(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	s.seed(t, "alice", "shared.example")
	s.admin(t, "member", "add", "bob")
	o := decode[model.Order](t, s.admin(t, "order", "update", "shared.example", "--member", "bob", "--json"))
	if o.Member != "bob" || o.Host != "web1" {
		t.Errorf("order after update: %+v", o)
	}
	if r := s.ferry(t, s.adminToken, "", "order", "update", "shared.example", "--member", "nobody"); r.code != ExitRefused || !strings.Contains(r.stderr, "member:") {
		t.Errorf("update to an unknown member: exit %d %q", r.code, r.stderr)
	}
	if !strings.Contains(s.admin(t, "audit", "--order", "shared.example"), "order.update") {
		t.Error("the change is not in the audit log")
	}
}
