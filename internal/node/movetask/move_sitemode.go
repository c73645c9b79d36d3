package movetask

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"ferry/internal/model"
	"ferry/internal/node/apply"
)

// Site modes of an order's vhosts on the old host during a move.
const (
	siteModeNormal      = "normal"      // the site's own vhost
	siteModeMaintenance = "maintenance" // 503 with Retry-After: the freeze
	siteModeProxy       = "proxy"       // everything passed on to the new host
)

// siteModeMarker starts every vhost a site mode writes (apply.SiteModeMarker).
const siteModeMarker = apply.SiteModeMarker

// siteModeRetryAfter is what the maintenance vhost tells clients to wait.
const siteModeRetryAfter = 120

// moveSiteModeResult says what a site mode task did.
type moveSiteModeResult struct {
	Mode    string   `json:"mode"`
	Vhosts  []string `json:"vhosts"`
	Changed bool     `json:"changed"`
}

// orderVhosts returns the vhost files the web-conf items of o wrote on this
// host (ferry-<identifier>-<item>.conf), sorted.
func (m *mover) orderVhosts(o model.Order) ([]string, error) {
	dir := m.cfg.Node.ApacheSitesAvailable
	if dir == "none" {
		dir = m.cfg.Node.ApacheSitesEnabled
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list vhosts: %w", err)
	}
	prefix := strings.TrimSuffix(apply.SiteName(o, 0), "0")
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `[0-9]+\.conf$`)
	var files []string
	for _, e := range entries {
		if re.MatchString(e.Name()) && e.Type().IsRegular() {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(files)
	return files, nil
}

// siteMode puts the order's vhosts on this host in p.Mode. Every change is
// config-tested before a graceful reload and undone if the test fails;
// asking for the mode the site is in changes nothing.
func (m *mover) siteMode(ctx context.Context, p model.MoveTaskPayload, _ func(any)) (any, error) {
	if err := m.checkOrder(&p); err != nil {
		return nil, err
	}
	var proxyTo string
	switch p.Mode {
	case siteModeNormal, siteModeMaintenance:
	case siteModeProxy:
		to, err := parseMoveAddr("to address", p.ToAddr)
		if err != nil {
			return nil, fmt.Errorf("move %d: proxy: %w", p.MoveID, err)
		}
		proxyTo = "http://" + to.String() + "/"
		if to.Is6() {
			proxyTo = "http://[" + to.String() + "]/"
		}
	default:
		return nil, fmt.Errorf("move %d: site mode %q, want normal, maintenance or proxy", p.MoveID, p.Mode)
	}
	var names []string
	for _, n := range p.ServerNames {
		d, err := model.NormalizeDomain(n, 1)
		if err != nil {
			return nil, fmt.Errorf("move %d: server name %q: %w", p.MoveID, n, err)
		}
		names = append(names, d)
	}

	m.a.Lock()
	defer m.a.Unlock()
	if err := m.orderMail(ctx, p); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	files, err := m.orderVhosts(p.Order)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	res := moveSiteModeResult{Mode: p.Mode, Vhosts: files}
	if len(files) == 0 {
		// An order of accounts and databases alone has no site to freeze
		// or proxy; an order with web names must have its vhosts here.
		if p.Mode == siteModeNormal || len(names) == 0 {
			return res, nil
		}
		return nil, fmt.Errorf("move %d: order %s serves %s but has no vhost on this host", p.MoveID, p.Order.Identifier, strings.Join(names, ", "))
	}
	var changes []apply.FileChange
	for _, f := range files {
		c, err := siteModeChanges(f, p, names, proxyTo)
		if err != nil {
			return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
		}
		changes = append(changes, c...)
	}
	if len(changes) == 0 {
		return res, nil
	}
	if err := m.enableSiteModeModules(ctx, p.Mode); err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	undo, err := apply.ApplyFileChanges(changes)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	if err := m.a.CheckWebConfig(ctx); err != nil {
		if uerr := undo(); uerr != nil {
			return nil, fmt.Errorf("move %d: %w; and putting the previous vhosts back failed: %v", p.MoveID, err, uerr)
		}
		return nil, fmt.Errorf("move %d: site mode %s: %w", p.MoveID, p.Mode, err)
	}
	if _, err := m.a.Run(ctx, nil, append(slices.Clone(m.cfg.Node.Apachectl), "-k", "graceful")...); err != nil {
		return nil, fmt.Errorf("move %d: apache graceful reload failed: %s", p.MoveID, apply.OutputOf(err))
	}
	res.Changed = true
	m.log.Info("move site mode", "move", p.MoveID, "order", p.Order.Identifier, "mode", p.Mode, "vhosts", len(files))
	return res, nil
}

// siteModeChanges returns what putting one vhost file in mode takes.
func siteModeChanges(file string, p model.MoveTaskPayload, names []string, proxyTo string) ([]apply.FileChange, error) {
	curB, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cur := string(curB)
	keep := file + apply.SiteModeKeep
	keptB, err := os.ReadFile(keep)
	kept := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ours := strings.HasPrefix(cur, siteModeMarker)
	if ours && !kept {
		return nil, fmt.Errorf("%s is a site-mode vhost and the site's own vhost (%s) is gone; apply the order's web-conf item again", file, keep)
	}
	if p.Mode == siteModeNormal {
		if !ours {
			// The site's own vhost is on (perhaps rewritten by its
			// web-conf since): a kept copy is stale.
			if kept {
				return []apply.FileChange{{Path: keep, Remove: true}}, nil
			}
			return nil, nil
		}
		return []apply.FileChange{{Path: file, Content: keptB}, {Path: keep, Remove: true}}, nil
	}
	normal := cur
	if ours {
		normal = string(keptB)
	}
	next, err := renderSiteMode(p.Mode, normal, siteModeHeader(p, keep), names, proxyTo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var c []apply.FileChange
	if !kept || string(keptB) != normal {
		c = append(c, apply.FileChange{Path: keep, Content: []byte(normal)})
	}
	if cur != next {
		c = append(c, apply.FileChange{Path: file, Content: []byte(next)})
	}
	return c, nil
}

// siteModeHeader is the comment that opens a site-mode vhost.
func siteModeHeader(p model.MoveTaskPayload, keep string) string {
	return fmt.Sprintf("%s%s (move %d of order %s)\n# The site's own vhost is kept in %s and comes back with site mode %q.\n",
		siteModeMarker, p.Mode, p.MoveID, p.Order.Identifier, keep, siteModeNormal)
}

// vhostKeptDirectives are the lines of the site's own vhost that a
// site-mode vhost keeps: its names and its logs. ferry's web-conf wrote
// them, quoted.
var vhostKeptDirectives = []string{"ServerName", "ServerAlias", "ErrorLog", "CustomLog"}

// renderSiteMode writes the vhost of a mode from the site's own vhost.
// Names come from the site's vhost; names (from the payload) stand in when
// it has none.
//
// An HTTPS site (its vhost has a *:443 part) gets a *:443 part too, with
// its own certificate, so that HTTPS clients of the old address reach the
// same mode: a 503 during the freeze, and through the proxy the new host
// (over HTTPS, the client's name as SNI: the new host holds the site's
// certificate, its own or, for an ACME site, the one the sync carried).
func renderSiteMode(mode, normal, header string, names []string, proxyTo string) (string, error) {
	kept := map[string][]string{}
	var tls []string
	first := true // names and logs come from the first vhost; the 443 one repeats them
	for _, l := range strings.Split(normal, "\n") {
		t := strings.TrimSpace(l)
		f := strings.Fields(t)
		switch {
		case t == "</VirtualHost>":
			first = false
		case len(f) >= 2 && (f[0] == "SSLCertificateFile" || f[0] == "SSLCertificateKeyFile"):
			tls = append(tls, t)
		case first && len(f) >= 2 && slices.Contains(vhostKeptDirectives, f[0]):
			kept[f[0]] = append(kept[f[0]], t)
		}
	}
	if len(kept["ServerName"]) == 0 {
		if len(names) == 0 {
			return "", errors.New("the site's vhost has no ServerName and the move names no server")
		}
		for i, n := range names {
			q, err := apply.ApacheQuote(n)
			if err != nil {
				return "", err
			}
			d := "ServerAlias"
			if i == 0 {
				d = "ServerName"
			}
			kept[d] = append(kept[d], d+" "+q)
		}
	}
	var b strings.Builder
	b.WriteString(header)
	if err := writeSiteModeVhost(&b, mode, kept, nil, proxyTo); err != nil {
		return "", err
	}
	if len(tls) > 0 {
		to := "https://" + strings.TrimPrefix(proxyTo, "http://")
		if err := writeSiteModeVhost(&b, mode, kept, tls, to); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// writeSiteModeVhost writes one vhost of a site mode: on port 80, or with
// tls (the site's certificate lines) on 443.
func writeSiteModeVhost(b *strings.Builder, mode string, kept map[string][]string, tls []string, proxyTo string) error {
	if len(tls) == 0 {
		b.WriteString("<VirtualHost *:80>\n")
	} else {
		b.WriteString("<VirtualHost *:443>\n")
	}
	for _, d := range kept["ServerName"][:1] {
		b.WriteString("\t" + d + "\n")
	}
	for _, d := range kept["ServerAlias"] {
		b.WriteString("\t" + d + "\n")
	}
	if len(tls) > 0 {
		b.WriteString("\tSSLEngine on\n")
		for _, d := range tls {
			b.WriteString("\t" + d + "\n")
		}
	}
	switch mode {
	case siteModeMaintenance:
		b.WriteString("\t<IfModule !headers_module>\n\t\tError \"ferry: the maintenance vhost needs mod_headers (a2enmod headers)\"\n\t</IfModule>\n")
		b.WriteString("\tHeader always set Retry-After \"" + strconv.Itoa(siteModeRetryAfter) + "\"\n")
		b.WriteString("\tErrorDocument 503 \"This site is moving to a new server and is back in a few minutes.\"\n")
		b.WriteString("\tRedirect 503 /\n")
	case siteModeProxy:
		q, err := apply.ApacheQuote(proxyTo)
		if err != nil {
			return err
		}
		b.WriteString("\t<IfModule !proxy_http_module>\n\t\tError \"ferry: the proxy vhost needs mod_proxy_http (a2enmod proxy proxy_http)\"\n\t</IfModule>\n")
		if strings.HasPrefix(proxyTo, "https://") {
			// The hop goes to the move's own new host by address; its
			// certificate is for the site's names, which SNI carries
			// (ProxyPreserveHost), not for the address.
			b.WriteString("\tSSLProxyEngine on\n\tSSLProxyVerify none\n\tSSLProxyCheckPeerName off\n\tSSLProxyCheckPeerCN off\n")
		}
		b.WriteString("\tProxyPreserveHost On\n")
		b.WriteString("\tProxyPass \"/\" " + q + "\n")
		b.WriteString("\tProxyPassReverse \"/\" " + q + "\n")
	default:
		return fmt.Errorf("no vhost for site mode %q", mode)
	}
	for _, d := range append(kept["ErrorLog"], kept["CustomLog"]...) {
		b.WriteString("\t" + d + "\n")
	}
	b.WriteString("</VirtualHost>\n")
	return nil
}

// siteModeModules are the Apache modules a mode needs.
var siteModeModules = map[string][]string{
	siteModeMaintenance: {"alias", "headers"},
	siteModeProxy:       {"proxy", "proxy_http"},
}

// enableSiteModeModules enables, with a2enmod, the modules mode needs that
// are not enabled yet. They stay enabled: they change nothing for vhosts
// that do not use them.
func (m *mover) enableSiteModeModules(ctx context.Context, mode string) error {
	enabled := filepath.Join(filepath.Dir(m.cfg.Node.ApacheSitesEnabled), "mods-enabled")
	var missing []string
	for _, mod := range siteModeModules[mode] {
		if _, err := os.Stat(filepath.Join(enabled, mod+".load")); err != nil {
			missing = append(missing, mod)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := m.a.Run(ctx, nil, append([]string{"a2enmod", "-q"}, missing...)...); err != nil {
		return fmt.Errorf("enable apache modules %s: %s", strings.Join(missing, " "), apply.OutputOf(err))
	}
	return nil
}
