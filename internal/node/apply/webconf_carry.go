package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/atomicfile"
	"ferry/internal/certs"
	"ferry/internal/model"
)

// ErrCarriedCert marks a certificate carried by a move that this host
// refuses to install: nothing was written.
var ErrCarriedCert = errors.New("carried certificate refused")

// CarriedCert is an ACME site's installed chain and key as a move carries
// them from the old host to the new one. Key is never logged or shown.
type CarriedCert struct {
	Site  string // the site's name (SiteName), its TLS directory's
	Chain []byte // PEM, leaf first
	Key   []byte // PEM
}

// CarriedCerts returns the chain and key of every ACME site of order o
// that this host holds a usable certificate for (it matches its key,
// covers the site's names and is valid at now), so that a move's new host
// serves the site over HTTPS before the DNS switch without asking the CA.
// A site without one is left out: its new host obtains its own after the
// switch.
func (a *Applier) CarriedCerts(o model.Order, now time.Time) ([]CarriedCert, error) {
	recs, err := a.siteRecords()
	if err != nil {
		return nil, fmt.Errorf("site certificates: %w", err)
	}
	var out []CarriedCert
	for _, r := range recs {
		if r.Order.Identifier != o.Identifier || r.Item.Spec.HTTPS.Source != model.HTTPSAcme {
			continue
		}
		name := SiteName(r.Order, r.Item.ID)
		dir := a.tlsDir(name)
		if info, why := installedCert(dir, r.Item.Spec.ServerNames, now); info == nil {
			a.log.Warn("move: an ACME site's certificate is not carried", "site", r.Item.Spec.ServerNames[0], "why", why)
			continue
		}
		chain, err := os.ReadFile(filepath.Join(dir, tlsCertFile))
		if err != nil {
			return nil, fmt.Errorf("certificate of %s: %w", name, err)
		}
		key, err := os.ReadFile(filepath.Join(dir, tlsKeyFile))
		if err != nil {
			return nil, fmt.Errorf("key of %s: %w", name, err)
		}
		out = append(out, CarriedCert{Site: name, Chain: chain, Key: key})
	}
	return out, nil
}

// InstallCarriedCert installs the chain and key a move carried for site
// of order (an ACME site this host already holds, from the order's item)
// and serves the site with them over HTTPS, by ensuring it again. It
// refuses, wrapping ErrCarriedCert and writing nothing, a site this host
// does not hold for that order, a site that is not ACME, and a chain or
// key that does not parse, does not match, does not cover every one of
// the site's names (as this host's copy of the item has them) or is not
// valid now. A usable certificate already installed that expires no
// sooner is kept. It returns what the site now serves.
func (a *Applier) InstallCarriedCert(ctx context.Context, order, site string, chain, key []byte) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if site == "" || strings.ContainsAny(site, "/\\") || site == "." || site == ".." {
		return "", fmt.Errorf("%w: %q is not a site name", ErrCarriedCert, site)
	}
	dir := a.tlsDir(site)
	rec := readSiteRecord(dir)
	if rec == nil || rec.Item.Kind != model.KindWebConf || len(rec.Item.Spec.ServerNames) == 0 {
		return "", fmt.Errorf("%w: site %s is not an HTTPS site of this host", ErrCarriedCert, site)
	}
	if rec.Order.Identifier != order || SiteName(rec.Order, rec.Item.ID) != site {
		return "", fmt.Errorf("%w: site %s is not one of order %s's", ErrCarriedCert, site, order)
	}
	if h := rec.Item.Spec.HTTPS; h == nil || h.Source != model.HTTPSAcme {
		return "", fmt.Errorf("%w: site %s does not use an ACME certificate", ErrCarriedCert, site)
	}
	names := rec.Item.Spec.ServerNames
	now := time.Now()
	info, err := certs.Check(chain, key, names, now, nil)
	if err != nil {
		return "", fmt.Errorf("%w: site %s: %w", ErrCarriedCert, site, err)
	}
	if have, _ := installedCert(dir, names, now); have != nil && !have.NotAfter.Before(info.NotAfter) {
		return certNote(*have, "an ACME certificate"), nil
	}
	// The key first, as obtainCert does: a cut between the two leaves a
	// pair that does not match, which installedCert refuses.
	if err := atomicfile.Write(filepath.Join(dir, tlsKeyFile), key, 0o600); err != nil {
		return "", fmt.Errorf("install key of %s: %w", site, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, tlsCertFile), chain, 0o644); err != nil {
		return "", fmt.Errorf("install certificate of %s: %w", site, err)
	}
	a.log.Info("move: carried certificate installed", "site", names[0], "expires", info.NotAfter, "sha256", info.Fingerprint)
	msg, err := a.applyWebConf(ctx, rec.Order, rec.Item, opEnsure)
	if err != nil {
		return "", fmt.Errorf("serve %s with the carried certificate: %w", names[0], err)
	}
	return msg, nil
}
