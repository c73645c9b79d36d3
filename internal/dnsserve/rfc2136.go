package dnsserve

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// rfc2136StateFile is where RFC2136 keeps the names of the zones it
// manages, under RFC2136Config.StateDir.
const rfc2136StateFile = "rfc2136-zones.json"

// tsigAlgorithms are the TSIG algorithms RFC2136 signs with.
var tsigAlgorithms = map[string]string{
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// RFC2136Config configures the dynamic-update provider.
type RFC2136Config struct {
	// Server is the primary's address, "host:port" or "host" for port 53.
	Server string
	// KeyName and Secret (base64) are the TSIG key the primary accepts for
	// updates and zone transfers of ferry's zones.
	KeyName string
	Secret  string
	// Algorithm is the key's TSIG algorithm: hmac-sha256 (the default),
	// hmac-sha384 or hmac-sha512.
	Algorithm string
	// StateDir, if set, keeps the names of the zones ferry manages on the
	// primary (rfc2136-zones.json), so a zone dropped while the node was
	// down is still emptied. Without it that memory lasts for the process.
	StateDir string
	// Timeout bounds each exchange with the primary; 10 seconds if zero.
	Timeout time.Duration
	// Logger receives the provider's logs; slog.Default() if nil.
	Logger *slog.Logger
}

// RFC2136 keeps ferry's records on an existing primary name server with
// TSIG-signed dynamic updates (RFC 2136). For each zone it reads what the
// primary holds with a zone transfer and sends one UPDATE with the
// deletions and additions that make it match; a zone that needs nothing
// gets no UPDATE. It owns the A, AAAA, CNAME, MX, TXT and SRV records of
// the zones it is given, and leaves the SOA, NS records, delegations and
// any other type alone. The zones themselves must exist on the primary.
type RFC2136 struct {
	server    string
	keyName   string
	algorithm string
	secrets   map[string]string
	timeout   time.Duration
	statePath string
	log       *slog.Logger

	mu      sync.Mutex // one Sync at a time; guards managed
	managed map[string]bool
}

// rfc2136State is RFC2136's persisted data.
type rfc2136State struct {
	Version int      `json:"version"`
	Zones   []string `json:"zones"`
}

// NewRFC2136 makes the provider from cfg. It does not contact the primary.
func NewRFC2136(cfg RFC2136Config) (*RFC2136, error) {
	p := &RFC2136{
		server:  cfg.Server,
		keyName: dns.CanonicalName(cfg.KeyName),
		timeout: cfg.Timeout,
		log:     cfg.Logger,
		managed: make(map[string]bool),
	}
	if p.server == "" {
		return nil, errors.New("rfc2136: server is not set")
	}
	if _, _, err := net.SplitHostPort(p.server); err != nil {
		p.server = net.JoinHostPort(strings.Trim(p.server, "[]"), "53")
	}
	if cfg.KeyName == "" {
		return nil, errors.New("rfc2136: TSIG key name is not set")
	}
	if _, ok := dns.IsDomainName(p.keyName); !ok {
		return nil, fmt.Errorf("rfc2136: TSIG key name %q is not a domain name", cfg.KeyName)
	}
	if _, err := base64.StdEncoding.DecodeString(cfg.Secret); err != nil || cfg.Secret == "" {
		return nil, errors.New("rfc2136: TSIG secret must be set, in base64")
	}
	alg := strings.ToLower(strings.TrimSuffix(cfg.Algorithm, "."))
	if alg == "" {
		alg = "hmac-sha256"
	}
	p.algorithm = tsigAlgorithms[alg]
	if p.algorithm == "" {
		return nil, fmt.Errorf("rfc2136: TSIG algorithm %q is not one of hmac-sha256, hmac-sha384, hmac-sha512", cfg.Algorithm)
	}
	p.secrets = map[string]string{p.keyName: cfg.Secret}
	if p.timeout == 0 {
		p.timeout = 10 * time.Second
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if cfg.StateDir != "" {
		p.statePath = filepath.Join(cfg.StateDir, rfc2136StateFile)
		var st rfc2136State
		found, err := readJSON(p.statePath, &st)
		if err != nil {
			return nil, fmt.Errorf("rfc2136: %w", err)
		}
		if found && st.Version != stateVersion {
			return nil, fmt.Errorf("rfc2136: %s: format version %d, this ferry reads %d", p.statePath, st.Version, stateVersion)
		}
		for _, z := range st.Zones {
			p.managed[z] = true
		}
	}
	return p, nil
}

// Sync makes the primary hold exactly zones' records (see Provider). A zone
// ferry managed before and that is now absent is emptied of ferry's
// records; the zone itself stays on the primary.
func (p *RFC2136) Sync(ctx context.Context, zones map[string][]Record) error {
	want := checkZones(zones)
	p.mu.Lock()
	defer p.mu.Unlock()
	errs := []error{want.err}
	managed := make(map[string]bool)
	for z := range want.failed {
		if p.managed[z] {
			managed[z] = true
		}
	}
	for _, z := range slices.Sorted(maps.Keys(want.zones)) {
		managed[z] = true
		if err := p.syncZone(ctx, z, want.zones[z]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, z := range slices.Sorted(maps.Keys(p.managed)) {
		if managed[z] || want.failed[z] {
			continue
		}
		if err := p.syncZone(ctx, z, nil); err != nil {
			managed[z] = true // try again next time
			errs = append(errs, err)
			continue
		}
		p.log.Info("dns zone no longer managed by ferry, its records removed", "zone", z, "server", p.server)
	}
	if !maps.Equal(managed, p.managed) && p.statePath != "" {
		st := rfc2136State{Version: stateVersion, Zones: slices.Sorted(maps.Keys(managed))}
		if err := writeJSON(p.statePath, st); err != nil {
			errs = append(errs, fmt.Errorf("rfc2136: %w", err))
		}
	}
	p.managed = managed
	return errors.Join(errs...)
}

// syncZone brings one zone to the canonical records want. The UPDATE is
// conditional on the SOA read with the zone: if the zone changed in between,
// the primary refuses it and syncZone reads the zone again.
func (p *RFC2136) syncZone(ctx context.Context, zone string, want []Record) error {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		rrs, err := p.transferIn(ctx, zone)
		if err != nil {
			return fmt.Errorf("rfc2136: read zone %s from %s: %w", zone, p.server, err)
		}
		u, err := updateFor(zone, rrs, want)
		if err != nil {
			return fmt.Errorf("rfc2136: zone %s: %w", zone, err)
		}
		if u == nil {
			return nil
		}
		rcode, err := p.exchange(ctx, u.msg)
		if err != nil {
			return fmt.Errorf("rfc2136: update zone %s on %s: %w", zone, p.server, err)
		}
		switch {
		case rcode == dns.RcodeSuccess:
			p.log.Info("dns zone updated", "zone", zone, "server", p.server, "deleted", u.deleted, "added", u.added)
			return nil
		case rcode == dns.RcodeNXRrset && attempt < attempts:
			p.log.Info("dns zone changed while updating, reading it again", "zone", zone, "server", p.server)
		default:
			return fmt.Errorf("rfc2136: update zone %s on %s: answered %s", zone, p.server, dns.RcodeToString[rcode])
		}
	}
}

// transferIn reads the whole zone with a TSIG-signed AXFR.
func (p *RFC2136) transferIn(ctx context.Context, zone string) ([]dns.RR, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.server)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	t := &dns.Transfer{Conn: &dns.Conn{Conn: conn}, TsigSecret: p.secrets, ReadTimeout: p.timeout, WriteTimeout: p.timeout}
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	m.SetTsig(p.keyName, p.algorithm, 300, time.Now().Unix())
	ch, err := t.In(m, p.server)
	if err != nil {
		conn.Close()
		return nil, err
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			err = env.Error
			continue
		}
		rrs = append(rrs, env.RR...)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, err
	}
	return rrs, nil
}

// exchange sends a signed UPDATE over TCP and returns the primary's rcode.
func (p *RFC2136) exchange(ctx context.Context, m *dns.Msg) (int, error) {
	c := &dns.Client{Net: "tcp", Timeout: p.timeout, TsigSecret: p.secrets}
	m.SetTsig(p.keyName, p.algorithm, 300, time.Now().Unix())
	resp, _, err := c.ExchangeContext(ctx, m, p.server)
	if err != nil {
		return 0, err
	}
	return resp.Rcode, nil
}

// update is one UPDATE message and what it does.
type update struct {
	msg            *dns.Msg
	deleted, added int
}

// updateFor compares the zone the primary holds (rrs, as transferred) with
// the canonical records wanted and returns the UPDATE that turns one into
// the other, or nil if they match. An RRset whose TTL changes is replaced
// whole; otherwise single records are deleted and added. All deletions come
// before all additions, so a name can change from A to CNAME in one UPDATE.
func updateFor(zone string, rrs []dns.RR, want []Record) (*update, error) {
	origin := dns.Fqdn(zone)
	var soa *dns.SOA
	var cuts []string
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.SOA:
			if soa == nil {
				soa = v
			}
		case *dns.NS:
			if !strings.EqualFold(v.Hdr.Name, origin) {
				cuts = append(cuts, v.Hdr.Name)
			}
		}
	}
	if soa == nil {
		return nil, errors.New("zone transfer carried no SOA")
	}
	type held struct {
		rec Record
		rr  dns.RR
	}
	have := make(map[string][]held)
	for _, rr := range rrs {
		if belowCut(rr.Header().Name, cuts) {
			continue // delegated: glue, not ferry's
		}
		rec, ok := recordFromRR(zone, rr)
		if !ok {
			continue
		}
		k := rec.FQDN + " " + rec.Type
		if !slices.ContainsFunc(have[k], func(h held) bool { return h.rec.Value == rec.Value }) {
			have[k] = append(have[k], held{rec, rr})
		}
	}
	wantSets := make(map[string][]Record)
	for _, r := range want {
		k := r.FQDN + " " + r.Type
		wantSets[k] = append(wantSets[k], r)
	}
	var dropSets, dropRRs, adds []dns.RR
	addAll := func(recs []Record) error {
		for _, r := range recs {
			rr, err := r.rr()
			if err != nil {
				return err
			}
			adds = append(adds, rr)
		}
		return nil
	}
	deleted := 0
	keys := slices.Sorted(maps.Keys(have))
	for k := range wantSets {
		if _, ok := have[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		h, w := have[k], wantSets[k]
		ttlChanged := len(w) > 0 && slices.ContainsFunc(h, func(x held) bool { return x.rec.TTL != w[0].TTL })
		if len(h) > 0 && (len(w) == 0 || ttlChanged) {
			dropSets = append(dropSets, h[0].rr)
			deleted += len(h)
			if err := addAll(w); err != nil {
				return nil, err
			}
			continue
		}
		for _, x := range h {
			if !slices.ContainsFunc(w, func(r Record) bool { return r.Value == x.rec.Value }) {
				dropRRs = append(dropRRs, dns.Copy(x.rr))
				deleted++
			}
		}
		var missing []Record
		for _, r := range w {
			if !slices.ContainsFunc(h, func(x held) bool { return x.rec.Value == r.Value }) {
				missing = append(missing, r)
			}
		}
		if err := addAll(missing); err != nil {
			return nil, err
		}
	}
	if len(dropSets) == 0 && len(dropRRs) == 0 && len(adds) == 0 {
		return nil, nil
	}
	m := new(dns.Msg)
	m.SetUpdate(origin)
	m.Used([]dns.RR{dns.Copy(soa)})
	m.RemoveRRset(dropSets)
	m.Remove(dropRRs)
	m.Insert(adds)
	return &update{msg: m, deleted: deleted, added: len(adds)}, nil
}

// belowCut reports whether name is at or below one of the delegation
// points cuts.
func belowCut(name string, cuts []string) bool {
	for _, c := range cuts {
		if dns.IsSubDomain(c, name) {
			return true
		}
	}
	return false
}
