// Package acme obtains and renews a site's certificate from an ACME CA,
// with lego as the ACME implementation. The HTTP-01 challenge is answered
// by the site's own host: the token file is written into the directory the
// site's Apache serves at /.well-known/acme-challenge/.
package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"

	"ferry/internal/atomicfile"
)

// Config says where to ask and for what.
type Config struct {
	Directory  string   // the CA's ACME directory URL
	CAFile     string   // PEM roots to trust for the directory's HTTPS; empty: the system's
	AccountDir string   // where the account key and registration are kept
	Email      string   // the account's contact, may be empty
	Names      []string // the server names, the first one the subject
	WebrootDir string   // served by the site's host at /.well-known/acme-challenge/
}

// Obtain asks the CA for a certificate covering cfg.Names, registering an
// account first when AccountDir holds none. It returns the PEM chain (leaf
// first) and the PEM private key of a new key. Renewal is a new Obtain.
func Obtain(ctx context.Context, cfg Config) (certPEM, keyPEM []byte, err error) {
	if len(cfg.Names) == 0 {
		return nil, nil, errors.New("acme: no server names to certify")
	}
	if cfg.WebrootDir == "" || cfg.AccountDir == "" || cfg.Directory == "" {
		return nil, nil, errors.New("acme: Directory, AccountDir and WebrootDir are required")
	}
	httpClient, err := newHTTPClient(cfg.CAFile)
	if err != nil {
		return nil, nil, err
	}
	u, err := loadAccount(cfg.AccountDir, cfg.Email)
	if err != nil {
		return nil, nil, err
	}
	lc := lego.NewConfig(u)
	lc.CADirURL = cfg.Directory
	lc.HTTPClient = httpClient
	lc.UserAgent = "ferry"
	client, err := lego.NewClient(lc)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: %s: %w", cfg.Directory, err)
	}
	if err := client.Challenge.SetHTTP01Provider(Webroot{Dir: cfg.WebrootDir}); err != nil {
		return nil, nil, fmt.Errorf("acme: %w", err)
	}
	if u.Registration == nil {
		reg, err := client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
		if err != nil {
			return nil, nil, fmt.Errorf("acme: registering an account at %s: %w", cfg.Directory, err)
		}
		u.Registration = reg
		if err := saveAccount(cfg.AccountDir, u); err != nil {
			return nil, nil, err
		}
	}
	res, err := client.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: cfg.Names, Bundle: true, KeyType: certcrypto.EC256})
	if err != nil {
		return nil, nil, fmt.Errorf("acme: obtaining a certificate for %s: %w", strings.Join(cfg.Names, ", "), err)
	}
	return res.Certificate, res.PrivateKey, nil
}

// RenewBefore is how long before its expiry a certificate is renewed:
// when less than a third of its lifetime remains, or 30 days, whichever
// comes first. A 90-day certificate renews 30 days before expiry, a
// 6-day one 30 days before (at once), a year-long one about 122 days
// before: whichever rule renews sooner wins.
func RenewBefore(c *x509.Certificate) time.Duration {
	third := c.NotAfter.Sub(c.NotBefore) / 3
	return max(third, 30*24*time.Hour)
}

// NeedsRenewal tells whether c should be renewed at now.
func NeedsRenewal(c *x509.Certificate, now time.Time) bool {
	return !now.Before(c.NotAfter.Add(-RenewBefore(c)))
}

func newHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("acme: the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("acme: the CA file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}

// user is lego's view of the account.
type user struct {
	Email        string
	Registration *acme.ExtendedAccount
	key          crypto.Signer
}

func (u *user) GetEmail() string                       { return u.Email }
func (u *user) GetRegistration() *acme.ExtendedAccount { return u.Registration }
func (u *user) GetPrivateKey() crypto.Signer           { return u.key }

const (
	accountKeyFile = "account.key"
	accountFile    = "account.json"
)

// loadAccount reads the account key (making one on first use, mode 0600)
// and the registration, when there is one.
func loadAccount(dir, email string) (*user, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: the account directory: %w", err)
	}
	u := &user{Email: email}
	keyPath := filepath.Join(dir, accountKeyFile)
	data, err := os.ReadFile(keyPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("acme: writing the account key: %w", err)
		}
		u.key = k
		return u, nil
	case err != nil:
		return nil, fmt.Errorf("acme: reading the account key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("acme: %s holds no PEM key", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("acme: %s does not parse as a PKCS#8 key", keyPath)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("acme: %s is not a signing key", keyPath)
	}
	u.key = signer
	reg, err := os.ReadFile(filepath.Join(dir, accountFile))
	if errors.Is(err, os.ErrNotExist) {
		return u, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acme: reading the account: %w", err)
	}
	var saved struct {
		Email        string
		Registration *acme.ExtendedAccount
	}
	if err := json.Unmarshal(reg, &saved); err != nil {
		return nil, fmt.Errorf("acme: %s: %w", accountFile, err)
	}
	u.Registration = saved.Registration
	if u.Email == "" {
		u.Email = saved.Email
	}
	return u, nil
}

func saveAccount(dir string, u *user) error {
	data, err := json.MarshalIndent(struct {
		Email        string
		Registration *acme.ExtendedAccount
	}{u.Email, u.Registration}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, accountFile), data, 0o600); err != nil {
		return fmt.Errorf("acme: writing the account: %w", err)
	}
	return nil
}
