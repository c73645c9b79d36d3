package dnsserve

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Diff is what a server answers for one name and type, next to the records
// the control plane holds there.
type Diff struct {
	FQDN string `json:"fqdn"`
	Type string `json:"type"`
	// Expected are the control plane's records, each with the TTL it
	// should be served with (one per RRset, see the package doc).
	Expected []Record `json:"expected"`
	// Observed are the records of that name and type in the answer.
	Observed []Record `json:"observed"`
	// Serial is the zone's SOA serial as the server gave it, 0 if unknown.
	Serial uint32 `json:"serial"`
	// Rcode is the answer's response code, such as NOERROR or NXDOMAIN.
	Rcode string `json:"rcode,omitempty"`
	// Authoritative is the answer's AA flag.
	Authoritative bool `json:"authoritative"`
	// Err is why there is no answer to compare, or why the expected
	// records are invalid.
	Err error `json:"-"`
}

// Problems says in words how the answer differs from what was expected;
// none means the server serves the records as the control plane holds them.
func (d Diff) Problems() []string {
	if d.Err != nil {
		return []string{d.Err.Error()}
	}
	var p []string
	if d.Rcode != dns.RcodeToString[dns.RcodeSuccess] {
		p = append(p, "answered "+d.Rcode)
	}
	if !d.Authoritative && d.Rcode != "" {
		p = append(p, "answer is not authoritative")
	}
	for _, e := range d.Expected {
		i := slices.IndexFunc(d.Observed, func(o Record) bool { return o.Value == e.Value })
		switch {
		case i < 0:
			p = append(p, fmt.Sprintf("missing %s", e.Value))
		case d.Observed[i].TTL != e.TTL:
			p = append(p, fmt.Sprintf("%s has TTL %d, expected %d", e.Value, d.Observed[i].TTL, e.TTL))
		}
	}
	for _, o := range d.Observed {
		if !slices.ContainsFunc(d.Expected, func(e Record) bool { return e.Value == o.Value }) {
			p = append(p, fmt.Sprintf("unexpected %s", o.Value))
		}
	}
	return p
}

// OK reports whether the server serves the records exactly as expected.
func (d Diff) OK() bool { return len(d.Problems()) == 0 }

// Check asks server ("host:port", or "host" for port 53) for every name and
// type among recs, without recursion, and returns one Diff per name and
// type in name order, invalid records first. It is how ferry tells whether
// a dns host (or any server the co-op's zones are on) serves what the
// control plane holds.
func Check(ctx context.Context, server string, recs []Record) []Diff {
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
	}
	var diffs []Diff
	var valid []Record
	for _, r := range recs {
		n, err := r.Normalize()
		if err != nil {
			diffs = append(diffs, Diff{FQDN: r.FQDN, Type: r.Type, Expected: []Record{r}, Err: err})
			continue
		}
		valid = append(valid, n)
	}
	valid = canonicalSets(valid)
	serials := make(map[string]uint32)
	for i := 0; i < len(valid); {
		j := i
		for j < len(valid) && valid[j].FQDN == valid[i].FQDN && valid[j].Type == valid[i].Type {
			j++
		}
		zone := valid[i].Zone
		if _, ok := serials[zone]; !ok {
			serials[zone] = soaSerial(ctx, server, zone)
		}
		d := Diff{FQDN: valid[i].FQDN, Type: valid[i].Type, Expected: valid[i:j:j], Serial: serials[zone]}
		observe(ctx, server, &d)
		diffs = append(diffs, d)
		i = j
	}
	return diffs
}

// observe fills in what server answers for d's name and type.
func observe(ctx context.Context, server string, d *Diff) {
	qtype := dns.StringToType[d.Type]
	resp, err := query(ctx, server, d.FQDN, qtype)
	if err != nil {
		d.Err = fmt.Errorf("query %s %s at %s: %w", d.FQDN, d.Type, server, err)
		return
	}
	d.Rcode = dns.RcodeToString[resp.Rcode]
	d.Authoritative = resp.Authoritative
	zone := d.Expected[0].Zone
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype != qtype || canonName(h.Name) != d.FQDN {
			continue
		}
		if r, ok := recordFromRR(zone, rr); ok {
			d.Observed = append(d.Observed, r)
		}
	}
}

// soaSerial returns zone's serial at server, or 0 if it cannot tell.
func soaSerial(ctx context.Context, server, zone string) uint32 {
	resp, err := query(ctx, server, zone, dns.TypeSOA)
	if err != nil {
		return 0
	}
	for _, rr := range resp.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial
		}
	}
	return 0
}

// query asks server one non-recursive question, over UDP and, if the
// answer is truncated, again over TCP.
func query(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	m.SetEdns0(ednsSize, false)
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, server)
	}
	return resp, err
}
