package lab

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// KnotPort is where dns hosts' Knot answers: port 53 belongs to ferry's
// built-in server, which the agent runs there; Knot stands beside it as the
// existing server that RFC 2136 updates are tested against.
const KnotPort = 5300

// dnsSOA asks the server at addr for zone's SOA record.
func dnsSOA(addr, zone string) error {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, net.JoinHostPort(addr, strconv.Itoa(KnotPort)))
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return fmt.Errorf("soa %s: %s", zone, dns.RcodeToString[r.Rcode])
	}
	return nil
}
