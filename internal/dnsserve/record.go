package dnsserve

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"ferry/internal/model"

	"github.com/miekg/dns"
)

// Record is one DNS record as the control plane holds it: a dns item's spec.
// Names are written without the trailing dot and Value is in the canonical
// form of model.NormalizeDNSValue, so records compare as strings.
type Record struct {
	Zone  string `json:"zone"`
	FQDN  string `json:"fqdn"`
	Type  string `json:"type"`
	Value string `json:"value"`
	TTL   int    `json:"ttl"`
}

// RecordFromSpec returns the record a dns item's spec describes.
func RecordFromSpec(s model.Spec) Record {
	return Record{Zone: s.Zone, FQDN: s.FQDN, Type: s.Type, Value: s.Value, TTL: s.TTL}
}

// ByZone groups records by their Zone, the shape Provider.Sync takes.
func ByZone(recs []Record) map[string][]Record {
	zones := make(map[string][]Record)
	for _, r := range recs {
		zones[r.Zone] = append(zones[r.Zone], r)
	}
	return zones
}

// String shows r the way a zone file would.
func (r Record) String() string {
	return fmt.Sprintf("%s %d %s %s", r.FQDN, r.TTL, r.Type, r.Value)
}

// Normalize checks r with the dns item's rules (model.Spec.Normalize) and
// returns it in canonical form; a zero TTL becomes model.DefaultTTL.
func (r Record) Normalize() (Record, error) {
	s := model.Spec{Zone: r.Zone, FQDN: r.FQDN, Type: r.Type, Value: r.Value, TTL: r.TTL}
	if err := s.Normalize(model.KindDNS, r.Zone); err != nil {
		return Record{}, fmt.Errorf("record %q %s %q: %w", r.FQDN, r.Type, r.Value, err)
	}
	return RecordFromSpec(s), nil
}

// RR checks r (Normalize) and returns it as a resource record.
func (r Record) RR() (dns.RR, error) {
	n, err := r.Normalize()
	if err != nil {
		return nil, err
	}
	return n.rr()
}

// rr builds the resource record of a normalized record.
func (r Record) rr() (dns.RR, error) {
	hdr := dns.RR_Header{Name: dns.Fqdn(r.FQDN), Class: dns.ClassINET, Ttl: uint32(r.TTL)}
	f := strings.Fields(r.Value)
	switch r.Type {
	case model.RRA, model.RRAAAA:
		a, err := netip.ParseAddr(r.Value)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", r, err)
		}
		if r.Type == model.RRA {
			hdr.Rrtype = dns.TypeA
			return &dns.A{Hdr: hdr, A: net.IP(a.AsSlice())}, nil
		}
		hdr.Rrtype = dns.TypeAAAA
		return &dns.AAAA{Hdr: hdr, AAAA: net.IP(a.AsSlice())}, nil
	case model.RRCNAME:
		hdr.Rrtype = dns.TypeCNAME
		return &dns.CNAME{Hdr: hdr, Target: dns.Fqdn(r.Value)}, nil
	case model.RRMX:
		n, err := uint16s(f, 2)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", r, err)
		}
		hdr.Rrtype = dns.TypeMX
		return &dns.MX{Hdr: hdr, Preference: n[0], Mx: dns.Fqdn(f[1])}, nil
	case model.RRSRV:
		n, err := uint16s(f, 4)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", r, err)
		}
		hdr.Rrtype = dns.TypeSRV
		return &dns.SRV{Hdr: hdr, Priority: n[0], Weight: n[1], Port: n[2], Target: dns.Fqdn(f[3])}, nil
	case model.RRTXT:
		hdr.Rrtype = dns.TypeTXT
		return &dns.TXT{Hdr: hdr, Txt: txtStrings(r.Value)}, nil
	}
	return nil, fmt.Errorf("record %s: unknown type %q", r, r.Type)
}

// uint16s parses the leading numbers of a value of want fields.
func uint16s(f []string, want int) ([]uint16, error) {
	if len(f) != want {
		return nil, fmt.Errorf("value has %d fields, want %d", len(f), want)
	}
	n := make([]uint16, want-1)
	for i := range n {
		v, err := strconv.ParseUint(f[i], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", i+1, err)
		}
		n[i] = uint16(v)
	}
	return n, nil
}

// managedTypes are the record types ferry owns in a zone. Anything else a
// zone holds (SOA, NS, DNSSEC records, CAA) is the server operator's.
var managedTypes = map[uint16]string{
	dns.TypeA:     model.RRA,
	dns.TypeAAAA:  model.RRAAAA,
	dns.TypeCNAME: model.RRCNAME,
	dns.TypeMX:    model.RRMX,
	dns.TypeTXT:   model.RRTXT,
	dns.TypeSRV:   model.RRSRV,
}

// recordFromRR turns a record a server returned into ferry's form, so it
// compares with the control plane's. It does not validate: a record ferry
// could not have written still comes back, different from every desired one.
// ok is false for types ferry does not manage.
func recordFromRR(zone string, rr dns.RR) (r Record, ok bool) {
	h := rr.Header()
	typ, ok := managedTypes[h.Rrtype]
	if !ok {
		return Record{}, false
	}
	r = Record{Zone: zone, FQDN: canonName(h.Name), Type: typ, TTL: int(h.Ttl)}
	switch v := rr.(type) {
	case *dns.A:
		r.Value = addrString(v.A, true)
	case *dns.AAAA:
		r.Value = addrString(v.AAAA, false)
	case *dns.CNAME:
		r.Value = canonName(v.Target)
	case *dns.MX:
		r.Value = strconv.Itoa(int(v.Preference)) + " " + canonName(v.Mx)
	case *dns.SRV:
		target := "."
		if v.Target != "." {
			target = canonName(v.Target)
		}
		r.Value = fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, target)
	case *dns.TXT:
		var b strings.Builder
		for _, s := range v.Txt {
			b.WriteString(unescapeTXT(s))
		}
		r.Value = b.String()
	default:
		return Record{}, false
	}
	return r, true
}

func canonName(n string) string { return strings.ToLower(strings.TrimSuffix(n, ".")) }

// addrString prints an address as netip does. An A record's address may
// be held in 16 bytes (as net.ParseIP makes it); it is still IPv4.
func addrString(ip net.IP, v4 bool) string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return ip.String()
	}
	if v4 {
		a = a.Unmap()
	}
	return a.String()
}

// txtStrings cuts a TXT value into the 255-byte character-strings the wire
// format allows, each in the escaped form miekg/dns keeps in TXT.Txt.
func txtStrings(v string) []string {
	var out []string
	for len(v) > 0 || out == nil {
		n := min(len(v), 255)
		out = append(out, escapeTXT(v[:n]))
		v = v[n:]
	}
	return out
}

func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeTXT undoes escapeTXT and the escaping miekg/dns applies when it
// reads a character-string: \DDD is a byte, \X is X.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// zoneRecords checks a zone's records and returns them in canonical form and
// order. zone must be normalized; records without a Zone are taken to be in
// it. The error joins every problem found; providers apply nothing of a zone
// with errors and keep what they served before, so a record the control
// plane should never have accepted cannot take a working name down.
func zoneRecords(zone string, recs []Record) ([]Record, error) {
	var errs []error
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		if r.Zone == "" {
			r.Zone = zone
		}
		n, err := r.Normalize()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n.Zone != zone {
			errs = append(errs, fmt.Errorf("record %s: is in zone %s, not %s", n, n.Zone, zone))
			continue
		}
		out = append(out, n)
	}
	out = canonicalSets(out)
	errs = append(errs, cnameConflicts(out)...)
	return out, errors.Join(errs...)
}

// canonicalSets sorts normalized records by name, type and value, drops
// duplicates and gives every RRset the lowest TTL any of its records has.
func canonicalSets(recs []Record) []Record {
	slices.SortFunc(recs, func(a, b Record) int {
		return cmp.Or(strings.Compare(a.FQDN, b.FQDN), strings.Compare(a.Type, b.Type),
			strings.Compare(a.Value, b.Value), cmp.Compare(a.TTL, b.TTL))
	})
	recs = slices.CompactFunc(recs, func(a, b Record) bool {
		return a.FQDN == b.FQDN && a.Type == b.Type && a.Value == b.Value
	})
	for i := 0; i < len(recs); {
		j, ttl := i, recs[i].TTL
		for ; j < len(recs) && recs[j].FQDN == recs[i].FQDN && recs[j].Type == recs[i].Type; j++ {
			ttl = min(ttl, recs[j].TTL)
		}
		for k := i; k < j; k++ {
			recs[k].TTL = ttl
		}
		i = j
	}
	return recs
}

// cnameConflicts reports names of sorted records that hold a CNAME and any
// other record, which no resolver could make sense of (RFC 1034 3.6.2).
func cnameConflicts(recs []Record) []error {
	var errs []error
	for i := 0; i < len(recs); {
		j, cnames := i, 0
		for ; j < len(recs) && recs[j].FQDN == recs[i].FQDN; j++ {
			if recs[j].Type == model.RRCNAME {
				cnames++
			}
		}
		if cnames > 0 && j-i > 1 {
			errs = append(errs, fmt.Errorf("name %s: a CNAME must be the only record of its name, found %d records", recs[i].FQDN, j-i))
		}
		i = j
	}
	return errs
}
