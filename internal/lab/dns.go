package lab

import (
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// dnsSOA asks the server at addr for zone's SOA record.
func dnsSOA(addr, zone string) error {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, addr+":53")
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return fmt.Errorf("soa %s: %s", zone, dns.RcodeToString[r.Rcode])
	}
	return nil
}
