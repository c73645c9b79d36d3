package move

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ferry/internal/certs/certstest"
	"ferry/internal/model"
)

// serveTLS serves a page titled title with the certificate chain and key
// on addr until the test ends.
func serveTLS(t *testing.T, addr, title string, chain, key []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", addr, err)
	}
	pair, err := tls.X509KeyPair(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "<html><head><title>"+title+"</title></head></html>")
	}))
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
}

// Verify fetches an HTTPS site from both hosts with its name as SNI: a
// new certificate that leaves a name out or expires sooner is a problem,
// for a site with its own certificate and for an ACME site (whose
// certificate the sync carries); an ACME site the old host serves no
// HTTPS for either is only noted.
func TestVerifyHTTPS(t *testing.T) {
	names := []string{"example.org", "www.example.org"}
	now := time.Now()
	oldChain, oldKey := certstest.Issue(t, "Member CA", names, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	newChain, newKey := certstest.Issue(t, "Member CA", names[:1], now.Add(-time.Hour), now.Add(30*24*time.Hour))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	serveTLS(t, "127.0.0.1:"+port, "the site", oldChain, oldKey)
	serveTLS(t, "127.0.0.2:"+port, "the site", newChain, newKey)
	e := &Engine{opts: Options{HTTPSPort: atoiPort(t, port)}}

	for _, source := range []string{model.HTTPSOwn, model.HTTPSAcme} {
		rep := &VerifyReport{}
		items := []model.Item{{Kind: model.KindWebConf, Spec: model.Spec{ServerNames: names, HTTPS: &model.HTTPSSpec{Source: source}}},
			{Kind: model.KindWebConf, Spec: model.Spec{ServerNames: []string{"plain.example.org"}}}}
		e.verifyHTTPS(context.Background(), rep, items, "127.0.0.1", "127.0.0.2", "web1", "web2")
		if len(rep.HTTPS) != 2 || !rep.HTTPS[0].Equal || rep.HTTPS[0].New.Title != "the site" {
			t.Fatalf("%s: https checks %+v", source, rep.HTTPS)
		}
		if len(rep.Notes) != 0 {
			t.Errorf("%s: notes %q, want problems only", source, rep.Notes)
		}
		all := strings.Join(rep.Problems, "\n")
		for _, want := range []string{"the certificate web2 serves for www.example.org does not cover it (it covers example.org)",
			"the certificate web2 serves for example.org expires"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: %q lacks %q", source, all, want)
			}
		}
		if strings.Contains(all, "serves for example.org does not cover") {
			t.Errorf("%s: a covered name is reported: %q", source, all)
		}
	}
}

// An ACME site the old host serves over plain HTTP only (its CA never
// issued there) is no reason to hold the move: its new host obtains a
// certificate after the DNS switch, and verify notes it.
func TestVerifyHTTPSAcmeWithoutCertificateOnTheOldHost(t *testing.T) {
	names := []string{"example.org"}
	now := time.Now()
	chain, key := certstest.Issue(t, "Pebble", names, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	// Nothing listens on 127.0.0.1:port (the old host); the new one has
	// no certificate either, then one.
	e := &Engine{opts: Options{HTTPSPort: atoiPort(t, port)}}
	items := []model.Item{{Kind: model.KindWebConf, Spec: model.Spec{ServerNames: names, HTTPS: &model.HTTPSSpec{Source: model.HTTPSAcme}}}}
	rep := &VerifyReport{}
	e.verifyHTTPS(context.Background(), rep, items, "127.0.0.1", "127.0.0.2", "web1", "web2")
	if len(rep.Problems) != 0 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "web1 serves no HTTPS for this ACME site either") {
		t.Errorf("problems %q, notes %q; want one note", rep.Problems, rep.Notes)
	}
	// The same fault for an own certificate is a problem.
	items[0].Spec.HTTPS.Source = model.HTTPSOwn
	rep = &VerifyReport{}
	e.verifyHTTPS(context.Background(), rep, items, "127.0.0.1", "127.0.0.2", "web1", "web2")
	if len(rep.Problems) == 0 {
		t.Errorf("own certificate: no problem reported, notes %q", rep.Notes)
	}
	// The old host serving HTTPS, the new one not: a problem for ACME too.
	serveTLS(t, "127.0.0.1:"+port, "the site", chain, key)
	items[0].Spec.HTTPS.Source = model.HTTPSAcme
	rep = &VerifyReport{}
	e.verifyHTTPS(context.Background(), rep, items, "127.0.0.1", "127.0.0.2", "web1", "web2")
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "https://example.org/ on web2") {
		t.Errorf("problems %q, notes %q; want the new host's missing https as a problem", rep.Problems, rep.Notes)
	}
}

func atoiPort(t *testing.T, s string) int {
	t.Helper()
	p, err := net.LookupPort("tcp", s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
