//go:build lab

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/labtest"
)

func TestLabDNSServesWhatTheControlPlaneHolds(t *testing.T) {
	e := labtest.New(t)
	ctx := context.Background()
	e.Ferry("", "member", "add", "delta")
	e.Ferry("", "order", "add", "delta.example", "--member", "delta", "--host", "web1")
	web1 := e.Addr("web1")
	e.Ferry("", "item", "add", "delta.example", "dns", "--type", "A", "--value", web1, "--ttl", "3600")
	e.Ferry("", "item", "add", "delta.example", "dns", "--fqdn", "www.delta.example", "--type", "A", "--value", web1, "--ttl", "1800")
	e.Ferry("", "item", "add", "delta.example", "dns", "--fqdn", "www.delta.example", "--type", "AAAA", "--value", "2001:db8::11", "--ttl", "1800")
	e.Ferry("", "item", "add", "delta.example", "dns", "--fqdn", "shop.delta.example", "--type", "CNAME", "--value", "www.delta.example")
	e.Ferry("", "item", "add", "delta.example", "dns", "--type", "MX", "--value", "10 mail.delta.example")
	e.Ferry("", "item", "add", "delta.example", "dns", "--type", "TXT", "--value", "v=spf1 mx -all")
	e.Ferry("", "item", "add", "delta.example", "dns", "--fqdn", "_sip._tcp.delta.example", "--type", "SRV", "--value", "10 5 5060 sip.delta.example", "--ttl", "600")
	e.WaitItems("delta.example", 30*time.Second)

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
			r := e.Ask(name, dns.StringToType[typ])
			if !r.Authoritative || labtest.Answer(r) != w {
				t.Errorf("%s: aa=%v %q, want %q", q, r.Authoritative, labtest.Answer(r), w)
			}
		}
		r := e.Ask("shop.delta.example", dns.TypeA)
		if !strings.Contains(labtest.Answer(r), "www.delta.example.") || !strings.Contains(labtest.Answer(r), web1) {
			t.Errorf("CNAME not chased: %s", labtest.Answer(r))
		}
		if r := e.Ask("nothere.delta.example", dns.TypeA); r.Rcode != dns.RcodeNameError {
			t.Errorf("missing name: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
		}
		if r := e.Ask("www.delta.example", dns.TypeMX); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
			t.Errorf("NODATA expected for www MX: %s %s", dns.RcodeToString[r.Rcode], labtest.Answer(r))
		}
	}
	check()
	if out, errOut, code := e.FerryCode("", "dns", "check", "delta.example"); code != 0 {
		t.Errorf("ferry dns check: exit %d\n%s%s", code, out, errOut)
	}
	s1 := labtest.Serial(e.Ask("delta.example", dns.TypeSOA))

	// A change through the API shows in the answers within 2 s.
	www := e.DNSItem("www.delta.example", "A")
	start := time.Now()
	e.Ferry("", "item", "update", itoa(www.ID), "--ttl", "300")
	for labtest.Answer(e.Ask("www.delta.example", dns.TypeA)) != web1+" ttl=300" {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("TTL change not served after 2 s: %s", labtest.Answer(e.Ask("www.delta.example", dns.TypeA)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("TTL change served %s after the API call", time.Since(start).Round(time.Millisecond))
	want["www.delta.example A"] = web1 + " ttl=300"
	s2 := labtest.Serial(e.Ask("delta.example", dns.TypeSOA))
	if s2 <= s1 {
		t.Errorf("serial did not rise on change: %d then %d", s1, s2)
	}

	// The node keeps its data: restarted, it answers the same at once.
	if err := e.Lab.KillAgent(ctx, "dns1"); err != nil {
		t.Fatal(err)
	}
	if err := e.Lab.StartService(ctx, "dns1", "agent"); err != nil {
		t.Fatal(err)
	}
	e.WaitDNS(3 * time.Second)
	check()
	if s3 := labtest.Serial(e.Ask("delta.example", dns.TypeSOA)); s3 != s2 {
		t.Errorf("serial after restart %d, want %d", s3, s2)
	}

	// A record the servers do not have is marked by dns check.
	e.MustOn("dns1", "true")
	if _, _, code := e.FerryCode("", "dns", "check", "delta.example", "--port", "5300"); code == 0 {
		t.Error("dns check against a server without the zone (Knot, port 5300) reported no difference")
	}
}
