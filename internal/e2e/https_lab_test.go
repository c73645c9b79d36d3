//go:build lab

package e2e

import (
	"strings"
	"testing"
	"time"

	"ferry/internal/labtest"
	"ferry/internal/model"
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
