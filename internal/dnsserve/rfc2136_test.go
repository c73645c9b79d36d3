package dnsserve

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// heldZone is a zone as a primary would transfer it, with records ferry
// does not own: a delegation with glue and a CAA record.
const heldZone = `
example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 7 3600 600 1209600 300
example.org. 3600 IN NS ns1.example.org.
example.org. 3600 IN CAA 0 issue "letsencrypt.org"
example.org. 3600 IN A 192.0.2.1
www.example.org. 3600 IN A 192.0.2.1
www.example.org. 3600 IN A 192.0.2.2
old.example.org. 600 IN TXT "bye"
sub.example.org. 3600 IN NS ns.sub.example.org.
ns.sub.example.org. 3600 IN A 192.0.2.53
example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 7 3600 600 1209600 300
`

func parseZone(t *testing.T, text string) []dns.RR {
	t.Helper()
	var rrs []dns.RR
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	return rrs
}

func TestUpdateFor(t *testing.T) {
	held := []Record{
		{FQDN: "example.org", Type: "A", Value: "192.0.2.1", TTL: 3600},
		{FQDN: "www.example.org", Type: "A", Value: "192.0.2.1", TTL: 3600},
		{FQDN: "www.example.org", Type: "A", Value: "192.0.2.2", TTL: 3600},
		{FQDN: "old.example.org", Type: "TXT", Value: "bye", TTL: 600},
	}
	with := func(change func([]Record) []Record) []Record {
		return change(slices.Clone(held))
	}
	tests := []struct {
		name   string
		want   []Record
		update []string // the update section (CLASS255 is ANY: delete the RRset); nil for no UPDATE
	}{
		{"in step", held, nil},
		{"A switched", with(func(r []Record) []Record { r[0].Value = "192.0.2.9"; return r }), []string{
			"example.org. 0 NONE A 192.0.2.1",
			"example.org. 3600 IN A 192.0.2.9",
		}},
		{"TTL lowered", with(func(r []Record) []Record { r[1].TTL, r[2].TTL = 300, 300; return r }), []string{
			"www.example.org. 0 CLASS255 A",
			"www.example.org. 300 IN A 192.0.2.1",
			"www.example.org. 300 IN A 192.0.2.2",
		}},
		{"record deleted", held[:3], []string{
			"old.example.org. 0 CLASS255 TXT",
		}},
		{"record added", append(slices.Clone(held), Record{FQDN: "new.example.org", Type: "AAAA", Value: "2001:db8::1", TTL: 300}), []string{
			"new.example.org. 300 IN AAAA 2001:db8::1",
		}},
		{"A becomes CNAME", with(func(r []Record) []Record {
			return append(r[:1], Record{FQDN: "www.example.org", Type: "CNAME", Value: "example.org", TTL: 300}, r[3])
		}), []string{
			"www.example.org. 0 CLASS255 A",
			"www.example.org. 300 IN CNAME example.org.",
		}},
		{"everything removed", nil, []string{
			"example.org. 0 CLASS255 A",
			"old.example.org. 0 CLASS255 TXT",
			"www.example.org. 0 CLASS255 A",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := zoneRecords("example.org", tt.want)
			if err != nil {
				t.Fatal(err)
			}
			u, err := updateFor("example.org", parseZone(t, heldZone), want)
			if err != nil {
				t.Fatal(err)
			}
			if tt.update == nil {
				if u != nil {
					t.Fatalf("want no UPDATE, got\n%v", u.msg)
				}
				return
			}
			if u == nil {
				t.Fatal("no UPDATE")
			}
			if got := lines(u.msg.Ns); !slices.Equal(got, tt.update) {
				t.Errorf("update section\n got %q\nwant %q", got, tt.update)
			}
			prereq := lines(u.msg.Answer)
			if len(prereq) != 1 || !strings.HasPrefix(prereq[0], "example.org. 0 IN SOA ns1.example.org. hostmaster.example.org. 7 ") {
				t.Errorf("prerequisite %q, want the SOA read with the zone", prereq)
			}
		})
	}
}
