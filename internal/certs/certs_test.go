package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

type issued struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func mustIssue(t testing.TB, subject string, names []string, parent *issued, key crypto.Signer, notBefore, notAfter time.Time) *issued {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: subject},
		DNSNames:              names,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  names == nil,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: c, key: key}
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(cs ...*issued) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})...)
	}
	return b
}

func keyPEM(t testing.TB, key crypto.Signer, form string) []byte {
	t.Helper()
	var (
		der []byte
		err error
	)
	switch form {
	case "PRIVATE KEY":
		der, err = x509.MarshalPKCS8PrivateKey(key)
	case "RSA PRIVATE KEY":
		der = x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))
	case "EC PRIVATE KEY":
		der, err = x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: form, Bytes: der})
}

func TestCheck(t *testing.T) {
	day := 24 * time.Hour
	root := mustIssue(t, "Test Root", nil, nil, ecKey(t), now.Add(-365*day), now.Add(365*day))
	inter := mustIssue(t, "Test Intermediate", nil, root, ecKey(t), now.Add(-365*day), now.Add(365*day))
	leafKey := ecKey(t)
	leaf := mustIssue(t, "example.org", []string{"example.org", "*.shop.example.org"}, inter, leafKey, now.Add(-day), now.Add(89*day))
	expired := mustIssue(t, "example.org", []string{"example.org"}, inter, leafKey, now.Add(-90*day), now.Add(-day))
	future := mustIssue(t, "example.org", []string{"example.org"}, inter, leafKey, now.Add(day), now.Add(90*day))

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaLeaf := mustIssue(t, "rsa", []string{"example.org"}, inter, rsaKey, now.Add(-day), now.Add(day))
	edLeaf := mustIssue(t, "ed", []string{"example.org"}, inter, edKey, now.Add(-day), now.Add(day))

	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(mustIssue(t, "Other Root", nil, nil, ecKey(t), now.Add(-day), now.Add(day)).cert)

	tests := []struct {
		name    string
		cert    []byte
		key     []byte
		names   []string
		roots   *x509.CertPool
		wantErr string
	}{
		{name: "ec pkcs8 chain", cert: pemOf(leaf, inter), key: keyPEM(t, leafKey, "PRIVATE KEY"), names: []string{"example.org", "a.shop.example.org"}, roots: roots},
		{name: "ec sec1", cert: pemOf(leaf), key: keyPEM(t, leafKey, "EC PRIVATE KEY"), names: []string{"EXAMPLE.org."}},
		{name: "rsa pkcs1", cert: pemOf(rsaLeaf, inter), key: keyPEM(t, rsaKey, "RSA PRIVATE KEY"), names: []string{"example.org"}, roots: roots},
		{name: "rsa pkcs8", cert: pemOf(rsaLeaf), key: keyPEM(t, rsaKey, "PRIVATE KEY"), names: []string{"example.org"}},
		{name: "ed25519", cert: pemOf(edLeaf, inter), key: keyPEM(t, edKey, "PRIVATE KEY"), names: []string{"example.org"}, roots: roots},
		{name: "not covered", cert: pemOf(leaf), key: keyPEM(t, leafKey, "PRIVATE KEY"), names: []string{"www.example.org"},
			wantErr: "the certificate does not cover www.example.org (it covers example.org, *.shop.example.org)"},
		{name: "wildcard one label only", cert: pemOf(leaf), key: keyPEM(t, leafKey, "PRIVATE KEY"), names: []string{"a.b.shop.example.org"},
			wantErr: "does not cover a.b.shop.example.org"},
		{name: "wildcard not the bare domain", cert: pemOf(leaf), key: keyPEM(t, leafKey, "PRIVATE KEY"), names: []string{"shop.example.org"},
			wantErr: "does not cover shop.example.org"},
		{name: "key mismatch", cert: pemOf(leaf), key: keyPEM(t, rsaKey, "PRIVATE KEY"), names: []string{"example.org"},
			wantErr: "the key does not match the certificate"},
		{name: "out of order", cert: pemOf(leaf, root, inter), key: keyPEM(t, leafKey, "PRIVATE KEY"),
			wantErr: "the chain is out of order: certificate 1 (CN=example.org) is not signed by certificate 2 (CN=Test Root)"},
		{name: "expired", cert: pemOf(expired), key: keyPEM(t, leafKey, "PRIVATE KEY"), names: []string{"example.org"},
			wantErr: "the certificate expired on 2026-12-02T12:00:00Z"},
		{name: "not yet valid", cert: pemOf(future), key: keyPEM(t, leafKey, "PRIVATE KEY"), names: []string{"example.org"},
			wantErr: "the certificate is not valid before 2026-12-04T12:00:00Z"},
		{name: "untrusted", cert: pemOf(leaf, inter), key: keyPEM(t, leafKey, "PRIVATE KEY"), roots: otherRoots,
			wantErr: "the chain does not lead to a trusted root"},
		{name: "no pem", cert: []byte("hello"), key: keyPEM(t, leafKey, "PRIVATE KEY"),
			wantErr: "the certificate file holds no PEM CERTIFICATE block"},
		{name: "garbage certificate", cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("xx")}), key: keyPEM(t, leafKey, "PRIVATE KEY"),
			wantErr: "certificate 1 of the chain does not parse"},
		{name: "key in chain file", cert: append(pemOf(leaf), keyPEM(t, leafKey, "PRIVATE KEY")...), key: keyPEM(t, leafKey, "PRIVATE KEY"),
			wantErr: `the certificate file holds a "PRIVATE KEY" block`},
		{name: "no key", cert: pemOf(leaf), key: nil, wantErr: "the key file holds no PEM block"},
		{name: "certificate as key", cert: pemOf(leaf), key: pemOf(leaf), wantErr: `the key file holds a "CERTIFICATE" block, not a private key`},
		{name: "encrypted key", cert: pemOf(leaf), key: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}),
			wantErr: "the key is encrypted"},
		{name: "garbage key", cert: pemOf(leaf), key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("secret-bytes")}),
			wantErr: "the EC PRIVATE KEY block does not parse as a private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Check(tt.cert, tt.key, tt.names, now, tt.roots)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if info.Issuer != "CN=Test Intermediate" || len(info.Fingerprint) != 64 || info.NotAfter.IsZero() || len(info.Names) == 0 {
					t.Errorf("info = %+v", info)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check error = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret-bytes") || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func TestMatchName(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"example.org", "example.org", true},
		{"Example.ORG", "example.org.", true},
		{"example.org", "www.example.org", false},
		{"*.example.org", "www.example.org", true},
		{"*.example.org", "example.org", false},
		{"*.example.org", "a.b.example.org", false},
		{"*.example.org", ".example.org", false},
		{"*.org", "example.org", false},
		{"w*.example.org", "www.example.org", false},
		{"www.*.org", "www.example.org", false},
		{"*.*.example.org", "a.b.example.org", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := MatchName(tt.pattern, tt.host); got != tt.want {
			t.Errorf("MatchName(%q, %q) = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
	}
}
