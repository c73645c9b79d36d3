//go:build lab

package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/model"
)

// ask queries dns1's built-in server without recursion.
func (e *env) ask(name string, qtype uint16) *dns.Msg {
	e.t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, net.JoinHostPort(e.addr("dns1"), "53"))
	if err != nil {
		e.t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// waitDNS waits until dns1 answers at all (a restarted agent binds its
// port within moments).
func (e *env) waitDNS(within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	m := new(dns.Msg)
	m.SetQuestion("ferry.invalid.", dns.TypeSOA)
	for {
		_, _, err := (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, net.JoinHostPort(e.addr("dns1"), "53"))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("dns1 does not answer %s after its agent restarted: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func answer(r *dns.Msg) string {
	var s []string
	for _, rr := range r.Answer {
		h := rr.Header()
		s = append(s, strings.TrimPrefix(rr.String(), h.String()))
		s[len(s)-1] = strings.TrimSpace(s[len(s)-1]) + " ttl=" + itoa(int64(h.Ttl))
	}
	return strings.Join(s, " | ")
}

func serial(r *dns.Msg) uint32 {
	for _, rr := range append(r.Answer, r.Ns...) {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial
		}
	}
	return 0
}

func TestLabDNSServesWhatTheControlPlaneHolds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.ferry("", "member", "add", "delta")
	e.ferry("", "order", "add", "delta.example", "--member", "delta", "--host", "web1")
	web1 := e.addr("web1")
	e.ferry("", "item", "add", "delta.example", "dns", "--type", "A", "--value", web1, "--ttl", "3600")
	e.ferry("", "item", "add", "delta.example", "dns", "--fqdn", "www.delta.example", "--type", "A", "--value", web1, "--ttl", "1800")
	e.ferry("", "item", "add", "delta.example", "dns", "--fqdn", "www.delta.example", "--type", "AAAA", "--value", "2001:db8::11", "--ttl", "1800")
	e.ferry("", "item", "add", "delta.example", "dns", "--fqdn", "shop.delta.example", "--type", "CNAME", "--value", "www.delta.example")
	e.ferry("", "item", "add", "delta.example", "dns", "--type", "MX", "--value", "10 mail.delta.example")
	e.ferry("", "item", "add", "delta.example", "dns", "--type", "TXT", "--value", "v=spf1 mx -all")
	e.ferry("", "item", "add", "delta.example", "dns", "--fqdn", "_sip._tcp.delta.example", "--type", "SRV", "--value", "10 5 5060 sip.delta.example", "--ttl", "600")
	e.waitItems("delta.example", 30*time.Second)

	want := map[string]string{
		"delta.example A":             web1 + " ttl=3600",
		"www.delta.example A":         web1 + " ttl=1800",
		"www.delta.example AAAA":      "2001:db8::11 ttl=1800",
		"delta.example MX":            "10 mail.delta.example. ttl=3600",
		"delta.example TXT":           `"v=spf1 mx -all" ttl=3600`,
		"_sip._tcp.delta.example SRV": "10 5 5060 sip.delta.example. ttl=600",
	}
	check := func() {
		t.Helper()
		for q, w := range want {
			name, typ, _ := strings.Cut(q, " ")
			r := e.ask(name, dns.StringToType[typ])
			if !r.Authoritative || answer(r) != w {
				t.Errorf("%s: aa=%v %q, want %q", q, r.Authoritative, answer(r), w)
			}
		}
		r := e.ask("shop.delta.example", dns.TypeA)
		if !strings.Contains(answer(r), "www.delta.example.") || !strings.Contains(answer(r), web1) {
			t.Errorf("CNAME not chased: %s", answer(r))
		}
		if r := e.ask("nothere.delta.example", dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("missing name: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
		}
		if r := e.ask("www.delta.example", dns.TypeMX); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
			t.Errorf("NODATA expected for www MX: %s %s", dns.RcodeToString[r.Rcode], answer(r))
		}
	}
	check()
	if out, errOut, code := e.ferryCode("", "dns", "check", "delta.example"); code != 0 {
		t.Errorf("ferry dns check: exit %d\n%s%s", code, out, errOut)
	}
	s1 := serial(e.ask("delta.example", dns.TypeSOA))

	// A change through the API shows in the answers within 2 s.
	www := e.dnsItem("www.delta.example", "A")
	start := time.Now()
	e.ferry("", "item", "update", itoa(www.ID), "--ttl", "300")
	for answer(e.ask("www.delta.example", dns.TypeA)) != web1+" ttl=300" {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("TTL change not served after 2 s: %s", answer(e.ask("www.delta.example", dns.TypeA)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("TTL change served %s after the API call", time.Since(start).Round(time.Millisecond))
	want["www.delta.example A"] = web1 + " ttl=300"
	s2 := serial(e.ask("delta.example", dns.TypeSOA))
	if s2 <= s1 {
		t.Errorf("serial did not rise on change: %d then %d", s1, s2)
	}

	// The node keeps its data: restarted, it answers the same at once.
	if err := e.lab.KillAgent(ctx, "dns1"); err != nil {
		t.Fatal(err)
	}
	if err := e.lab.StartService(ctx, "dns1", "agent"); err != nil {
		t.Fatal(err)
	}
	e.waitDNS(3 * time.Second)
	check()
	if s3 := serial(e.ask("delta.example", dns.TypeSOA)); s3 != s2 {
		t.Errorf("serial after restart %d, want %d", s3, s2)
	}

	// A record the servers do not have is marked by dns check.
	e.mustOn("dns1", "true")
	if _, _, code := e.ferryCode("", "dns", "check", "delta.example", "--port", "5300"); code == 0 {
		t.Error("dns check against a server without the zone (Knot, port 5300) reported no difference")
	}
}

func (e *env) dnsItem(fqdn, typ string) modelItem {
	e.t.Helper()
	for _, it := range e.waitItems(strings.SplitN(fqdn, ".", 2)[1], 10*time.Second) {
		if it.Spec.FQDN == fqdn && it.Spec.Type == typ {
			return it
		}
	}
	e.t.Fatalf("no dns item %s %s", fqdn, typ)
	return modelItem{}
}

type modelItem = model.Item
