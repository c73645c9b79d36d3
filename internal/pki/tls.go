package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Reloader holds the certificate a server presents and reads its files
// again when they change, so that a re-issued certificate is served
// without a restart.
type Reloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	fp      string
	stamp   [2]time.Time
	checked time.Time
}

// NewReloader loads a certificate chain and key from PEM files.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reloader) stamps() ([2]time.Time, error) {
	var s [2]time.Time
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return s, err
		}
		s[i] = fi.ModTime()
	}
	return s, nil
}

func (r *Reloader) load() error {
	stamp, err := r.stamps()
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate %s, key %s: %w", r.certFile, r.keyFile, err)
	}
	chain := make([]*x509.Certificate, len(c.Certificate))
	for i, der := range c.Certificate {
		if chain[i], err = x509.ParseCertificate(der); err != nil {
			return fmt.Errorf("tls certificate %s: %w", r.certFile, err)
		}
	}
	c.Leaf = chain[0]
	r.cert, r.stamp, r.fp = &c, stamp, chainCAFingerprint(chain)
	return nil
}

// chainCAFingerprint is the fingerprint of the chain's last certificate if
// it is a self-signed CA (ferry's own CA sends itself along), else "".
func chainCAFingerprint(chain []*x509.Certificate) string {
	if len(chain) < 2 {
		return ""
	}
	last := chain[len(chain)-1]
	if !last.IsCA || !bytes.Equal(last.RawSubject, last.RawIssuer) || last.CheckSignatureFrom(last) != nil {
		return ""
	}
	return Fingerprint(last)
}

// GetCertificate serves tls.Config.GetCertificate. It looks at the files'
// times at most once a second and keeps the old certificate if a new one
// does not load (half written, or a key that does not match yet).
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= time.Second {
		r.checked = time.Now()
		if s, err := r.stamps(); err == nil && s != r.stamp {
			_ = r.load()
		}
	}
	return r.cert, nil
}

// Leaf returns the certificate being served.
func (r *Reloader) Leaf() *x509.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert.Leaf
}

// CAFingerprint is the fingerprint of the CA the served chain ends in, when
// it ends in a self-signed CA (as `ferry ca init`'s does); "" when the
// chain is a public CA's, which nodes check against the system's roots.
func (r *Reloader) CAFingerprint() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fp
}

// ServerConfig is the TLS configuration of a server presenting r's
// certificate.
func ServerConfig(r *Reloader) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// ClientConfig trusts only the certificates of caFile: a node pins its
// control plane's CA this way once it has joined.
func ClientConfig(caFile string) (*tls.Config, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	certs, err := ParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// ErrPinMismatch is returned when a server's certificates do not include
// the pinned one.
var ErrPinMismatch = errors.New("the server's certificate chain does not match the pinned fingerprint")

// PinnedConfig trusts a server reached as serverName only if a certificate
// it presents has the SHA-256 fingerprint fp and vouches for it: a CA that
// signed the server's certificate for serverName, or the server's own
// certificate. found receives the pinned certificate, for the caller to
// keep and trust from then on.
func PinnedConfig(fp []byte, serverName string, found func(*x509.Certificate)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Chain checks happen in VerifyConnection, against the pin
		// instead of the system's roots.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			pinned, err := verifyPinned(cs.PeerCertificates, fp, serverName)
			if err != nil {
				return err
			}
			if found != nil {
				found(pinned)
			}
			return nil
		},
	}
}

func verifyPinned(certs []*x509.Certificate, fp []byte, serverName string) (*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, errors.New("the server sent no certificate")
	}
	leaf := certs[0]
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		if !bytes.Equal(sum[:], fp) {
			continue
		}
		if c == leaf {
			if err := leaf.VerifyHostname(serverName); err != nil {
				return nil, err
			}
			now := time.Now()
			if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
				return nil, fmt.Errorf("the pinned certificate is not valid now (from %s to %s)", leaf.NotBefore, leaf.NotAfter)
			}
			return leaf, nil
		}
		if !c.IsCA {
			return nil, fmt.Errorf("the pinned certificate %q is not a CA's", c.Subject.CommonName)
		}
		roots := x509.NewCertPool()
		roots.AddCert(c)
		inter := x509.NewCertPool()
		for _, o := range certs[1:] {
			if o != c {
				inter.AddCert(o)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: serverName, Roots: roots, Intermediates: inter}); err != nil {
			return nil, fmt.Errorf("the server's certificate does not verify against the pinned CA: %w", err)
		}
		return c, nil
	}
	return nil, ErrPinMismatch
}
