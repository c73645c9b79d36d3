package apply

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ferry/internal/acme"
	"ferry/internal/atomicfile"
	"ferry/internal/certs"
	"ferry/internal/model"
)

// HTTPSConfig says where a host keeps its sites' certificates and where it
// obtains ACME certificates from.
type HTTPSConfig struct {
	// TLSDir holds one root-only directory per HTTPS site (named like its
	// vhost file) with its chain, its key and the site's record.
	TLSDir string
	// ChallengeDir is served by every ACME site's port 80 vhost at
	// /.well-known/acme-challenge/; the HTTP-01 tokens are written here.
	ChallengeDir string

	// Directory is the ACME CA's directory URL; empty means acme sites
	// stay on plain HTTP, saying so.
	Directory string
	// CAFile holds the PEM roots to trust for the directory's HTTPS
	// (empty: the system's).
	CAFile string
	// AccountDir keeps the host's ACME account key and registration.
	AccountDir string
	// Email is the ACME account's contact, may be empty.
	Email string
}

// Files in a site's TLS directory.
const (
	tlsCertFile = "fullchain.pem"
	tlsKeyFile  = "privkey.pem"
	// tlsSiteFile records the order and item the site was last ensured
	// from (the key left out), so the renewal check can obtain again and
	// write the vhost without asking the control plane.
	tlsSiteFile = "site.json"
)

// obtainTimeout bounds one ACME order, challenges included.
const obtainTimeout = 3 * time.Minute

// siteTLS is what a site's *:443 vhost needs.
type siteTLS struct {
	CertFile, KeyFile string
	HSTS              bool
}

// tlsDir is the root-only directory of a site's certificate.
func (a *Applier) tlsDir(name string) string { return filepath.Join(a.cfg.HTTPS.TLSDir, name) }

// siteRecord is tlsSiteFile's content.
type siteRecord struct {
	Order model.Order `json:"order"`
	Item  model.Item  `json:"item"`
}

// httpsPlan is what ensuring a site's HTTPS comes to, before the vhost is
// written: the certificate files to write, whether the vhost gets its 443
// part, and whether a certificate must be obtained first.
type httpsPlan struct {
	changes []FileChange
	tls     *siteTLS
	obtain  bool
	note    string // for the item's message
}

// planHTTPS decides a site's HTTPS. A member's own certificate is written
// as given (the API checked it); an ACME one is used when a valid one for
// every name is installed, and is otherwise to be obtained, the site
// serving plain HTTP meanwhile.
func (a *Applier) planHTTPS(st *site, o model.Order, it model.Item) (httpsPlan, error) {
	h := it.Spec.HTTPS
	if h == nil {
		return httpsPlan{}, nil
	}
	dir := a.tlsDir(st.Name)
	if err := os.MkdirAll(a.cfg.HTTPS.TLSDir, 0o700); err != nil {
		return httpsPlan{}, fmt.Errorf("certificates directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return httpsPlan{}, fmt.Errorf("certificate directory of %s: %w", st.ServerName, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return httpsPlan{}, fmt.Errorf("certificate directory of %s: %w", st.ServerName, err)
	}
	tls := a.siteHTTPS(st, h)
	rec, err := json.Marshal(siteRecord{Order: o, Item: redactedItem(it)})
	if err != nil {
		return httpsPlan{}, err
	}
	p := httpsPlan{changes: []FileChange{{Path: filepath.Join(dir, tlsSiteFile), Content: rec, Mode: 0o600}}}
	switch h.Source {
	case model.HTTPSOwn:
		p.changes = append(p.changes,
			FileChange{Path: tls.KeyFile, Content: []byte(h.Key), Mode: 0o600},
			FileChange{Path: tls.CertFile, Content: []byte(h.Cert), Mode: 0o644})
		chain, err := certs.ParseChain([]byte(h.Cert))
		if err != nil {
			return httpsPlan{}, hardf("https: %w", err)
		}
		p.tls, p.note = tls, certNote(certs.Describe(chain[0]), "the member's own certificate")
	case model.HTTPSAcme:
		if prev := readSiteRecord(dir); prev != nil && prev.Item.Spec.HTTPS != nil && prev.Item.Spec.HTTPS.Source != model.HTTPSAcme {
			// The member's own certificate goes: an acme site serves
			// only what its CA issued.
			p.changes = append(p.changes, FileChange{Path: tls.CertFile, Remove: true}, FileChange{Path: tls.KeyFile, Remove: true})
			p.obtain, p.note = true, "no certificate yet"
			break
		}
		info, why := installedCert(dir, it.Spec.ServerNames, time.Now())
		if info != nil {
			p.tls, p.note = tls, certNote(*info, "an ACME certificate")
			break
		}
		p.obtain, p.note = true, why
	}
	return p, nil
}

// siteHTTPS returns where site st's certificate goes, and gives an ACME
// site its challenge directory.
func (a *Applier) siteHTTPS(st *site, h *model.HTTPSSpec) *siteTLS {
	if h.Source == model.HTTPSAcme {
		st.ChallengeDir = a.cfg.HTTPS.ChallengeDir
	}
	dir := a.tlsDir(st.Name)
	return &siteTLS{CertFile: filepath.Join(dir, tlsCertFile), KeyFile: filepath.Join(dir, tlsKeyFile), HSTS: h.HSTS}
}

// certNote says which certificate a site serves, for its item's message.
func certNote(info certs.Info, what string) string {
	return fmt.Sprintf("https with %s from %s, expires %s", what, info.Issuer, info.NotAfter.UTC().Format(time.RFC3339))
}

// installedCert describes the site's installed certificate when it
// matches its key, covers names and is valid at now; otherwise it returns
// nil and why not.
func installedCert(dir string, names []string, now time.Time) (*certs.Info, string) {
	certPEM, err := os.ReadFile(filepath.Join(dir, tlsCertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "no certificate yet"
	}
	if err != nil {
		return nil, err.Error()
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, tlsKeyFile))
	if err != nil {
		return nil, "the installed key cannot be read"
	}
	info, err := certs.Check(certPEM, keyPEM, names, now, nil)
	if err != nil {
		return nil, "the installed certificate is not usable: " + err.Error()
	}
	return &info, ""
}

// redactedItem is the item as kept in a site's record: without its key.
func redactedItem(it model.Item) model.Item {
	it.Spec = it.Spec.Redacted()
	return it
}

// obtainCert asks the ACME CA for the site's certificate and installs it.
func (a *Applier) obtainCert(ctx context.Context, name string, names []string) error {
	c := a.cfg.HTTPS
	if c.Directory == "" {
		return errors.New("this host has no ACME directory configured (ferry node --acme-directory)")
	}
	ctx, cancel := context.WithTimeout(ctx, obtainTimeout)
	defer cancel()
	if err := os.MkdirAll(c.ChallengeDir, 0o755); err != nil {
		return fmt.Errorf("acme challenge directory: %w", err)
	}
	certPEM, keyPEM, err := a.obtain(ctx, acme.Config{Directory: c.Directory, CAFile: c.CAFile, AccountDir: c.AccountDir,
		Email: c.Email, Names: names, WebrootDir: c.ChallengeDir})
	if err != nil {
		return err
	}
	dir := a.tlsDir(name)
	// The key first: a cut between the two leaves a pair that does not
	// match, which installedCert refuses, rather than a new certificate
	// with an old key that Apache would refuse.
	if err := atomicfile.Write(filepath.Join(dir, tlsKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("install key: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, tlsCertFile), certPEM, 0o644); err != nil {
		return fmt.Errorf("install certificate: %w", err)
	}
	return nil
}

// ensureWithCert obtains a certificate for an ACME site that serves HTTP
// (its challenge alias is live) and ensures the site again, now with its
// 443 vhost. A failure leaves the site on HTTP, and says so.
func (a *Applier) ensureWithCert(ctx context.Context, o model.Order, it model.Item, name, httpMsg string) string {
	err := a.obtainCert(ctx, name, it.Spec.ServerNames)
	if err == nil {
		if _, why := installedCert(a.tlsDir(name), it.Spec.ServerNames, time.Now()); why != "" {
			err = errors.New("the CA's certificate: " + why)
		}
	}
	if err != nil {
		a.log.Warn("no ACME certificate; the site serves http only", "item", it.ID, "err", err)
		return httpMsg + "; https: " + err.Error() + "; serving http only until a certificate is obtained (retried by the renewal check)"
	}
	msg, err := a.applyWebConf(ctx, o, it, opEnsure)
	if err != nil {
		return httpMsg + "; https: the certificate was obtained but the site could not be set up with it: " + err.Error()
	}
	return msg
}

// Renewal is an ACME site whose certificate the renewal check obtained or
// tried to: the item and its new message.
type Renewal struct {
	ItemID  int64
	Message string
	Err     error
}

// RenewCertificates obtains a certificate for every ACME site of this host
// whose certificate is missing, does not cover its names, or is due for
// renewal at now (acme.NeedsRenewal), and serves it. Sites are those the
// host last ensured (their record in TLSDir).
func (a *Applier) RenewCertificates(ctx context.Context, now time.Time) []Renewal {
	a.mu.Lock()
	defer a.mu.Unlock()
	recs, err := a.siteRecords()
	if err != nil {
		a.log.Warn("renewal check: cannot list sites", "err", err)
		return nil
	}
	var out []Renewal
	for _, r := range recs {
		h := r.Item.Spec.HTTPS
		if h == nil || h.Source != model.HTTPSAcme || ctx.Err() != nil {
			continue
		}
		name := SiteName(r.Order, r.Item.ID)
		if a.inSiteMode(name) {
			// A move froze the site or passes it on to its new host,
			// which renews from the DNS switch on.
			continue
		}
		info, _ := installedCert(a.tlsDir(name), r.Item.Spec.ServerNames, now)
		if info != nil && !needsRenewal(*info, now) {
			continue
		}
		if err := a.obtainCert(ctx, name, r.Item.Spec.ServerNames); err != nil {
			a.log.Warn("certificate renewal failed", "item", r.Item.ID, "site", r.Item.Spec.ServerNames[0], "err", err)
			out = append(out, Renewal{ItemID: r.Item.ID, Err: err})
			continue
		}
		msg, err := a.applyWebConf(ctx, r.Order, r.Item, opEnsure)
		a.log.Info("certificate renewed", "item", r.Item.ID, "site", r.Item.Spec.ServerNames[0], "err", err)
		out = append(out, Renewal{ItemID: r.Item.ID, Message: msg, Err: err})
	}
	return out
}

// inSiteMode tells whether a move put the site's vhost in a site mode
// (maintenance or proxy) on this host.
func (a *Applier) inSiteMode(name string) bool {
	file, _ := a.vhostPaths(name)
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(SiteModeMarker))
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == SiteModeMarker
}

// needsRenewal applies acme.NeedsRenewal to a described certificate.
func needsRenewal(info certs.Info, now time.Time) bool {
	return acme.NeedsRenewal(&x509.Certificate{NotBefore: info.NotBefore, NotAfter: info.NotAfter}, now)
}

// readSiteRecord reads the record in a site's TLS directory; nil when
// there is none or it does not parse.
func readSiteRecord(dir string) *siteRecord {
	data, err := os.ReadFile(filepath.Join(dir, tlsSiteFile))
	if err != nil {
		return nil
	}
	var r siteRecord
	if json.Unmarshal(data, &r) != nil {
		return nil
	}
	return &r
}

// siteRecords reads the record of every HTTPS site in TLSDir.
func (a *Applier) siteRecords() ([]siteRecord, error) {
	entries, err := os.ReadDir(a.cfg.HTTPS.TLSDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []siteRecord
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), poolFilePrefix) {
			continue
		}
		dir := filepath.Join(a.cfg.HTTPS.TLSDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, tlsSiteFile)); err != nil {
			continue // disabled, or being made
		}
		r := readSiteRecord(dir)
		if r == nil || r.Item.Kind != model.KindWebConf || len(r.Item.Spec.ServerNames) == 0 || r.Item.Spec.HTTPS == nil {
			a.log.Warn("site certificates: unreadable site record", "dir", dir)
			continue
		}
		recs = append(recs, *r)
	}
	return recs, nil
}

// SiteCert is one HTTPS site's installed certificate, for metrics.
type SiteCert struct {
	Site     string // the site's first server name
	Source   string // acme or own
	NotAfter time.Time
}

// SiteCertificates lists the certificates the host's HTTPS sites serve.
func (a *Applier) SiteCertificates() []SiteCert {
	recs, err := a.siteRecords()
	if err != nil {
		return nil
	}
	var out []SiteCert
	for _, r := range recs {
		data, err := os.ReadFile(filepath.Join(a.tlsDir(SiteName(r.Order, r.Item.ID)), tlsCertFile))
		if err != nil {
			continue
		}
		chain, err := certs.ParseChain(data)
		if err != nil {
			continue
		}
		out = append(out, SiteCert{Site: r.Item.Spec.ServerNames[0], Source: r.Item.Spec.HTTPS.Source, NotAfter: chain[0].NotAfter})
	}
	slices.SortFunc(out, func(x, y SiteCert) int { return strings.Compare(x.Site, y.Site) })
	return out
}
