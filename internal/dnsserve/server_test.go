package dnsserve

import (
	"context"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startServer starts a built-in server on 127.0.0.1 at a free port, with
// its state in dir, and stops it when the test ends.
func startServer(t *testing.T, dir string, secondaries ...string) *Server {
	t.Helper()
	s, err := New(Config{
		Addr:        "127.0.0.1:0",
		StateDir:    dir,
		NS:          []string{"ns1.ferry.test", "ns2.ferry.test"},
		Hostmaster:  "hostmaster@ferry.test",
		Secondaries: secondaries,
		Logger:      testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.notifyWait = 20 * time.Millisecond
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ask queries addr over UDP with EDNS, the way a resolver would.
func ask(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	m.SetEdns0(1232, false)
	c := &dns.Client{Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	if resp.Truncated {
		c.Net = "tcp"
		if resp, _, err = c.Exchange(m, addr); err != nil {
			t.Fatalf("query %s %s over tcp: %v", name, dns.TypeToString[qtype], err)
		}
	}
	return resp
}

// lines shows records as one-space-separated zone file lines.
func lines(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

func soaOf(t *testing.T, addr, zone string) *dns.SOA {
	t.Helper()
	resp := ask(t, addr, zone, dns.TypeSOA)
	if len(resp.Answer) != 1 {
		t.Fatalf("SOA %s: answer %v, rcode %s", zone, resp.Answer, dns.RcodeToString[resp.Rcode])
	}
	return resp.Answer[0].(*dns.SOA)
}

var longTXT = strings.Repeat("0123456789", 60) // 600 bytes: three character-strings

func exampleZones() map[string][]Record {
	return map[string][]Record{
		"example.org": {
			{FQDN: "example.org", Type: "A", Value: "192.0.2.10", TTL: 3600},
			{FQDN: "example.org", Type: "AAAA", Value: "2001:db8::10", TTL: 3600},
			{FQDN: "example.org", Type: "MX", Value: "10 mail.example.org", TTL: 3600},
			{FQDN: "example.org", Type: "TXT", Value: "v=spf1 mx -all", TTL: 3600},
			{FQDN: "mail.example.org", Type: "A", Value: "192.0.2.25", TTL: 1800},
			{FQDN: "www.example.org", Type: "CNAME", Value: "example.org", TTL: 300},
			{FQDN: "loop1.example.org", Type: "CNAME", Value: "loop2.example.org", TTL: 300},
			{FQDN: "loop2.example.org", Type: "CNAME", Value: "loop1.example.org", TTL: 300},
			{FQDN: "gone.example.org", Type: "CNAME", Value: "nothing.example.org", TTL: 300},
			{FQDN: "shop.example.org", Type: "CNAME", Value: "shops.example.net", TTL: 600},
			{FQDN: "_sip._tcp.example.org", Type: "SRV", Value: "10 5 5060 sip.example.org", TTL: 900},
			{FQDN: "*.dev.example.org", Type: "A", Value: "192.0.2.99", TTL: 120},
			{FQDN: "long.example.org", Type: "TXT", Value: longTXT, TTL: 3600},
			{FQDN: "quote.example.org", Type: "TXT", Value: `say "hi" \ ok`, TTL: 3600},
		},
		"example.net": {
			{FQDN: "example.net", Type: "A", Value: "198.51.100.7", TTL: 600},
		},
	}
}

func TestServerAnswers(t *testing.T) {
	s := startServer(t, t.TempDir())
	if err := s.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	serial, _ := s.Serial("example.org")
	soaLine := "example.org. 300 IN SOA ns1.ferry.test. hostmaster.ferry.test. " + strconv.FormatUint(uint64(serial), 10) + " 3600 600 1209600 300"

	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		rcode     int
		answer    []string
		authority []string
	}{
		{"apex A", "example.org", dns.TypeA, dns.RcodeSuccess,
			[]string{"example.org. 3600 IN A 192.0.2.10"}, nil},
		{"apex AAAA", "example.org", dns.TypeAAAA, dns.RcodeSuccess,
			[]string{"example.org. 3600 IN AAAA 2001:db8::10"}, nil},
		{"apex NS", "example.org", dns.TypeNS, dns.RcodeSuccess,
			[]string{"example.org. 3600 IN NS ns1.ferry.test.", "example.org. 3600 IN NS ns2.ferry.test."}, nil},
		{"MX", "example.org", dns.TypeMX, dns.RcodeSuccess,
			[]string{"example.org. 3600 IN MX 10 mail.example.org."}, nil},
		{"TXT", "example.org", dns.TypeTXT, dns.RcodeSuccess,
			[]string{`example.org. 3600 IN TXT "v=spf1 mx -all"`}, nil},
		{"TXT with quotes and backslash", "quote.example.org", dns.TypeTXT, dns.RcodeSuccess,
			[]string{`quote.example.org. 3600 IN TXT "say \"hi\" \\ ok"`}, nil},
		{"own TTL", "mail.example.org", dns.TypeA, dns.RcodeSuccess,
			[]string{"mail.example.org. 1800 IN A 192.0.2.25"}, nil},
		{"SRV", "_sip._tcp.example.org", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_sip._tcp.example.org. 900 IN SRV 10 5 5060 sip.example.org."}, nil},
		{"CNAME chased in zone", "www.example.org", dns.TypeA, dns.RcodeSuccess,
			[]string{"www.example.org. 300 IN CNAME example.org.", "example.org. 3600 IN A 192.0.2.10"}, nil},
		{"CNAME asked for", "www.example.org", dns.TypeCNAME, dns.RcodeSuccess,
			[]string{"www.example.org. 300 IN CNAME example.org."}, nil},
		{"CNAME out of zone", "shop.example.org", dns.TypeA, dns.RcodeSuccess,
			[]string{"shop.example.org. 600 IN CNAME shops.example.net."}, nil},
		{"CNAME to a missing name", "gone.example.org", dns.TypeA, dns.RcodeNameError,
			[]string{"gone.example.org. 300 IN CNAME nothing.example.org."}, []string{soaLine}},
		{"CNAME loop ends", "loop1.example.org", dns.TypeA, dns.RcodeSuccess,
			[]string{"loop1.example.org. 300 IN CNAME loop2.example.org.", "loop2.example.org. 300 IN CNAME loop1.example.org."}, nil},
		{"wildcard", "feature.dev.example.org", dns.TypeA, dns.RcodeSuccess,
			[]string{"feature.dev.example.org. 120 IN A 192.0.2.99"}, nil},
		{"wildcard two labels down", "a.b.dev.example.org", dns.TypeA, dns.RcodeSuccess,
			[]string{"a.b.dev.example.org. 120 IN A 192.0.2.99"}, nil},
		{"wildcard NODATA", "feature.dev.example.org", dns.TypeAAAA, dns.RcodeSuccess,
			nil, []string{soaLine}},
		{"empty non-terminal is NODATA", "dev.example.org", dns.TypeA, dns.RcodeSuccess,
			nil, []string{soaLine}},
		{"service ENT is NODATA", "_tcp.example.org", dns.TypeSRV, dns.RcodeSuccess,
			nil, []string{soaLine}},
		{"NODATA", "mail.example.org", dns.TypeAAAA, dns.RcodeSuccess,
			nil, []string{soaLine}},
		{"NXDOMAIN", "nope.example.org", dns.TypeA, dns.RcodeNameError,
			nil, []string{soaLine}},
		{"NXDOMAIN below a name", "x.mail.example.org", dns.TypeA, dns.RcodeNameError,
			nil, []string{soaLine}},
		{"case does not matter", "WWW.Example.ORG", dns.TypeCNAME, dns.RcodeSuccess,
			[]string{"www.example.org. 300 IN CNAME example.org."}, nil},
		{"second zone", "example.net", dns.TypeA, dns.RcodeSuccess,
			[]string{"example.net. 600 IN A 198.51.100.7"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := ask(t, addr, tt.qname, tt.qtype)
			if resp.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			if !resp.Authoritative {
				t.Error("AA flag not set")
			}
			if got := lines(resp.Answer); !slices.Equal(got, tt.answer) {
				t.Errorf("answer\n got %q\nwant %q", got, tt.answer)
			}
			if got := lines(resp.Ns); !slices.Equal(got, tt.authority) {
				t.Errorf("authority\n got %q\nwant %q", got, tt.authority)
			}
		})
	}
}

func TestServerSplitsLongTXT(t *testing.T) {
	s := startServer(t, t.TempDir())
	if err := s.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	resp := ask(t, s.Addr(), "long.example.org", dns.TypeTXT)
	if len(resp.Answer) != 1 {
		t.Fatalf("answer %v", resp.Answer)
	}
	txt := resp.Answer[0].(*dns.TXT).Txt
	var sizes []int
	for _, s := range txt {
		sizes = append(sizes, len(s))
	}
	if !slices.Equal(sizes, []int{255, 255, 90}) {
		t.Errorf("character-strings of %v bytes, want [255 255 90]", sizes)
	}
	if got := strings.Join(txt, ""); got != longTXT {
		t.Errorf("joined TXT %q, want %q", got, longTXT)
	}
}

func TestServerTruncatesForSmallUDP(t *testing.T) {
	s := startServer(t, t.TempDir())
	if err := s.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion("long.example.org.", dns.TypeTXT) // no EDNS: 512 bytes at most
	c := &dns.Client{Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Truncated || len(resp.Answer) != 0 {
		t.Errorf("600-byte TXT over plain UDP: truncated %v with %d records, want TC and none", resp.Truncated, len(resp.Answer))
	}
	c.Net = "tcp"
	if resp, _, err = c.Exchange(m, s.Addr()); err != nil || len(resp.Answer) != 1 {
		t.Errorf("over TCP: %v, %v", resp, err)
	}
}

func TestServerRefusesOtherZones(t *testing.T) {
	s := startServer(t, t.TempDir())
	if err := s.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.com", "org", "notexample.org", "."} {
		resp := ask(t, s.Addr(), name, dns.TypeA)
		if resp.Rcode != dns.RcodeRefused || resp.Authoritative || len(resp.Answer)+len(resp.Ns) != 0 {
			t.Errorf("%s: rcode %s, AA %v, %d records; want REFUSED, no AA, nothing",
				name, dns.RcodeToString[resp.Rcode], resp.Authoritative, len(resp.Answer)+len(resp.Ns))
		}
	}
}

func TestSerialRisesOnEveryChange(t *testing.T) {
	s := startServer(t, t.TempDir())
	clock := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	zones := map[string][]Record{"example.org": {{FQDN: "example.org", Type: "A", Value: "192.0.2.1", TTL: 3600}}}
	if err := s.Sync(t.Context(), zones); err != nil {
		t.Fatal(err)
	}
	first := soaOf(t, s.Addr(), "example.org").Serial
	if first != uint32(clock.Unix()) {
		t.Errorf("first serial %d, want the Unix time %d", first, clock.Unix())
	}
	if err := s.Sync(t.Context(), zones); err != nil {
		t.Fatal(err)
	}
	if got := soaOf(t, s.Addr(), "example.org").Serial; got != first {
		t.Errorf("serial %d after an unchanged sync, want %d", got, first)
	}
	// Many changes within one second still each get a higher serial.
	prev := first
	for i := 2; i < 10; i++ {
		zones["example.org"][0].Value = "192.0.2." + strconv.Itoa(i)
		if err := s.Sync(t.Context(), zones); err != nil {
			t.Fatal(err)
		}
		got := soaOf(t, s.Addr(), "example.org").Serial
		if got <= prev {
			t.Fatalf("change %d: serial %d, not above %d", i, got, prev)
		}
		prev = got
	}
	// Once the clock is ahead again, the serial is the time.
	clock = clock.Add(time.Hour)
	zones["example.org"][0].TTL = 300
	if err := s.Sync(t.Context(), zones); err != nil {
		t.Fatal(err)
	}
	if got := soaOf(t, s.Addr(), "example.org").Serial; got != uint32(clock.Unix()) {
		t.Errorf("serial %d an hour later, want %d", got, clock.Unix())
	}
}

func TestSyncKeepsZoneWithInvalidRecord(t *testing.T) {
	s := startServer(t, t.TempDir())
	if err := s.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	zones := exampleZones()
	zones["example.org"] = append(zones["example.org"], Record{FQDN: "bad.example.org", Type: "A", Value: "192.0.2.300"})
	zones["example.net"][0].Value = "198.51.100.8"
	err := s.Sync(t.Context(), zones)
	if err == nil || !strings.Contains(err.Error(), "zone example.org") || !strings.Contains(err.Error(), "192.0.2.300") {
		t.Fatalf("sync error %v, want one naming zone example.org and the bad value", err)
	}
	if got := lines(ask(t, s.Addr(), "example.org", dns.TypeA).Answer); len(got) != 1 {
		t.Errorf("example.org A after a failed sync: %q, want the old record still served", got)
	}
	if got := lines(ask(t, s.Addr(), "example.net", dns.TypeA).Answer); !slices.Equal(got, []string{"example.net. 600 IN A 198.51.100.8"}) {
		t.Errorf("example.net A: %q, want the valid zone updated", got)
	}
}

func TestSyncRejectsCNAMEWithOtherData(t *testing.T) {
	s := startServer(t, t.TempDir())
	err := s.Sync(t.Context(), map[string][]Record{"example.org": {
		{FQDN: "www.example.org", Type: "CNAME", Value: "example.org"},
		{FQDN: "www.example.org", Type: "A", Value: "192.0.2.1"},
	}})
	if err == nil || !strings.Contains(err.Error(), "CNAME") {
		t.Fatalf("sync error %v, want a CNAME conflict", err)
	}
	if resp := ask(t, s.Addr(), "www.example.org", dns.TypeA); resp.Rcode != dns.RcodeRefused {
		t.Errorf("rcode %s, want REFUSED: the zone must not be served", dns.RcodeToString[resp.Rcode])
	}
}

func TestZoneRemovedAndServedAgain(t *testing.T) {
	s := startServer(t, t.TempDir())
	clock := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	zones := exampleZones()
	if err := s.Sync(t.Context(), zones); err != nil {
		t.Fatal(err)
	}
	zones["example.org"][0].Value = "192.0.2.11" // run the serial ahead of the clock
	if err := s.Sync(t.Context(), zones); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Serial("example.org")
	if err := s.Sync(t.Context(), map[string][]Record{"example.net": zones["example.net"], "example.org": nil}); err != nil {
		t.Fatal(err)
	}
	if resp := ask(t, s.Addr(), "example.org", dns.TypeA); resp.Rcode != dns.RcodeRefused {
		t.Errorf("removed zone: rcode %s, want REFUSED", dns.RcodeToString[resp.Rcode])
	}
	if err := s.Sync(t.Context(), zones); err != nil {
		t.Fatal(err)
	}
	if after := soaOf(t, s.Addr(), "example.org").Serial; after <= before {
		t.Errorf("zone served again with serial %d, want above its last serial %d", after, before)
	}
}

// notifyListener is a secondary's NOTIFY port: it records the serials it is
// told of and acknowledges them, except that it answers the first NOTIFY
// with SERVFAIL, so the sender must retry.
type notifyListener struct {
	addr string
	mu   sync.Mutex
	got  map[string][]uint32
	fail int
}

func listenNotify(t *testing.T, ip string) *notifyListener {
	t.Helper()
	pc, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	l := &notifyListener{addr: pc.LocalAddr().String(), got: make(map[string][]uint32)}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg).SetReply(r)
			l.mu.Lock()
			defer l.mu.Unlock()
			switch {
			case r.Opcode != dns.OpcodeNotify || !r.Authoritative || r.Question[0].Qtype != dns.TypeSOA:
				m.Rcode = dns.RcodeFormatError
			case l.fail == 0:
				l.fail++
				m.Rcode = dns.RcodeServerFailure
			default:
				var serial uint32
				if len(r.Answer) == 1 {
					serial = r.Answer[0].(*dns.SOA).Serial
				}
				l.got[r.Question[0].Name] = append(l.got[r.Question[0].Name], serial)
			}
			w.WriteMsg(m)
		})}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return l
}

// waitSerial waits until the listener has acknowledged serial for zone.
func (l *notifyListener) waitSerial(t *testing.T, zone string, serial uint32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		ok := slices.Contains(l.got[zone], serial)
		l.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no NOTIFY for %s serial %d; got %v", zone, serial, l.got)
}

func TestNotifySecondaries(t *testing.T) {
	l := listenNotify(t, "127.0.0.1")
	s := startServer(t, t.TempDir(), l.addr)
	if err := s.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	org, _ := s.Serial("example.org")
	netSerial, _ := s.Serial("example.net")
	l.waitSerial(t, "example.org.", org)
	l.waitSerial(t, "example.net.", netSerial)
	if l.fail != 1 {
		t.Errorf("listener refused %d NOTIFYs, want 1 (and a retry after it)", l.fail)
	}
	zones := exampleZones()
	zones["example.org"][0].Value = "192.0.2.20"
	if err := s.Sync(t.Context(), zones); err != nil {
		t.Fatal(err)
	}
	changed, _ := s.Serial("example.org")
	l.waitSerial(t, "example.org.", changed)
}

// transfer asks server for zone by AXFR over TCP from the local address
// from, and returns the records and how many messages carried them.
func transfer(t *testing.T, server, from, zone string) ([]dns.RR, int, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	conn, err := d.Dial("tcp", server)
	if err != nil {
		t.Fatal(err)
	}
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: conn}}
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	ch, err := tr.In(m, server)
	if err != nil {
		return nil, 0, err
	}
	var rrs []dns.RR
	n := 0
	for env := range ch {
		if env.Error != nil {
			err = env.Error
			continue
		}
		rrs = append(rrs, env.RR...)
		n++
	}
	return rrs, n, err
}

func TestZoneTransfer(t *testing.T) {
	l := listenNotify(t, "127.0.0.2")
	s := startServer(t, t.TempDir(), l.addr)
	zones := exampleZones()
	for i := range 300 {
		zones["example.net"] = append(zones["example.net"], Record{
			FQDN: "t" + strconv.Itoa(i) + ".example.net", Type: "TXT", Value: strings.Repeat("x", 400), TTL: 600})
	}
	if err := s.Sync(t.Context(), zones); err != nil {
		t.Fatal(err)
	}

	t.Run("secondary gets the zone", func(t *testing.T) {
		rrs, _, err := transfer(t, s.Addr(), "127.0.0.2", "example.org")
		if err != nil {
			t.Fatal(err)
		}
		serial, _ := s.Serial("example.org")
		if len(rrs) != 1+2+14+1 {
			t.Errorf("%d records, want SOA, 2 NS, 14 records, SOA", len(rrs))
		}
		first, ok1 := rrs[0].(*dns.SOA)
		last, ok2 := rrs[len(rrs)-1].(*dns.SOA)
		if !ok1 || !ok2 || first.Serial != serial || last.Serial != serial {
			t.Errorf("transfer starts with %v and ends with %v, want the SOA with serial %d", rrs[0], rrs[len(rrs)-1], serial)
		}
		want := lines(ask(t, s.Addr(), "_sip._tcp.example.org", dns.TypeSRV).Answer)
		if !slices.Contains(lines(rrs), want[0]) {
			t.Errorf("transfer lacks %q", want[0])
		}
	})
	t.Run("large zone in several messages", func(t *testing.T) {
		rrs, msgs, err := transfer(t, s.Addr(), "127.0.0.2", "example.net")
		if err != nil {
			t.Fatal(err)
		}
		if len(rrs) != 1+2+301+1 || msgs < 2 {
			t.Errorf("%d records in %d messages, want %d records in several", len(rrs), msgs, 1+2+301+1)
		}
	})
	t.Run("other address refused", func(t *testing.T) {
		_, _, err := transfer(t, s.Addr(), "127.0.0.1", "example.org")
		if err == nil || !strings.Contains(err.Error(), "rcode: 5") {
			t.Errorf("transfer from 127.0.0.1: %v, want REFUSED (rcode 5)", err)
		}
	})
	t.Run("not a served zone", func(t *testing.T) {
		_, _, err := transfer(t, s.Addr(), "127.0.0.2", "example.com")
		if err == nil {
			t.Error("transfer of a zone not served succeeded")
		}
	})
	t.Run("over UDP refused", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetAxfr("example.org.")
		c := &dns.Client{Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("127.0.0.2")}}}
		resp, _, err := c.Exchange(m, s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Rcode != dns.RcodeRefused || len(resp.Answer) != 0 {
			t.Errorf("AXFR over UDP: rcode %s with %d records, want REFUSED", dns.RcodeToString[resp.Rcode], len(resp.Answer))
		}
	})
}

// snapshot is what a server answers to a fixed set of questions.
func snapshot(t *testing.T, addr string) []string {
	t.Helper()
	var out []string
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"example.org", dns.TypeSOA}, {"example.org", dns.TypeNS}, {"example.org", dns.TypeA},
		{"www.example.org", dns.TypeA}, {"long.example.org", dns.TypeTXT}, {"x.dev.example.org", dns.TypeA},
		{"nope.example.org", dns.TypeA}, {"example.net", dns.TypeA}, {"example.com", dns.TypeA},
	} {
		resp := ask(t, addr, q.name, q.qtype)
		out = append(out, q.name+" "+dns.RcodeToString[resp.Rcode]+" "+strconv.FormatBool(resp.Authoritative))
		out = append(out, lines(resp.Answer)...)
		out = append(out, lines(resp.Ns)...)
	}
	return out
}

func TestRestartAnswersTheSame(t *testing.T) {
	dir := t.TempDir()
	s1 := startServer(t, dir)
	if err := s1.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s1.Addr())
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	// No Sync: the control plane is not reachable yet.
	s2 := startServer(t, dir)
	if after := snapshot(t, s2.Addr()); !slices.Equal(after, before) {
		t.Errorf("after a restart\n got %q\nwant %q", after, before)
	}
	serial, _ := s2.Serial("example.org")
	if err := s2.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	if again, _ := s2.Serial("example.org"); again != serial {
		t.Errorf("the same records after a restart changed the serial from %d to %d", serial, again)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != serverStateFile {
			t.Errorf("state directory holds %s besides %s", e.Name(), serverStateFile)
		}
	}
}

func TestNewNameServersGiveNewSerials(t *testing.T) {
	dir := t.TempDir()
	s1 := startServer(t, dir)
	if err := s1.Sync(t.Context(), exampleZones()); err != nil {
		t.Fatal(err)
	}
	old, _ := s1.Serial("example.org")
	s1.Close()
	s2, err := New(Config{Addr: "127.0.0.1:0", StateDir: dir, NS: []string{"ns9.ferry.test"}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	soa := soaOf(t, s2.Addr(), "example.org")
	if soa.Serial <= old || soa.Ns != "ns9.ferry.test." || soa.Mbox != "hostmaster.example.org." {
		t.Errorf("SOA %v, want serial above %d, ns9.ferry.test. and hostmaster.example.org.", soa, old)
	}
}

func TestQueriesDuringSync(t *testing.T) {
	s := startServer(t, t.TempDir())
	zones := func(addr string) map[string][]Record {
		return map[string][]Record{"example.org": {
			{FQDN: "example.org", Type: "A", Value: addr, TTL: 300},
			{FQDN: "www.example.org", Type: "CNAME", Value: "example.org", TTL: 300},
		}}
	}
	if err := s.Sync(t.Context(), zones("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := &dns.Client{Timeout: 2 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion("www.example.org.", dns.TypeA)
			for ctx.Err() == nil {
				resp, _, err := c.Exchange(m, s.Addr())
				if err != nil {
					t.Error(err)
					return
				}
				got := lines(resp.Answer)
				if resp.Rcode != dns.RcodeSuccess || len(got) != 2 || !strings.HasPrefix(got[1], "example.org. 300 IN A 192.0.2.") {
					t.Errorf("answer during sync: %s %q", dns.RcodeToString[resp.Rcode], got)
					return
				}
			}
		})
	}
	for i := range 200 {
		if err := s.Sync(t.Context(), zones("192.0.2."+strconv.Itoa(1+i%2))); err != nil {
			t.Error(err)
		}
	}
	cancel()
	wg.Wait()
}
