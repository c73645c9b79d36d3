package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors a caller may want to tell apart.
var (
	// ErrRunning means a lab already runs in the directory Up was given.
	ErrRunning = errors.New("a lab is already running there")
	// ErrStale means a lab directory holds leftovers of a lab that no longer
	// runs; Down removes them.
	ErrStale = errors.New("leftovers of a stopped lab are there")
	// ErrNotRunning means there is no running lab (or host) to act on.
	ErrNotRunning = errors.New("lab not running")
	// ErrNotRoot means the lab needs root and the process is not root.
	ErrNotRoot = errors.New("the lab needs root")
	// ErrMissingTools means programs the lab runs are not installed.
	ErrMissingTools = errors.New("missing programs")
	// ErrNoHost means the lab has no host of that name.
	ErrNoHost = errors.New("no such lab host")
)

// readyTimeout bounds how long a service may take to answer after start.
const readyTimeout = 60 * time.Second

// Lab is a running lab. It is safe for concurrent use.
type Lab struct {
	dir string
	log *slog.Logger
	// ferry is the copy of the ferry binary inside the lab directory, when
	// the lab runs a control plane.
	ferry         string
	dieWithParent bool
	// self is the binary that acts as a host's first process.
	self string

	mu sync.Mutex
	st *State
	// exited holds, for each process this process started (hosts' first
	// processes, the control plane), a channel closed once it has exited
	// and been waited for.
	exited map[string]chan struct{}
}

// Up brings a lab up: it prepares every host, starts them side by side and
// returns once every service answers on its host's address. On error or
// cancellation it removes whatever it had started.
func Up(ctx context.Context, cfg Config) (_ *Lab, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if err := checkTools(); err != nil {
		return nil, err
	}
	self := cfg.Self
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
	}
	// The mount point of the hosts' own node state; empty on the machine.
	if err := os.MkdirAll(nodeStateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", nodeStateDir, err)
	}
	dir := filepath.Clean(cfg.Dir)
	if err := claimDir(dir); err != nil {
		return nil, err
	}
	start := time.Now()
	hosts := cfg.topology()
	st := &State{
		Version: stateVersion,
		Dir:     dir,
		Status:  StatusStarting,
		Subnet:  cfg.Subnet,
		UpPID:   os.Getpid(),
		Started: start.UTC().Truncate(time.Second),
		NFTable: nftTableName(cfg.Subnet),
	}
	for _, h := range hosts {
		st.Hosts = append(st.Hosts, Host{Name: h.Name, Address: h.Address, Roles: h.Roles, Dir: hostDir(dir, h.Name)})
		if hasRole(h.Roles, RoleDNS) {
			key, err := newTSIGKey()
			if err != nil {
				return nil, err
			}
			st.TSIG, st.Zones = &key, cfg.Zones
		}
	}
	l := &Lab{dir: dir, log: cfg.Logger, st: st, dieWithParent: cfg.DieWithParent, self: self,
		exited: map[string]chan struct{}{}}
	defer func() {
		if err == nil {
			return
		}
		l.log.Warn("lab up failed; removing what was started", "dir", dir, "err", err)
		if derr := l.Down(context.WithoutCancel(ctx)); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	if err := l.saveState(); err != nil {
		return nil, err
	}
	if cfg.ControlPlane {
		l.ferry = filepath.Join(dir, "bin", "ferry")
		if err := copyFile(cfg.Ferry, l.ferry, 0o755); err != nil {
			return nil, fmt.Errorf("copy ferry binary: %w", err)
		}
	}

	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.bootHost(ctx, self, h, hosts)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// The ACME CA first: the web hosts' agents are told where it is.
	if err := l.startAcmeCA(ctx); err != nil {
		return nil, err
	}
	if cfg.ControlPlane {
		start := l.startControlPlane
		if cfg.Replicas > 1 {
			start = func(ctx context.Context) error { return l.startReplicated(ctx, cfg.Replicas) }
		}
		if err := start(ctx); err != nil {
			return nil, err
		}
		if err := l.startAgents(ctx); err != nil {
			return nil, fmt.Errorf("node agents: %w", err)
		}
	}
	l.mu.Lock()
	l.st.Status = StatusRunning
	l.mu.Unlock()
	if err := l.saveState(); err != nil {
		return nil, err
	}
	l.log.Info("lab up", "dir", dir, "hosts", len(hosts), "took", time.Since(start).Round(time.Millisecond))
	return l, nil
}

// claimDir creates the lab directory, refusing one that exists: the
// directory itself is the lock that keeps two labs apart.
func claimDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create lab dir: %w", err)
	}
	err := os.Mkdir(dir, 0o755)
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create lab dir: %w", err)
	}
	if running(dir) {
		return fmt.Errorf("%s: %w (see `ferry lab status --dir %s`; stop it with `ferry lab down --dir %s`)", dir, ErrRunning, dir, dir)
	}
	return fmt.Errorf("%s: %w (remove them with `ferry lab down --dir %s`)", dir, ErrStale, dir)
}

// running reports whether anything of the lab in dir is alive.
func running(dir string) bool {
	st, _ := ReadState(dir)
	return len(labProcesses(dir, st)) > 0
}

// newTSIGKey makes a fresh HMAC-SHA256 key for dns1.
func newTSIGKey() (TSIGKey, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return TSIGKey{}, fmt.Errorf("make tsig key: %w", err)
	}
	return TSIGKey{Name: "ferry-lab.", Algorithm: "hmac-sha256", Secret: base64.StdEncoding.EncodeToString(secret)}, nil
}

// bootHost prepares one host, starts its first process and waits until its
// services answer.
func (l *Lab) bootHost(ctx context.Context, self string, h HostSpec, all []HostSpec) error {
	t0 := time.Now()
	spec, err := prepareHost(ctx, l.log, h, all, l.st)
	if err != nil {
		return err
	}
	l.log.Debug("host prepared", "host", h.Name, "took", time.Since(t0).Round(time.Millisecond))
	return l.startHost(ctx, self, spec)
}

// startHost starts the first process of a prepared host and waits until
// the services it starts by itself answer.
func (l *Lab) startHost(ctx context.Context, self string, spec initSpec) error {
	t0 := time.Now()
	name := spec.Name
	specPath := filepath.Join(hostDir(l.dir, name), "host.json")
	logf, err := os.OpenFile(filepath.Join(hostDir(l.dir, name), "init.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("host %s: %w", name, err)
	}
	defer logf.Close()
	args := hostInitArgs(self, specPath)
	cmd := &exec.Cmd{
		Path:   self,
		Args:   args,
		Env:    append(os.Environ(), HostInitEnv+"="+specPath),
		Dir:    "/",
		Stdout: logf,
		Stderr: logf,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID,
			Setsid:     true,
		},
	}
	if l.dieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if _, err := l.startProcess(cmd, name); err != nil {
		return fmt.Errorf("host %s: start init: %w", name, err)
	}
	l.mu.Lock()
	var services []string
	for _, s := range spec.Services {
		if s.Autostart {
			services = append(services, s.Name)
		}
	}
	hst, _ := l.st.host(name)
	hst.InitPID, hst.Services = cmd.Process.Pid, services
	l.mu.Unlock()
	if err := l.saveState(); err != nil {
		return err
	}
	for _, s := range services {
		if err := l.waitReady(ctx, name, s); err != nil {
			return err
		}
		l.log.Debug("service ready", "host", name, "service", s, "after", time.Since(t0).Round(time.Millisecond))
	}
	l.log.Info("host up", "host", name, "address", spec.Address, "pid", cmd.Process.Pid, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// saveState writes the state file from the lab's current state.
func (l *Lab) saveState() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.write()
}

// Open attaches to the running lab in dir (DefaultDir when empty).
func Open(dir string) (*Lab, error) {
	if dir == "" {
		dir = DefaultDir
	}
	st, err := ReadState(filepath.Clean(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotRunning)
	}
	if err != nil {
		return nil, err
	}
	l := &Lab{dir: st.Dir, log: slog.Default(), st: st, exited: map[string]chan struct{}{}}
	if st.Control != nil {
		l.ferry = filepath.Join(st.Dir, "bin", "ferry")
	}
	return l, nil
}

// Running reports whether any process of the lab is alive. A lab whose
// state file is there but which does not run was killed; Down removes it.
func (l *Lab) Running() bool {
	st := l.State()
	return len(labProcesses(l.dir, &st)) > 0
}

// Scratch returns a directory for a test's own files that every host sees
// at the same path (it lies in the lab directory, which no host covers).
// Down removes it with the lab.
func (l *Lab) Scratch() (string, error) {
	dir := filepath.Join(l.dir, "scratch")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lab scratch dir: %w", err)
	}
	return dir, nil
}

// Dir is the lab's state directory.
func (l *Lab) Dir() string { return l.dir }

// State returns a copy of the lab's state.
func (l *Lab) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := *l.st
	s.Hosts = slices.Clone(s.Hosts)
	s.CutOff = slices.Clone(s.CutOff)
	s.CutLinks = slices.Clone(s.CutLinks)
	return s
}

// Hosts lists the lab's hosts.
func (l *Lab) Hosts() []Host { return l.State().Hosts }

// Host returns the host called name.
func (l *Lab) Host(name string) (Host, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.st.host(name)
	if err != nil {
		return Host{}, err
	}
	return *h, nil
}

// Path maps a path inside a host to the path that shows the same file from
// the machine (and from tests): a host's /etc/passwd is Path(host,
// "/etc/passwd"). Paths the host shares with the machine come back as given.
func (l *Lab) Path(host, inside string) (string, error) {
	h, err := l.Host(host)
	if err != nil {
		return "", err
	}
	return hostPath(h.Dir, inside), nil
}

// initPID returns the host's first process, checked to be alive and to be
// this lab's.
func (l *Lab) initPID(host string) (int, error) {
	h, err := l.Host(host)
	if err != nil {
		return 0, err
	}
	if h.InitPID == 0 || !isHostInit(h.InitPID, l.dir) || !alive(h.InitPID) {
		return 0, fmt.Errorf("host %s: %w", host, ErrNotRunning)
	}
	return h.InitPID, nil
}

// Command prepares argv to run inside host (its mount, UTS and PID
// namespaces, working directory /), like ssh'ing in as root. The caller sets
// stdin, stdout and stderr as for any exec.Cmd.
func (l *Lab) Command(ctx context.Context, host string, argv ...string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command")
	}
	pid, err := l.initPID(host)
	if err != nil {
		return nil, err
	}
	args := []string{"--target", strconv.Itoa(pid), "--mount", "--uts", "--pid", "--wdns=/", "--"}
	cmd := exec.CommandContext(ctx, "nsenter", append(args, argv...)...)
	cmd.Env = append(withoutEnv(os.Environ(), HostInitEnv, "HOME"), "HOME=/root")
	return cmd, nil
}

// withoutEnv drops the named variables from env.
func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

// Run runs argv inside host and returns its standard output. A failure
// carries the command's standard error.
func (l *Lab) Run(ctx context.Context, host string, argv ...string) (string, error) {
	cmd, err := l.Command(ctx, host, argv...)
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %s: %w: %s", host, strings.Join(argv, " "), err, tail(stderr.String(), 2000))
	}
	return stdout.String(), nil
}

// ctl sends a request to a host's first process.
func (l *Lab) ctl(ctx context.Context, host string, req ctlRequest) (ctlResponse, error) {
	h, err := l.Host(host)
	if err != nil {
		return ctlResponse{}, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", filepath.Join(h.Dir, "ctl.sock"))
	if err != nil {
		return ctlResponse{}, fmt.Errorf("host %s: %w: %w", host, ErrNotRunning, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(stopTimeout + 20*time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return ctlResponse{}, fmt.Errorf("host %s: control: %w", host, err)
	}
	var resp ctlResponse
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return ctlResponse{}, fmt.Errorf("host %s: control: %w", host, err)
	}
	if !resp.OK {
		return resp, fmt.Errorf("host %s: %s", host, resp.Error)
	}
	return resp, nil
}

// Services reports which services of a host run.
func (l *Lab) Services(ctx context.Context, host string) ([]ServiceStatus, error) {
	resp, err := l.ctl(ctx, host, ctlRequest{Op: "status"})
	return resp.Services, err
}

// StopService stops a service of a host and waits until it is gone.
func (l *Lab) StopService(ctx context.Context, host, service string) error {
	_, err := l.ctl(ctx, host, ctlRequest{Op: "stop", Service: service})
	return err
}

// StartService starts a stopped service of a host and waits until it
// answers again.
func (l *Lab) StartService(ctx context.Context, host, service string) error {
	if _, err := l.ctl(ctx, host, ctlRequest{Op: "start", Service: service}); err != nil {
		return err
	}
	return l.waitReady(ctx, host, service)
}

// KillAgent kills a host's node agent with SIGKILL, as a crash would.
func (l *Lab) KillAgent(ctx context.Context, host string) error {
	return l.KillService(ctx, host, ServiceAgent)
}

// KillService kills a service of a host with SIGKILL, its workers too, as
// a crash would; StartService brings it back. A service that is not
// running is left as it is.
func (l *Lab) KillService(ctx context.Context, host, service string) error {
	_, err := l.ctl(ctx, host, ctlRequest{Op: "stop", Service: service, Kill: true})
	return err
}

// CutOff cuts a host off the network: nothing reaches its address from
// another address and nothing leaves it for another address, so its sshd and
// its agent (which binds the host's address) are unreachable. Traffic a
// host's program sends from 127.0.0.1 is not affected.
func (l *Lab) CutOff(ctx context.Context, host string) error {
	return l.setCutOff(ctx, host, true)
}

// Restore undoes CutOff.
func (l *Lab) Restore(ctx context.Context, host string) error {
	return l.setCutOff(ctx, host, false)
}

func (l *Lab) setCutOff(ctx context.Context, host string, cut bool) error {
	if _, err := l.Host(host); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	set := slices.DeleteFunc(slices.Clone(l.st.CutOff), func(n string) bool { return n == host })
	if cut {
		set = append(set, host)
	}
	return l.applyCuts(ctx, set, l.st.CutLinks)
}

// CutLink cuts the link between hosts a and b: nothing from one's address
// reaches the other's, in either direction, while both still reach every
// other address (the control plane's, dns1's). Like a router between two
// servers failing while both stay on line.
func (l *Lab) CutLink(ctx context.Context, a, b string) error {
	return l.setCutLink(ctx, a, b, true)
}

// RestoreLink undoes CutLink.
func (l *Lab) RestoreLink(ctx context.Context, a, b string) error {
	return l.setCutLink(ctx, a, b, false)
}

func (l *Lab) setCutLink(ctx context.Context, a, b string, cut bool) error {
	if a == b {
		return fmt.Errorf("cut link %s–%s: a link joins two hosts", a, b)
	}
	for _, n := range []string{a, b} {
		if _, err := l.Host(n); err != nil {
			return err
		}
	}
	pair := [2]string{min(a, b), max(a, b)}
	l.mu.Lock()
	defer l.mu.Unlock()
	links := slices.DeleteFunc(slices.Clone(l.st.CutLinks), func(p [2]string) bool { return p == pair })
	if cut {
		links = append(links, pair)
	}
	return l.applyCuts(ctx, l.st.CutOff, links)
}

// applyCuts makes the lab's nft table cut off hosts and cut links, and
// records both; l.mu is held.
func (l *Lab) applyCuts(ctx context.Context, hosts []string, links [][2]string) error {
	addr := func(n string) (string, error) {
		h, err := l.st.host(n)
		if err != nil {
			return "", err
		}
		return h.Address, nil
	}
	var addrs []string
	for _, n := range hosts {
		a, err := addr(n)
		if err != nil {
			return err
		}
		addrs = append(addrs, a)
	}
	var pairs [][2]string
	for _, p := range links {
		a, err := addr(p[0])
		if err != nil {
			return err
		}
		b, err := addr(p[1])
		if err != nil {
			return err
		}
		pairs = append(pairs, [2]string{a, b})
	}
	if err := applyNFT(ctx, renderNFT(l.st.NFTable, addrs, pairs)); err != nil {
		return err
	}
	l.st.CutOff, l.st.CutLinks = hosts, links
	return l.st.write()
}

// applyNFT runs an nft script.
func applyNFT(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, tail(string(out), 500))
	}
	return nil
}

// AddZone makes dns1 serve one more zone, open to TSIG-signed updates.
func (l *Lab) AddZone(ctx context.Context, zone string) error {
	zone = strings.TrimSuffix(strings.ToLower(zone), ".")
	if !validZone(zone) {
		return fmt.Errorf("zone %q: not a valid domain name", zone)
	}
	l.mu.Lock()
	var dns *Host
	for i := range l.st.Hosts {
		if hasRole(l.st.Hosts[i].Roles, RoleDNS) {
			dns = &l.st.Hosts[i]
		}
	}
	if dns == nil || l.st.TSIG == nil {
		l.mu.Unlock()
		return fmt.Errorf("add zone %s: lab has no dns host", zone)
	}
	if slices.Contains(l.st.Zones, zone) {
		l.mu.Unlock()
		return nil
	}
	zones := append(slices.Clone(l.st.Zones), zone)
	hs := HostSpec{Name: dns.Name, Address: dns.Address, Roles: dns.Roles}
	p := &preparer{ctx: ctx, log: l.log, dir: dns.Dir}
	p.writeZone(zone, dns.Address)
	p.write("etc/knot/knot.conf", renderKnot(hs, *l.st.TSIG, zones), 0o640)
	p.chown("etc/knot/knot.conf", "root", "knot")
	if p.err == nil {
		l.st.Zones = zones
		p.err = l.st.write()
	}
	name := dns.Name
	l.mu.Unlock()
	if p.err != nil {
		return fmt.Errorf("add zone %s: %w", zone, p.err)
	}
	if _, err := l.Run(ctx, name, "knotc", "-c", "/etc/knot/knot.conf", "reload"); err != nil {
		return fmt.Errorf("add zone %s: %w", zone, err)
	}
	// The zone is served once it answers for its SOA.
	return waitFor(ctx, readyTimeout, nil, func() error { return dnsSOA(dns.Address, zone) })
}

// waitReady waits until a host's service answers.
func (l *Lab) waitReady(ctx context.Context, host, service string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	l.mu.Lock()
	exited := l.exited[host]
	l.mu.Unlock()
	check := l.readyCheck(h, service)
	if err := waitFor(ctx, readyTimeout, exited, check); err != nil {
		return fmt.Errorf("host %s: %s not ready: %w%s", host, service, err, l.logTail(h, service))
	}
	return nil
}

// readyCheck returns a probe that succeeds once a service answers.
func (l *Lab) readyCheck(h Host, service string) func() error {
	running := func() error {
		resp, err := l.ctl(context.Background(), h.Name, ctlRequest{Op: "status"})
		if err != nil {
			return err
		}
		for _, s := range resp.Services {
			if s.Name == service && s.Running {
				return nil
			}
		}
		return fmt.Errorf("%s not running", service)
	}
	tcp := func(port string) func() error {
		return func() error {
			if err := running(); err != nil {
				return err
			}
			c, err := net.DialTimeout("tcp", net.JoinHostPort(h.Address, port), time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		}
	}
	switch service {
	case ServiceSSH:
		return tcp("22")
	case ServiceMariaDB:
		return tcp("3306")
	case ServicePostgres:
		// It listens while it still recovers from a crash, refusing
		// every session until it is done.
		return func() error {
			if err := tcp("5432")(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := l.Run(ctx, h.Name, pgBin+"/pg_isready", "-q", "-h", "/run/postgresql")
			return err
		}
	case ServiceKnot:
		return tcp(strconv.Itoa(KnotPort))
	case ServiceApache:
		return func() error {
			if err := running(); err != nil {
				return err
			}
			c := http.Client{Timeout: 2 * time.Second}
			resp, err := c.Get("http://" + h.Address + "/")
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		}
	case ServicePHP:
		return func() error {
			if err := running(); err != nil {
				return err
			}
			c, err := net.DialTimeout("unix", hostPath(h.Dir, phpFPMSocket), time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		}
	default:
		return running
	}
}

// logTail returns the end of a service's log (and of the host's init log),
// to explain a failure.
func (l *Lab) logTail(h Host, service string) string {
	var b strings.Builder
	for _, f := range []string{hostPath(h.Dir, serviceLogs+"/"+service+".log"), filepath.Join(h.Dir, "init.log")} {
		if data, err := os.ReadFile(f); err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "\n--- %s:\n%s", f, tail(string(data), 1500))
		}
	}
	return b.String()
}

// waitFor polls check until it succeeds, the timeout passes, ctx ends or
// exited (when not nil) is closed.
func waitFor(ctx context.Context, timeout time.Duration, exited <-chan struct{}, check func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("host's first process exited")
		case <-deadline.C:
			return fmt.Errorf("timed out after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// copyFile copies a file, creating the target's directory.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
