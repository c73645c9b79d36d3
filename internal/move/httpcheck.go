package move

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"ferry/internal/maildir"
	"ferry/internal/model"
)

// maxPage bounds what verify reads of one page.
const maxPage = 16 << 20

// mailToCarry counts the messages on the old host the new host lacks.
func mailToCarry(checks []maildir.Check) int {
	n := 0
	for _, c := range checks {
		n += c.Missing
	}
	return n
}

// verifyReport compares the hosts: the node's file and table comparison,
// and every web name fetched from both addresses by the engine itself.
func (e *Engine) verifyReport(ctx context.Context, r *run, o *orders, vr model.MoveVerifyResult) *VerifyReport {
	rep := &VerifyReport{At: e.now(), FilesDiffering: vr.FilesDiffering}
	// The site's own logs grow while it serves; the final sync at cutover
	// copies them, so they are noted but are no reason to fail.
	var files []string
	for _, f := range vr.FilesDiffering {
		if !strings.HasPrefix(f, "logs/") {
			files = append(files, f)
		}
	}
	if n := len(files); n > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d file(s) differ (%s)", n, firstFew(files)))
	}
	// A mailbox's folder renumbered or with another UIDVALIDITY would be
	// downloaded again by every client; mail that arrived since the last
	// sync is carried by the freeze, with the order's mail held.
	rep.Mailboxes = vr.Mailboxes
	rep.Problems = append(rep.Problems, vr.MailboxProblems...)
	if carry := mailToCarry(vr.Mailboxes); carry > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d message(s) arrived in the order's mailboxes since the last sync; the cutover's final sync carries them", carry))
	}
	rep.Tables = compareTables(vr.Old, vr.New)
	var synced []model.TableSum
	if last := r.d.lastSync(); last != nil {
		synced = last.DB.Tables
		// What the sync changed on the way (a definer mapped to the
		// order's own account, events waiting for cutover) is said here.
		rep.Notes = append(rep.Notes, last.DB.Notes...)
		for _, n := range last.Files.NotCarried {
			rep.Notes = append(rep.Notes, "not carried: "+n)
		}
	}
	var bad []string
	for i, t := range rep.Tables {
		if t.Equal {
			continue
		}
		if changedSinceSync(t, synced) {
			rep.Tables[i].ChangedSinceSync = true
			continue
		}
		bad = append(bad, model.ObjectName(t.DB, t.Kind, t.Table))
	}
	if len(bad) > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d table(s) or object(s) differ in rows, checksum or definition, or are missing on one host (%s)", len(bad), firstFew(bad)))
	}
	var names []string
	for _, it := range onHost(o.items, r.m.To) {
		if it.Kind != model.KindWebConf {
			continue
		}
		names = append(names, it.Spec.ServerNames...)
		rep.HostsLines = append(rep.HostsLines, r.d.ToAddr+" "+strings.Join(it.Spec.ServerNames, " "))
	}
	rep.HTTP = e.fetchAll(ctx, names, r.d.FromAddr, r.d.ToAddr)
	e.verifyHTTPS(ctx, rep, onHost(o.items, r.m.To), r.d.FromAddr, r.d.ToAddr, r.m.From, r.m.To)
	bad = nil
	// A host that gave no answer at all is named with its web server, so
	// that a dead Apache reads as one, not as a differing site.
	down := map[string][]string{}
	downErr := map[string]string{}
	for _, h := range rep.HTTP {
		for _, side := range []struct {
			host string
			f    HTTPFetch
		}{{r.m.From, h.Old}, {r.m.To, h.New}} {
			if side.f.Error != "" {
				down[side.host] = append(down[side.host], h.Name)
				downErr[side.host] = side.f.Error
			}
		}
		if !h.Equal && h.Old.Error == "" && h.New.Error == "" {
			bad = append(bad, h.Name)
		}
	}
	for _, host := range []string{r.m.From, r.m.To} {
		if names := down[host]; len(names) > 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("Apache on %s does not answer HTTP for %d site(s) (%s): %s; start it again (service apache2), then run verify again",
				host, len(names), firstFew(names), downErr[host]))
		}
	}
	if len(bad) > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d site(s) answer differently on %s and %s (%s)", len(bad), r.m.From, r.m.To, firstFew(bad)))
	}
	var bodies []string
	for _, h := range rep.HTTP {
		if h.Equal && h.BodyDiffers {
			bodies = append(bodies, h.Name)
		}
	}
	if len(bodies) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("same status and title but a different page body from %s and %s (%s): a dynamic page, or worth a look in a browser", r.m.From, r.m.To, firstFew(bodies)))
	}
	for _, t := range rep.Tables {
		if t.ChangedSinceSync {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s was written to after the last sync; the final sync at cutover copies it", model.ObjectName(t.DB, t.Kind, t.Table)))
		}
	}
	if logs := len(vr.FilesDiffering) - len(files); logs > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d log file(s) grew since the last sync; the final sync copies them", logs))
	}
	rep.Passed = len(rep.Problems) == 0
	return rep
}

func firstFew(s []string) string {
	if len(s) > 5 {
		return strings.Join(s[:5], ", ") + ", …"
	}
	return strings.Join(s, ", ")
}

// changedSinceSync reports whether a table that differs between the hosts
// does so only because the live site wrote to it after the last sync: the
// new host holds exactly what the old one held then. The final sync under
// the freeze copies such a table; anything else is a real difference.
func changedSinceSync(t TableCheck, synced []model.TableSum) bool {
	if t.Old == nil || t.New == nil {
		return false
	}
	for _, s := range synced {
		if s.DB != t.DB || s.Kind != t.Kind || s.Table != t.Table {
			continue
		}
		if s.NewChecksum != "" {
			return s.NewRows == t.New.Rows && s.NewChecksum == t.New.Checksum
		}
		return s.Rows == t.New.Rows && s.Checksum == t.New.Checksum
	}
	return false
}

// compareTables pairs every table's sums on both hosts.
func compareTables(old, new []model.TableSum) []TableCheck {
	byKey := map[string]*TableCheck{}
	var keys []string
	add := func(t model.TableSum, isNew bool) {
		k := t.Key()
		tc, ok := byKey[k]
		if !ok {
			tc = &TableCheck{DB: t.DB, Kind: t.Kind, Table: t.Table}
			byKey[k] = tc
			keys = append(keys, k)
		}
		if isNew {
			tc.New = &t
		} else {
			tc.Old = &t
		}
	}
	for _, t := range old {
		add(t, false)
	}
	for _, t := range new {
		add(t, true)
	}
	slices.Sort(keys)
	out := make([]TableCheck, 0, len(keys))
	for _, k := range keys {
		tc := byKey[k]
		tc.Equal = tc.Old != nil && tc.New != nil && tc.Old.Rows == tc.New.Rows && tc.Old.Checksum == tc.New.Checksum
		out = append(out, *tc)
	}
	return out
}

// fetchAll fetches every name from both addresses, a few at a time.
func (e *Engine) fetchAll(ctx context.Context, names []string, oldAddr, newAddr string) []HTTPCheck {
	out := make([]HTTPCheck, len(names))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := HTTPCheck{Name: n, Old: e.fetch(ctx, oldAddr, n), New: e.fetch(ctx, newAddr, n)}
			// A live site's pages change between two fetches (counters,
			// times, tokens): status and title must match, a differing
			// body is noted.
			c.Equal = c.Old.Error == "" && c.New.Error == "" && c.Old.Status == c.New.Status &&
				c.Old.Title == c.New.Title
			c.BodyDiffers = c.Old.SHA256 != c.New.SHA256
			out[i] = c
		}()
	}
	wg.Wait()
	slices.SortStableFunc(out, func(a, b HTTPCheck) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// fetch gets http://addr/ with Host: name, without following redirects.
func (e *Engine) fetch(ctx context.Context, addr, name string) HTTPFetch {
	return get(ctx, e.http, "http://"+net.JoinHostPort(addr, strconv.Itoa(e.opts.HTTPPort))+"/", name)
}

// get fetches u with Host: name through c and describes the page and, over
// HTTPS, the certificate it was served with.
func get(ctx context.Context, c *http.Client, u, name string) HTTPFetch {
	f := HTTPFetch{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	req.Host = name
	req.Header.Set("User-Agent", "ferry-move-verify")
	resp, err := c.Do(req)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	defer resp.Body.Close()
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		leaf := resp.TLS.PeerCertificates[0]
		na := leaf.NotAfter
		f.CertNames, f.CertNotAfter = leaf.DNSNames, &na
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		f.Error = "read body: " + err.Error()
		return f
	}
	describePage(&f, resp.StatusCode, body)
	return f
}

// describePage fills in what verify compares of a page: status, size,
// checksum and title.
func describePage(f *HTTPFetch, status int, body []byte) {
	h := sha256.Sum256(body)
	f.Status, f.Bytes, f.SHA256 = status, int64(len(body)), hex.EncodeToString(h[:])
	if m := titleRE.FindSubmatch(body); m != nil {
		f.Title = strings.Join(strings.Fields(html.UnescapeString(string(m[1]))), " ")
	}
}

// newHostDown fetches every site of the order from the new host, as
// verify does, and says which get no answer at all or a server error
// there ("" when all answer): a cutover does not freeze the old site and
// switch the DNS to a host that serves none of it.
func (e *Engine) newHostDown(ctx context.Context, r *run, o *orders) string {
	var names []string
	for _, it := range onHost(o.items, r.m.To) {
		if it.Kind == model.KindWebConf {
			names = append(names, it.Spec.ServerNames...)
		}
	}
	var bad []string
	last := ""
	for _, n := range names {
		f := e.fetch(ctx, r.d.ToAddr, n)
		switch {
		case f.Error != "":
			bad, last = append(bad, n), f.Error
		case f.Status >= 500:
			bad, last = append(bad, n), fmt.Sprintf("HTTP %d", f.Status)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprintf("nothing was frozen or switched: %s does not serve %d site(s) (%s): %s; start Apache there again (service apache2) or fix the site, then run cutover again (--accept-verify-differences goes ahead anyway)",
		r.m.To, len(bad), firstFew(bad), last)
}
