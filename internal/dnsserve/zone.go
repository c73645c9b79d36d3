package dnsserve

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// SOA timers of the zones Server makes. The refresh is short because
// NOTIFY, not the timer, tells secondaries of a change; NegativeTTL is the
// SOA minimum, how long resolvers may cache "no such name", kept at a
// move's lowered TTL so a name added at cutover is seen within it.
const (
	SOATTL      = 3600
	NSTTL       = 3600
	SOARefresh  = 3600
	SOARetry    = 600
	SOAExpire   = 1209600
	NegativeTTL = 300
)

// maxChase bounds how many in-zone CNAMEs one answer follows.
const maxChase = 8

// zone is one zone as Server answers for it. It is never changed once
// built: Sync builds new ones and swaps them in.
type zone struct {
	origin  string // lower case, with the trailing dot
	serial  uint32
	records []Record // canonical, as persisted
	soa     *dns.SOA
	// nodes holds every name of the zone, with the trailing dot, including
	// the empty non-terminals between the apex and deeper names, which
	// exist (NODATA) without holding records.
	nodes map[string]*node
	// xfr is the zone's content after the SOA, in transfer order.
	xfr []dns.RR
}

type node struct {
	sets map[uint16][]dns.RR
}

// soaParams are the server-wide names every zone's SOA and NS carry.
type soaParams struct {
	ns    []string // name servers, fully qualified
	rname string   // the hostmaster's mailbox as a domain name, or "" for hostmaster.<zone>
	mname string   // ns[0]
}

// buildZone makes the served form of a zone from its canonical records.
func buildZone(name string, serial uint32, recs []Record, p soaParams) (*zone, error) {
	origin := dns.Fqdn(name)
	rname := p.rname
	if rname == "" {
		rname = "hostmaster." + origin
	}
	z := &zone{
		origin:  origin,
		serial:  serial,
		records: recs,
		nodes:   make(map[string]*node),
		soa: &dns.SOA{
			Hdr:     dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: SOATTL},
			Ns:      p.mname,
			Mbox:    rname,
			Serial:  serial,
			Refresh: SOARefresh,
			Retry:   SOARetry,
			Expire:  SOAExpire,
			Minttl:  NegativeTTL,
		},
	}
	z.add(z.soa)
	for _, ns := range p.ns {
		rr := &dns.NS{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: NSTTL}, Ns: ns}
		z.add(rr)
		z.xfr = append(z.xfr, rr)
	}
	for _, r := range recs {
		rr, err := r.rr()
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", name, err)
		}
		if !dns.IsSubDomain(origin, rr.Header().Name) {
			return nil, fmt.Errorf("zone %s: record %s is outside the zone", name, r)
		}
		z.add(rr)
		z.xfr = append(z.xfr, rr)
	}
	return z, nil
}

// add puts rr in its node and makes sure every name between it and the
// apex exists.
func (z *zone) add(rr dns.RR) {
	owner := rr.Header().Name
	n := z.nodes[owner]
	if n == nil {
		n = &node{sets: make(map[uint16][]dns.RR)}
		z.nodes[owner] = n
	}
	n.sets[rr.Header().Rrtype] = append(n.sets[rr.Header().Rrtype], rr)
	for name := owner; name != z.origin; {
		i, end := dns.NextLabel(name, 0)
		if end {
			return
		}
		name = name[i:]
		if z.nodes[name] == nil {
			z.nodes[name] = &node{sets: make(map[uint16][]dns.RR)}
		}
	}
}

// find returns the node that answers for qname (lower case, fully
// qualified, inside the zone): the name itself, or else the wildcard below
// its closest encloser (RFC 4592). wild says the answer is synthesized from
// a wildcard; nil means the name does not exist.
func (z *zone) find(qname string) (n *node, wild bool) {
	if n := z.nodes[qname]; n != nil {
		return n, false
	}
	for name := qname; name != z.origin; {
		i, end := dns.NextLabel(name, 0)
		if end {
			return nil, false
		}
		name = name[i:]
		if z.nodes[name] != nil {
			return z.nodes["*."+name], true
		}
	}
	return nil, false
}

// answer fills m for a query of qtype at qname (lower case, fully
// qualified, inside the zone): the records, a CNAME followed as long as it
// stays in the zone, or a negative answer with the SOA in the authority
// section. The rcode is that of the last name looked up (RFC 6604).
func (z *zone) answer(m *dns.Msg, qname string, qtype uint16) {
	seen := make(map[string]bool)
	for range maxChase {
		seen[qname] = true
		n, wild := z.find(qname)
		if n == nil {
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, z.negativeSOA())
			return
		}
		var rrs []dns.RR
		if qtype == dns.TypeANY {
			for _, t := range slices.Sorted(maps.Keys(n.sets)) {
				rrs = append(rrs, n.sets[t]...)
			}
		} else {
			rrs = n.sets[qtype]
		}
		if len(rrs) > 0 {
			m.Answer = append(m.Answer, owned(rrs, qname, wild)...)
			return
		}
		cname := n.sets[dns.TypeCNAME]
		if len(cname) == 0 || qtype == dns.TypeCNAME {
			m.Ns = append(m.Ns, z.negativeSOA())
			return
		}
		m.Answer = append(m.Answer, owned(cname, qname, wild)...)
		target := strings.ToLower(cname[0].(*dns.CNAME).Target)
		if !dns.IsSubDomain(z.origin, target) || seen[target] {
			return
		}
		qname = target
	}
}

// negativeSOA is the SOA sent with NXDOMAIN and NODATA answers. Its TTL is
// the SOA minimum, how long the negative answer may be cached (RFC 2308).
func (z *zone) negativeSOA() dns.RR {
	soa := dns.Copy(z.soa)
	soa.Header().Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
	return soa
}

// owned returns rrs as the answer for qname: as they are, or, synthesized
// from a wildcard, copies that carry qname as their owner.
func owned(rrs []dns.RR, qname string, wild bool) []dns.RR {
	if !wild {
		return rrs
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = qname
	}
	return out
}
