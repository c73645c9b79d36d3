package movetask

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/node/hostexec"
)

var updateMoveGolden = flag.Bool("update-move-golden", false, "rewrite the move golden files in testdata/move")

// moveFakeRunner answers Apache's commands: configtest fails while
// failConfigtest is set.
type moveFakeRunner struct {
	mu             sync.Mutex
	calls          []string
	failConfigtest bool
}

func (r *moveFakeRunner) Run(_ context.Context, _ []byte, argv ...string) ([]byte, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, strings.Join(argv, " "))
	if r.failConfigtest && argv[len(argv)-1] == "configtest" {
		return nil, []byte("AH00526: Syntax error"), errors.New("exit status 1")
	}
	return nil, nil, nil
}

func (r *moveFakeRunner) Start(ctx context.Context, c hostexec.Cmd) (func() error, error) {
	_, _, err := r.Run(ctx, nil, c.Argv...)
	return func() error { return err }, nil
}

func moveGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "move", name)
	if *updateMoveGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update-move-golden):\n%s", name, t.Name(), got)
	}
}

// siteVhost is a vhost as the web-conf applier writes it.
const siteVhost = `# Written by ferry for order example.org (item 12). Changes here are overwritten.
<VirtualHost *:80>
	ServerName "example.org"
	ServerAlias "www.example.org"
	DocumentRoot "/home/members/coop/sites/example.org/web"
	<Directory "/home/members/coop/sites/example.org/web">
		Require all granted
	</Directory>
	ErrorLog "/home/members/coop/sites/example.org/logs/error.log"
	CustomLog "/home/members/coop/sites/example.org/logs/access.log" combined
</VirtualHost>
`

func TestSiteModeVhostsGolden(t *testing.T) {
	p := moveTestPayload()
	for _, mode := range []string{siteModeMaintenance, siteModeProxy} {
		p.Mode = mode
		got, err := renderSiteMode(mode, siteVhost, siteModeHeader(p, "/etc/apache2/sites-available/ferry-example.org-12.conf"+apply.SiteModeKeep), nil, "http://127.0.1.12/")
		if err != nil {
			t.Fatal(err)
		}
		moveGolden(t, "sitemode-"+mode+".conf", got)
	}
	// A vhost without names takes the move's.
	got, err := renderSiteMode(siteModeMaintenance, "<VirtualHost *:80>\n</VirtualHost>\n", "", []string{"a.example", "b.example"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "\tServerName \"a.example\"\n\tServerAlias \"b.example\"\n") {
		t.Errorf("names from the move:\n%s", got)
	}
	if _, err := renderSiteMode(siteModeMaintenance, "", "", nil, ""); err == nil {
		t.Error("a vhost without any name")
	}
}

// An HTTPS site's site-mode vhost answers on 443 too, with the site's
// certificate, and names and logs appear once. Its inputs are the
// web-conf golden files.
func TestSiteModeHTTPSVhostsGolden(t *testing.T) {
	p := moveTestPayload()
	for _, site := range []string{"https-own-static", "https-acme-redirect-hsts"} {
		normal, err := os.ReadFile(filepath.Join("..", "apply", "testdata", "webconf", site+".vhost.golden"))
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{siteModeMaintenance, siteModeProxy} {
			p.Mode = mode
			got, err := renderSiteMode(mode, string(normal), siteModeHeader(p, "/etc/apache2/sites-available/ferry-example.org-44.conf"+apply.SiteModeKeep), nil, "http://127.0.1.12/")
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(got, "CustomLog "); n != 2 {
				t.Errorf("%s %s: %d CustomLog lines, want one in each vhost", site, mode, n)
			}
			moveGolden(t, "sitemode-"+mode+"-"+site+".conf", got)
		}
	}
}

func TestSiteModeTask(t *testing.T) {
	env := newMoveTestEnv(t)
	r := &moveFakeRunner{}
	env.useRunner(r)
	avail, enabled := env.m.cfg.Node.ApacheSitesAvailable, env.m.cfg.Node.ApacheSitesEnabled
	mods := filepath.Join(filepath.Dir(enabled), "mods-enabled")
	for _, d := range []string{avail, enabled, mods} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{"alias", "headers"} {
		os.WriteFile(filepath.Join(mods, m+".load"), nil, 0o644)
	}
	vhost := filepath.Join(avail, "ferry-example.org-12.conf")
	other := filepath.Join(avail, "ferry-example.org-shop.example-13.conf") // another order's name
	if err := os.WriteFile(vhost, []byte(siteVhost), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	keep := vhost + apply.SiteModeKeep
	ctx := context.Background()
	run := func(mode string) moveSiteModeResult {
		t.Helper()
		p := moveTestPayload()
		p.Mode = mode
		res, err := env.m.siteMode(ctx, p, nil)
		if err != nil {
			t.Fatalf("site mode %s: %v", mode, err)
		}
		return res.(moveSiteModeResult)
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}

	res := run(siteModeMaintenance)
	if !res.Changed || len(res.Vhosts) != 1 || res.Vhosts[0] != vhost {
		t.Errorf("maintenance: %+v", res)
	}
	if !strings.Contains(read(vhost), "Redirect 503 /") || read(keep) != siteVhost {
		t.Errorf("maintenance: vhost\n%s\nkept\n%s", read(vhost), read(keep))
	}
	if read(other) != "other" {
		t.Error("another order's vhost was touched")
	}
	if got := strings.Join(r.calls, "; "); got != "apachectl configtest; apachectl -k graceful" {
		t.Errorf("commands: %s", got)
	}
	r.calls = nil
	if res := run(siteModeMaintenance); res.Changed || len(r.calls) != 0 {
		t.Errorf("maintenance twice: %+v %q", res, r.calls)
	}

	res = run(siteModeProxy)
	if !res.Changed || !strings.Contains(read(vhost), `ProxyPass "/" "http://127.0.1.12/"`) || read(keep) != siteVhost {
		t.Errorf("proxy: %+v\n%s", res, read(vhost))
	}
	if !strings.Contains(strings.Join(r.calls, "; "), "a2enmod -q proxy proxy_http") {
		t.Errorf("proxy modules not enabled: %q", r.calls)
	}

	// A failing config test leaves everything as it was.
	before, beforeKeep := read(vhost), read(keep)
	r.failConfigtest = true
	p := moveTestPayload()
	p.Mode = siteModeMaintenance
	if _, err := env.m.siteMode(ctx, p, nil); err == nil || !strings.Contains(err.Error(), "Syntax error") {
		t.Errorf("failing configtest: %v", err)
	}
	if read(vhost) != before || read(keep) != beforeKeep {
		t.Error("failing configtest: the files were not put back")
	}
	r.failConfigtest = false

	res = run(siteModeNormal)
	if !res.Changed || read(vhost) != siteVhost || !strings.HasPrefix(read(keep), "<") {
		t.Errorf("normal: %+v\n%s\nkept %s", res, read(vhost), read(keep))
	}
	r.calls = nil
	if res := run(siteModeNormal); res.Changed || len(r.calls) != 0 {
		t.Errorf("normal twice: %+v %q", res, r.calls)
	}

	// A site-mode vhost whose kept original is gone is an error, not a
	// guess.
	run(siteModeMaintenance)
	os.Remove(keep)
	p.Mode = siteModeNormal
	if _, err := env.m.siteMode(ctx, p, nil); err == nil {
		t.Error("normal without the kept vhost succeeded")
	}
	for _, bad := range []model.MoveTaskPayload{
		func() model.MoveTaskPayload { q := moveTestPayload(); q.Mode = "off"; return q }(),
		func() model.MoveTaskPayload { q := moveTestPayload(); q.Mode = siteModeProxy; q.ToAddr = "x"; return q }(),
	} {
		if _, err := env.m.siteMode(ctx, bad, nil); err == nil {
			t.Errorf("site mode %+v accepted", bad)
		}
	}
}

// An order of accounts and databases alone has nothing to freeze: every
// mode passes and changes nothing. One that serves names needs its vhosts.
func TestSiteModeWithoutSite(t *testing.T) {
	env := newMoveTestEnv(t)
	r := &moveFakeRunner{}
	env.useRunner(r)
	for _, d := range []string{env.m.cfg.Node.ApacheSitesAvailable, env.m.cfg.Node.ApacheSitesEnabled} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := moveTestPayload()
	p.ServerNames = nil
	for _, mode := range []string{siteModeMaintenance, siteModeProxy, siteModeNormal} {
		p.Mode = mode
		res, err := env.m.siteMode(context.Background(), p, func(any) {})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if r := res.(moveSiteModeResult); r.Changed || len(r.Vhosts) != 0 {
			t.Errorf("%s: %+v", mode, r)
		}
	}
	if len(r.calls) != 0 {
		t.Errorf("ran %q for an order without a site", r.calls)
	}
	p = moveTestPayload()
	p.Mode = siteModeMaintenance
	p.ServerNames = []string{"example.org"}
	if _, err := env.m.siteMode(context.Background(), p, func(any) {}); err == nil || !strings.Contains(err.Error(), "serves example.org") {
		t.Errorf("an order with names but no vhost: %v", err)
	}
}
