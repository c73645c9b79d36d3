package model_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

func TestValidateClaimableDomain(t *testing.T) {
	cases := append(keep("example.org", "a.example", "www.b.example", "foo.co.uk", "me.github.io"),
		normCase{"Example.ORG.", "example.org"})
	cases = append(cases, refuse("", "org", "co.uk", "CO.UK", "github.io", "com", "ck", "x..example", "-a.example", "a b.example")...)
	runNorm(t, model.ValidateClaimableDomain, cases)
	_, err := model.ValidateClaimableDomain("co.uk")
	if err == nil || !strings.Contains(err.Error(), "public suffix") {
		t.Errorf("co.uk refused with %v, want it named a public suffix", err)
	}
}

func TestSuffixes(t *testing.T) {
	cases := map[string][]string{
		"www.shop.a.example": {"www.shop.a.example", "shop.a.example", "a.example"},
		"a.example":          {"a.example"},
		"*.a.example":        {"a.example"},
		"example":            nil,
	}
	for in, want := range cases {
		if got := model.Suffixes(in); !slices.Equal(got, want) {
			t.Errorf("Suffixes(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHolderOfIsTheMostSpecificClaim(t *testing.T) {
	claims := []model.DomainClaim{
		{Domain: "a.example", Member: "alice"},
		{Domain: "shop.a.example", Member: "bob"},
	}
	cases := []struct {
		name, member string
	}{
		{"a.example", "alice"},
		{"www.a.example", "alice"},
		{"shop.a.example", "bob"},
		{"www.shop.a.example", "bob"},
		{"*.shop.a.example", "bob"},
		{"xshop.a.example", "alice"},
		{"b.example", ""},
		{"a.example.org", ""},
	}
	for _, c := range cases {
		got, ok := model.HolderOf(c.name, claims)
		if ok != (c.member != "") || got.Member != c.member {
			t.Errorf("HolderOf(%q) = %q, %v; want %q", c.name, got.Member, ok, c.member)
		}
	}
}

func TestCheckIdentityKept(t *testing.T) {
	cases := []struct {
		kind     model.Kind
		old, now model.Spec
		field    string // "" means the update is allowed
	}{
		{model.KindUserAccount, model.Spec{Login: "alice"}, model.Spec{Login: "alice9"}, "spec.login"},
		{model.KindUserAccount, model.Spec{Login: "alice", Shell: "/bin/sh"}, model.Spec{Login: "alice", Shell: "/bin/bash"}, ""},
		{model.KindMySQLDB, model.Spec{Name: "shop"}, model.Spec{Name: "shop2"}, "spec.name"},
		{model.KindMySQLUser, model.Spec{Name: "u"}, model.Spec{Name: "v"}, "spec.name"},
		{model.KindPgSQLDB, model.Spec{Name: "d", Owner: "o"}, model.Spec{Name: "d", Owner: "p"}, "spec.owner"},
		{model.KindDNS, model.Spec{Zone: "a.example", FQDN: "www.a.example", Type: "A"}, model.Spec{Zone: "a.example", FQDN: "www.a.example", Type: "AAAA"}, "spec.type"},
		{model.KindDNS, model.Spec{Zone: "a.example", FQDN: "www.a.example", Type: "A", Value: "127.0.0.1"}, model.Spec{Zone: "a.example", FQDN: "www.a.example", Type: "A", Value: "127.0.0.2"}, ""},
		{model.KindWebConf, model.Spec{Login: "alice", Docroot: "web"}, model.Spec{Login: "alice", Docroot: "public"}, ""},
	}
	for _, c := range cases {
		err := c.now.CheckIdentityKept(c.kind, c.old)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s update %+v → %+v refused: %v", c.kind, c.old, c.now, err)
			}
			continue
		}
		wantField(t, err, c.field)
		if !strings.Contains(err.Error(), "delete the item and add a new one") {
			t.Errorf("%s: error %q does not say what to do instead", c.kind, err)
		}
	}
}

func TestCheckForget(t *testing.T) {
	for _, st := range model.States {
		err := model.CheckForget(st)
		refused := st == model.StateDeleted || st == model.StateTransferLimbo
		if refused != (err != nil) {
			t.Errorf("CheckForget(%s) = %v, want refused=%v", st, err, refused)
		}
		if err != nil && !errors.Is(err, model.ErrNotForgettable) {
			t.Errorf("CheckForget(%s) = %v, does not wrap ErrNotForgettable", st, err)
		}
	}
}

func TestValidateConfigString(t *testing.T) {
	runNorm(t, checker(model.ValidateConfigString), append(
		keep("web", "public_html/site", "a b", "ünïcode", "50%"),
		refuse("", `web/x"y`, `a\b`, "$HOME", "a\nb", "a\rb", "tab\there", "del\x7f")...))
}
