package model_test

import (
	"strings"
	"testing"

	"ferry/internal/model"
)

// dnsValueCases are record values by type.
var dnsValueCases = map[string][]normCase{
	"A": append([]normCase{
		{"192.0.2.1", "192.0.2.1"},
		{" 192.0.2.1\n", "192.0.2.1"},
		{"127.0.1.3", "127.0.1.3"},
	}, refuse(
		"", "2001:db8::1", "::ffff:192.0.2.1", "::", "192.0.2", "192.0.2.256",
		"01.2.3.4", "192.0.2.1/32", "192.0.2.1 192.0.2.2", "example.org",
	)...),
	"AAAA": append([]normCase{
		{"2001:db8::1", "2001:db8::1"},
		{"2001:DB8::1", "2001:db8::1"},
		{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
		{"::1", "::1"},
	}, refuse(
		"", "192.0.2.1", "::ffff:192.0.2.1", "fe80::1%eth0", "2001:db8::g",
		"2001:db8::1/64", "example.org",
	)...),
	"CNAME": append([]normCase{
		{"target.example.org", "target.example.org"},
		{"Target.Example.ORG.", "target.example.org"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"localhost", "localhost"},
		{"_acme-challenge.example.net", "_acme-challenge.example.net"},
	}, refuse(
		"", ".", "a_b.example.org", "*.example.org", "192.0.2.1",
		"target example.org", "exa\x00mple.org", name254,
	)...),
	"MX": append([]normCase{
		{"10 mail.example.org", "10 mail.example.org"},
		{"  10   Mail.Example.ORG.  ", "10 mail.example.org"},
		{"010 mail.example.org", "10 mail.example.org"},
		{"0 mx.example.org", "0 mx.example.org"},
		{"65535 mx.example.org", "65535 mx.example.org"},
		{"10 mx.bücher.example", "10 mx.xn--bcher-kva.example"},
	}, refuse(
		"", "mail.example.org", "10", "10 mail.example.org extra",
		"65536 mx.example.org", "-1 mx.example.org", "+1 mx.example.org",
		"x mx.example.org", "1.5 mx.example.org", "10 _mx.example.org",
		"10 192.0.2.1", "10 .", "10 *.example.org",
	)...),
	"TXT": append(append([]normCase{
		{"v=spf1 -all", "v=spf1 -all"},
		{"  padded  ", "padded"},
		{`"quoted" \ text;`, `"quoted" \ text;`},
		{"ünïcode", "ünïcode"},
	}, keep(strings.Repeat("x", 4000))...), refuse(
		"", "   ", strings.Repeat("x", 4001), "a\nb", "a\rb", "a\x00b",
		"a\x1bb", "a\x7fb",
	)...),
	"SRV": append([]normCase{
		{"10 5 5060 sip.example.org", "10 5 5060 sip.example.org"},
		{"10 5 5060 SIP.Example.org.", "10 5 5060 sip.example.org"},
		{"0 0 0 .", "0 0 0 ."},
		{"65535 65535 65535 x.example.org", "65535 65535 65535 x.example.org"},
	}, refuse(
		"", "10 5 5060", "10 5 sip.example.org", "10 5 5060 sip.example.org x",
		"10 5 65536 sip.example.org", "10 5 -1 sip.example.org",
		"10 5 +5060 sip.example.org", "10 70000 5060 sip.example.org",
		"x 5 5060 sip.example.org", "10 5 http sip.example.org",
		"10 5 5060 _sip.example.org", "10 5 5060 192.0.2.1",
	)...),
}

func TestNormalizeDNSValue(t *testing.T) {
	for typ, cases := range dnsValueCases {
		t.Run(typ, func(t *testing.T) {
			runNorm(t, func(v string) (string, error) { return model.NormalizeDNSValue(typ, v) }, cases)
		})
	}
}

func TestNormalizeDNSValueUnknownType(t *testing.T) {
	for _, typ := range []string{"", "a", "NS", "SOA", "PTR", "CAA", " A"} {
		if v, err := model.NormalizeDNSValue(typ, "192.0.2.1"); err == nil {
			t.Errorf("type %q accepted (value %q), want refused", typ, v)
		}
	}
}

func TestValidateTTL(t *testing.T) {
	for ttl, ok := range map[int]bool{
		-1: false, 0: false, 29: false, 30: true, 300: true, 3600: true,
		604800: true, 604801: false, 1 << 31: false,
	} {
		if err := model.ValidateTTL(ttl); (err == nil) != ok {
			t.Errorf("ValidateTTL(%d) = %v, want accepted %v", ttl, err, ok)
		}
	}
	// The move lowers TTLs to MoveTTL and falls back to DefaultTTL: both
	// must be valid themselves.
	for _, ttl := range []int{model.MoveTTL, model.DefaultTTL} {
		if err := model.ValidateTTL(ttl); err != nil {
			t.Errorf("ValidateTTL(%d): %v", ttl, err)
		}
	}
}

func TestInZone(t *testing.T) {
	for _, c := range []struct {
		name, zone string
		in         bool
	}{
		{"example.org", "example.org", true},
		{"www.example.org", "example.org", true},
		{"a.b.example.org", "example.org", true},
		{"notexample.org", "example.org", false},
		{"example.org.evil", "example.org", false},
		{"org", "example.org", false},
	} {
		if got := model.InZone(c.name, c.zone); got != c.in {
			t.Errorf("InZone(%q, %q) = %v, want %v", c.name, c.zone, got, c.in)
		}
	}
}
