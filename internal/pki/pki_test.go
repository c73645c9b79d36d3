package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loopback() Options {
	return Options{Names: []string{"ctl.example.org", "localhost"}, Addresses: []net.IP{net.ParseIP("127.0.0.1")}}
}

func TestInitMakesCAAndServerCertificate(t *testing.T) {
	dir := t.TempDir()
	res, err := Init(dir, loopback())
	if err != nil {
		t.Fatal(err)
	}
	if !res.CreatedCA || !res.CA.IsCA {
		t.Fatalf("first Init: CreatedCA=%v IsCA=%v", res.CreatedCA, res.CA.IsCA)
	}
	for f, mode := range map[string]os.FileMode{CAKeyFile: 0o600, ServerKeyFile: 0o600, CACertFile: 0o644, ServerCertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", f, fi.Mode().Perm(), mode)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(res.CA)
	for _, name := range []string{"ctl.example.org", "localhost", "127.0.0.1"} {
		if _, err := res.Server.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := res.Server.Verify(x509.VerifyOptions{DNSName: "other.example.org", Roots: roots}); err == nil {
		t.Error("server certificate verifies for a name it was not made for")
	}

	// Again, with another name: same CA, new server certificate.
	again, err := Init(dir, Options{Names: []string{"new.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if again.CreatedCA || again.Fingerprint != res.Fingerprint {
		t.Errorf("second Init made a new CA (fingerprint %s, was %s)", again.Fingerprint, res.Fingerprint)
	}
	if again.Server.SerialNumber.Cmp(res.Server.SerialNumber) == 0 {
		t.Error("second Init kept the old server certificate")
	}
	if _, err := Init(t.TempDir(), Options{}); err == nil {
		t.Error("Init without names or addresses succeeded")
	}
}

func TestParseFingerprint(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	colons := strings.ToUpper(strings.TrimSuffix(strings.Repeat("AB:", 32), ":"))
	for _, in := range []string{hex, "sha256:" + hex, "SHA256:" + colons, colons, "  " + hex + "\n"} {
		b, err := ParseFingerprint(in)
		if err != nil || len(b) != 32 || b[0] != 0xab {
			t.Errorf("ParseFingerprint(%q) = %x, %v", in, b, err)
		}
	}
	for _, in := range []string{"", "abcd", strings.Repeat("zz", 32), hex + "ab"} {
		if _, err := ParseFingerprint(in); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", in)
		}
	}
}

// server is a TLS server on the loopback.
type server struct{ URL string }

// tlsServer serves "ok" with the certificate in dir, as ferry serve does
// (httptest's StartTLS would put its own certificate first).
func tlsServer(t *testing.T, dir string) (server, *Reloader) {
	t.Helper()
	r, err := NewReloader(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), ErrorLog: log.New(io.Discard, "", 0)}
	go hs.Serve(tls.NewListener(ln, ServerConfig(r)))
	t.Cleanup(func() { hs.Close() })
	return server{URL: "https://" + ln.Addr().String()}, r
}

func get(url string, cfg *tls.Config) error {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func TestPinnedConfig(t *testing.T) {
	dir := t.TempDir()
	res, err := Init(dir, loopback())
	if err != nil {
		t.Fatal(err)
	}
	srv, r := tlsServer(t, dir)
	if r.CAFingerprint() != res.Fingerprint {
		t.Errorf("served chain's CA fingerprint %q, want %q", r.CAFingerprint(), res.Fingerprint)
	}
	fp, _ := ParseFingerprint(res.Fingerprint)

	var got *x509.Certificate
	if err := get(srv.URL, PinnedConfig(fp, "127.0.0.1", func(c *x509.Certificate) { got = c })); err != nil {
		t.Fatalf("pinned to the right CA: %v", err)
	}
	if got == nil || Fingerprint(got) != res.Fingerprint {
		t.Errorf("found certificate = %v, want the CA", got)
	}

	// Another CA's fingerprint: refused.
	other, err := Init(t.TempDir(), loopback())
	if err != nil {
		t.Fatal(err)
	}
	ofp, _ := ParseFingerprint(other.Fingerprint)
	if err := get(srv.URL, PinnedConfig(ofp, "127.0.0.1", nil)); err == nil || !strings.Contains(err.Error(), "pinned fingerprint") {
		t.Errorf("pinned to another CA: err = %v, want a pin mismatch", err)
	}
	// The right CA, but a name the certificate was not made for.
	if err := get(srv.URL, PinnedConfig(fp, "evil.example.org", nil)); err == nil {
		t.Error("pinned CA accepted a certificate for another name")
	}
	// The server's own certificate pinned.
	lfp, _ := ParseFingerprint(Fingerprint(r.Leaf()))
	if err := get(srv.URL, PinnedConfig(lfp, "127.0.0.1", nil)); err != nil {
		t.Errorf("pinned to the server's own certificate: %v", err)
	}

	// After joining, the CA file alone is trusted.
	cfg, err := ClientConfig(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := get(srv.URL, cfg); err != nil {
		t.Errorf("client trusting the CA file: %v", err)
	}
	if _, err := ClientConfig(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("ClientConfig of a missing file succeeded")
	}
	otherDir := t.TempDir()
	if _, err := Init(otherDir, loopback()); err != nil {
		t.Fatal(err)
	}
	ocfg, err := ClientConfig(filepath.Join(otherDir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := get(srv.URL, ocfg); err == nil {
		t.Error("a client trusting another CA accepted the server")
	}
}

func TestReloaderPicksUpReissuedCertificate(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, loopback()); err != nil {
		t.Fatal(err)
	}
	srv, r := tlsServer(t, dir)
	first := r.Leaf().SerialNumber
	if _, err := Init(dir, Options{Names: []string{"localhost"}, Addresses: []net.IP{net.ParseIP("127.0.0.1")}}); err != nil {
		t.Fatal(err)
	}
	// Files written within the same second as the first load keep their
	// modification time on some filesystems; make the change visible.
	later := time.Now().Add(2 * time.Second)
	for _, f := range []string{ServerCertFile, ServerKeyFile} {
		os.Chtimes(filepath.Join(dir, f), later, later)
	}
	r.mu.Lock()
	r.checked = time.Time{}
	r.mu.Unlock()
	cfg, err := ClientConfig(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	var served *x509.Certificate
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { served = cs.PeerCertificates[0]; return nil }
	if err := get(srv.URL, cfg); err != nil {
		t.Fatal(err)
	}
	if served.SerialNumber.Cmp(first) == 0 {
		t.Error("the server still presents the old certificate after re-issue")
	}
}

func TestPublicChainHasNoCAFingerprint(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, loopback()); err != nil {
		t.Fatal(err)
	}
	// A chain of the leaf alone (as a public CA's chain without its root
	// would be) pins nothing.
	chain, _ := os.ReadFile(filepath.Join(dir, ServerCertFile))
	certs, err := ParseCerts(chain)
	if err != nil {
		t.Fatal(err)
	}
	leafOnly := filepath.Join(dir, "leaf.crt")
	os.WriteFile(leafOnly, PEM(certs[0]), 0o644)
	r, err := NewReloader(leafOnly, filepath.Join(dir, ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fp := r.CAFingerprint(); fp != "" {
		t.Errorf("CAFingerprint of a chain without a root = %q, want empty", fp)
	}
	if _, err := NewReloader(leafOnly, filepath.Join(dir, CAKeyFile)); err == nil {
		t.Error("a certificate with another's key loaded")
	}
	if _, _, err := LoadCA(t.TempDir()); !errors.Is(err, ErrNoCA) {
		t.Errorf("LoadCA of an empty dir: %v, want ErrNoCA", err)
	}
}
