package model_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"path"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

// fuzzString seeds f with seeds and fuzzes check with strings.
func fuzzString(f *testing.F, seeds []string, check func(t *testing.T, s string)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(check)
}

// Accepted domains are lower-case ASCII A-labels that fit DNS, with at
// least minLabels labels, and come back unchanged when normalized again.
func FuzzNormalizeDomain(f *testing.F) {
	seeds := append(inputs(domainCases), "xn--ls8h.example", "Ⅸ.example", "ß.example", "ς.example", "a\u00adb.example", "İ.example", "K.example", "xn--fa-hia.example")
	fuzzString(f, seeds, func(t *testing.T, s string) {
		for _, minLabels := range []int{1, 2} {
			out, err := model.NormalizeDomain(s, minLabels)
			if err != nil {
				continue
			}
			checkDomain(t, s, out, minLabels)
			again, err := model.NormalizeDomain(out, minLabels)
			if err != nil || again != out {
				t.Fatalf("%q → %q, normalized again → %q, %v", s, out, again, err)
			}
		}
	})
}

// checkDomain fails unless out, which in was normalized to, is a DNS name
// of at least minLabels lower-case ASCII labels.
func checkDomain(t *testing.T, in, out string, minLabels int) {
	t.Helper()
	if len(out) > 253 || !asciiLower(out, ".-") {
		t.Fatalf("%q → %q: not lower-case ASCII of at most 253 characters", in, out)
	}
	labels := strings.Split(out, ".")
	if len(labels) < minLabels {
		t.Fatalf("%q → %q: %d labels, want at least %d", in, out, len(labels), minLabels)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			t.Fatalf("%q → %q: bad label %q", in, out, l)
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		t.Fatalf("%q → %q: all-numeric top-level label", in, out)
	}
}

// An accepted path stays inside the order's directory.
func FuzzCleanRelPath(f *testing.F) {
	fuzzString(f, inputs(relPathCases), func(t *testing.T, s string) {
		out, err := model.CleanRelPath(s)
		if err != nil {
			return
		}
		if out == "" || out == "." || strings.HasPrefix(out, "/") || slices.Contains(strings.Split(out, "/"), "..") {
			t.Fatalf("%q → %q escapes the order's directory", s, out)
		}
		if strings.ContainsFunc(out, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("%q → %q holds a control character", s, out)
		}
		const dir = "/home/members/alice/sites/example.org"
		if j := path.Join(dir, out); !strings.HasPrefix(j, dir+"/") {
			t.Fatalf("%q → %q joins to %q, outside %s", s, out, j, dir)
		}
		if again, err := model.CleanRelPath(out); err != nil || again != out {
			t.Fatalf("%q → %q, cleaned again → %q, %v", s, out, again, err)
		}
	})
}

// An accepted schedule, with its fields joined by single spaces as a spec
// stores it, is made of crontab's own ASCII and is accepted again.
func FuzzValidateCronSchedule(f *testing.F) {
	fuzzString(f, inputs(cronScheduleCases), func(t *testing.T, s string) {
		if model.ValidateCronSchedule(s) != nil {
			return
		}
		joined := strings.Join(strings.Fields(s), " ")
		for _, c := range []byte(joined) {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("*,/-@ ", c) >= 0) {
				t.Fatalf("%q accepted, but %q is not crontab's ASCII", s, joined)
			}
		}
		if n := len(strings.Fields(joined)); n != 5 && !(n == 1 && joined[0] == '@') {
			t.Fatalf("%q accepted with %d fields", s, n)
		}
		if err := model.ValidateCronSchedule(joined); err != nil {
			t.Fatalf("%q accepted, its stored form %q refused: %v", s, joined, err)
		}
	})
}

// An accepted command is one line that cron passes whole to the shell.
func FuzzValidateCronCommand(f *testing.F) {
	fuzzString(f, inputs(cronCommandCases), func(t *testing.T, s string) {
		if model.ValidateCronCommand(s) != nil {
			return
		}
		if strings.TrimSpace(s) == "" || len(s) > 1024 {
			t.Fatalf("%q accepted: empty or too long", s)
		}
		escaped := false
		for _, c := range []byte(s) {
			switch {
			case c < 0x20 && c != '\t' || c == 0x7f:
				t.Fatalf("%q accepted with control byte %#x", s, c)
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '%':
				t.Fatalf("%q accepted with a bare %%", s)
			}
		}
	})
}

var rrTypes = []string{"A", "AAAA", "CNAME", "MX", "TXT", "SRV"}

// An accepted value is in canonical form (normalizing it again changes
// nothing) and has the shape its type needs.
func FuzzNormalizeDNSValue(f *testing.F) {
	for i, typ := range rrTypes {
		for _, v := range inputs(dnsValueCases[typ]) {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, ti uint8, v string) {
		typ := rrTypes[int(ti)%len(rrTypes)]
		out, err := model.NormalizeDNSValue(typ, v)
		if err != nil {
			return
		}
		if again, err := model.NormalizeDNSValue(typ, out); err != nil || again != out {
			t.Fatalf("%s %q → %q, normalized again → %q, %v", typ, v, out, again, err)
		}
		if out != strings.TrimSpace(out) || strings.ContainsFunc(out, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("%s %q → %q: padded or holds a control character", typ, v, out)
		}
		f := strings.Fields(out)
		switch typ {
		case "A", "AAAA":
			a, err := netip.ParseAddr(out)
			if err != nil || a.Is4() != (typ == "A") || a.Is4In6() || a.Zone() != "" {
				t.Fatalf("%s %q → %q: not an address of the record's family", typ, v, out)
			}
		case "CNAME":
			if len(out) > 253 || !asciiLower(out, ".-_") {
				t.Fatalf("%s %q → %q: not a lower-case name", typ, v, out)
			}
		case "MX":
			if len(f) != 2 || !asciiLower(f[1], ".-") {
				t.Fatalf("%s %q → %q: not \"preference host\"", typ, v, out)
			}
		case "SRV":
			if len(f) != 4 || !asciiLower(f[3], ".-") {
				t.Fatalf("%s %q → %q: not \"priority weight port target\"", typ, v, out)
			}
		case "TXT":
			if out == "" || len(out) > 4000 {
				t.Fatalf("%s %q → %q: empty or too long", typ, v, out)
			}
		}
	})
}

// A spec decoded from any JSON normalizes without panicking, for any kind.
// A refusal names a spec field; an accepted spec keeps no password, sets
// only its kind's fields, and survives a JSON round trip and a second
// Normalize unchanged.
func FuzzSpecNormalize(f *testing.F) {
	for _, all := range []map[model.Kind][]validateCase[model.Spec]{specCases(), mailCases()} {
		for _, cases := range all {
			for _, c := range cases {
				f.Add([]byte(asJSON(c.in)))
			}
		}
	}
	for _, k := range model.Kinds {
		f.Add([]byte(asJSON(minimalSpec(k))))
	}
	for _, s := range []string{
		`{"login":"alice","password":"correct horse"}`,
		`{"name":"shop","password":"correct horse","databases":["shop"]}`,
		`{"fqdn":"@","type":"mx","value":"10 mx"}`,
		`{"server_names":[],"databases":[],"php":null}`,
		`{"ttl":-1}`,
		`{"login":"alice","schedule":"@daily","command":"x","https":false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in model.Spec
		if json.Unmarshal(data, &in) != nil {
			return
		}
		for _, k := range model.Kinds {
			s := cloneSpec(in)
			err := s.Normalize(k, orderDomain)
			if err != nil {
				var fe *model.FieldError
				if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "spec.") || !errors.Is(err, model.ErrInvalid) {
					t.Fatalf("%s %s: error %q does not name a spec field", k, data, err)
				}
				continue
			}
			out := asJSON(s)
			if s.Password != "" {
				t.Fatalf("%s %s: password kept: %s", k, data, out)
			}
			var fields map[string]any
			if err := json.Unmarshal([]byte(out), &fields); err != nil {
				t.Fatal(err)
			}
			for name := range fields {
				if !slices.Contains(kindFields[k], name) {
					t.Fatalf("%s %s: normalized spec sets %s: %s", k, data, name, out)
				}
			}
			var again model.Spec
			if err := json.Unmarshal([]byte(out), &again); err != nil {
				t.Fatalf("%s: decoding %s: %v", k, out, err)
			}
			if err := again.Normalize(k, orderDomain); err != nil {
				t.Fatalf("%s %s → %s, normalized again: %v", k, data, out, err)
			}
			if got := asJSON(again); got != out {
				t.Fatalf("%s %s → %s, normalized again → %s", k, data, out, got)
			}
		}
	})
}

// A claimable domain is a normalized domain of at least two labels that
// is never a public suffix, and every name it holds has it as a suffix.
func FuzzValidateClaimableDomain(f *testing.F) {
	seeds := append(inputs(domainCases), "co.uk", "github.io", "foo.co.uk", "xn--p1ai", "a.xn--p1ai", "*.a.example")
	fuzzString(f, seeds, func(t *testing.T, s string) {
		d, err := model.ValidateClaimableDomain(s)
		if err != nil {
			return
		}
		checkDomain(t, s, d, 2)
		if again, err := model.ValidateClaimableDomain(d); err != nil || again != d {
			t.Fatalf("%q → %q, validated again → %q, %v", s, d, again, err)
		}
		if !slices.Contains(model.Suffixes("www."+d), d) {
			t.Fatalf("%q is not among the suffixes of www.%s", d, d)
		}
	})
}

// An accepted config string carries nothing that could end a quoted
// Apache or ini value or start an expansion.
func FuzzValidateConfigString(f *testing.F) {
	fuzzString(f, []string{"web", `web/x"y`, `a\b`, "$HOME", "a\nb", "ünï", "\x7f"}, func(t *testing.T, s string) {
		if model.ValidateConfigString(s) != nil {
			return
		}
		if s == "" || strings.ContainsAny(s, "\"\\$\n\r\x00\x7f") {
			t.Fatalf("%q accepted", s)
		}
	})
}
