//go:build lab

package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/certs"
	"ferry/internal/lab"
)

const (
	pebbleIP = "127.0.90.1" // Pebble's ACME and management listeners
	siteIP   = "127.0.90.2" // the site's host: port 80 serves the webroot
	dnsIP    = "127.0.90.3" // answers every name with siteIP
)

// TestObtainAndRenewFromPebble runs Pebble, a DNS server that points every
// name at a loopback web server, and obtains then renews a certificate for
// two names through the webroot challenge.
func TestObtainAndRenewFromPebble(t *testing.T) {
	dir := t.TempDir()
	webroot := filepath.Join(dir, "webroot", ".well-known", "acme-challenge")

	startDNS(t)
	startWebroot(t, filepath.Join(dir, "webroot"))
	caFile := startPebble(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{
		Directory:  "https://" + pebbleIP + ":14000/dir",
		CAFile:     caFile,
		AccountDir: filepath.Join(dir, "account"),
		Email:      "member@example.org",
		Names:      []string{"example.org", "www.example.org"},
		WebrootDir: webroot,
	}
	certPEM, keyPEM, err := Obtain(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	roots := pebbleRoots(t, caFile)
	info, err := certs.Check(certPEM, keyPEM, cfg.Names, time.Now(), roots)
	if err != nil {
		t.Fatalf("the issued certificate: %v", err)
	}
	t.Logf("issued by %s, expires %s, names %v", info.Issuer, info.NotAfter, info.Names)
	if left, _ := os.ReadDir(webroot); len(left) != 0 {
		t.Errorf("challenge files left in the webroot: %d", len(left))
	}
	leaf, _ := certs.ParseChain(certPEM)
	if NeedsRenewal(leaf[0], time.Now()) {
		t.Errorf("a fresh certificate needs renewal")
	}
	if !NeedsRenewal(leaf[0], leaf[0].NotAfter.Add(-RenewBefore(leaf[0]))) {
		t.Errorf("no renewal at the renewal point")
	}

	// Renewal: the same account (kept in AccountDir), a new certificate.
	renewedPEM, renewedKey, err := Obtain(ctx, cfg)
	if err != nil {
		t.Fatalf("renewal: %v", err)
	}
	renewed, err := certs.Check(renewedPEM, renewedKey, cfg.Names, time.Now(), roots)
	if err != nil {
		t.Fatalf("the renewed certificate: %v", err)
	}
	if renewed.Fingerprint == info.Fingerprint {
		t.Error("renewal returned the same certificate")
	}
	acct, err := os.ReadFile(filepath.Join(cfg.AccountDir, accountFile))
	if err != nil || !strings.Contains(string(acct), "Registration") {
		t.Errorf("account not kept: %v", err)
	}
}

func startDNS(t *testing.T) {
	t.Helper()
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5},
					A:   net.ParseIP(siteIP),
				})
			}
		}
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", dnsIP+":53")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", dnsIP+":53") // Pebble asks over TCP
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: mux}, {Listener: ln, Handler: mux}} {
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
}

func startWebroot(t *testing.T, root string) {
	t.Helper()
	ln, err := net.Listen("tcp", siteIP+":80")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(root)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// startPebble writes Pebble's config and its listener's own certificate,
// starts it and returns the file of that certificate's CA for the client.
func startPebble(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "pebble").Output()
	if err != nil {
		t.Fatalf("pebble is not a tool of the module (scripts/lab-deps.sh): %v", err)
	}
	bin := strings.TrimSpace(string(out))

	certFile, keyFile := filepath.Join(dir, "pebble-cert.pem"), filepath.Join(dir, "pebble-key.pem")
	writeListenerCert(t, certFile, keyFile)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, []byte(lab.RenderPebble(pebbleIP, certFile, keyFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "pebble.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", dnsIP+":53")
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("pebble's log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", pebbleIP+":14000", time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not listen on %s:14000", pebbleIP)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return certFile
}

// writeListenerCert makes a self-signed certificate for Pebble's own
// listeners; the client trusts it as its CA file.
func writeListenerCert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pebble listener"},
		IPAddresses:           []net.IP{net.ParseIP(pebbleIP)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pebbleRoots fetches the root Pebble issues under from its management
// endpoint /roots/0.
func pebbleRoots(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	client, err := newHTTPClient(caFile)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get("https://" + pebbleIP + ":15000/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebble's root: %s, %v", resp.Status, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(body) {
		t.Fatalf("pebble's root is not PEM: %q", body)
	}
	return pool
}
