package web

import (
	"net/http"
	"strings"
	"testing"
)

// The admin pages answer admins only; a member gets 403 and sees nothing.
func TestAdminPagesRefuseMembers(t *testing.T) {
	f := newFixture(t)
	f.setPassword("alice", "alice", alicePassword)
	m := f.browser()
	m.login(f.alice)
	a := f.browser()
	a.login(f.admin)
	for _, path := range []string{"/members", "/tokens", "/audit", "/audit?member=bob", "/hosts"} {
		if r := m.get(path); r.status != http.StatusForbidden || strings.Contains(r.body, "bob") {
			t.Errorf("member GET %s: %d, want 403 showing nothing", path, r.status)
		}
		if r := a.get(path); r.status != http.StatusOK {
			t.Errorf("admin GET %s: %d", path, r.status)
		}
	}
	members := a.get("/members").body
	for _, want := range []string{"alice", "bob", "Alice"} {
		if !strings.Contains(members, want) {
			t.Errorf("members page lacks %q", want)
		}
	}
	tokens := a.get("/tokens").body
	if !strings.Contains(tokens, "login-alice") || !strings.Contains(tokens, "alice-web") || strings.Contains(tokens, f.alice) {
		t.Errorf("tokens page: want the tokens and the login, never a secret\n%s", tokens)
	}
}

func TestAuditPageFilters(t *testing.T) {
	f := newFixture(t)
	a := f.browser()
	a.login(f.admin)
	all := a.get("/audit").body
	if !strings.Contains(all, "order.create") || !strings.Contains(all, "member.create") {
		t.Fatalf("audit page without filters lacks entries:\n%s", all)
	}
	f.setPassword("bob", "bob", "bob's long password")
	bob := a.get("/audit?member=bob").body
	if !strings.Contains(bob, "member/bob") || !strings.Contains(bob, "login/bob") || strings.Contains(bob, "member/alice") {
		t.Errorf("audit for member bob:\n%s", bob)
	}
	items := a.get("/audit?action=item&order=alice.example").body
	if !strings.Contains(items, "item.create") || strings.Contains(items, "order.create") {
		t.Errorf("audit of item actions of alice.example:\n%s", items)
	}
	if r := a.get("/audit?from=2026-03-01T12:01"); strings.Contains(r.body, "item.create") {
		t.Errorf("audit from after every entry still lists them")
	}
	if r := a.get("/audit?from=2026-02-01&to=2026-03-02"); !strings.Contains(r.body, "item.create") {
		t.Errorf("audit over the fixture's day lists nothing")
	}
	if r := a.get("/audit?from=yesterday"); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "not a date") {
		t.Errorf("bad date: %d", r.status)
	}
}
