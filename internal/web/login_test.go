package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/totp"
)

const alicePassword = "alice's long password"

// setPassword gives member (or, with member "", an admin) a login.
func (f *fixture) setPassword(login, member, pw string) {
	f.t.Helper()
	in := panel.LoginInput{Name: login, Role: model.RoleAdmin, Password: pw}
	if member != "" {
		in.Role, in.Member = model.RoleMember, member
	}
	if _, err := f.panel.SetLoginPassword(context.Background(), panel.System, in); err != nil {
		f.t.Fatal(err)
	}
}

// passwordLogin posts the login form and returns the answer.
func (b *browser) passwordLogin(login, pw, code string) response {
	b.f.t.Helper()
	page := b.get("/login")
	return b.post("/login", url.Values{"csrf": {formCSRF(b.f.t, page.body)}, "login": {login}, "password": {pw}, "code": {code}, "next": {"/orders"}})
}

func TestPasswordLoginOpensASessionAsTheMember(t *testing.T) {
	f := newFixture(t)
	f.setPassword("alice", "alice", alicePassword)
	b := f.browser()
	r := b.passwordLogin("alice", "wrong password here", "")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong login name, password or code") {
		t.Fatalf("wrong password: %d\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, "wrong password here") {
		t.Error("the login page shows the password it refused")
	}
	r = b.passwordLogin("Alice ", alicePassword, "")
	if r.status != http.StatusSeeOther || r.location != "/orders" {
		t.Fatalf("login: %d to %q\n%s", r.status, r.location, r.body)
	}
	home := b.get("/orders")
	if !strings.Contains(home.body, "alice.example") || strings.Contains(home.body, "bob.example") {
		t.Errorf("alice's orders page after a password login shows the wrong orders:\n%s", home.body)
	}
	// Without the login form's CSRF token, a password is not even tried.
	other := f.browser()
	other.get("/login")
	r = other.post("/login", url.Values{"login": {"alice"}, "password": {alicePassword}})
	if r.status != http.StatusForbidden {
		t.Errorf("login without csrf: %d, want 403", r.status)
	}
}

func TestFailedLoginsLockTheLoginForAWhile(t *testing.T) {
	f := newFixture(t)
	f.setPassword("alice", "alice", alicePassword)
	b := f.browser()
	for i := 1; i < loginFree; i++ {
		if r := b.passwordLogin("alice", "guess number one", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	r := b.passwordLogin("alice", "guess number one", "")
	want := f.clock.Now().Add(lockFirst).UTC().Format("15:04:05 UTC")
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed logins for this login") || !strings.Contains(r.body, want) {
		t.Fatalf("failure %d: %d, want 429 saying until %s:\n%s", loginFree, r.status, want, r.body)
	}
	// Locked: even the right password is refused, from another address too.
	if r := f.browser().passwordLogin("alice", alicePassword, ""); r.status != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: %d, want 429", r.status)
	}
	// Another login is not locked by alice's failures.
	f.setPassword("bob", "bob", "bob's long password")
	if r := f.browser().passwordLogin("bob", "bob's long password", ""); r.status != http.StatusSeeOther {
		t.Errorf("bob while alice is locked: %d", r.status)
	}
	f.clock.Advance(lockFirst + time.Second)
	if r := b.passwordLogin("alice", alicePassword, ""); r.status != http.StatusSeeOther {
		t.Fatalf("after the lock ran out: %d\n%s", r.status, r.body)
	}
	// The next failure after a success starts counting afresh.
	if r := f.browser().passwordLogin("alice", "another wrong guess", ""); r.status != http.StatusUnauthorized {
		t.Errorf("first failure after a success: %d, want 401", r.status)
	}
}

func TestFailedLoginsFromOneAddressLockIt(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	var r response
	for i := 0; i < addrFree; i++ {
		r = b.passwordLogin("nobody"+strings.Repeat("x", i%10)+string(rune('a'+i)), "some password", "")
	}
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "for your address") {
		t.Fatalf("after %d failures from one address: %d\n%s", addrFree, r.status, r.body)
	}
}

func TestTOTPIsAskedOnceTurnedOn(t *testing.T) {
	f := newFixture(t)
	f.setPassword("alice", "alice", alicePassword)
	b := f.browser()
	if r := b.passwordLogin("alice", alicePassword, ""); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	page := b.get("/account/totp")
	secret := regexpFind(t, page.body, `<code id="totp-secret">([A-Z2-7]+)</code>`)
	csrf := formCSRF(t, page.body)
	r := b.post("/account/totp", url.Values{"csrf": {csrf}, "secret": {secret}, "code": {"12345"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="code-error"`) {
		t.Fatalf("a wrong code: %d, want 422 with the error beside the code field\n%s", r.status, r.body)
	}
	code, _ := totp.Code(secret, f.clock.Now())
	if r := b.post("/account/totp", url.Values{"csrf": {csrf}, "secret": {secret}, "code": {code}}); r.status != http.StatusSeeOther {
		t.Fatalf("turn codes on: %d\n%s", r.status, r.body)
	}
	c := f.browser()
	r = c.passwordLogin("alice", alicePassword, "")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "takes a code") {
		t.Fatalf("password without the code: %d\n%s", r.status, r.body)
	}
	if r := c.passwordLogin("alice", alicePassword, "000000"); r.status != http.StatusUnauthorized || code == "000000" {
		t.Fatalf("a wrong code: %d", r.status)
	}
	if r := c.passwordLogin("alice", alicePassword, code); r.status != http.StatusSeeOther {
		t.Fatalf("password and code: %d\n%s", r.status, r.body)
	}
}

func TestAccountChangesPasswordAndLogsOutEverywhere(t *testing.T) {
	f := newFixture(t)
	f.setPassword("alice", "alice", alicePassword)
	one, two := f.browser(), f.browser()
	for _, b := range []*browser{one, two} {
		if r := b.passwordLogin("alice", alicePassword, ""); r.status != http.StatusSeeOther {
			t.Fatalf("login: %d", r.status)
		}
	}
	page := one.get("/account")
	csrf := formCSRF(t, page.body)
	r := one.post("/account/password", url.Values{"csrf": {csrf}, "current_password": {"not my password"}, "new_password": {"a brand new password"}, "new_password2": {"a brand new password"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="current_password-error"`) {
		t.Fatalf("wrong current password: %d\n%s", r.status, r.body)
	}
	r = one.post("/account/password", url.Values{"csrf": {csrf}, "current_password": {alicePassword}, "new_password": {"short"}, "new_password2": {"short"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="new_password-error"`) {
		t.Fatalf("short new password: %d\n%s", r.status, r.body)
	}
	if strings.Contains(r.body, alicePassword) {
		t.Error("the account page shows a password back")
	}
	r = one.post("/account/password", url.Values{"csrf": {csrf}, "current_password": {alicePassword}, "new_password": {"a brand new password"}, "new_password2": {"a brand new password"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("change password: %d\n%s", r.status, r.body)
	}
	if r := f.browser().passwordLogin("alice", "a brand new password", ""); r.status != http.StatusSeeOther {
		t.Fatalf("new password: %d", r.status)
	}
	// Without the session's CSRF token, nothing ends.
	if r := two.post("/account/logout-everywhere", url.Values{}); r.status != http.StatusForbidden {
		t.Fatalf("logout everywhere without csrf: %d", r.status)
	}
	r = one.post("/account/logout-everywhere", url.Values{"csrf": {csrf}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "logged out everywhere") {
		t.Fatalf("logout everywhere: %d\n%s", r.status, r.body)
	}
	for i, b := range []*browser{one, two} {
		if r := b.get("/orders"); r.status != http.StatusSeeOther {
			t.Errorf("browser %d after logout everywhere: %d, want a redirect to login", i+1, r.status)
		}
	}
}

func regexpFind(t *testing.T, body, re string) string {
	t.Helper()
	m := regexpMust(re).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, body)
	}
	return m[1]
}

func regexpMust(re string) *regexp.Regexp { return regexp.MustCompile(re) }
