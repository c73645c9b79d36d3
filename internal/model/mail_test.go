package model_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"ferry/internal/model"
)

func mailCases() map[model.Kind][]validateCase[model.Spec] {
	long := strings.Repeat("a", 64)
	return map[model.Kind][]validateCase[model.Spec]{
		"email-address": {
			{name: "to a mailbox, lower-cased",
				in:   model.Spec{Address: "Info@Example.ORG", Login: "alice"},
				want: model.Spec{Address: "info@example.org", Login: "alice"}},
			{name: "forwarded, domain punycoded",
				in:   model.Spec{Address: "a.b+c@example.org", Forward: []string{"Bob@Bücher.example"}},
				want: model.Spec{Address: "a.b+c@example.org", Forward: []string{"bob@xn--bcher-kva.example"}}},
			{name: "local part of 64 octets",
				in:   model.Spec{Address: long + "@example.org", Login: "alice"},
				want: model.Spec{Address: long + "@example.org", Login: "alice"}},
			{name: "atext specials", in: model.Spec{Address: "o'neil!#$%&*/=?^_`{|}~-@example.org", Login: "alice"},
				want: model.Spec{Address: "o'neil!#$%&*/=?^_`{|}~-@example.org", Login: "alice"}},
			{name: "no address", in: model.Spec{Login: "alice"}, field: "spec.address"},
			{name: "no @", in: model.Spec{Address: "info.example.org", Login: "alice"}, field: "spec.address"},
			{name: "local part of 65 octets", in: model.Spec{Address: long + "a@example.org", Login: "alice"}, field: "spec.address"},
			{name: "address over 254 octets", in: model.Spec{Address: long + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".example.org", Login: "alice"}, field: "spec.address"},
			{name: "quoted local part", in: model.Spec{Address: `"a b"@example.org`, Login: "alice"}, field: "spec.address"},
			{name: "leading dot", in: model.Spec{Address: ".a@example.org", Login: "alice"}, field: "spec.address"},
			{name: "two dots", in: model.Spec{Address: "a..b@example.org", Login: "alice"}, field: "spec.address"},
			{name: "space", in: model.Spec{Address: "a b@example.org", Login: "alice"}, field: "spec.address"},
			{name: "newline", in: model.Spec{Address: "a\nb@example.org", Login: "alice"}, field: "spec.address"},
			{name: "non-ASCII local part", in: model.Spec{Address: "jürgen@example.org", Login: "alice"}, field: "spec.address"},
			{name: "comment in a map", in: model.Spec{Address: "#a@example.org", Login: "alice"}, field: "spec.address"},
			{name: "domain literal", in: model.Spec{Address: "a@[192.0.2.1]", Login: "alice"}, field: "spec.address"},
			{name: "single-label domain", in: model.Spec{Address: "a@localhost", Login: "alice"}, field: "spec.address"},
			{name: "neither mailbox nor forward", in: model.Spec{Address: "a@example.org"}, field: "spec.login"},
			{name: "bad login", in: model.Spec{Address: "a@example.org", Login: "Alice"}, field: "spec.login"},
			{name: "forwards to itself", in: model.Spec{Address: "a@example.org", Forward: []string{"A@example.org"}}, field: "spec.forward"},
			{name: "forward twice", in: model.Spec{Address: "a@example.org", Forward: []string{"b@example.net", "B@example.net"}}, field: "spec.forward"},
			{name: "bad forward", in: model.Spec{Address: "a@example.org", Forward: []string{"b@"}}, field: "spec.forward"},
			{name: "too many forwards", in: model.Spec{Address: "a@example.org", Forward: manyAddresses(51)}, field: "spec.forward"},
		},
		"mailbox": {
			{name: "no quota", in: model.Spec{Login: "alice"}, want: model.Spec{Login: "alice"}},
			{name: "quota", in: model.Spec{Login: "alice", QuotaMB: 500}, want: model.Spec{Login: "alice", QuotaMB: 500}},
			{name: "no login", in: model.Spec{QuotaMB: 5}, field: "spec.login"},
			{name: "system login", in: model.Spec{Login: "dovecot"}, field: "spec.login"},
			{name: "negative quota", in: model.Spec{Login: "alice", QuotaMB: -1}, field: "spec.quota_mb"},
			{name: "quota too big", in: model.Spec{Login: "alice", QuotaMB: model.MaxQuotaMB + 1}, field: "spec.quota_mb"},
		},
	}
}

func manyAddresses(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "x" + strings.Repeat("y", i) + "@example.net"
	}
	return out
}

func TestMailIdentitiesAndRefs(t *testing.T) {
	a := model.Spec{Address: "info@shop.example.org", Login: "alice"}
	if got := a.Identities(model.KindEmailAddress); len(got) != 1 || got[0] != "email:info@shop.example.org" {
		t.Errorf("identities %v", got)
	}
	if got := a.Names(model.KindEmailAddress); len(got) != 1 || got[0] != "shop.example.org" {
		t.Errorf("names %v", got)
	}
	refs := a.Requires(model.KindEmailAddress)
	if len(refs) != 1 || refs[0].Kind != model.KindMailbox || refs[0].Identity != "mailbox:alice" {
		t.Errorf("refs %+v", refs)
	}
	fwd := model.Spec{Address: "info@example.org", Forward: []string{"b@example.net"}}
	if refs := fwd.Requires(model.KindEmailAddress); len(refs) != 0 {
		t.Errorf("a forward needs no mailbox, got %+v", refs)
	}
	m := model.Spec{Login: "alice"}
	if refs := m.Requires(model.KindMailbox); len(refs) != 1 || refs[0].Kind != model.KindUserAccount {
		t.Errorf("mailbox refs %+v", refs)
	}
	old := model.Spec{Address: "info@example.org", Login: "alice"}
	moved := model.Spec{Address: "sales@example.org", Login: "alice"}
	wantField(t, moved.CheckIdentityKept(model.KindEmailAddress, old), "spec.address")
}

// An accepted address fits RFC 5321's limits, is a lower-case dot-atom at
// a domain of two labels or more, and comes back unchanged when checked
// again.
func FuzzNormalizeEmailAddress(f *testing.F) {
	for _, cases := range mailCases() {
		for _, c := range cases {
			if c.in.Address != "" {
				f.Add(c.in.Address)
			}
			for _, a := range c.in.Forward {
				f.Add(a)
			}
		}
	}
	for _, s := range []string{"a@b@example.org", "@example.org", "a@", "a@.example.org", "a@example.org.", "A@XN--BCHER-KVA.example", "a@ß.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := model.NormalizeEmailAddress(s)
		if err != nil {
			if !utf8.ValidString(err.Error()) && utf8.ValidString(s) {
				t.Fatalf("%q: error is not valid UTF-8: %q", s, err)
			}
			return
		}
		if len(out) > model.MaxEmailAddress {
			t.Fatalf("%q → %q: %d octets", s, out, len(out))
		}
		i := strings.LastIndexByte(out, '@')
		local, domain := out[:i], out[i+1:]
		if len(local) == 0 || len(local) > model.MaxLocalPart || strings.Contains(local, "..") || local[0] == '.' || local[len(local)-1] == '.' || local[0] == '#' {
			t.Fatalf("%q → %q: bad local part", s, out)
		}
		for _, r := range local {
			if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),:;<>@[\\]", r) || (r >= 'A' && r <= 'Z') {
				t.Fatalf("%q → %q: %q in the local part", s, out, r)
			}
		}
		checkDomain(t, s, domain, 2)
		if model.EmailDomain(out) != domain {
			t.Fatalf("EmailDomain(%q) = %q", out, model.EmailDomain(out))
		}
		if again, err := model.NormalizeEmailAddress(out); err != nil || again != out {
			t.Fatalf("%q → %q, again → %q, %v", s, out, again, err)
		}
	})
}
