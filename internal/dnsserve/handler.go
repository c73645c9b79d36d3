package dnsserve

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size the server offers and uses at most: the
// DNS flag day 2020 value, which avoids IP fragmentation.
const ednsSize = 1232

// xfrMessageSize is about how many bytes of records go in one zone
// transfer message; the limit is 65535.
const xfrMessageSize = 16 << 10

// ServeDNS answers one request; it makes Server a dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := s.respond(w, r)
	if m == nil {
		return
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns answer not sent", "remote", w.RemoteAddr().String(), "err", err)
	}
}

// respond builds the answer to r, or returns nil when it has answered
// itself (zone transfers).
func (s *Server) respond(w dns.ResponseWriter, r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Compress = true
	if r.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m
	}
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(ednsSize, false)
		if opt.Version() != 0 {
			m.Rcode = dns.RcodeBadVers
			return m
		}
		size = max(size, min(int(opt.UDPSize()), ednsSize))
	}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		size = dns.MaxMsgSize
	}
	q := r.Question[0]
	qname := strings.ToLower(q.Name)
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return m
	}
	z := zoneFor(*s.zones.Load(), qname)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return m
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		s.transfer(w, r, z, qname)
		return nil
	}
	m.Authoritative = true
	z.answer(m, qname, q.Qtype)
	m.Truncate(size)
	return m
}

// zoneFor returns the served zone qname is in, the deepest if zones nest.
func zoneFor(zones map[string]*zone, qname string) *zone {
	for name := qname; ; {
		if z := zones[name]; z != nil {
			return z
		}
		i, end := dns.NextLabel(name, 0)
		if end {
			return nil
		}
		name = name[i:]
	}
}

// transfer answers an AXFR, or an IXFR with the whole zone (RFC 1995
// allows it), to a configured secondary over TCP. An IXFR over UDP, or from
// a secondary that is up to date, gets the SOA alone.
func (s *Server) transfer(w dns.ResponseWriter, r *dns.Msg, z *zone, qname string) {
	q := r.Question[0]
	remote := w.RemoteAddr()
	_, tcp := remote.(*net.TCPAddr)
	refuse := func(why string) {
		s.log.Info("dns zone transfer refused", "zone", qname, "remote", remote.String(), "why", why)
		w.WriteMsg(new(dns.Msg).SetRcode(r, dns.RcodeRefused))
	}
	switch {
	case qname != z.origin:
		refuse("not a zone apex")
		return
	case !s.isSecondary(remote):
		refuse("not a configured secondary")
		return
	}
	reply := func(rrs []dns.RR) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		m.Compress = true
		m.Answer = rrs
		return m
	}
	if q.Qtype == dns.TypeIXFR {
		var have uint32
		if len(r.Ns) > 0 {
			if soa, ok := r.Ns[0].(*dns.SOA); ok {
				have = soa.Serial
			}
		}
		if !tcp || have >= z.serial {
			w.WriteMsg(reply([]dns.RR{z.soa}))
			return
		}
	}
	if !tcp {
		refuse("zone transfer over UDP")
		return
	}
	all := make([]dns.RR, 0, len(z.xfr)+2)
	all = append(append(append(all, z.soa), z.xfr...), z.soa)
	var part []dns.RR
	size := 0
	for i, rr := range all {
		part = append(part, rr)
		size += dns.Len(rr)
		if size < xfrMessageSize && i < len(all)-1 {
			continue
		}
		if err := w.WriteMsg(reply(part)); err != nil {
			s.log.Warn("dns zone transfer failed", "zone", qname, "remote", remote.String(), "err", err)
			return
		}
		part, size = nil, 0
	}
	s.log.Info("dns zone transferred", "zone", qname, "serial", z.serial, "remote", remote.String())
}

// isSecondary reports whether addr's IP is a configured secondary's.
func (s *Server) isSecondary(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	for _, sec := range s.secondaries {
		if sec.Addr() == ap.Addr().Unmap() {
			return true
		}
	}
	return false
}

// notify announces z's serial to every secondary, in the background.
func (s *Server) notify(z *zone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyLocked(z)
}

// notifyLocked is notify with s.mu held. Nothing is sent before Start or
// after Close.
func (s *Server) notifyLocked(z *zone) {
	if s.closed || s.servers == nil {
		return
	}
	for _, to := range s.secondaries {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.notifyOne(z, to)
		}()
	}
}

// notifyOne sends a NOTIFY (RFC 1996) for z to one secondary until it is
// acknowledged, retrying with a doubling wait. Failure is only logged: the
// secondary still finds the change at its next SOA refresh.
func (s *Server) notifyOne(z *zone, to netip.AddrPort) {
	m := new(dns.Msg).SetNotify(z.origin)
	m.Answer = []dns.RR{z.soa}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	wait := s.notifyWait
	for attempt := 1; ; attempt++ {
		resp, _, err := c.ExchangeContext(s.life, m, to.String())
		if err == nil && resp.Rcode == dns.RcodeSuccess && resp.Opcode == dns.OpcodeNotify {
			s.log.Debug("dns notify acknowledged", "zone", z.origin, "serial", z.serial, "to", to.String())
			return
		}
		if err == nil {
			err = &notifyError{rcode: resp.Rcode}
		}
		if attempt >= s.notifyAttempts {
			s.log.Warn("dns notify failed", "zone", z.origin, "serial", z.serial, "to", to.String(), "attempts", attempt, "err", err)
			return
		}
		select {
		case <-s.life.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

type notifyError struct{ rcode int }

func (e *notifyError) Error() string { return "answered " + dns.RcodeToString[e.rcode] }
