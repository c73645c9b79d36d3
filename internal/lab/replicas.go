package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// With Config.Replicas above one, the lab's control plane is that many
// `ferry serve` replicas on a PostgreSQL server of the lab's own (initdb
// into the lab's directory), behind HAProxy on the control address's port
// 7080: the nodes and the CLI reach the replicas through it, as they would
// through a production load balancer, and need no change. HAProxy checks
// each replica's /readyz and sends a request to another when one is down.

// Where the replicated control plane lives, under the lab's directory.
const (
	pgDirName        = "control/pg"
	balancerConfName = "control/haproxy.cfg"
	// replicaPortBase + i is replica i's port (1-based) on the control
	// address.
	replicaPortBase = 7080
	// maxReplicas bounds Config.Replicas.
	maxReplicas = 9
)

// Replica is one `ferry serve` of a replicated lab control plane.
type Replica struct {
	ID     string `json:"id"`
	Listen string `json:"listen"`
	PID    int    `json:"pid"`
}

func (l *Lab) pgDir() string        { return filepath.Join(l.dir, pgDirName) }
func (l *Lab) balancerConf() string { return filepath.Join(l.dir, balancerConfName) }

// startReplicated starts the lab's PostgreSQL, HAProxy and n replicas.
func (l *Lab) startReplicated(ctx context.Context, n int) error {
	data := filepath.Join(l.dir, "control")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	url, err := l.startPostgres(ctx)
	if err != nil {
		return err
	}
	addr := controlAddrOf(l.st)
	front := net.JoinHostPort(addr, controlPort)
	l.mu.Lock()
	l.st.Control = &ControlPlane{URL: "http://" + front, Address: addr, DataDir: data,
		AdminTokenPath: filepath.Join(data, "admin.token"), StoreURL: url}
	for i := 1; i <= n; i++ {
		l.st.Control.Replicas = append(l.st.Control.Replicas, Replica{ID: fmt.Sprintf("r%d", i),
			Listen: net.JoinHostPort(addr, strconv.Itoa(replicaPortBase+i))})
	}
	replicas := l.st.Control.Replicas
	l.mu.Unlock()
	if err := l.startBalancer(ctx, front, replicas); err != nil {
		return err
	}
	// One after the other: the first makes the schema and the admin token.
	for i := range replicas {
		if err := l.StartReplica(ctx, i+1); err != nil {
			return err
		}
	}
	// HAProxy marked every replica down while none ran, and takes one
	// back at its next check (every 500 ms): until then the front answers
	// 503, and the nodes' registration would meet it.
	if err := waitFor(ctx, readyTimeout, nil, func() error { return getOK("http://" + front + "/readyz") }); err != nil {
		return fmt.Errorf("lab balancer: no replica reachable through %s: %w", front, err)
	}
	l.log.Info("control plane up", "url", "http://"+front, "replicas", n, "store", "postgres")
	return nil
}

// startPostgres makes a PostgreSQL cluster in the lab's directory, owned
// by the postgres user, starts it on a unix socket there and returns the
// store's URL.
func (l *Lab) startPostgres(ctx context.Context) (string, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return "", fmt.Errorf("lab postgres: %w (install postgresql-15: scripts/lab-deps.sh)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	dir := l.pgDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("lab postgres: %w", err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return "", fmt.Errorf("lab postgres: %w", err)
	}
	initdb := exec.CommandContext(ctx, filepath.Join(pgBin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "ferry",
		"-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions")
	initdb.Dir = "/"
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lab postgres: initdb: %w\n%s", err, tail(string(out), 1500))
	}
	logPath := filepath.Join(dir, "postgres.log")
	cmd, exited, err := l.spawn("postgres", logPath, cred, filepath.Join(pgBin, "postgres"), "-D", filepath.Join(dir, "data"), "-k", dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "max_connections=200")
	if err != nil {
		return "", fmt.Errorf("lab postgres: %w", err)
	}
	l.mu.Lock()
	l.st.PostgresPID = cmd.Process.Pid
	l.mu.Unlock()
	if err := l.saveState(); err != nil {
		return "", err
	}
	sock := filepath.Join(dir, ".s.PGSQL.5432")
	err = waitFor(ctx, readyTimeout, exited, dialable("unix", sock))
	if err != nil {
		out, _ := os.ReadFile(logPath)
		return "", fmt.Errorf("lab postgres not ready: %w\n%s", err, tail(string(out), 1500))
	}
	return "postgres:///postgres?host=" + dir + "&user=ferry", nil
}

// renderBalancer is HAProxy's configuration: the front on the control
// address, every replica a server checked on /readyz twice a second, out
// after two failed checks; a request a replica refused at connect goes to
// another. Long polls and progress streams hold a request up to minutes.
func renderBalancer(front string, replicas []Replica) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
	maxconn 4096

defaults
	mode http
	timeout connect 2s
	timeout client 10m
	timeout server 10m
	retries 3
	option redispatch

frontend ferry
	bind %s
	default_backend replicas

backend replicas
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server inter 500ms fall 2 rise 1
`, front)
	for _, r := range replicas {
		fmt.Fprintf(&b, "\tserver %s %s check\n", r.ID, r.Listen)
	}
	return b.String()
}

// startBalancer writes HAProxy's configuration and starts it in the
// foreground, and waits until the front accepts connections.
func (l *Lab) startBalancer(ctx context.Context, front string, replicas []Replica) error {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		return fmt.Errorf("lab balancer: %w (install haproxy: scripts/lab-deps.sh)", err)
	}
	if err := os.WriteFile(l.balancerConf(), []byte(renderBalancer(front, replicas)), 0o644); err != nil {
		return fmt.Errorf("lab balancer: %w", err)
	}
	logPath := filepath.Join(l.dir, "control", "haproxy.log")
	cmd, exited, err := l.spawn("balancer", logPath, nil, haproxy, "-db", "-f", l.balancerConf())
	if err != nil {
		return fmt.Errorf("lab balancer: %w", err)
	}
	l.mu.Lock()
	l.st.BalancerPID = cmd.Process.Pid
	l.mu.Unlock()
	if err := l.saveState(); err != nil {
		return err
	}
	err = waitFor(ctx, readyTimeout, exited, dialable("tcp", front))
	if err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("lab balancer not ready: %w\n%s", err, tail(string(out), 1500))
	}
	return nil
}

// spawn starts argv as one of the lab's daemons, in a session of its own,
// from /, its output appended to logPath, dying with this process when the
// lab was told so, as cred's user when cred is set. name keys the channel
// closed when it exits in l.exited.
func (l *Lab) spawn(name, logPath string, cred *syscall.Credential, argv ...string) (*exec.Cmd, <-chan struct{}, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close()
	if cred != nil {
		if err := logf.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, nil, err
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	if l.dieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	exited, err := l.startProcess(cmd, name)
	return cmd, exited, err
}

// startProcess starts cmd and records a channel closed when it exits
// under name in l.exited.
func (l *Lab) startProcess(cmd *exec.Cmd, name string) (<-chan struct{}, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	l.mu.Lock()
	l.exited[name] = exited
	l.mu.Unlock()
	return exited, nil
}

// Replicas returns the replicas of the lab's control plane; none when it
// runs as one process.
func (l *Lab) Replicas() []Replica {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.Control == nil {
		return nil
	}
	return slices.Clone(l.st.Control.Replicas)
}

// StartReplica starts replica i (1-based) of a replicated control plane,
// again after KillReplica, and waits until it answers /readyz.
func (l *Lab) StartReplica(ctx context.Context, i int) error {
	l.mu.Lock()
	cp := l.st.Control
	if cp == nil || i < 1 || i > len(cp.Replicas) {
		l.mu.Unlock()
		return fmt.Errorf("control plane replica %d: the lab has no such replica", i)
	}
	r, data, url := cp.Replicas[i-1], cp.DataDir, cp.StoreURL
	l.mu.Unlock()
	if isControlPlane(r.PID, l.dir) {
		return fmt.Errorf("control plane replica %s: already running (pid %d)", r.ID, r.PID)
	}
	logPath := filepath.Join(data, "serve-"+r.ID+".log")
	cmd, exited, err := l.spawn("replica-"+r.ID, logPath, nil, l.ferry, "serve", "--data", data, "--listen", r.Listen, "--db", url, "--replica-id", r.ID)
	if err != nil {
		return fmt.Errorf("control plane replica %s: %w", r.ID, err)
	}
	l.mu.Lock()
	l.st.Control.Replicas[i-1].PID = cmd.Process.Pid
	if i == 1 {
		l.st.Control.PID = cmd.Process.Pid
	}
	token := l.st.Control.AdminTokenPath
	l.mu.Unlock()
	if err := l.saveState(); err != nil {
		return err
	}
	err = waitFor(ctx, readyTimeout, exited, serving(token, func() error { return getOK("http://" + r.Listen + "/readyz") }))
	if err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("control plane replica %s not ready: %w\n%s", r.ID, err, tail(string(out), 1500))
	}
	return nil
}

// KillReplica kills replica i (1-based) with SIGKILL, as a crash would,
// and waits until it is gone.
func (l *Lab) KillReplica(ctx context.Context, i int) error {
	l.mu.Lock()
	cp := l.st.Control
	if cp == nil || i < 1 || i > len(cp.Replicas) {
		l.mu.Unlock()
		return fmt.Errorf("control plane replica %d: the lab has no such replica", i)
	}
	r := cp.Replicas[i-1]
	exited := l.exited["replica-"+r.ID]
	l.mu.Unlock()
	if !isControlPlane(r.PID, l.dir) {
		return fmt.Errorf("control plane replica %s: %w", r.ID, ErrNotRunning)
	}
	if err := syscall.Kill(r.PID, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill control plane replica %s: %w", r.ID, err)
	}
	return waitExited(ctx, exited, r.PID, "control plane replica "+r.ID)
}

// isLabPostgres reports whether pid is the postmaster of the lab in dir.
func isLabPostgres(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	args := cmdline(pid)
	i := slices.Index(args, "-D")
	return i > 0 && i+1 < len(args) && args[i+1] == filepath.Join(dir, pgDirName, "data")
}

// isBalancer reports whether pid is the lab's HAProxy.
func isBalancer(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	args := cmdline(pid)
	i := slices.Index(args, "-f")
	return i > 0 && i+1 < len(args) && args[i+1] == filepath.Join(dir, balancerConfName)
}

// getOK fetches url and wants 200.
func getOK(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// dialable is a check that a server accepts connections at addr.
func dialable(network, addr string) func() error {
	return func() error {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// serving is a check that `ferry serve` wrote its admin token (once, on the
// store's first start) and passes probe.
func serving(token string, probe func() error) func() error {
	return func() error {
		if _, err := os.Stat(token); err != nil {
			return err
		}
		return probe()
	}
}
