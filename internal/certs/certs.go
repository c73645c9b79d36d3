// Package certs parses and checks a member's own certificate: a PEM chain
// and its private key. It reports what a panel item shows (issuer, expiry,
// names, fingerprint) and refuses a chain that does not fit, with an error
// that names what is wrong. It never prints key material.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Info is what a checked certificate tells about itself.
type Info struct {
	Issuer      string    // the leaf's issuer, as a distinguished name
	Subject     string    // the leaf's subject
	NotBefore   time.Time // start of validity
	NotAfter    time.Time // end of validity
	Names       []string  // the leaf's DNS names
	Fingerprint string    // SHA-256 of the leaf's DER, lowercase hex
}

// ParseChain reads every CERTIFICATE block of certPEM, leaf first.
// A block of another type is refused, so a key pasted into the chain file
// is noticed rather than kept.
func ParseChain(certPEM []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	rest := certPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("the certificate file holds a %q block; only CERTIFICATE blocks belong there", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d of the chain does not parse: %v", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("the certificate file holds no PEM CERTIFICATE block")
	}
	return chain, nil
}

// ParseKey reads the one private key block of keyPEM: PKCS#1 RSA, SEC1 EC
// or PKCS#8 (RSA, ECDSA, Ed25519). Errors never quote the key.
func ParseKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("the key file holds no PEM block")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the key is encrypted; give it without a passphrase")
	default:
		return nil, fmt.Errorf("the key file holds a %q block, not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("the %s block does not parse as a private key", block.Type)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("the key is of an unsupported kind %T", key)
}

// Check parses a member's chain and key and checks that they belong
// together, that the chain is in order (each certificate signed by the
// next), that the leaf covers every name and that it is valid at now.
// roots, when not nil, must also verify the chain; nil skips that.
func Check(certPEM, keyPEM []byte, names []string, now time.Time, roots *x509.CertPool) (Info, error) {
	chain, err := ParseChain(certPEM)
	if err != nil {
		return Info{}, err
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return Info{}, err
	}
	leaf := chain[0]
	if !KeyMatches(leaf, key) {
		return Info{}, errors.New("the key does not match the certificate")
	}
	if err := checkOrder(chain); err != nil {
		return Info{}, err
	}
	info := Describe(leaf)
	if err := Covers(leaf, names); err != nil {
		return info, err
	}
	if now.Before(leaf.NotBefore) {
		return info, fmt.Errorf("the certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return info, fmt.Errorf("the certificate expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if roots != nil {
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now}); err != nil {
			return info, fmt.Errorf("the chain does not lead to a trusted root: %v", err)
		}
	}
	return info, nil
}

// Describe reports a certificate's issuer, validity, names and fingerprint.
func Describe(c *x509.Certificate) Info {
	sum := sha256.Sum256(c.Raw)
	return Info{
		Issuer:      c.Issuer.String(),
		Subject:     c.Subject.String(),
		NotBefore:   c.NotBefore,
		NotAfter:    c.NotAfter,
		Names:       append([]string(nil), c.DNSNames...),
		Fingerprint: hex.EncodeToString(sum[:]),
	}
}

// KeyMatches tells whether key is the private half of c's public key.
func KeyMatches(c *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(c.PublicKey)
}

// checkOrder wants each certificate signed by the one after it.
func checkOrder(chain []*x509.Certificate) error {
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return fmt.Errorf("the chain is out of order: certificate %d (%s) is not signed by certificate %d (%s)",
				i+1, chain[i].Subject, i+2, chain[i+1].Subject)
		}
	}
	return nil
}

// Covers checks that c names every one of names, by its DNS names only
// (RFC 6125: the subject's common name is not consulted; a wildcard is a
// whole left-most label and stands for exactly one label).
func Covers(c *x509.Certificate, names []string) error {
	for _, n := range names {
		if !covered(c.DNSNames, n) {
			covers := strings.Join(c.DNSNames, ", ")
			if covers == "" {
				covers = "no DNS names"
			}
			return fmt.Errorf("the certificate does not cover %s (it covers %s)", n, covers)
		}
	}
	return nil
}

func covered(dnsNames []string, name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for _, p := range dnsNames {
		if MatchName(p, name) {
			return true
		}
	}
	return false
}

// MatchName matches one presented DNS name against a host name,
// ignoring case. "*.example.org" matches "www.example.org" but neither
// "example.org" nor "a.b.example.org"; a wildcard anywhere but as the
// whole left-most label matches nothing.
func MatchName(pattern, host string) bool {
	pattern = strings.TrimSuffix(strings.ToLower(pattern), ".")
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if pattern == "" || host == "" {
		return false
	}
	rest, wild := strings.CutPrefix(pattern, "*.")
	if !wild {
		return !strings.Contains(pattern, "*") && pattern == host
	}
	if strings.Contains(rest, "*") || !strings.Contains(rest, ".") {
		return false // no nested wildcard, none over a single label ("*.org")
	}
	label, hostRest, ok := strings.Cut(host, ".")
	return ok && label != "" && hostRest == rest
}
