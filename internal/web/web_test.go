package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// fixture is a control plane with two members (alice, bob), three hosts
// and a few orders, served by the UI.
type fixture struct {
	t      *testing.T
	panel  *panel.Panel
	store  store.Store
	ui     *UI
	srv    *httptest.Server
	clock  *cptest.Clock
	admin  string
	alice  string
	bob    string
	orders map[string]model.Order
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := cptest.FixedClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	quiet := cptest.Quiet()
	st := cptest.SQLite(t)
	p := cptest.Panel(st, clk.Now)
	var err error
	f := &fixture{t: t, panel: p, store: st, clock: clk, orders: map[string]model.Order{}}
	if f.admin, err = p.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	adm := panel.System
	for _, m := range []string{"alice", "bob"} {
		f.must(p.CreateMember(ctx, adm, model.Member{Name: m, FriendlyName: strings.ToUpper(m[:1]) + m[1:]}))
	}
	for i, h := range []string{"web1", "web2", "web3"} {
		f.must(p.CreateHost(ctx, adm, model.Host{Name: h, Addresses: []string{"127.0.1." + strconv.Itoa(11+i)}, DiskCapacity: 100 << 30}))
	}
	for _, o := range []model.Order{
		{Identifier: "alice.example", Member: "alice", Host: "web1"},
		{Identifier: "shop.alice.example", Member: "alice", Host: "web2"},
		{Identifier: "bob.example", Member: "bob", Host: "web1"},
		{Identifier: "old.bob.example", Member: "bob", Host: "web2"},
	} {
		made, err := p.CreateOrder(ctx, adm, o)
		if err != nil {
			t.Fatal(err)
		}
		f.orders[o.Identifier] = made
	}
	f.must(p.CreateItem(ctx, adm, panel.ItemInput{Order: "alice.example", Kind: model.KindUserAccount, Spec: model.Spec{Login: "alice"}}))
	f.must(p.CreateItem(ctx, adm, panel.ItemInput{Order: "alice.example", Kind: model.KindWebConf, Spec: model.Spec{Login: "alice", ServerNames: []string{"alice.example", "www.alice.example"}}}))
	f.must(p.CreateItem(ctx, adm, panel.ItemInput{Order: "alice.example", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "alice_wp"}}))
	if _, err := p.DeleteOrder(ctx, adm, "old.bob.example"); err != nil {
		t.Fatal(err)
	}
	f.alice = f.token("alice-web", model.RoleMember, "alice")
	f.bob = f.token("bob-web", model.RoleMember, "bob")

	f.ui, err = New(p, Options{Now: clk.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.ui)
	t.Cleanup(f.srv.Close)
	return f
}

// useMover serves a new UI with the move pages, driven by m.
func (f *fixture) useMover(m Mover) {
	f.t.Helper()
	f.srv.Close()
	ui, err := New(f.panel, Options{Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Moves: m})
	if err != nil {
		f.t.Fatal(err)
	}
	f.ui = ui
	f.srv = httptest.NewServer(ui)
	f.t.Cleanup(f.srv.Close)
}

func (f *fixture) must(_ any, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) token(name string, role model.TokenRole, member string) string {
	f.t.Helper()
	_, secret, err := f.panel.CreateToken(context.Background(), panel.System, model.Token{Name: name, Role: role, Member: member})
	if err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see them.
type browser struct {
	f   *fixture
	c   *http.Client
	jar http.CookieJar
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) response {
	b.f.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

func (b *browser) get(path string) response {
	b.f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.f.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form; header adds request headers (Origin, Sec-Fetch-Site).
func (b *browser) post(path string, form url.Values, header ...string) response {
	b.f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func formCSRF(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no csrf field:\n%s", body)
	}
	return m[1]
}

// login logs in with secret and returns the session's CSRF token.
func (b *browser) login(secret string) string {
	t := b.f.t
	t.Helper()
	page := b.get("/login")
	r := b.post("/login", url.Values{"csrf": {formCSRF(t, page.body)}, "token": {secret}, "next": {"/orders"}})
	if r.status != http.StatusSeeOther || r.location != "/orders" {
		t.Fatalf("login: status %d to %q, want 303 to /orders:\n%s", r.status, r.location, r.body)
	}
	home := b.get("/orders")
	if home.status != http.StatusOK {
		t.Fatalf("after login GET /orders: %d", home.status)
	}
	return formCSRF(t, home.body)
}

func (f *fixture) orderPath(identifier string) string {
	return "/orders/" + strconv.FormatInt(f.orders[identifier].ID, 10)
}

func TestLoginSetsAStrictSessionCookieAndLogoutEndsIt(t *testing.T) {
	f := newFixture(t)
	b := f.browser()

	r := b.get("/orders/1")
	if r.status != http.StatusSeeOther || r.location != "/login?next=%2Forders%2F1" {
		t.Fatalf("anonymous GET: %d to %q, want the login page keeping the target", r.status, r.location)
	}

	page := b.get("/login")
	csrf := formCSRF(t, page.body)
	r = b.post("/login", url.Values{"csrf": {csrf}, "token": {"fy_not-a-real-token"}})
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "not valid") {
		t.Fatalf("wrong token: %d, want 401 with a reason", r.status)
	}
	if strings.Contains(r.body, "fy_not-a-real-token") {
		t.Error("the login page echoes the token it refused")
	}

	page = b.get("/login")
	r = b.post("/login", url.Values{"csrf": {formCSRF(t, page.body)}, "token": {f.admin}, "next": {"/orders/1"}})
	if r.status != http.StatusSeeOther || r.location != "/orders/1" {
		t.Fatalf("login: %d to %q, want 303 to /orders/1", r.status, r.location)
	}
	var sc *http.Cookie
	for _, c := range readSetCookies(r.header) {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil {
		t.Fatal("login set no session cookie")
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || sc.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", sc)
	}
	if len(sc.Value) < 40 || strings.Contains(sc.Value, f.admin) {
		t.Errorf("session id %q is short or carries the token", sc.Value)
	}

	home := b.get("/orders")
	if home.status != http.StatusOK || !strings.Contains(home.body, "bob.example") {
		t.Fatalf("admin's orders page: %d", home.status)
	}
	r = b.post("/logout", url.Values{"csrf": {formCSRF(t, home.body)}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "logged out") {
		t.Fatalf("logout: %d", r.status)
	}
	if f.ui.sessions.len() != 0 {
		t.Errorf("logout left %d sessions on the server", f.ui.sessions.len())
	}
	// The old cookie value no longer opens anything, even if a copy of it
	// survived in another client.
	other := f.browser()
	u, _ := url.Parse(f.srv.URL)
	other.jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: sc.Value}})
	if r := other.get("/orders"); r.status != http.StatusSeeOther {
		t.Errorf("old session id after logout: %d, want a redirect to login", r.status)
	}
}

func readSetCookies(h http.Header) []*http.Cookie {
	return (&http.Response{Header: h}).Cookies()
}

func TestSecureCookieOverTLS(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodGet, "https://panel.example/login", nil)
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	f.ui.ServeHTTP(rec, req)
	cs := rec.Result().Cookies()
	if len(cs) == 0 || !cs[0].Secure {
		t.Fatalf("cookies over TLS %v: want Secure", cs)
	}
}

func TestNodeTokensCannotLogIn(t *testing.T) {
	f := newFixture(t)
	_, secret, err := f.panel.CreateToken(context.Background(), panel.System, model.Token{Name: "node-web1", Role: model.RoleNode, Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	page := b.get("/login")
	r := b.post("/login", url.Values{"csrf": {formCSRF(t, page.body)}, "token": {secret}})
	if r.status != http.StatusForbidden || f.ui.sessions.len() != 0 {
		t.Fatalf("node token login: %d with %d sessions, want 403 and none", r.status, f.ui.sessions.len())
	}
}

func TestLoginFormNeedsItsCSRFToken(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	// No login cookie: a form posted from elsewhere.
	r := b.post("/login", url.Values{"csrf": {"guess"}, "token": {f.admin}})
	if r.status != http.StatusForbidden {
		t.Fatalf("login without the form's token: %d, want 403", r.status)
	}
	page := b.get("/login")
	r = b.post("/login", url.Values{"csrf": {formCSRF(t, page.body) + "x"}, "token": {f.admin}})
	if r.status != http.StatusForbidden {
		t.Fatalf("login with a wrong form token: %d, want 403", r.status)
	}
	page = b.get("/login")
	r = b.post("/login", url.Values{"csrf": {formCSRF(t, page.body)}, "token": {f.admin}}, "Sec-Fetch-Site", "cross-site")
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-site login: %d, want 403", r.status)
	}
	if f.ui.sessions.len() != 0 {
		t.Fatalf("refused logins opened %d sessions", f.ui.sessions.len())
	}
}

func TestPostsWithoutTheSessionsCSRFTokenAreRefused(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.login(f.admin)
	path := f.orderPath("bob.example") + "/delete"
	confirm := url.Values{"confirm": {"bob.example"}}

	other := f.browser()
	otherCSRF := other.login(f.admin)

	for _, tc := range []struct {
		name   string
		csrf   string
		header []string
	}{
		{"no token", "", nil},
		{"wrong token", csrf[:len(csrf)-2] + "xx", nil},
		{"another session's token", otherCSRF, nil},
		{"cross-site fetch", csrf, []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site but other origin", csrf, []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin", csrf, []string{"Origin", "https://evil.example"}},
	} {
		form := url.Values{"confirm": confirm["confirm"]}
		if tc.csrf != "" {
			form.Set("csrf", tc.csrf)
		}
		r := b.post(path, form, tc.header...)
		if r.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, r.status)
		}
		if o, _ := f.panel.GetOrder(context.Background(), panel.System, "bob.example"); o.State != model.OrderActive {
			t.Fatalf("%s: the order was deleted (%s)", tc.name, o.State)
		}
	}

	r := b.post(path, url.Values{"csrf": {csrf}, "confirm": {"bob.example"}}, "Sec-Fetch-Site", "same-origin", "Origin", f.srv.URL)
	if r.status != http.StatusSeeOther {
		t.Fatalf("delete with the session's token from the same origin: %d\n%s", r.status, r.body)
	}
	o, err := f.panel.GetOrder(context.Background(), panel.System, strconv.FormatInt(f.orders["bob.example"].ID, 10))
	if err != nil || o.State != model.OrderDeleted {
		t.Fatalf("after the delete: %v %s, want deleted", err, o.State)
	}
	page := b.get(r.location)
	if !strings.Contains(page.body, "is deleted") {
		t.Errorf("the order page after deleting shows no confirmation")
	}
}

func TestDeleteAsksForTheDomainFirst(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.login(f.admin)
	page := b.get(f.orderPath("alice.example"))
	if !strings.Contains(page.body, `href="`+f.orderPath("alice.example")+`/delete"`) {
		t.Fatal("the admin's order page has no delete link")
	}
	form := b.get(f.orderPath("alice.example") + "/delete")
	if form.status != http.StatusOK || !strings.Contains(form.body, "3 live item(s)") {
		t.Fatalf("confirmation page: %d\n%s", form.status, form.body)
	}
	r := b.post(f.orderPath("alice.example")+"/delete", url.Values{"csrf": {formCSRF(t, form.body)}, "confirm": {"bob.example"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Type the order") {
		t.Fatalf("delete with the wrong domain typed: %d", r.status)
	}
	if o, _ := f.panel.GetOrder(context.Background(), panel.System, "alice.example"); o.State != model.OrderActive {
		t.Fatalf("the order was deleted without confirmation (%s)", o.State)
	}
}

func TestSessionsExpire(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.login(f.admin)

	// Idle: 8 h without a request ends the session.
	f.clock.Advance(DefaultIdleTimeout + time.Second)
	if r := b.get("/orders"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Fatalf("after 8 h idle: %d to %q, want the login page", r.status, r.location)
	}
	if f.ui.sessions.len() != 0 {
		t.Errorf("an expired session stays on the server")
	}

	// In use, the session lives on, but not past its lifetime.
	b.login(f.admin)
	for used := time.Duration(0); used+7*time.Hour < DefaultLifetime; used += 7 * time.Hour {
		f.clock.Advance(7 * time.Hour)
		if r := b.get("/orders"); r.status != http.StatusOK {
			t.Fatalf("a session in use ended after %s: %d", used+7*time.Hour, r.status)
		}
	}
	f.clock.Advance(7 * time.Hour)
	if r := b.get("/orders"); r.status != http.StatusSeeOther {
		t.Fatalf("a session past its %s lifetime: %d, want a redirect to login", DefaultLifetime, r.status)
	}
}

// A session is kept in the store: a restarted control plane, or another
// replica on the same store, knows it, and the cookie's id itself is
// nowhere in the store.
func TestSessionSurvivesARestart(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.login(f.alice)
	u, _ := url.Parse(f.srv.URL)
	var id string
	for _, c := range b.jar.Cookies(u) {
		if c.Name == sessionCookie {
			id = c.Value
		}
	}
	if id == "" {
		t.Fatal("no session cookie after login")
	}
	old := f.srv.URL
	f.useMover(nil) // a new UI on the same store: a restart, or a second replica
	if f.srv.URL == old {
		t.Fatal("the restarted UI serves on the old address")
	}
	newURL, _ := url.Parse(f.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		c.Domain = ""
		b.jar.SetCookies(newURL, []*http.Cookie{c})
	}
	if r := b.get("/orders"); r.status != http.StatusOK || !strings.Contains(r.body, "alice.example") {
		t.Fatalf("after a restart the session answers %d to %q, want alice's orders", r.status, r.location)
	}
	err := f.store.View(context.Background(), func(tx store.Tx) error {
		if _, err := tx.GetWebSession(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("the store finds the session by the cookie's id itself (%v)", err)
		}
		_, err := tx.GetWebSession(context.Background(), panel.HashToken(id))
		return err
	})
	if err != nil {
		t.Errorf("the store should keep the session under its id's hash only: %v", err)
	}
}

func TestRevokedTokenEndsItsSessions(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.login(f.alice)
	if _, err := f.panel.RevokeToken(context.Background(), panel.System, "alice-web"); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/orders"); r.status != http.StatusSeeOther {
		t.Fatalf("after revoking the token: %d, want a redirect to login", r.status)
	}
}

func TestMemberSeesOnlyTheirOwnOrders(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.login(f.alice)

	list := b.get("/orders")
	if !strings.Contains(list.body, "alice.example") || strings.Contains(list.body, "bob.example") {
		t.Errorf("alice's order list shows the wrong orders:\n%s", list.body)
	}
	if r := b.get("/orders?q=bob"); strings.Contains(r.body, "bob.example") {
		t.Errorf("alice's search for bob shows bob's order")
	}
	own := b.get(f.orderPath("alice.example"))
	if own.status != http.StatusOK || !strings.Contains(own.body, "alice_wp") {
		t.Fatalf("alice's own order: %d", own.status)
	}
	if strings.Contains(own.body, "/delete") {
		t.Errorf("a member's order page offers to delete the order")
	}
	for _, path := range []string{f.orderPath("bob.example"), "/orders/bob.example", f.orderPath("bob.example") + "/delete"} {
		r := b.get(path)
		if r.status != http.StatusNotFound {
			t.Errorf("alice GET %s: %d, want 404", path, r.status)
		}
		if strings.Contains(r.body, "bob.example") {
			t.Errorf("alice GET %s: the answer names bob's order", path)
		}
	}
	if r := b.get("/hosts"); r.status != http.StatusForbidden {
		t.Errorf("alice GET /hosts: %d, want 403", r.status)
	}
	if strings.Contains(list.body, `href="/hosts"`) {
		t.Errorf("a member's menu links to hosts")
	}
	for _, id := range []string{"alice.example", "bob.example"} {
		r := b.post(f.orderPath(id)+"/delete", url.Values{"csrf": {csrf}, "confirm": {id}})
		if r.status != http.StatusForbidden && r.status != http.StatusNotFound {
			t.Errorf("alice deletes %s: %d, want 403 or 404", id, r.status)
		}
	}
	for _, id := range []string{"alice.example", "bob.example"} {
		if o, _ := f.panel.GetOrder(context.Background(), panel.System, id); o.State != model.OrderActive {
			t.Errorf("%s is %s after alice's attempt to delete it", id, o.State)
		}
	}
}

func TestAdminSearchesByDomainMemberAndHost(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.login(f.admin)
	for _, tc := range []struct {
		query     string
		want, not []string
	}{
		{"q=shop", []string{"shop.alice.example"}, []string{">alice.example<", "bob.example"}},
		{"q=bob", []string{">bob.example<"}, []string{"alice.example", "old.bob.example"}},
		{"q=web2", []string{"shop.alice.example"}, []string{">alice.example<", ">bob.example<"}},
		{"q=www.alice", []string{">alice.example<"}, []string{"shop.alice.example"}},
		{"q=bob&state=deleted", []string{"old.bob.example"}, []string{">bob.example<"}},
		{"q=bob&state=all", []string{"old.bob.example", ">bob.example<"}, nil},
		{"q=nothing-like-this", []string{"No order matches"}, []string{"example<"}},
	} {
		r := b.get("/orders?" + tc.query)
		if r.status != http.StatusOK {
			t.Fatalf("search %s: %d", tc.query, r.status)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("search %s: missing %q", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.body, n) {
				t.Errorf("search %s: shows %q", tc.query, n)
			}
		}
	}
	if r := b.get("/orders?state=bogus"); r.status != http.StatusBadRequest {
		t.Errorf("unknown state filter: %d, want 400", r.status)
	}
}

func TestOrderPageShowsItemsStatesAndHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	node := panel.Caller{Name: "node-web1", Role: model.RoleNode, Host: "web1"}
	items, err := f.panel.ListItems(ctx, panel.System, store.ItemFilter{OrderID: f.orders["alice.example"].ID})
	if err != nil || len(items) != 3 {
		t.Fatalf("items: %v %d", err, len(items))
	}
	f.must(f.panel.ReportItem(ctx, node, items[0].ID, panel.Report{State: model.StateActive}))
	f.must(f.panel.ReportItem(ctx, node, items[1].ID, panel.Report{State: model.StateSoftError, Message: `apache2 reload failed: <script>alert("x")</script>`}))

	b := f.browser()
	b.login(f.alice)
	r := b.get(f.orderPath("alice.example"))
	for _, want := range []string{
		"user-account", "web-conf", "mysql-db", "alice.example,www.alice.example as alice",
		`class="state ok">active<`, `class="state warn">soft-error<`, `class="state wait">pending-insert<`,
		"apache2 reload failed: &lt;script&gt;", // the node's message, escaped
		"order.create", "item.create",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("order page lacks %q", want)
		}
	}
	if strings.Contains(r.body, `<script>alert`) {
		t.Error("a node's message reaches the page unescaped")
	}
}

func TestHostsStandOutWhenDownOrNearlyFull(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	beat := func(host string, free, used int64) {
		c := panel.Caller{Name: "node-" + host, Role: model.RoleNode, Host: host}
		if err := f.panel.Heartbeat(ctx, c, model.Heartbeat{DiskFree: free, DiskUsed: used, Load: 0.42}); err != nil {
			t.Fatal(err)
		}
	}
	beat("web1", 60<<30, 40<<30) // healthy
	beat("web2", 5<<30, 95<<30)  // 5 % free
	beat("web3", 60<<30, 40<<30) // healthy, then silent
	f.clock.Advance(30 * time.Second)
	beat("web1", 60<<30, 40<<30)
	beat("web2", 5<<30, 95<<30)
	f.clock.Advance(45 * time.Second) // web3 last seen 75 s ago

	b := f.browser()
	b.login(f.admin)
	r := b.get("/hosts")
	if r.status != http.StatusOK {
		t.Fatalf("hosts: %d", r.status)
	}
	rows := map[string]string{}
	for _, row := range strings.Split(r.body, "<tr")[1:] {
		for _, h := range []string{"web1", "web2", "web3"} {
			if strings.Contains(row, "<strong>"+h+"</strong>") {
				rows[h] = row
			}
		}
	}
	if row := rows["web1"]; row == "" || strings.Contains(row, "badge") || !strings.Contains(row, "0.42") || !strings.Contains(row, "60.0 GiB") {
		t.Errorf("healthy web1 row: %s", row)
	}
	if row := rows["web2"]; !strings.Contains(row, "nearly full") || strings.Contains(row, ">down<") || !strings.Contains(row, "(5 %)") {
		t.Errorf("web2 with 5 %% free: %s", row)
	}
	if row := rows["web3"]; !strings.Contains(row, ">down<") || !strings.Contains(row, "75 s ago") {
		t.Errorf("web3 silent for 75 s: %s", row)
	}
	// Order counts link to the search (alice.example and bob.example on
	// web1; the deleted old.bob.example does not count on web2).
	if !strings.Contains(rows["web1"], `<a href="/orders?q=web1">2</a>`) || !strings.Contains(rows["web2"], `<a href="/orders?q=web2">1</a>`) {
		t.Errorf("order counts: web1 %s\nweb2 %s", rows["web1"], rows["web2"])
	}
}

func TestHostStatus(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	for _, tc := range []struct {
		name       string
		h          model.Host
		down, full bool
	}{
		{"never seen", model.Host{}, true, false},
		{"seen 60 s ago", model.Host{Heartbeat: model.Heartbeat{LastSeen: at(60 * time.Second), DiskFree: 50, DiskUsed: 50}}, false, false},
		{"seen 61 s ago", model.Host{Heartbeat: model.Heartbeat{LastSeen: at(61 * time.Second), DiskFree: 50, DiskUsed: 50}}, true, false},
		{"10 % free", model.Host{Heartbeat: model.Heartbeat{LastSeen: at(0), DiskFree: 10, DiskUsed: 90}}, false, false},
		{"9 % free", model.Host{Heartbeat: model.Heartbeat{LastSeen: at(0), DiskFree: 9, DiskUsed: 91}}, false, true},
		{"capacity counts over used+free", model.Host{DiskCapacity: 1000, Heartbeat: model.Heartbeat{LastSeen: at(0), DiskFree: 90, DiskUsed: 10}}, false, true},
		{"no disk figures", model.Host{Heartbeat: model.Heartbeat{LastSeen: at(0)}}, false, false},
	} {
		row := hostStatus(tc.h, 0, now)
		if row.Down != tc.down || row.Full != tc.full {
			t.Errorf("%s: down %v full %v, want %v %v", tc.name, row.Down, row.Full, tc.down, tc.full)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "/",
		"/orders/3":            "/orders/3",
		"/orders?q=a%20b":      "/orders?q=a%20b",
		"//evil.example/x":     "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"orders":               "/",
		"/x\r\nSet-Cookie: a":  "/",
		"javascript:alert(1)":  "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPagesCarryTheirSecurityHeadersAndAssets(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	r := b.get("/login")
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(r.body, `name="viewport"`) {
		t.Error("pages have no viewport meta for phones")
	}
	css := regexp.MustCompile(`href="(/static/style.css\?v=[0-9a-f]+)"`).FindStringSubmatch(r.body)
	if css == nil {
		t.Fatal("no versioned stylesheet link")
	}
	if a := b.get(css[1]); a.status != http.StatusOK || !strings.Contains(a.header.Get("Content-Type"), "text/css") || !strings.Contains(a.body, "@media") {
		t.Errorf("stylesheet: %d %s", a.status, a.header.Get("Content-Type"))
	}
	if a := b.get("/static/app.js"); a.status != http.StatusOK {
		t.Errorf("app.js: %d", a.status)
	}
	if a := b.get("/no/such/page"); a.status != http.StatusNotFound {
		t.Errorf("unknown page: %d", a.status)
	}
}
