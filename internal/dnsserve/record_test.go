package dnsserve

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestRecordRR(t *testing.T) {
	tests := []struct {
		in   Record
		want string // the RR as a zone file line, or "" for an error
	}{
		{Record{Zone: "example.org", FQDN: "@", Type: "a", Value: " 192.0.2.1 ", TTL: 300}, "example.org. 300 IN A 192.0.2.1"},
		{Record{Zone: "Example.ORG", FQDN: "WWW.example.org.", Type: "AAAA", Value: "2001:DB8:0::1"}, "www.example.org. 3600 IN AAAA 2001:db8::1"},
		{Record{Zone: "example.org", FQDN: "www.example.org", Type: "CNAME", Value: "Example.org."}, "www.example.org. 3600 IN CNAME example.org."},
		{Record{Zone: "example.org", FQDN: "example.org", Type: "MX", Value: "10   mail.example.org"}, "example.org. 3600 IN MX 10 mail.example.org."},
		{Record{Zone: "example.org", FQDN: "_sip._tcp.example.org", Type: "SRV", Value: "0 5 5060 ."}, "_sip._tcp.example.org. 3600 IN SRV 0 5 5060 ."},
		{Record{Zone: "example.org", FQDN: "*.example.org", Type: "A", Value: "192.0.2.2"}, "*.example.org. 3600 IN A 192.0.2.2"},
		{Record{Zone: "example.org", FQDN: "bücher.example.org", Type: "A", Value: "192.0.2.3"}, "xn--bcher-kva.example.org. 3600 IN A 192.0.2.3"},
		{Record{Zone: "example.org", FQDN: "example.org", Type: "TXT", Value: `a "b" \c ü`}, `example.org. 3600 IN TXT "a \"b\" \\c \195\188"`},
		{Record{Zone: "example.org", FQDN: "example.org", Type: "A", Value: "2001:db8::1"}, ""},
		{Record{Zone: "example.org", FQDN: "example.org", Type: "AAAA", Value: "::ffff:192.0.2.1"}, ""},
		{Record{Zone: "example.org", FQDN: "www.example.com", Type: "A", Value: "192.0.2.1"}, ""},
		{Record{Zone: "example.org", FQDN: "example.org", Type: "CNAME", Value: "other.org"}, ""},
		{Record{Zone: "example.org", FQDN: "a.*.example.org", Type: "A", Value: "192.0.2.1"}, ""},
		{Record{Zone: "example.org", FQDN: "example.org", Type: "NS", Value: "ns.example.org"}, ""},
		{Record{Zone: "example.org", FQDN: "example.org", Type: "TXT", Value: "line\nbreak"}, ""},
		{Record{Zone: "example.org", FQDN: "example.org", Type: "A", Value: "192.0.2.1", TTL: 5}, ""},
		{Record{Zone: "", FQDN: "example.org", Type: "A", Value: "192.0.2.1"}, ""},
	}
	for _, tt := range tests {
		rr, err := tt.in.RR()
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%+v: got %v, want an error", tt.in, rr)
		case tt.want == "":
		case err != nil:
			t.Errorf("%+v: %v", tt.in, err)
		case strings.Join(strings.Fields(rr.String()), " ") != tt.want:
			t.Errorf("%+v:\n got %s\nwant %s", tt.in, rr, tt.want)
		}
	}
}

func TestCanonicalSets(t *testing.T) {
	recs, err := zoneRecords("example.org", []Record{
		{FQDN: "www.example.org", Type: "A", Value: "192.0.2.2", TTL: 3600},
		{FQDN: "www.example.org", Type: "A", Value: "192.0.2.1", TTL: 300},
		{FQDN: "www.example.org", Type: "A", Value: "192.0.2.1", TTL: 900},
		{FQDN: "example.org", Type: "TXT", Value: "hello", TTL: 600},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.String())
	}
	want := []string{"example.org 600 TXT hello", "www.example.org 300 A 192.0.2.1", "www.example.org 300 A 192.0.2.2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q: duplicates dropped, one TTL per RRset, the lowest", got, want)
	}
	if _, err := zoneRecords("example.org", []Record{{Zone: "example.net", FQDN: "example.net", Type: "A", Value: "192.0.2.1"}}); err == nil {
		t.Error("a record of another zone was accepted")
	}
}

// FuzzRecordRR feeds records as the control plane sends them (JSON) through
// validation and into resource records. Whatever is accepted must pack into
// a message and come back, through the wire and through zone file text, as
// the same record.
func FuzzRecordRR(f *testing.F) {
	for _, s := range []string{
		`{"zone":"example.org","fqdn":"example.org","type":"A","value":"192.0.2.1","ttl":300}`,
		`{"zone":"example.org","fqdn":"www.example.org","type":"CNAME","value":"example.org"}`,
		`{"zone":"example.org","fqdn":"example.org","type":"MX","value":"10 mail.example.org","ttl":3600}`,
		`{"zone":"example.org","fqdn":"_xmpp._tcp.example.org","type":"SRV","value":"5 0 5222 xmpp.example.org"}`,
		`{"zone":"example.org","fqdn":"*.example.org","type":"AAAA","value":"2001:db8::1"}`,
		`{"zone":"example.org","fqdn":"example.org","type":"TXT","value":"v=spf1 \"quoted\" \\ back ü"}`,
		`{"zone":"xn--bcher-kva.example","fqdn":"bücher.example","type":"TXT","value":"` + strings.Repeat("ab", 300) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if json.Unmarshal(data, &r) != nil {
			return
		}
		rr, err := r.RR()
		if err != nil {
			return
		}
		n, err := r.Normalize()
		if err != nil {
			t.Fatalf("RR accepted %+v but Normalize refuses it: %v", r, err)
		}
		m := new(dns.Msg)
		m.SetQuestion(rr.Header().Name, rr.Header().Rrtype)
		m.Answer = []dns.RR{rr}
		wire, err := m.Pack()
		if err != nil {
			t.Fatalf("%+v: pack: %v", n, err)
		}
		var back dns.Msg
		if err := back.Unpack(wire); err != nil {
			t.Fatalf("%+v: unpack: %v", n, err)
		}
		if got, ok := recordFromRR(n.Zone, back.Answer[0]); !ok || got != n {
			t.Fatalf("through the wire:\n got %+v\nwant %+v", got, n)
		}
		parsed, err := dns.NewRR(rr.String())
		if err != nil {
			t.Fatalf("%+v: zone file line %q does not parse: %v", n, rr.String(), err)
		}
		if got, ok := recordFromRR(n.Zone, parsed); !ok || got != n {
			t.Fatalf("through zone file text %q:\n got %+v\nwant %+v", rr.String(), got, n)
		}
	})
}
