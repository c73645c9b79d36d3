package dnsserve

import (
	"slices"
	"testing"
)

func TestCheck(t *testing.T) {
	s := startServer(t, t.TempDir())
	served := exampleZones()
	if err := s.Sync(t.Context(), served); err != nil {
		t.Fatal(err)
	}
	serial, _ := s.Serial("example.org")
	var recs []Record
	for zone, rs := range served {
		for _, r := range rs {
			r.Zone = zone
			recs = append(recs, r)
		}
	}
	for _, d := range Check(t.Context(), s.Addr(), recs) {
		if !d.OK() {
			t.Errorf("%s %s: %q", d.FQDN, d.Type, d.Problems())
		}
		if d.Serial == 0 {
			t.Errorf("%s %s: no serial", d.FQDN, d.Type)
		}
	}

	// What the control plane would hold during a move, before the node
	// applied it: TTL lowered, address switched, a record added, a name
	// the server has not heard of, and a record that is not valid.
	expect := []Record{
		{Zone: "example.org", FQDN: "mail.example.org", Type: "A", Value: "192.0.2.25", TTL: 300},
		{Zone: "example.org", FQDN: "example.org", Type: "A", Value: "192.0.2.77", TTL: 3600},
		{Zone: "example.org", FQDN: "example.org", Type: "AAAA", Value: "2001:db8::10", TTL: 3600},
		{Zone: "example.org", FQDN: "example.org", Type: "AAAA", Value: "2001:db8::11", TTL: 3600},
		{Zone: "example.org", FQDN: "new.example.org", Type: "TXT", Value: "hello", TTL: 3600},
		{Zone: "example.org", FQDN: "bad.example.org", Type: "A", Value: "not an address"},
	}
	got := make(map[string][]string)
	for _, d := range Check(t.Context(), s.Addr(), expect) {
		got[d.FQDN+" "+d.Type] = d.Problems()
		if d.Err == nil && d.Serial != serial {
			t.Errorf("%s %s: serial %d, want %d", d.FQDN, d.Type, d.Serial, serial)
		}
	}
	want := map[string][]string{
		"mail.example.org A":  {"192.0.2.25 has TTL 1800, expected 300"},
		"example.org A":       {"missing 192.0.2.77", "unexpected 192.0.2.10"},
		"example.org AAAA":    {"missing 2001:db8::11"},
		"new.example.org TXT": {"answered NXDOMAIN", "missing hello"},
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: problems %q, want %q", k, got[k], w)
		}
	}
	if p := got["bad.example.org A"]; len(p) != 1 {
		t.Errorf("invalid record: problems %q, want the validation error", p)
	}
}
