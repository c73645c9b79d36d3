package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// HostInitEnv names the environment variable that tells a re-executed binary
// to act as a lab host's first process; its value is the host's spec file.
const HostInitEnv = "FERRY_LAB_HOSTINIT"

// hostInitArgs are the arguments a host's first process is started with.
// They make it recognisable in /proc (Down looks for them) and, for ferry
// itself, select the hidden `ferry lab hostinit` command.
func hostInitArgs(self, specPath string) []string {
	return []string{self, "lab", "hostinit", "--spec", specPath}
}

// initSpec is what a host's first process needs to know, written by Up to
// hosts/<name>/host.json before the process starts.
type initSpec struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Mounts are bind mounts, made in order.
	Mounts []mountSpec `json:"mounts"`
	// Services are started in order at boot, except those not Autostart.
	Services []serviceSpec `json:"services"`
	// Control is the control socket's path on the machine.
	Control string `json:"control"`
	// LogDir is where service output goes, as a path inside the host.
	LogDir string `json:"log_dir"`
}

// mountSpec bind-mounts Source (a path on the machine) over Target.
type mountSpec struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// serviceSpec is one service a host's first process runs in the foreground.
type serviceSpec struct {
	Name string   `json:"name"`
	Argv []string `json:"argv"`
	Env  []string `json:"env,omitempty"`
	// User runs the service as this user (looked up in the host's own
	// /etc); root when empty.
	User string `json:"user,omitempty"`
	// StopSignal asks the service to stop; SIGTERM when zero.
	StopSignal syscall.Signal `json:"stop_signal,omitempty"`
	Autostart  bool           `json:"autostart"`
}

// ctlRequest is a request on a host's control socket.
type ctlRequest struct {
	Op      string `json:"op"` // start, stop, status
	Service string `json:"service,omitempty"`
	// Argv, when set on start, replaces the service's command (the agent's
	// command is only known once the control plane has a token for it).
	Argv []string `json:"argv,omitempty"`
	// Kill stops the service with SIGKILL rather than its stop signal.
	Kill bool `json:"kill,omitempty"`
}

// ctlResponse answers a ctlRequest.
type ctlResponse struct {
	OK       bool            `json:"ok"`
	Error    string          `json:"error,omitempty"`
	Services []ServiceStatus `json:"services,omitempty"`
}

// ServiceStatus says whether a service of a lab host runs.
type ServiceStatus struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	PID     int    `json:"pid,omitempty"`
}

// MaybeRunHostInit runs a lab host's first process and exits when the
// environment asks for it (HostInitEnv set), and returns otherwise. Test
// binaries that start labs call it first thing in TestMain (Main does).
func MaybeRunHostInit() {
	spec := os.Getenv(HostInitEnv)
	if spec == "" {
		return
	}
	if err := RunHostInit(spec); err != nil {
		slog.Error("lab host init", "err", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// RunHostInit is a lab host's first process: PID 1 of a fresh PID namespace,
// in fresh mount and UTS namespaces. It makes the host's mounts, starts its
// services, reaps every zombie and serves the host's control socket until it
// is told to stop by SIGTERM or SIGINT. It only returns on error or stop.
func RunHostInit(specPath string) error {
	data, err := os.ReadFile(specPath)
	if err != nil {
		return fmt.Errorf("read host spec: %w", err)
	}
	var spec initSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("parse host spec %s: %w", specPath, err)
	}
	if os.Getpid() != 1 {
		return fmt.Errorf("host %s: init must be pid 1 of a new pid namespace, is pid %d", spec.Name, os.Getpid())
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("host", spec.Name)
	// Reap from the start: nothing may become a zombie unseen.
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	if err := setupHost(spec); err != nil {
		return fmt.Errorf("host %s: %w", spec.Name, err)
	}
	sup := newSupervisor(spec, log)
	go sup.reap(chld)

	_ = os.Remove(spec.Control)
	ln, err := net.Listen("unix", spec.Control)
	if err != nil {
		return fmt.Errorf("host %s: control socket: %w", spec.Name, err)
	}
	defer ln.Close()
	go sup.serve(ln)

	for _, s := range spec.Services {
		if !s.Autostart {
			continue
		}
		if err := sup.start(s.Name, nil); err != nil {
			log.Error("start service", "service", s.Name, "err", err)
		}
	}
	log.Info("host up", "address", spec.Address)
	sig := <-stop
	log.Info("host stopping", "signal", sig.String())
	sup.stopAll()
	return nil
}

// setupHost makes the host's namespaces its own: private mount propagation,
// hostname, bind mounts, /dev/shm, /proc, and / as working directory.
func setupHost(spec initSpec) error {
	if err := syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := syscall.Sethostname([]byte(spec.Name)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	for _, m := range spec.Mounts {
		if err := syscall.Mount(m.Source, m.Target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", m.Source, m.Target, err)
		}
	}
	if err := syscall.Mount("tmpfs", "/dev/shm", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	// A working directory the mounts hid would confuse every child.
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// supervisor runs a host's services as its children and reaps all zombies.
type supervisor struct {
	spec initSpec
	log  *slog.Logger

	mu      sync.Mutex
	running map[string]*child // by service name
	byPID   map[int]*child
	// lastArgv remembers the command a service was last started with, so
	// a service started with its own argv (the agent) can be started again
	// after a stop or a kill without it.
	lastArgv map[string][]string
}

// child is a running service process.
type child struct {
	name string
	pid  int
	done chan struct{} // closed when reaped
}

func newSupervisor(spec initSpec, log *slog.Logger) *supervisor {
	return &supervisor{spec: spec, log: log, running: map[string]*child{}, byPID: map[int]*child{}, lastArgv: map[string][]string{}}
}

func (s *supervisor) service(name string) (serviceSpec, bool) {
	for _, sv := range s.spec.Services {
		if sv.Name == name {
			return sv, true
		}
	}
	return serviceSpec{}, false
}

// serviceEnv is the environment every service starts with.
var serviceEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
}

// start starts a service unless it runs already; argv, when set, replaces
// the service's command.
func (s *supervisor) start(name string, argv []string) error {
	sv, ok := s.service(name)
	if !ok {
		return fmt.Errorf("no service %q on this host", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(argv) > 0:
		sv.Argv = argv
	case len(s.lastArgv[name]) > 0:
		sv.Argv = s.lastArgv[name]
	}
	if len(sv.Argv) == 0 {
		return fmt.Errorf("service %s: no command", name)
	}
	s.lastArgv[name] = sv.Argv
	if s.running[name] != nil {
		return nil
	}
	attr := &syscall.SysProcAttr{Setsid: true}
	env := append([]string(nil), serviceEnv...)
	home := "/root"
	if sv.User != "" {
		u, err := user.Lookup(sv.User)
		if err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
		cred, err := credential(u)
		if err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
		attr.Credential = cred
		home = u.HomeDir
		env = append(env, "USER="+u.Username, "LOGNAME="+u.Username)
	}
	env = append(env, "HOME="+home)
	env = append(env, sv.Env...)

	if err := os.MkdirAll(s.spec.LogDir, 0o755); err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	logf, err := os.OpenFile(filepath.Join(s.spec.LogDir, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	defer devnull.Close()
	fmt.Fprintf(logf, "--- %s: starting %s\n", time.Now().Format(time.RFC3339), name)

	pid, err := syscall.ForkExec(sv.Argv[0], sv.Argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []uintptr{devnull.Fd(), logf.Fd(), logf.Fd()},
		Sys:   attr,
	})
	if err != nil {
		return fmt.Errorf("service %s: start %s: %w", name, sv.Argv[0], err)
	}
	// The reaper may already have reaped pid; it takes s.mu before it looks
	// the pid up, so it finds the registration made here.
	c := &child{name: name, pid: pid, done: make(chan struct{})}
	s.running[name] = c
	s.byPID[pid] = c
	s.log.Info("service started", "service", name, "pid", pid)
	return nil
}

// credential turns a user into the credential its service runs with.
func credential(u *user.User) (*syscall.Credential, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	return cred, nil
}

// stopTimeout is how long a service may take to stop before it is killed.
const stopTimeout = 10 * time.Second

// stop stops a service (with SIGKILL when kill is set) and waits until it
// is gone, along with whatever else runs in its session.
func (s *supervisor) stop(name string, kill bool) error {
	sv, ok := s.service(name)
	if !ok {
		return fmt.Errorf("no service %q on this host", name)
	}
	s.mu.Lock()
	c := s.running[name]
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	sig := sv.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(c.pid, sig)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		s.log.Warn("service did not stop in time; killing it", "service", name, "pid", c.pid)
		_ = syscall.Kill(c.pid, syscall.SIGKILL)
		<-c.done
	}
	// Workers that outlive their master (the service runs in its own
	// session, so its pid is its process group).
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	s.log.Info("service stopped", "service", name)
	return nil
}

// stopAll stops every running service, the last started first.
func (s *supervisor) stopAll() {
	for i := len(s.spec.Services) - 1; i >= 0; i-- {
		_ = s.stop(s.spec.Services[i].Name, false)
	}
}

// status lists the host's services in spec order.
func (s *supervisor) status() []ServiceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ServiceStatus
	for _, sv := range s.spec.Services {
		st := ServiceStatus{Name: sv.Name}
		if c := s.running[sv.Name]; c != nil {
			st.Running, st.PID = true, c.pid
		}
		out = append(out, st)
	}
	return out
}

// reap waits for every child that exits: services, and orphans that the
// kernel hands to PID 1.
func (s *supervisor) reap(chld <-chan os.Signal) {
	for range chld {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			s.mu.Lock()
			if c := s.byPID[pid]; c != nil {
				delete(s.byPID, pid)
				if s.running[c.name] == c {
					delete(s.running, c.name)
				}
				close(c.done)
				s.log.Info("service exited", "service", c.name, "pid", pid, "status", exitText(ws))
			}
			s.mu.Unlock()
		}
	}
}

// exitText describes how a process ended.
func exitText(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return "exit " + strconv.Itoa(ws.ExitStatus())
}

// serve answers requests on the control socket, one per connection.
func (s *supervisor) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go s.handle(conn)
	}
}

func (s *supervisor) handle(conn net.Conn) {
	defer conn.Close()
	var req ctlRequest
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		_ = json.NewEncoder(conn).Encode(ctlResponse{Error: "bad request: " + err.Error()})
		return
	}
	var err error
	switch req.Op {
	case "start":
		err = s.start(req.Service, req.Argv)
	case "stop":
		err = s.stop(req.Service, req.Kill)
	case "status":
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	resp := ctlResponse{OK: err == nil, Services: s.status()}
	if err != nil {
		resp.Error = err.Error()
	}
	_ = json.NewEncoder(conn).Encode(resp)
}
