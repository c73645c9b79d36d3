// Package pki is ferry's own small certificate authority, for a co-op that
// has no other: `ferry ca init` makes a CA and a server certificate for the
// control plane, and nodes pin that CA by the SHA-256 fingerprint they are
// given when they join. It also loads and reloads the certificate `ferry
// serve` presents, whoever made it.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/atomicfile"
)

// Files in a PKI directory (DATA/pki for `ferry serve`).
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt" // the server certificate, then the CA's
	ServerKeyFile  = "server.key"
)

// Lifetimes of what Init makes. The server certificate is re-issued by
// running Init again (it keeps the CA), and `ferry serve` picks the new one
// up without a restart.
const (
	CALifetime     = 10 * 365 * 24 * time.Hour
	ServerLifetime = 2 * 365 * 24 * time.Hour
)

// ErrNoCA is returned when a PKI directory holds no CA.
var ErrNoCA = errors.New("no CA here; run ferry ca init")

// Options say what server certificate Init issues.
type Options struct {
	// Names are the DNS names the control plane is reached by.
	Names []string
	// Addresses are its IP addresses.
	Addresses []net.IP
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Result is what Init made or found.
type Result struct {
	CA          *x509.Certificate
	Server      *x509.Certificate
	CreatedCA   bool
	Fingerprint string // the CA's, as Fingerprint returns it
}

// Init makes a CA in dir unless one is there, and issues a new server
// certificate and key for opts's names and addresses, signed by the CA.
// Keys are written readable by their owner only.
func Init(dir string, opts Options) (Result, error) {
	if len(opts.Names) == 0 && len(opts.Addresses) == 0 {
		return Result{}, errors.New("a server certificate needs at least one name or address")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("pki directory: %w", err)
	}
	var res Result
	caCert, caKey, err := LoadCA(dir)
	if errors.Is(err, ErrNoCA) {
		caCert, caKey, err = newCA(dir, now())
		res.CreatedCA = true
	}
	if err != nil {
		return Result{}, err
	}
	srv, err := issueServer(dir, caCert, caKey, opts, now())
	if err != nil {
		return Result{}, err
	}
	res.CA, res.Server, res.Fingerprint = caCert, srv, Fingerprint(caCert)
	return res, nil
}

// LoadCA reads the CA's certificate and key from dir.
func LoadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w", dir, ErrNoCA)
	}
	if err != nil {
		return nil, nil, err
	}
	certs, err := ParseCerts(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", CACertFile, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("CA key: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", CAKeyFile, err)
	}
	return certs[0], key, nil
}

func newCA(dir string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "ferry CA " + host, Organization: []string{"ferry"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return nil, nil, err
	}
	if err := atomicfile.Write(filepath.Join(dir, CACertFile), pemCert(cert), 0o644); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func issueServer(dir string, ca *x509.Certificate, caKey crypto.Signer, opts Options, now time.Time) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cn := "ferry control plane"
	if len(opts.Names) > 0 {
		cn = opts.Names[0]
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"ferry"}},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(ServerLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    opts.Names,
		IPAddresses: opts.Addresses,
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	cert, err := sign(tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, err
	}
	// The key first: a certificate without its key would not load.
	if err := writeKey(filepath.Join(dir, ServerKeyFile), key); err != nil {
		return nil, err
	}
	chain := append(pemCert(cert), pemCert(ca)...)
	if err := atomicfile.Write(filepath.Join(dir, ServerCertFile), chain, 0o644); err != nil {
		return nil, err
	}
	return cert, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// Fingerprint is the SHA-256 of a certificate's DER form, in lowercase hex:
// what `ferry node join --ca-fingerprint` takes.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// ParseFingerprint reads a SHA-256 fingerprint written as hex, with or
// without colons and a "sha256:" prefix, in either case (the forms openssl
// and browsers print).
func ParseFingerprint(s string) ([]byte, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "sha256:")
	t = strings.TrimPrefix(t, "sha256 fingerprint=")
	t = strings.ReplaceAll(t, ":", "")
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%q is not a SHA-256 fingerprint (64 hex digits)", s)
	}
	return b, nil
}

// ParseCerts reads every certificate of a PEM bundle, and fails on none.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM key found")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("key cannot sign")
	}
	return s, nil
}

// PEM encodes a certificate.
func PEM(c *x509.Certificate) []byte { return pemCert(c) }

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}
