package labtest

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/model"
)

// Ask queries dns1's built-in server without recursion.
func (e *Env) Ask(name string, qtype uint16) *dns.Msg {
	e.T.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, net.JoinHostPort(e.Addr("dns1"), "53"))
	if err != nil {
		e.T.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// resolveA is the first A record dns1 answers for name, or "" (as a
// resolver that got no answer).
func (e *Env) resolveA(name string) string {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, net.JoinHostPort(e.Addr("dns1"), "53"))
	if err != nil {
		return ""
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

// WaitDNS waits until dns1 answers at all (a restarted agent binds its
// port within moments).
func (e *Env) WaitDNS(within time.Duration) {
	e.T.Helper()
	deadline := time.Now().Add(within)
	m := new(dns.Msg)
	m.SetQuestion("ferry.invalid.", dns.TypeSOA)
	for {
		_, _, err := (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, net.JoinHostPort(e.Addr("dns1"), "53"))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("dns1 does not answer %s after its agent restarted: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Answer renders an answer section as "value ttl=N | …".
func Answer(r *dns.Msg) string {
	var s []string
	for _, rr := range r.Answer {
		h := rr.Header()
		s = append(s, strings.TrimPrefix(rr.String(), h.String()))
		s[len(s)-1] = strings.TrimSpace(s[len(s)-1]) + fmt.Sprintf(" ttl=%d", h.Ttl)
	}
	return strings.Join(s, " | ")
}

// Serial is the SOA serial in a response, or 0.
func Serial(r *dns.Msg) uint32 {
	for _, rr := range append(r.Answer, r.Ns...) {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial
		}
	}
	return 0
}

// DNSItem returns the dns item of the order one label above fqdn with
// that name and type.
func (e *Env) DNSItem(fqdn, typ string) model.Item {
	e.T.Helper()
	for _, it := range e.WaitItems(strings.SplitN(fqdn, ".", 2)[1], 10*time.Second) {
		if it.Spec.FQDN == fqdn && it.Spec.Type == typ {
			return it
		}
	}
	e.T.Fatalf("no dns item %s %s", fqdn, typ)
	return model.Item{}
}
