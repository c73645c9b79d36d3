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

	"ferry/internal/acme"
	"ferry/internal/certs/certstest"
	"ferry/internal/model"
	"ferry/internal/node/hostexec/hostexectest"
)

// fakeCA answers the Applier's ACME orders with certificates of its own,
// or with err.
type fakeCA struct {
	t      *testing.T
	e      *testEnv
	err    error
	life   time.Duration
	orders [][]string
	// ranBefore is what the host had run when the CA was asked.
	ranBefore []string
}

func (ca *fakeCA) obtain(_ context.Context, cfg acme.Config) ([]byte, []byte, error) {
	ca.orders = append(ca.orders, slices.Clone(cfg.Names))
	ca.ranBefore = ca.e.host.Ran()
	if cfg.WebrootDir != ca.e.path("acme-challenge") {
		ca.t.Errorf("challenges go to %s, want the vhosts' %s", cfg.WebrootDir, ca.e.path("acme-challenge"))
	}
	if ca.err != nil {
		return nil, nil, ca.err
	}
	now := time.Now()
	c, k := certstest.Issue(ca.t, "Fake ACME CA", cfg.Names, now.Add(-time.Minute), now.Add(ca.life))
	return c, k, nil
}

func newFakeCA(t *testing.T, e *testEnv) *fakeCA {
	ca := &fakeCA{t: t, e: e, life: 90 * 24 * time.Hour}
	e.a.obtain = ca.obtain
	e.a.cfg.HTTPS.Directory = "https://ca.invalid/dir"
	return ca
}

func httpsSpec(h model.HTTPSSpec, names ...string) model.Spec {
	s := webSpec(names...)
	s.HTTPS = &h
	return s
}

func TestWebConfOwnCertificate(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	f := e.webFiles("42")
	notAfter := time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second)
	certPEM, keyPEM := certstest.Issue(t, "Member CA", []string{"example.org", "www.example.org"}, time.Now().Add(-time.Hour), notAfter)
	spec := httpsSpec(model.HTTPSSpec{Source: "own", Cert: string(certPEM), Key: string(keyPEM), RedirectHTTP: true}, "example.org", "www.example.org")

	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, spec), model.StateActive)
	if want := "https with the member's own certificate from CN=Member CA, expires " + notAfter.Format(time.RFC3339); !strings.Contains(res.Message, want) {
		t.Errorf("message %q lacks %q", res.Message, want)
	}
	dir := e.path("tls", "ferry-example.org-42")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("certificate directory: %v, %v; want 0700", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "privkey.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want 0600", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "privkey.pem")); string(got) != string(keyPEM) {
		t.Error("the installed key is not the member's")
	}
	if rec, _ := os.ReadFile(filepath.Join(dir, "site.json")); strings.Contains(string(rec), "PRIVATE KEY") {
		t.Errorf("the site's record holds the key:\n%s", rec)
	}
	vhost, _ := os.ReadFile(f.vhost)
	for _, want := range []string{"<VirtualHost *:443>", "SSLEngine on", `SSLCertificateKeyFile "` + filepath.Join(dir, "privkey.pem") + `"`, "RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI} [R=301,L]"} {
		if !strings.Contains(string(vhost), want) {
			t.Errorf("vhost lacks %s:\n%s", want, vhost)
		}
	}
	if strings.Contains(string(vhost), "acme-challenge/ ") {
		t.Errorf("an own certificate's site serves ACME challenges:\n%s", vhost)
	}

	// Apache refusing the config puts the previous key back.
	certPEM2, keyPEM2 := certstest.Issue(t, "Member CA", []string{"example.org", "www.example.org"}, time.Now().Add(-time.Hour), notAfter)
	e.host.Answers["apachectl configtest"] = hostexectest.Answer{Stderr: "SSLCertificateKeyFile: bad", Code: 1}
	spec2 := httpsSpec(model.HTTPSSpec{Source: "own", Cert: string(certPEM2), Key: string(keyPEM2)}, "example.org", "www.example.org")
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingUpdate, spec2), model.StateSoftError)
	if got, _ := os.ReadFile(filepath.Join(dir, "privkey.pem")); string(got) != string(keyPEM) {
		t.Error("a refused update left its key installed")
	}
	delete(e.host.Answers, "apachectl configtest")

	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDelete, spec), model.StateDeleted)
	if exists(dir) {
		t.Errorf("delete left the certificate directory %s", dir)
	}
}

func TestWebConfAcme(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	f := e.webFiles("42")
	ca := newFakeCA(t, e)
	spec := httpsSpec(model.HTTPSSpec{Source: "acme", HSTS: true}, "example.org", "www.example.org")

	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, spec), model.StateActive)
	if len(ca.orders) != 1 || !slices.Equal(ca.orders[0], []string{"example.org", "www.example.org"}) {
		t.Fatalf("ACME orders %q, want one for both names", ca.orders)
	}
	// The CA is asked once Apache serves the challenge directory.
	if !slices.Contains(ca.ranBefore, "apachectl -k graceful") {
		t.Errorf("the CA was asked before Apache was reloaded: %q", ca.ranBefore)
	}
	if !strings.Contains(res.Message, "https with an ACME certificate from CN=Fake ACME CA, expires ") {
		t.Errorf("message %q names no issuer and expiry", res.Message)
	}
	vhost, _ := os.ReadFile(f.vhost)
	for _, want := range []string{"<VirtualHost *:443>", `Alias /.well-known/acme-challenge/ "` + e.path("acme-challenge") + `/"`, "Strict-Transport-Security"} {
		if !strings.Contains(string(vhost), want) {
			t.Errorf("vhost lacks %s:\n%s", want, vhost)
		}
	}

	// Applied again with a valid certificate in place, no new order.
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingUpdate, spec), model.StateActive)
	if len(ca.orders) != 1 {
		t.Errorf("a valid certificate was ordered again: %d orders", len(ca.orders))
	}
	// Not due: the renewal check leaves it alone; 61 days on it renews.
	if r := e.a.RenewCertificates(context.Background(), time.Now()); len(r) != 0 || len(ca.orders) != 1 {
		t.Errorf("renewal check renewed a fresh certificate: %+v", r)
	}
	r := e.a.RenewCertificates(context.Background(), time.Now().Add(61*24*time.Hour))
	if len(r) != 1 || r[0].ItemID != 42 || r[0].Err != nil || !strings.Contains(r[0].Message, "ACME certificate") || len(ca.orders) != 2 {
		t.Errorf("renewal 61 days on: %+v, %d orders", r, len(ca.orders))
	}
	if got := e.a.SiteCertificates(); len(got) != 1 || got[0].Site != "example.org" || got[0].Source != "acme" {
		t.Errorf("site certificates %+v", got)
	}

	// A site a move put in a site mode (the cutover's proxy) is renewed
	// by its new host, not here.
	normal, _ := os.ReadFile(f.vhost)
	if err := os.WriteFile(f.vhost, []byte(SiteModeMarker+"proxy (move 1 of order example.org)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.a.RenewCertificates(context.Background(), time.Now().Add(89*24*time.Hour)); len(r) != 0 {
		t.Errorf("a site in the cutover's proxy mode was renewed: %+v", r)
	}
	if err := os.WriteFile(f.vhost, normal, 0o644); err != nil {
		t.Fatal(err)
	}

	// A disabled site is not renewed.
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDisable, spec), model.StateDisabled)
	if r := e.a.RenewCertificates(context.Background(), time.Now().Add(89*24*time.Hour)); len(r) != 0 {
		t.Errorf("a disabled site was renewed: %+v", r)
	}
}

// Until the CA answers, an ACME site serves plain HTTP (with its
// challenges), is active, and says why; the renewal check obtains the
// certificate later and gives the site its 443 vhost.
func TestWebConfAcmeFailsThenRenewalObtains(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	f := e.webFiles("42")
	ca := newFakeCA(t, e)
	ca.err = errors.New("acme: obtaining a certificate for example.org: connection refused")
	spec := httpsSpec(model.HTTPSSpec{Source: "acme", RedirectHTTP: true}, "example.org")

	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, spec), model.StateActive)
	if !strings.Contains(res.Message, "connection refused") || !strings.Contains(res.Message, "serving http only") {
		t.Errorf("message %q does not say the site is on http only and why", res.Message)
	}
	vhost, _ := os.ReadFile(f.vhost)
	if strings.Contains(string(vhost), ":443") || strings.Contains(string(vhost), "RewriteRule") {
		t.Errorf("a site without a certificate got a 443 vhost or a redirect:\n%s", vhost)
	}
	if !strings.Contains(string(vhost), "/.well-known/acme-challenge/") {
		t.Errorf("the site does not serve its challenges:\n%s", vhost)
	}

	ca.err = nil
	r := e.a.RenewCertificates(context.Background(), time.Now())
	if len(r) != 1 || r[0].Err != nil || !strings.Contains(r[0].Message, "from CN=Fake ACME CA") {
		t.Fatalf("renewal check: %+v", r)
	}
	vhost, _ = os.ReadFile(f.vhost)
	if !strings.Contains(string(vhost), "<VirtualHost *:443>") || !strings.Contains(string(vhost), "RewriteRule") {
		t.Errorf("after the renewal check the vhost has no 443 part or redirect:\n%s", vhost)
	}
}

// A host without an ACME directory keeps acme sites on HTTP and says how
// to configure one.
func TestWebConfAcmeWithoutDirectory(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, httpsSpec(model.HTTPSSpec{Source: "acme"}, "example.org")), model.StateActive)
	if !strings.Contains(res.Message, "--acme-directory") {
		t.Errorf("message %q", res.Message)
	}
}

// A site switched from the member's own certificate to acme does not go
// on serving the member's certificate as if the CA had issued it.
func TestWebConfOwnToAcmeObtains(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	now := time.Now()
	certPEM, keyPEM := certstest.Issue(t, "Member CA", []string{"example.org"}, now.Add(-time.Hour), now.Add(60*24*time.Hour))
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert,
		httpsSpec(model.HTTPSSpec{Source: "own", Cert: string(certPEM), Key: string(keyPEM)}, "example.org")), model.StateActive)
	ca := newFakeCA(t, e)
	res := applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingUpdate, httpsSpec(model.HTTPSSpec{Source: "acme"}, "example.org")), model.StateActive)
	if len(ca.orders) != 1 || !strings.Contains(res.Message, "from CN=Fake ACME CA") {
		t.Errorf("after own → acme: %d orders, message %q", len(ca.orders), res.Message)
	}
}
