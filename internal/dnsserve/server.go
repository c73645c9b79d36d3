package dnsserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/model"

	"github.com/miekg/dns"
)

// Config configures a built-in name server.
type Config struct {
	// Addr is the address to answer on, over UDP and TCP; ":53" if empty.
	// Port 0 picks a free port, the same for both (see Server.Addr).
	Addr string
	// StateDir holds the served zones (zones.json), so the server answers
	// after a restart before the control plane is reachable. Required.
	StateDir string
	// NS names the zones' name servers: every zone gets them as its apex
	// NS records, and the first is the SOA's primary. At least one.
	NS []string
	// Hostmaster is the mailbox in the SOA, as "hostmaster@example.org"
	// or in DNS form "hostmaster.example.org"; "hostmaster.<zone>" if
	// empty.
	Hostmaster string
	// Secondaries are the servers that copy the zones, as "IP" or
	// "IP:port" (port 53 if left out). Their IP may transfer zones (AXFR,
	// over TCP) and they get a NOTIFY at the port on every change.
	Secondaries []string
	// Logger receives the server's logs; slog.Default() if nil.
	Logger *slog.Logger
}

// Server is ferry's built-in authoritative name server. Queries are
// answered from an immutable snapshot of the zones, which Sync replaces in
// one step, so an answer never mixes two versions of a zone.
type Server struct {
	addr        string
	log         *slog.Logger
	soa         soaParams
	secondaries []netip.AddrPort
	statePath   string

	// zones maps an origin (lower case, trailing dot) to its zone.
	zones atomic.Pointer[map[string]*zone]

	syncMu  sync.Mutex // one Sync at a time; guards retired
	retired map[string]uint32

	// Seams for tests: the clock serials come from, and NOTIFY's
	// retry schedule.
	now            func() time.Time
	notifyAttempts int
	notifyWait     time.Duration

	life    context.Context // ends at Close, and with it NOTIFY retries
	stop    context.CancelFunc
	mu      sync.Mutex // guards what follows
	closed  bool
	servers []*dns.Server
	bound   string
	wg      sync.WaitGroup // listeners and NOTIFY senders
}

// New makes a server from cfg and loads the zones saved under StateDir. It
// does not listen yet; see Start.
func New(cfg Config) (*Server, error) {
	s := &Server{
		addr:           cfg.Addr,
		log:            cfg.Logger,
		retired:        make(map[string]uint32),
		now:            time.Now,
		notifyAttempts: 5,
		notifyWait:     2 * time.Second,
	}
	if s.addr == "" {
		s.addr = ":53"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.StateDir == "" {
		return nil, errors.New("dns server: state directory is not set")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("dns server: %w", err)
	}
	s.statePath = filepath.Join(cfg.StateDir, serverStateFile)
	if len(cfg.NS) == 0 {
		return nil, errors.New("dns server: needs at least one name server name (NS)")
	}
	for _, n := range cfg.NS {
		d, err := model.NormalizeDomain(n, 2)
		if err != nil {
			return nil, fmt.Errorf("dns server: name server %q %w", n, err)
		}
		s.soa.ns = append(s.soa.ns, dns.Fqdn(d))
	}
	s.soa.mname = s.soa.ns[0]
	rname, err := mailboxName(cfg.Hostmaster)
	if err != nil {
		return nil, fmt.Errorf("dns server: hostmaster %q %w", cfg.Hostmaster, err)
	}
	s.soa.rname = rname
	for _, sec := range cfg.Secondaries {
		ap, err := parseHostPort(sec)
		if err != nil {
			return nil, fmt.Errorf("dns server: secondary %q: %w", sec, err)
		}
		s.secondaries = append(s.secondaries, ap)
	}
	s.life, s.stop = context.WithCancel(context.Background())
	if err := s.loadState(); err != nil {
		return nil, fmt.Errorf("dns server: %w", err)
	}
	return s, nil
}

// mailboxName turns a hostmaster address into the SOA RNAME form: the
// local part is the first label, its dots escaped.
func mailboxName(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	local, domain, isMail := strings.Cut(h, "@")
	if !isMail {
		local, domain, _ = strings.Cut(h, ".")
	}
	d, err := model.NormalizeDomain(domain, 2)
	if err != nil {
		return "", err
	}
	if local == "" || len(local) > 63 {
		return "", errors.New("needs a local part of 1 to 63 characters")
	}
	for _, c := range local {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._+-", c)) {
			return "", errors.New("has a local part with other than letters, digits, '.', '_', '+' or '-'")
		}
	}
	return strings.ReplaceAll(local, ".", `\.`) + "." + dns.Fqdn(d), nil
}

// parseHostPort reads "IP" or "IP:port", defaulting to port 53.
func parseHostPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := model.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a.Unmap(), 53), nil
}

// loadState reads the saved zones. When the configured SOA and NS names
// differ from those the zones were saved with, every zone gets a new serial
// so secondaries pick the change up.
func (s *Server) loadState() error {
	var st serverState
	found, err := readJSON(s.statePath, &st)
	if err != nil {
		return err
	}
	zones := make(map[string]*zone)
	if !found {
		s.zones.Store(&zones)
		return nil
	}
	if st.Version != stateVersion {
		return fmt.Errorf("%s: format version %d, this ferry reads %d", s.statePath, st.Version, stateVersion)
	}
	renamed := !slices.Equal(st.NS, s.soa.ns) || st.RName != s.soa.rname
	now := s.now()
	for name, sz := range st.Zones {
		serial := sz.Serial
		if renamed {
			serial = nextSerial(serial, now)
		}
		z, err := buildZone(name, serial, sz.Records, s.soa)
		if err != nil {
			return fmt.Errorf("%s: %w", s.statePath, err)
		}
		zones[z.origin] = z
	}
	maps.Copy(s.retired, st.Retired)
	s.zones.Store(&zones)
	if renamed {
		s.log.Info("dns name servers or hostmaster changed, new serials", "zones", len(zones))
		return s.save(zones, s.retired, now)
	}
	return nil
}

// save writes zones to the state file, dropping retired serials the clock
// has caught up with.
func (s *Server) save(zones map[string]*zone, retired map[string]uint32, now time.Time) error {
	st := serverState{
		Version: stateVersion,
		NS:      s.soa.ns,
		RName:   s.soa.rname,
		Zones:   make(map[string]stateZone, len(zones)),
		Retired: make(map[string]uint32),
	}
	for _, z := range zones {
		st.Zones[canonName(z.origin)] = stateZone{Serial: z.serial, Records: z.records}
	}
	for name, serial := range retired {
		if serial >= clockSerial(now) {
			st.Retired[name] = serial
		}
	}
	return writeJSON(s.statePath, st)
}

// clockSerial is the serial a zone changed at now gets at least: the Unix
// time, which keeps rising across restarts and allows a change a second
// without the 100-a-day limit of YYYYMMDDnn serials.
func clockSerial(now time.Time) uint32 { return uint32(now.Unix()) }

// nextSerial is the serial after prev for a change at now: strictly above
// prev even when changes come faster than once a second.
func nextSerial(prev uint32, now time.Time) uint32 { return max(prev+1, clockSerial(now)) }

// Serial returns the serial the server answers with for zone, and whether it
// serves zone at all.
func (s *Server) Serial(zone string) (uint32, bool) {
	z := (*s.zones.Load())[dns.Fqdn(strings.ToLower(zone))]
	if z == nil {
		return 0, false
	}
	return z.serial, true
}

// Sync makes the server serve exactly zones (see Provider). Changed zones get
// a new serial, are saved under StateDir before they are served and are
// announced to the secondaries. If saving fails, nothing changes.
func (s *Server) Sync(ctx context.Context, zones map[string][]Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	want := checkZones(zones)
	s.syncMu.Lock()
	defer s.syncMu.Unlock()

	cur := *s.zones.Load()
	next := make(map[string]*zone, len(want.zones))
	retired := maps.Clone(s.retired)
	now := s.now()
	var errs []error
	var changed []*zone
	for origin, z := range cur {
		if want.failed[canonName(origin)] {
			next[origin] = z
		}
	}
	for name, recs := range want.zones {
		origin := dns.Fqdn(name)
		old := cur[origin]
		if old != nil && slices.Equal(old.records, recs) {
			next[origin] = old
			continue
		}
		prev := retired[name]
		if old != nil {
			prev = old.serial
		}
		z, err := buildZone(name, nextSerial(prev, now), recs, s.soa)
		if err != nil {
			errs = append(errs, err)
			if old != nil {
				next[origin] = old
			}
			continue
		}
		next[origin] = z
		delete(retired, name)
		changed = append(changed, z)
	}
	var removed []string
	for origin, z := range cur {
		if next[origin] == nil {
			removed = append(removed, canonName(origin))
			retired[canonName(origin)] = z.serial
		}
	}
	errs = append(errs, want.err)
	if len(changed) == 0 && len(removed) == 0 {
		return errors.Join(errs...)
	}
	if err := s.save(next, retired, now); err != nil {
		return errors.Join(append([]error{fmt.Errorf("save dns zones: %w", err)}, errs...)...)
	}
	s.zones.Store(&next)
	s.retired = retired
	for _, z := range changed {
		s.log.Info("dns zone updated", "zone", canonName(z.origin), "serial", z.serial, "records", len(z.records))
		s.notify(z)
	}
	for _, name := range removed {
		s.log.Info("dns zone no longer served", "zone", name)
	}
	return errors.Join(errs...)
}

// Start listens on the configured address over UDP and TCP and answers
// queries until ctx ends or Close is called. It returns once both
// listeners are up, and announces every zone to the secondaries, which may
// have missed changes while the server was down.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("dns server: closed")
	}
	if s.servers != nil {
		return errors.New("dns server: already started")
	}
	pc, ln, err := listen(s.addr)
	if err != nil {
		return fmt.Errorf("dns server: %w", err)
	}
	s.bound = pc.LocalAddr().String()
	s.servers = []*dns.Server{
		{PacketConn: pc, Handler: s, UDPSize: dns.DefaultMsgSize},
		{Listener: ln, Handler: s},
	}
	for _, srv := range s.servers {
		started := make(chan struct{})
		failed := make(chan error, 1)
		srv.NotifyStartedFunc = func() { close(started) }
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			err := srv.ActivateAndServe()
			failed <- err
			if err != nil && s.life.Err() == nil {
				s.log.Error("dns server stopped", "addr", s.bound, "err", err)
			}
		}()
		select {
		case <-started:
		case err := <-failed:
			s.closed = true
			s.stop()
			pc.Close()
			ln.Close()
			return fmt.Errorf("dns server: %w", err)
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.life.Done():
		}
	}()
	zones := *s.zones.Load()
	s.log.Info("dns server listening", "addr", s.bound, "zones", len(zones))
	for _, z := range zones {
		s.notifyLocked(z)
	}
	return nil
}

// listen opens the UDP and TCP sockets on addr. For port 0 it finds a port
// free for both.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := port
		if p == "0" {
			_, p, _ = net.SplitHostPort(pc.LocalAddr().String())
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || attempt == 10 {
			return nil, nil, err
		}
	}
}

// Addr returns the address the server listens on, once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound
}

// Close stops answering, cancels pending NOTIFY retries and waits for
// everything the server started to end. Sync still works afterwards (it
// saves), but nothing is served or announced.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	s.stop()
	servers := s.servers
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown())
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
