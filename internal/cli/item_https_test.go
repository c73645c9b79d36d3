package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/certs/certstest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// A member's own certificate is checked at the API: a bad one is refused
// with exit code 3 and an error naming the fault, and changes nothing.
func TestItemAddHTTPSOwnRefusesABadCertificate(t *testing.T) {
	s, write := httpsTestOrder(t)
	now := time.Now()
	names := []string{"example.org", "www.example.org"}
	good, goodKey := certstest.Issue(t, "Member CA", names, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	apexOnly, apexKey := certstest.Issue(t, "Member CA", names[:1], now.Add(-time.Hour), now.Add(90*24*time.Hour))
	expired, expiredKey := certstest.Issue(t, "Member CA", names, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	_, otherKey := certstest.Issue(t, "Member CA", names, now.Add(-time.Hour), now.Add(time.Hour))

	before := s.admin(t, "item", "list", "--json")
	for _, c := range []struct {
		name, cert, key, fault string
	}{
		{"names not covered", write("apex.pem", apexOnly), write("apex.key", apexKey), "does not cover www.example.org"},
		{"expired", write("expired.pem", expired), write("expired.key", expiredKey), "expired"},
		{"key of another certificate", write("good.pem", good), write("other.key", otherKey), "the key does not match the certificate"},
		{"key in the chain file", write("good.key", goodKey), write("good2.key", goodKey), "only CERTIFICATE blocks belong there"},
	} {
		r := s.ferry(t, s.adminToken, "", "item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "example.org,www.example.org",
			"--https", "own", "--cert-file", c.cert, "--key-file", c.key)
		if r.code != ExitRefused || !strings.Contains(r.stderr, "spec.https:") || !strings.Contains(r.stderr, c.fault) {
			t.Errorf("%s: exit %d, %q; want %d naming %q", c.name, r.code, strings.TrimSpace(r.stderr), ExitRefused, c.fault)
		}
		if strings.Contains(r.stderr, keyBody(goodKey)) {
			t.Errorf("%s: the error quotes the key: %s", c.name, r.stderr)
		}
	}
	if r := s.ferry(t, s.adminToken, "", "item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "example.org",
		"--https", "own", "--cert-file", write("only.pem", good)); r.code != ExitRefused || !strings.Contains(r.stderr, "spec.https.key:") {
		t.Errorf("own without a key: exit %d, %q", r.code, r.stderr)
	}
	if r := s.ferry(t, s.adminToken, "", "item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "example.org",
		"--https", "letsencrypt"); r.code != ExitRefused || !strings.Contains(r.stderr, "spec.https.source:") {
		t.Errorf("unknown source: exit %d, %q", r.code, r.stderr)
	}
	if after := s.admin(t, "item", "list", "--json"); after != before {
		t.Errorf("refused certificates changed the store:\nbefore %s\nafter %s", before, after)
	}
}

// httpsTestOrder starts a control plane with order example.org and its
// login exa, and returns it with a function that writes a file for the
// CLI to read and returns its path.
func httpsTestOrder(t *testing.T) (*testServer, func(name string, data []byte) string) {
	t.Helper()
	s := startServer(t)
	s.hosts(t)
	s.seed(t, "coop", "example.org")
	s.admin(t, "item", "add", "example.org", "user-account", "--login", "exa")
	dir := t.TempDir()
	return s, func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// keyBody is a line from the middle of a PEM key: text no output may hold.
func keyBody(keyPEM []byte) string {
	lines := strings.Split(strings.TrimSpace(string(keyPEM)), "\n")
	return lines[len(lines)/2]
}

// The key of an own certificate never comes back: not from item add, show
// or list, not in JSON, not in the audit log. Only the site's node gets
// it, and an update that leaves it out keeps it.
func TestItemHTTPSOwnKeyNeverReturned(t *testing.T) {
	s, write := httpsTestOrder(t)
	now := time.Now()
	chain, key := certstest.Issue(t, "Member CA", []string{"example.org"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	certFile, keyFile := write("chain.pem", chain), write("key.pem", key)
	secret := keyBody(key)

	out := s.admin(t, "item", "add", "example.org", "web-conf", "--login", "exa", "--server-name", "example.org",
		"--https", "own", "--cert-file", certFile, "--key-file", keyFile, "--redirect-http", "--json")
	it := decode[model.Item](t, out)
	if it.Spec.HTTPS == nil || it.Spec.HTTPS.Source != "own" || it.Spec.HTTPS.Key != model.KeySet || !it.Spec.HTTPS.RedirectHTTP {
		t.Fatalf("added web-conf https = %+v", it.Spec.HTTPS)
	}
	id := itoa(it.ID)
	s.nodes(t, "web1")
	for deadline := time.Now().Add(10 * time.Second); ; {
		if decode[model.Item](t, s.admin(t, "item", "show", id, "--json")).State == model.StateActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the web-conf did not become active")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.admin(t, "item", "update", id, "--hsts")
	for _, args := range [][]string{
		{"item", "add", "example.org", "mysql-db", "--name", "exa_db"}, // something else, for the lists
		{"item", "show", id}, {"item", "show", id, "--json"},
		{"item", "list", "--json"}, {"item", "list", "--order", "example.org"},
		{"audit", "--order", "example.org"}, {"audit", "--order", "example.org", "--json"},
	} {
		if out := s.admin(t, args...); strings.Contains(out, secret) {
			t.Errorf("ferry %s shows the key:\n%s", strings.Join(args, " "), out)
		}
	}
	shown := decode[model.Item](t, s.admin(t, "item", "show", id, "--json"))
	if !shown.Spec.HTTPS.HSTS || shown.Spec.HTTPS.Key != model.KeySet {
		t.Errorf("after update --hsts: %+v", shown.Spec.HTTPS)
	}

	// The site's node gets the key, kept across the update.
	tok := decode[struct {
		Secret string `json:"secret"`
	}](t, s.admin(t, "token", "create", "--role", "node", "--host", "web1", "--name", "node-web1-reader", "--json"))
	r := s.ferry(t, tok.Secret, "", "item", "show", id, "--json")
	if r.code != 0 {
		t.Fatalf("node's item show: exit %d: %s", r.code, r.stderr)
	}
	if got := decode[model.Item](t, r.stdout); got.Spec.HTTPS == nil || got.Spec.HTTPS.Key != string(key) {
		t.Errorf("the node does not get the member's key after an update that left it out")
	}
}

// The verify report lists the HTTPS checks with the certificate each host
// served.
func TestPrintVerifyShowsHTTPS(t *testing.T) {
	until := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	f := wire.HTTPFetch{Status: 200, Title: "site", CertNames: []string{"example.org"}, CertNotAfter: &until}
	var b strings.Builder
	printVerify(&b, &wire.VerifyReport{HTTPS: []wire.HTTPCheck{{Name: "example.org", Old: f, New: f, Equal: true}}})
	for _, want := range []string{"HTTPS NAME", `200 "site"  cert example.org until 2027-03-01`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("verify report lacks %q:\n%s", want, b.String())
		}
	}
}
