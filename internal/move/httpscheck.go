package move

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"ferry/internal/certs"
	"ferry/internal/model"
)

// verifyHTTPS fetches every name of every HTTPS web-conf of the new host
// over HTTPS from both addresses, the name as SNI and Host, and adds to
// rep what differs: status or title, a new certificate that does not
// cover the name, or one that expires sooner than the old host's. These
// are problems, for an ACME site too: the sync carries its certificate,
// so its new host serves it before the DNS switch. Only an ACME site the
// old host serves no HTTPS for either (its CA never issued one there) is
// noted: its new host obtains one after the switch.
func (e *Engine) verifyHTTPS(ctx context.Context, rep *VerifyReport, items []model.Item, oldAddr, newAddr, oldHost, newHost string) {
	type site struct {
		name string
		acme bool
	}
	var sites []site
	for _, it := range items {
		if it.Kind != model.KindWebConf || it.Spec.HTTPS == nil {
			continue
		}
		for _, n := range it.Spec.ServerNames {
			sites = append(sites, site{n, it.Spec.HTTPS.Source == model.HTTPSAcme})
		}
	}
	if len(sites) == 0 {
		return
	}
	rep.HTTPS = make([]HTTPCheck, len(sites))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, s := range sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := HTTPCheck{Name: s.name, Old: e.fetchTLS(ctx, oldAddr, s.name), New: e.fetchTLS(ctx, newAddr, s.name)}
			c.Equal = c.Old.Error == "" && c.New.Error == "" && c.Old.Status == c.New.Status && c.Old.Title == c.New.Title
			c.BodyDiffers = c.Old.SHA256 != c.New.SHA256
			rep.HTTPS[i] = c
		}()
	}
	wg.Wait()
	for i, s := range sites {
		for _, p := range httpsFaults(rep.HTTPS[i], oldHost, newHost) {
			if s.acme && rep.HTTPS[i].Old.Error != "" {
				rep.Notes = append(rep.Notes, p+" ("+oldHost+" serves no HTTPS for this ACME site either: its new host obtains a certificate after the DNS switch)")
			} else {
				rep.Problems = append(rep.Problems, p)
			}
		}
	}
}

// httpsFaults says what is wrong with one name's HTTPS on the new host.
func httpsFaults(c HTTPCheck, oldHost, newHost string) []string {
	if c.New.Error != "" {
		return []string{fmt.Sprintf("https://%s/ on %s: %s", c.Name, newHost, c.New.Error)}
	}
	var out []string
	if !c.Equal {
		out = append(out, fmt.Sprintf("https://%s/ answers differently on %s (%d %q) and %s (%d %q)", c.Name,
			oldHost, c.Old.Status, c.Old.Title, newHost, c.New.Status, c.New.Title))
	}
	if !covers(c.New.CertNames, c.Name) {
		out = append(out, fmt.Sprintf("the certificate %s serves for %s does not cover it (it covers %s)", newHost, c.Name, strings.Join(c.New.CertNames, ", ")))
	}
	if o, n := c.Old.CertNotAfter, c.New.CertNotAfter; o != nil && n != nil && n.Before(*o) {
		out = append(out, fmt.Sprintf("the certificate %s serves for %s expires %s, sooner than %s's (%s)", newHost, c.Name,
			n.UTC().Format(time.RFC3339), oldHost, o.UTC().Format(time.RFC3339)))
	}
	return out
}

func covers(dnsNames []string, name string) bool {
	for _, p := range dnsNames {
		if certs.MatchName(p, name) {
			return true
		}
	}
	return false
}

// fetchTLS gets https://addr/ with name as SNI and Host, without following
// redirects, and describes the certificate it was served. The chain is not
// checked against any roots (the control plane need not trust a member's
// CA): verify checks what the move can change, the names and the expiry.
func (e *Engine) fetchTLS(ctx context.Context, addr, name string) HTTPFetch {
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // see above
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return get(ctx, c, "https://"+net.JoinHostPort(addr, strconv.Itoa(e.opts.HTTPSPort))+"/", name)
}
