package apply

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/certs/certstest"
	"ferry/internal/model"
)

// A move's new host holds an ACME site serving plain HTTP (its CA could
// not validate while DNS points at the old host). A carried certificate
// that is not for it is refused with nothing written; the right one is
// installed and the site gets its 443 vhost without asking the CA, and
// the renewal check leaves it alone; the old host hands out exactly what
// it serves.
func TestInstallCarriedCert(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	f := e.webFiles("42")
	ca := newFakeCA(t, e)
	ca.err = errors.New("acme: the name points at another host")
	spec := httpsSpec(model.HTTPSSpec{Source: "acme"}, "example.org", "www.example.org")
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, spec), model.StateActive)
	own := httpsSpec(model.HTTPSSpec{Source: "own"}, "shop.example.org")
	ownChain, ownKey := certstest.Issue(t, "Member CA", []string{"shop.example.org"}, time.Now().Add(-time.Hour), time.Now().Add(60*24*time.Hour))
	own.HTTPS.Cert, own.HTTPS.Key = string(ownChain), string(ownKey)
	applyOK(t, e, testItem(43, model.KindWebConf, model.StatePendingInsert, own), model.StateActive)
	// An ACME site of another order on this host.
	other := model.Order{ID: 8, Identifier: "shop.example", Member: "rosa", Host: "web1"}
	if err := e.a.ensureOrderDir(other); err != nil {
		t.Fatal(err)
	}
	otherItem := testItem(44, model.KindWebConf, model.StatePendingInsert, httpsSpec(model.HTTPSSpec{Source: "acme"}, "shop.example"))
	otherItem.OrderID = other.ID
	if res := e.a.Apply(context.Background(), other, otherItem); res.State != model.StateActive {
		t.Fatalf("another order's site: %s: %s", res.State, res.Message)
	}
	orders := len(ca.orders)

	now := time.Now()
	notAfter := now.Add(80 * 24 * time.Hour).UTC().Truncate(time.Second)
	chain, key := certstest.Issue(t, "Pebble Intermediate", []string{"example.org", "www.example.org"}, now.Add(-time.Hour), notAfter)
	_, otherKey := certstest.Issue(t, "Pebble Intermediate", []string{"example.org", "www.example.org"}, now.Add(-time.Hour), notAfter)
	short, shortKey := certstest.Issue(t, "Pebble Intermediate", []string{"example.org"}, now.Add(-time.Hour), notAfter)
	old, oldKey := certstest.Issue(t, "Pebble Intermediate", []string{"example.org", "www.example.org"}, now.Add(-48*time.Hour), now.Add(-time.Hour))
	site := "example.org"
	tlsDir := e.path("tls", "ferry-example.org-42")

	refused := []struct {
		name         string
		order, site  string
		chain, key   []byte
		wantInReason string
	}{
		{"another order", "shop.example", site, chain, key, "not an HTTPS site of order shop.example"},
		{"another order's site", "example.org", "shop.example", chain, key, "not an HTTPS site of order example.org"},
		{"not the first name", "example.org", "www.example.org", chain, key, "not an HTTPS site of order example.org"},
		{"no such site", "example.org", "other.example.org", chain, key, "not an HTTPS site"},
		{"an own-certificate site", "example.org", "shop.example.org", chain, key, "does not use an ACME certificate"},
		{"bad PEM", "example.org", site, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), key, "certificate"},
		{"no key", "example.org", site, chain, nil, "key"},
		{"key mismatch", "example.org", site, chain, otherKey, "does not match"},
		{"names not covered", "example.org", site, short, shortKey, "does not cover www.example.org"},
		{"expired", "example.org", site, old, oldKey, "expired"},
	}
	before := e.snapshot(t)
	for _, c := range refused {
		_, err := e.a.InstallCarriedCert(context.Background(), c.order, c.site, c.chain, c.key)
		if !errors.Is(err, ErrCarriedCert) || !strings.Contains(err.Error(), c.wantInReason) {
			t.Errorf("%s: %v, want a refusal saying %q", c.name, err, c.wantInReason)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("%s: the refusal quotes the key", c.name)
		}
		if exists(filepath.Join(tlsDir, "privkey.pem")) || exists(filepath.Join(tlsDir, "fullchain.pem")) ||
			exists(e.path("tls", "ferry-shop.example-44", "privkey.pem")) {
			t.Fatalf("%s: a certificate was written", c.name)
		}
	}
	if after := e.snapshot(t); len(after) != len(before) || after[f.vhost] != before[f.vhost] {
		t.Errorf("a refused certificate changed the vhosts")
	}
	if got, _ := os.ReadFile(filepath.Join(e.path("tls", "ferry-example.org-43"), "privkey.pem")); string(got) != string(ownKey) {
		t.Error("a refusal touched the own-certificate site's key")
	}

	msg, err := e.a.InstallCarriedCert(context.Background(), "example.org", site, chain, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https with an ACME certificate from CN=Pebble Intermediate, expires " + notAfter.Format(time.RFC3339); !strings.Contains(msg, want) {
		t.Errorf("message %q lacks %q", msg, want)
	}
	dir := tlsDir
	if got, _ := os.ReadFile(filepath.Join(dir, "privkey.pem")); string(got) != string(key) {
		t.Error("the carried key is not installed")
	}
	if fi, err := os.Stat(filepath.Join(dir, "privkey.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "fullchain.pem")); string(got) != string(chain) {
		t.Error("the carried chain is not installed")
	}
	vhost, _ := os.ReadFile(f.vhost)
	if !strings.Contains(string(vhost), "<VirtualHost *:443>") {
		t.Errorf("the site serves no HTTPS with its carried certificate:\n%s", vhost)
	}
	if len(ca.orders) != orders {
		t.Errorf("the CA was asked while a carried certificate was installed")
	}
	for _, r := range e.a.RenewCertificates(context.Background(), time.Now()) {
		if r.ItemID == 42 {
			t.Errorf("the renewal check renewed a carried certificate that is not due: %+v", r)
		}
	}
	for _, o := range ca.orders[orders:] {
		if slices.Contains(o, "example.org") {
			t.Errorf("the CA was asked for %q while a carried certificate was installed", o)
		}
	}
	// A carried certificate expiring sooner does not replace it.
	sooner, soonerKey := certstest.Issue(t, "Pebble Intermediate", []string{"example.org", "www.example.org"}, now.Add(-time.Hour), now.Add(40*24*time.Hour))
	if _, err := e.a.InstallCarriedCert(context.Background(), "example.org", site, sooner, soonerKey); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "fullchain.pem")); string(got) != string(chain) {
		t.Error("a certificate expiring sooner replaced the installed one")
	}

	// The old host carries what it serves, for its ACME sites only.
	carried, err := e.a.CarriedCerts(testOrder, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(carried) != 1 || carried[0].ServerName != site || string(carried[0].Chain) != string(chain) || string(carried[0].Key) != string(key) {
		t.Errorf("carried %d certificates, want the ACME site's installed one", len(carried))
	}
	if carried, _ := e.a.CarriedCerts(model.Order{Identifier: "shop.example"}, time.Now()); len(carried) != 0 {
		t.Errorf("another order's sites carried %d certificates", len(carried))
	}
}
