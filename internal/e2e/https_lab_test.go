//go:build lab

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/certs/certstest"
	"ferry/internal/labtest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// A web-conf with --https acme on web1 gets a certificate from the lab's
// ACME CA (Pebble, validating HTTP-01 through dns1 against web1), serves
// both names over HTTPS by SNI, redirects HTTP except ACME challenges,
// sends HSTS, and its message names the issuer and the expiry.
func TestLabHTTPSAcmeSite(t *testing.T) {
	e := labtest.New(t)
	st := e.Lab.State()
	if st.AcmeCAFile == "" {
		t.Fatal("the lab runs no ACME CA (pebble)")
	}
	const domain = "tls.example"
	names := []string{domain, "www." + domain}
	web1 := e.Addr("web1")
	e.Ferry("", "member", "add", "tls")
	e.Ferry("", "order", "add", domain, "--member", "tls", "--host", "web1")
	e.Ferry("", "item", "add", domain, "user-account", "--login", "tlsuser")
	for _, n := range names {
		e.Ferry("", "item", "add", domain, "dns", "--fqdn", n, "--type", "A", "--value", web1)
	}
	e.WaitItems(domain, 60*time.Second)

	start := time.Now()
	e.Ferry("", "item", "add", domain, "web-conf", "--login", "tlsuser", "--server-name", strings.Join(names, ","), "--php=false",
		"--https", "acme", "--redirect-http", "--hsts")
	for _, it := range e.WaitItems(domain, 3*time.Minute) {
		if it.State != model.StateActive {
			t.Fatalf("item %d (%s) is %s: %s", it.ID, it.Kind, it.State, it.Message)
		}
	}
	wc := e.Item(domain, model.KindWebConf)
	t.Logf("web-conf active with its ACME certificate in %s: %s", time.Since(start).Round(time.Millisecond), wc.Message)
	if !strings.Contains(wc.Message, "https with an ACME certificate from CN=Pebble Intermediate CA") || !strings.Contains(wc.Message, "expires 20") {
		t.Errorf("message %q does not name the issuer and the expiry", wc.Message)
	}

	dir := model.OrderDir("tls", domain)
	e.WriteFile("web1", dir+"/web/index.html", "<html><head><title>tls site</title></head><body>over tls</body></html>\n", "tlsuser")
	for _, n := range names {
		page, err := e.On("web1", "curl", "-sS", "--max-time", "10", "--cacert", st.AcmeCAFile, "--resolve", n+":443:"+web1, "https://"+n+"/")
		if err != nil || !strings.Contains(page, "<title>tls site</title>") {
			t.Errorf("https://%s/ with the CA's root: %q, %v", n, page, err)
		}
	}
	head, err := e.On("web1", "curl", "-sS", "-D", "-", "-o", "/dev/null", "--max-time", "10", "--cacert", st.AcmeCAFile,
		"--resolve", domain+":443:"+web1, "https://"+domain+"/")
	if err != nil || !strings.Contains(strings.ToLower(head), "strict-transport-security: max-age=31536000") {
		t.Errorf("no HSTS header over https: %q, %v", head, err)
	}
	redirect, err := e.On("web1", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--max-time", "10",
		"--resolve", "www."+domain+":80:"+web1, "http://www."+domain+"/a?b=1")
	if err != nil || strings.TrimSpace(redirect) != "301 https://www."+domain+"/a?b=1" {
		t.Errorf("plain http: %q, %v; want a 301 to the same URL over https", redirect, err)
	}
	challenge, err := e.On("web1", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
		"--resolve", domain+":80:"+web1, "http://"+domain+"/.well-known/acme-challenge/nosuchtoken")
	if err != nil || strings.TrimSpace(challenge) != "404" {
		t.Errorf("an ACME challenge path over http answered %q, %v; want 404 (served, not redirected)", challenge, err)
	}
	if out := e.MustOn("web1", "sh", "-c", "stat -c '%a %U' /etc/ferry/tls /etc/ferry/tls/ferry-"+domain+"-*/privkey.pem"); !strings.Contains(out, "700 root\n600 root") {
		t.Errorf("certificate directory and key modes:\n%s", out)
	}
}

// A site with the member's own certificate is served over HTTPS on web1,
// and moves to web2 with it: during the cutover web1's proxy passes HTTPS
// on to web2 with the site's name, after it web2 serves the site over
// HTTPS, and the cleanup leaves nothing of it on web1, its certificate
// directory included.
func TestLabHTTPSOwnSiteMoves(t *testing.T) {
	e := labtest.New(t)
	const domain = "owntls.example"
	names := []string{domain, "www." + domain}
	web2 := e.Addr("web2")
	chain, key := certstest.Issue(t, "Member Test CA", names, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	local := t.TempDir()
	certFile, keyFile := filepath.Join(local, "chain.pem"), filepath.Join(local, "key.pem")
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	// The CA is the chain's second certificate; curl on either host trusts it.
	ca := chain[strings.Index(string(chain), "-----END CERTIFICATE-----")+len("-----END CERTIFICATE-----\n"):]
	for _, h := range []string{"web1", "web2"} {
		e.WriteFile(h, "/root/owntls-ca.pem", string(ca), "")
	}
	fetch := func(on, addr, name string) (string, error) {
		return e.On(on, "curl", "-sS", "--max-time", "10", "--cacert", "/root/owntls-ca.pem", "--resolve", name+":443:"+addr, "https://"+name+"/")
	}

	site := newHTTPSSite(t, e, "owntls", domain, names, "own tls", fetch, "https with the member's own certificate from CN=Member Test CA, expires",
		"--https", "own", "--cert-file", certFile, "--key-file", keyFile)

	start := time.Now()
	e.Ferry("", "move", "start", domain, "--to", "web2")
	e.Ferry("", "move", "sync", domain)
	// Verify fetched both names over HTTPS from both hosts, with the
	// name as SNI, and found the same page and certificate.
	for _, c := range site.verify().HTTPS {
		if !c.Equal || c.New.Title != "own tls" || c.New.CertNotAfter == nil || len(c.New.CertNames) != 2 {
			t.Errorf("https check of %s: %+v", c.Name, c)
		}
	}
	if page, err := fetch("web2", web2, "www."+domain); err != nil || !strings.Contains(page, "<title>own tls</title>") {
		t.Errorf("before the DNS switch, https on web2: %q, %v", page, err)
	}
	// web1 now proxies; HTTPS through it reaches web2's copy.
	site.cutoverAndCleanup()
	t.Logf("moved with its certificate in %s", time.Since(start).Round(time.Millisecond))
}

// An ACME site moves web1 → web2 with its certificate: the sync carries
// web1's chain and key over the move's own key, so web2 serves the site
// over HTTPS with the very same certificate (same serial) before the DNS
// switch, without asking the CA (which validates against web1 until the
// switch); verify passes over HTTPS; web1's cutover proxy passes HTTPS on
// to web2; and the cleanup leaves no certificate on web1.
func TestLabHTTPSAcmeSiteMoves(t *testing.T) {
	e := labtest.New(t)
	st := e.Lab.State()
	if st.AcmeCAFile == "" {
		t.Fatal("the lab runs no ACME CA (pebble)")
	}
	const domain = "acmemove.example"
	names := []string{domain, "www." + domain}
	web1, web2 := e.Addr("web1"), e.Addr("web2")
	fetch := func(on, addr, name string) (string, error) {
		return e.On(on, "curl", "-sS", "--max-time", "10", "--cacert", st.AcmeCAFile, "--resolve", name+":443:"+addr, "https://"+name+"/")
	}
	// serial is the serial number of the certificate addr serves for name.
	serial := func(addr, name string) string {
		out, err := e.On("web1", "sh", "-c", "openssl s_client -connect "+addr+":443 -servername "+name+
			" </dev/null 2>/dev/null | openssl x509 -noout -serial")
		if err != nil || !strings.HasPrefix(out, "serial=") {
			t.Fatalf("the certificate %s serves for %s: %q, %v", addr, name, out, err)
		}
		return strings.TrimSpace(out)
	}

	site := newHTTPSSite(t, e, "acmemove", domain, names, "acme move", fetch, "https with an ACME certificate from CN=Pebble",
		"--https", "acme", "--redirect-http")
	want := serial(web1, domain)

	start := time.Now()
	e.Ferry("", "move", "start", domain, "--to", "web2")
	e.Ferry("", "move", "sync", domain)
	// Before the DNS switch web2 serves every name over HTTPS, with the
	// certificate web1 serves (the CA could not have validated web2).
	for _, n := range names {
		if page, err := fetch("web2", web2, n); err != nil || !strings.Contains(page, "<title>acme move</title>") {
			t.Errorf("before the DNS switch, https://%s/ on web2: %q, %v", n, page, err)
		}
		if got := serial(web2, n); got != want {
			t.Errorf("web2 serves %s with certificate %s, want web1's %s", n, got, want)
		}
	}
	if out := e.MustOn("web2", "sh", "-c", "stat -c '%a %U' /etc/ferry/tls/ferry-"+domain+"-*/privkey.pem"); strings.TrimSpace(out) != "600 root" {
		t.Errorf("the carried key's mode on web2: %q", out)
	}
	report := site.verify()
	for _, c := range report.HTTPS {
		if !c.Equal || c.New.Title != "acme move" || c.New.CertNotAfter == nil || c.Old.CertNotAfter == nil || !c.New.CertNotAfter.Equal(*c.Old.CertNotAfter) {
			t.Errorf("https check of %s: %+v", c.Name, c)
		}
	}
	for _, note := range report.Notes {
		if strings.Contains(note, "https://") {
			t.Errorf("verify notes an https fault: %q", note)
		}
	}

	site.cutoverAndCleanup()
	t.Logf("moved with its ACME certificate in %s", time.Since(start).Round(time.Millisecond))
	if got := serial(web2, domain); got != want {
		t.Errorf("after the move web2 serves certificate %s, want the carried %s", got, want)
	}
}

// httpsSite is an HTTPS site of a member of its own on web1, for the move
// tests: fetch gets https://NAME/ on a host, trusting the site's CA.
type httpsSite struct {
	t                   *testing.T
	e                   *labtest.Env
	member, domain, dir string
	title               string
	names               []string
	fetch               func(on, addr, name string) (string, error)
}

// newHTTPSSite makes the member, the order on web1, its account, an A
// record per name and a web-conf with the https flags given, waits until
// all are active and the web-conf's message holds message, and checks
// that web1 serves the page titled title over HTTPS for every name.
func newHTTPSSite(t *testing.T, e *labtest.Env, member, domain string, names []string, title string, fetch func(on, addr, name string) (string, error), message string, https ...string) *httpsSite {
	t.Helper()
	s := &httpsSite{t: t, e: e, member: member, domain: domain, title: title, names: names, fetch: fetch, dir: model.OrderDir(member, domain)}
	e.Ferry("", "member", "add", member)
	e.Ferry("", "order", "add", domain, "--member", member, "--host", "web1")
	e.Ferry("", "item", "add", domain, "user-account", "--login", member)
	for _, n := range names {
		e.Ferry("", "item", "add", domain, "dns", "--fqdn", n, "--type", "A", "--value", e.Addr("web1"))
	}
	e.WaitItems(domain, 60*time.Second)
	e.Ferry("", append([]string{"item", "add", domain, "web-conf", "--login", member, "--server-name", strings.Join(names, ","), "--php=false"}, https...)...)
	for _, it := range e.WaitItems(domain, 3*time.Minute) {
		if it.State != model.StateActive {
			t.Fatalf("item %d (%s) is %s: %s", it.ID, it.Kind, it.State, it.Message)
		}
	}
	if wc := e.Item(domain, model.KindWebConf); !strings.Contains(wc.Message, message) {
		t.Fatalf("web-conf message %q, want %q", wc.Message, message)
	}
	e.WriteFile("web1", s.dir+"/web/index.html", "<html><head><title>"+title+"</title></head><body>"+member+"</body></html>\n", member)
	for _, n := range names {
		if page, err := fetch("web1", e.Addr("web1"), n); err != nil || !strings.Contains(page, "<title>"+title+"</title>") {
			t.Fatalf("https://%s/ on web1: %q, %v", n, page, err)
		}
	}
	return s
}

// verify runs the move's verify and returns its report, which must have
// passed with an HTTPS check for each name.
func (s *httpsSite) verify() *wire.VerifyReport {
	s.t.Helper()
	var view wire.MoveView
	if err := json.Unmarshal([]byte(s.e.Ferry("", "move", "verify", s.domain, "--json")), &view); err != nil {
		s.t.Fatal(err)
	}
	info, err := view.Info()
	if err != nil || info.Verify == nil {
		s.t.Fatalf("verify report: %+v, %v", info.Verify, err)
	}
	if v := info.Verify; !v.Passed || len(v.HTTPS) != len(s.names) {
		s.t.Errorf("verify over https: passed %v, %d checks, problems %q, notes %q", v.Passed, len(v.HTTPS), v.Problems, v.Notes)
	}
	return info.Verify
}

// cutoverAndCleanup cuts the move over (web1 then proxies HTTPS to web2:
// every name fetched through web1 shows web2's page), cleans up, and
// checks that web2 serves the site and web1 holds nothing of it.
func (s *httpsSite) cutoverAndCleanup() {
	s.t.Helper()
	e := s.e
	e.Ferry("", "move", "cutover", s.domain, "--skip-ttl-wait")
	moved := s.title + " on web2"
	e.WriteFile("web2", s.dir+"/web/index.html", "<html><head><title>"+moved+"</title></head></html>\n", s.member)
	for _, n := range s.names {
		if page, err := s.fetch("web1", e.Addr("web1"), n); err != nil || !strings.Contains(page, "<title>"+moved+"</title>") {
			s.t.Errorf("https://%s/ through web1's cutover proxy: %q, %v; want web2's page", n, page, err)
		}
	}
	e.Ferry("", "move", "cleanup", s.domain, "--skip-ttl-wait")
	if page, err := s.fetch("web2", e.Addr("web2"), s.domain); err != nil || !strings.Contains(page, moved) {
		s.t.Errorf("after the move, https on web2: %q, %v", page, err)
	}
	e.WaitNothingOn("web1", s.member, "", s.dir)
}
