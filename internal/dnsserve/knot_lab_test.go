//go:build lab

package dnsserve

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// knot is a knotd started for one test.
type knot struct {
	addr   string
	secret string
}

const knotKey = "ferry-test"

// startKnot runs a knotd in a temporary directory on 127.0.0.1 at a free
// port, primary for example.org with a zone that already holds records of
// its own, and accepting updates and transfers signed with a fresh key. It
// is killed, by its PID, when the test ends.
func startKnot(t *testing.T) *knot {
	t.Helper()
	knotd, err := exec.LookPath("knotd")
	if err != nil {
		knotd, err = exec.LookPath("/usr/sbin/knotd")
	}
	if err != nil {
		msg := "knotd not installed (Debian package knot; scripts/lab-deps.sh installs it)"
		if os.Getenv("FERRY_TEST_DISALLOW_SKIP") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	k := &knot{addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), secret: base64.StdEncoding.EncodeToString(key)}
	_, port, _ := net.SplitHostPort(k.addr)
	conf := fmt.Sprintf(`server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]s
log:
  - target: stderr
    any: info
database:
    storage: "%[1]s/db"
control:
    listen: "%[1]s/knot.sock"
key:
  - id: %[3]s
    algorithm: hmac-sha256
    secret: %[4]s
acl:
  - id: ferry
    key: %[3]s
    action: [update, transfer]
zone:
  - domain: example.org
    storage: "%[1]s"
    file: example.org.zone
    zonefile-sync: -1
    acl: ferry
`, dir, port, knotKey, k.secret)
	zone := `$ORIGIN example.org.
$TTL 3600
@        SOA  ns1.ferry.test. hostmaster.ferry.test. 1 3600 600 1209600 300
@        NS   ns1.ferry.test.
@        NS   ns2.ferry.test.
@        CAA  0 issue "letsencrypt.org"
legacy   A    192.0.2.200
`
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(knotd, "-c", confPath) // no -d: it stays in the foreground, our child
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("knotd exited: %v", err)
		default:
		}
		m := new(dns.Msg)
		m.SetQuestion("example.org.", dns.TypeSOA)
		c := &dns.Client{Timeout: 200 * time.Millisecond}
		if resp, _, err := c.Exchange(m, k.addr); err == nil && resp.Authoritative && len(resp.Answer) == 1 {
			return k
		}
		if time.Now().After(deadline) {
			t.Fatal("knotd did not answer for example.org within 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a port that was free on 127.0.0.1 for UDP and TCP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, ln, err := listen("127.0.0.1:0")
		if err != nil {
			continue
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc.Close()
		ln.Close()
		return port
	}
	t.Fatal("no free port")
	return 0
}

func (k *knot) provider(t *testing.T, stateDir string) *RFC2136 {
	t.Helper()
	p, err := NewRFC2136(RFC2136Config{Server: k.addr, KeyName: knotKey, Secret: k.secret, StateDir: stateDir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkKnot asserts that knot serves recs exactly, and returns the serial.
func checkKnot(t *testing.T, k *knot, recs []Record) uint32 {
	t.Helper()
	var serial uint32
	for _, d := range Check(t.Context(), k.addr, recs) {
		if !d.OK() {
			t.Errorf("%s %s: %q", d.FQDN, d.Type, d.Problems())
		}
		serial = d.Serial
	}
	return serial
}

func TestKnotRFC2136(t *testing.T) {
	k := startKnot(t)
	p := k.provider(t, t.TempDir())
	ctx := t.Context()
	recs := []Record{
		{Zone: "example.org", FQDN: "example.org", Type: "A", Value: "192.0.2.10", TTL: 3600},
		{Zone: "example.org", FQDN: "example.org", Type: "AAAA", Value: "2001:db8::10", TTL: 3600},
		{Zone: "example.org", FQDN: "example.org", Type: "MX", Value: "10 mail.example.org", TTL: 3600},
		{Zone: "example.org", FQDN: "mail.example.org", Type: "A", Value: "192.0.2.25", TTL: 3600},
		{Zone: "example.org", FQDN: "www.example.org", Type: "CNAME", Value: "example.org", TTL: 3600},
		{Zone: "example.org", FQDN: "example.org", Type: "TXT", Value: longTXT, TTL: 3600},
		{Zone: "example.org", FQDN: "_sip._tcp.example.org", Type: "SRV", Value: "10 5 5060 sip.example.org", TTL: 3600},
		{Zone: "example.org", FQDN: "*.dev.example.org", Type: "A", Value: "192.0.2.99", TTL: 3600},
	}
	sync := func(recs []Record) {
		t.Helper()
		if err := p.Sync(ctx, ByZone(recs)); err != nil {
			t.Fatal(err)
		}
	}
	soa := func() uint32 { t.Helper(); return soaSerial(ctx, k.addr, "example.org") }
	question := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		resp, err := query(ctx, k.addr, name, qtype)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	sync(recs)
	added := checkKnot(t, k, recs)
	if resp := question("legacy.example.org", dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Errorf("legacy.example.org: %s, want NXDOMAIN: an A record ferry does not hold is removed", dns.RcodeToString[resp.Rcode])
	}
	if resp := question("example.org", dns.TypeCAA); len(resp.Answer) != 1 {
		t.Errorf("CAA after sync: %v, want the operator's record kept", resp.Answer)
	}
	if resp := question("example.org", dns.TypeNS); len(resp.Answer) != 2 {
		t.Errorf("NS after sync: %v, want both kept", resp.Answer)
	}

	sync(recs)
	if got := soa(); got != added {
		t.Errorf("serial %d after an unchanged sync, want %d: no UPDATE should have been sent", got, added)
	}

	// A move: lower the TTLs, switch the address, restore the TTLs.
	for i := range recs[:2] {
		recs[i].TTL = 300
	}
	sync(recs)
	lowered := checkKnot(t, k, recs)
	recs[0].Value = "192.0.2.20"
	recs[1].Value = "2001:db8::20"
	sync(recs)
	switched := checkKnot(t, k, recs)
	for i := range recs[:2] {
		recs[i].TTL = 3600
	}
	sync(recs)
	restored := checkKnot(t, k, recs)
	if !(added < lowered && lowered < switched && switched < restored) {
		t.Errorf("serials %d, %d, %d, %d: want each change to raise it", added, lowered, switched, restored)
	}

	// Deletions: the TXT and SRV records go.
	kept := slices.DeleteFunc(slices.Clone(recs), func(r Record) bool { return r.Type == "TXT" || r.Type == "SRV" })
	sync(kept)
	checkKnot(t, k, kept)
	if resp := question("example.org", dns.TypeTXT); len(resp.Answer) != 0 {
		t.Errorf("TXT after deletion: %v", resp.Answer)
	}
	if resp := question("_sip._tcp.example.org", dns.TypeSRV); resp.Rcode != dns.RcodeNameError {
		t.Errorf("SRV after deletion: %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
	deleted := soa()
	sync(kept)
	if got := soa(); got != deleted {
		t.Errorf("serial %d after an unchanged sync, want %d", got, deleted)
	}

	// The zone leaves ferry: its records go, the zone's own stay.
	if err := p.Sync(ctx, map[string][]Record{}); err != nil {
		t.Fatal(err)
	}
	if resp := question("example.org", dns.TypeA); len(resp.Answer) != 0 || resp.Rcode != dns.RcodeSuccess {
		t.Errorf("A after the zone was dropped: %s %v, want NODATA", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
	if resp := question("example.org", dns.TypeCAA); len(resp.Answer) != 1 {
		t.Errorf("CAA after the zone was dropped: %v, want it kept", resp.Answer)
	}
}

func TestKnotRFC2136RemembersZonesAcrossRestarts(t *testing.T) {
	k := startKnot(t)
	state := t.TempDir()
	recs := []Record{{Zone: "example.org", FQDN: "www.example.org", Type: "A", Value: "192.0.2.1", TTL: 300}}
	if err := k.provider(t, state).Sync(t.Context(), ByZone(recs)); err != nil {
		t.Fatal(err)
	}
	// A new provider (the node restarted) learns the zone is gone.
	if err := k.provider(t, state).Sync(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	resp, err := query(t.Context(), k.addr, "www.example.org", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != dns.RcodeNameError {
		t.Errorf("www.example.org after the zone was dropped across a restart: %s %v, want NXDOMAIN", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
}

func TestKnotRFC2136WrongKey(t *testing.T) {
	k := startKnot(t)
	p, err := NewRFC2136(RFC2136Config{Server: k.addr, KeyName: knotKey, Secret: base64.StdEncoding.EncodeToString(make([]byte, 32)), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{{Zone: "example.org", FQDN: "www.example.org", Type: "A", Value: "192.0.2.1"}}
	if err := p.Sync(t.Context(), ByZone(recs)); err == nil {
		t.Fatal("sync with a wrong TSIG secret succeeded")
	}
	if resp, err := query(t.Context(), k.addr, "www.example.org", dns.TypeA); err != nil || len(resp.Answer) != 0 {
		t.Errorf("www.example.org: %v %v, want nothing written", resp, err)
	}
}
