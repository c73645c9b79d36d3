package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ferry/internal/atomicfile"
	"ferry/internal/certs"
	"ferry/internal/model"
)

// ErrCarriedCert marks a certificate carried by a move that this host
// refuses to install: nothing was written.
var ErrCarriedCert = errors.New("carried certificate refused")

// CarriedCert is an ACME site's installed chain and key as a move carries
// them from the old host to the new one, where the site (a copy of the
// item, under another item id) is known by its first server name. Key is
// never logged or shown.
type CarriedCert struct {
	ServerName string // the site's first server name
	Chain      []byte // PEM, leaf first
	Key        []byte // PEM
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
		dir := a.tlsDir(SiteName(r.Order, r.Item.ID))
		if info, why := installedCert(dir, r.Item.Spec.ServerNames, now); info == nil {
			a.log.Warn("move: an ACME site's certificate is not carried", "site", r.Item.Spec.ServerNames[0], "why", why)
			continue
		}
		chain, err := os.ReadFile(filepath.Join(dir, tlsCertFile))
		if err != nil {
			return nil, fmt.Errorf("certificate of %s: %w", r.Item.Spec.ServerNames[0], err)
		}
		key, err := os.ReadFile(filepath.Join(dir, tlsKeyFile))
		if err != nil {
			return nil, fmt.Errorf("key of %s: %w", r.Item.Spec.ServerNames[0], err)
		}
		out = append(out, CarriedCert{ServerName: r.Item.Spec.ServerNames[0], Chain: chain, Key: key})
	}
	return out, nil
}

// InstallCarriedCert installs the chain and key a move carried for the
// ACME site of order whose first server name is serverName (a site this
// host already holds, from its copy of the order's item) and serves the
// site with them over HTTPS, by ensuring it again. It refuses, wrapping
// ErrCarriedCert and writing nothing, a name that is no ACME site of that
// order here, and a chain or key that does not parse, does not match,
// does not cover every one of the site's names (as this host's copy of
// the item has them) or is not valid now. A usable certificate already
// installed that expires no sooner is kept. It returns what the site now
// serves.
func (a *Applier) InstallCarriedCert(ctx context.Context, order, serverName string, chain, key []byte) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	recs, err := a.siteRecords()
	if err != nil {
		return "", fmt.Errorf("site certificates: %w", err)
	}
	var rec *siteRecord
	for i, r := range recs {
		if r.Order.Identifier == order && r.Item.Spec.ServerNames[0] == serverName {
			rec = &recs[i]
			break
		}
	}
	if rec == nil {
		return "", fmt.Errorf("%w: %s is not an HTTPS site of order %s on this host", ErrCarriedCert, serverName, order)
	}
	if rec.Item.Spec.HTTPS.Source != model.HTTPSAcme {
		return "", fmt.Errorf("%w: %s does not use an ACME certificate", ErrCarriedCert, serverName)
	}
	names := rec.Item.Spec.ServerNames
	now := time.Now()
	info, err := certs.Check(chain, key, names, now, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrCarriedCert, serverName, err)
	}
	dir := a.tlsDir(SiteName(rec.Order, rec.Item.ID))
	if have, _ := installedCert(dir, names, now); have != nil && !have.NotAfter.Before(info.NotAfter) {
		return certNote(*have, "an ACME certificate"), nil
	}
	// The key first, as obtainCert does: a cut between the two leaves a
	// pair that does not match, which installedCert refuses.
	if err := atomicfile.Write(filepath.Join(dir, tlsKeyFile), key, 0o600); err != nil {
		return "", fmt.Errorf("install key of %s: %w", serverName, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, tlsCertFile), chain, 0o644); err != nil {
		return "", fmt.Errorf("install certificate of %s: %w", serverName, err)
	}
	a.log.Info("move: carried certificate installed", "site", serverName, "expires", info.NotAfter, "sha256", info.Fingerprint)
	msg, err := a.applyWebConf(ctx, rec.Order, rec.Item, opEnsure)
	if err != nil {
		return "", fmt.Errorf("serve %s with the carried certificate: %w", serverName, err)
	}
	return msg, nil
}
