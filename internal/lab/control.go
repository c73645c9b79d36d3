package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/pki"
	"ferry/internal/wire"
)

// controlPort is where the lab's control plane listens, on its own address.
const controlPort = "7080"

// subcommandHelp returns the help of a ferry subcommand, and whether the
// ferry binary has that subcommand at all.
func subcommandHelp(ctx context.Context, ferry, sub string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, ferry, sub, "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "ferry "+sub) {
		return "", false
	}
	return out.String(), true
}

// startControlPlane starts `ferry serve` beside the hosts, in the machine's
// namespaces, on the lab's control address, and waits until it answers and
// has written its admin token. It does nothing when the ferry binary has no
// serve command yet.
func (l *Lab) startControlPlane(ctx context.Context) error {
	if _, ok := subcommandHelp(ctx, l.ferry, "serve"); !ok {
		l.log.Warn("control plane not started: this ferry has no serve command")
		return nil
	}
	addr := controlAddrOf(l.st)
	data := filepath.Join(l.dir, "control")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	listen := net.JoinHostPort(addr, controlPort)
	cmd, exited, err := l.spawn("control", filepath.Join(data, "serve.log"), nil, l.ferry, "serve", "--data", data, "--listen", listen)
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	l.mu.Lock()
	l.st.Control = &ControlPlane{
		URL:            "http://" + listen,
		Address:        addr,
		PID:            cmd.Process.Pid,
		DataDir:        data,
		AdminTokenPath: filepath.Join(data, "admin.token"),
	}
	token := l.st.Control.AdminTokenPath
	l.mu.Unlock()
	if err := l.saveState(); err != nil {
		return err
	}
	err = waitFor(ctx, readyTimeout, exited, serving(token, dialable("tcp", listen)))
	if err != nil {
		out, _ := os.ReadFile(filepath.Join(data, "serve.log"))
		return fmt.Errorf("control plane not ready: %w\n%s", err, tail(string(out), 1500))
	}
	l.log.Info("control plane up", "url", "http://"+listen)
	return nil
}

// registerHosts creates the lab's hosts in the control plane (web hosts
// with role web, dns1 with role dns) and a node token for each, with the
// admin token the control plane wrote, and returns the token secrets by
// host name.
func (l *Lab) registerHosts(ctx context.Context, cp ControlPlane) (map[string]string, error) {
	admin, err := os.ReadFile(cp.AdminTokenPath)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	c, err := client.New(cp.URL, strings.TrimSpace(string(admin)), client.Options{})
	if err != nil {
		return nil, err
	}
	tokens := map[string]string{}
	for _, h := range l.Hosts() {
		mh := model.Host{Name: h.Name, Addresses: []string{h.Address}}
		for _, r := range h.Roles {
			mh.Roles = append(mh.Roles, model.Role(r))
		}
		if _, err := c.CreateHost(ctx, mh); err != nil {
			return nil, fmt.Errorf("create host %s: %w", h.Name, err)
		}
		tok, err := c.CreateToken(ctx, wire.TokenInput{Name: "lab-" + h.Name, Role: model.RoleNode, Host: h.Name})
		if err != nil {
			return nil, fmt.Errorf("node token for %s: %w", h.Name, err)
		}
		tokens[h.Name] = tok.Secret
	}
	return tokens, nil
}

// startAgents starts `ferry node` inside every host, bound to the host's
// address, once the control plane runs and has given each host a token. It
// does nothing when there is no control plane or no node command.
func (l *Lab) startAgents(ctx context.Context) error {
	l.mu.Lock()
	cp := l.st.Control
	l.mu.Unlock()
	if cp == nil {
		return nil
	}
	help, ok := subcommandHelp(ctx, l.ferry, "node")
	if !ok {
		l.log.Warn("node agents not started: this ferry has no node command")
		return nil
	}
	tokens, err := l.registerHosts(ctx, *cp)
	if err != nil {
		return fmt.Errorf("register hosts: %w", err)
	}
	for _, h := range l.Hosts() {
		tokenFile := hostPath(h.Dir, agentTokenFile)
		if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(tokenFile, []byte(tokens[h.Name]+"\n"), 0o600); err != nil {
			return err
		}
		argv := agentArgs(help, l.ferry, cp.URL, tokens[h.Name], h, l.agentACME())
		if err := l.startAgent(ctx, h, argv); err != nil {
			return err
		}
	}
	return nil
}

// Files inside a host that its agent reads.
const (
	agentTokenFile = "/etc/ferry-lab/node.token"
	tsigSecretFile = "/etc/ferry-lab/tsig.secret"
)

// agentACMEConfig is where a lab host's agent gets ACME certificates: the
// lab's Pebble, trusted by its listener's CA.
type agentACMEConfig struct {
	Directory, CAFile string
}

// agentACME returns the lab's ACME CA for agents; empty when none runs.
func (l *Lab) agentACME() agentACMEConfig {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.AcmeDirectory == "" {
		return agentACMEConfig{}
	}
	return agentACMEConfig{Directory: l.st.AcmeDirectory, CAFile: filepath.Join(l.dir, acmeDirName, "listener", pki.CACertFile)}
}

// agentArgs is the command line of a host's `ferry node`, given what the
// node command's help offers: the token from a file when it can read one,
// the host's address to bind to, on dns hosts ferry's built-in DNS server
// on the host's address, port 53, and on web hosts the lab's ACME CA.
func agentArgs(help, ferry, server, token string, h Host, ac agentACMEConfig) []string {
	has := func(flag string) bool { return strings.Contains(help, flag+" ") }
	argv := []string{ferry, "node", "--server", server}
	if has("--token-file") {
		argv = append(argv, "--token-file", agentTokenFile)
	} else {
		argv = append(argv, "--token", token)
	}
	if has("--host") {
		argv = append(argv, "--host", h.Name)
	}
	argv = append(argv, "--bind", h.Address)
	if has("--usage-every") {
		// Move plans in the lab see an order's size soon after it is made.
		argv = append(argv, "--usage-every", "10s")
	}
	if hasRole(h.Roles, RoleDNS) && has("--dns-listen") {
		argv = append(argv, "--dns-listen", net.JoinHostPort(h.Address, "53"), "--dns-ns", "ns1."+h.Name+".lab.test")
	}
	if hasRole(h.Roles, RoleWeb) && ac.Directory != "" && has("--acme-directory") {
		argv = append(argv, "--acme-directory", ac.Directory, "--acme-ca-file", ac.CAFile)
	}
	return argv
}

// startAgent starts one host's agent and waits until it runs.
func (l *Lab) startAgent(ctx context.Context, h Host, argv []string) error {
	if _, err := l.ctl(ctx, h.Name, ctlRequest{Op: "start", Service: ServiceAgent, Argv: argv}); err != nil {
		return fmt.Errorf("start agent: %w", err)
	}
	l.mu.Lock()
	if hp, err := l.st.host(h.Name); err == nil && !slices.Contains(hp.Services, ServiceAgent) {
		hp.Services = append(hp.Services, ServiceAgent)
	}
	l.mu.Unlock()
	if err := l.saveState(); err != nil {
		return err
	}
	return l.waitReady(ctx, h.Name, ServiceAgent)
}

// KillControlPlane kills the lab's control plane with SIGKILL, as a crash
// would, and waits until it is gone. StartControlPlane brings it back.
// With replicas (Config.Replicas) it kills the first replica only.
func (l *Lab) KillControlPlane(ctx context.Context) error {
	l.mu.Lock()
	cp := l.st.Control
	exited := l.exited["control"]
	l.mu.Unlock()
	if cp == nil || cp.PID == 0 {
		return fmt.Errorf("control plane: %w", ErrNotRunning)
	}
	if !isControlPlane(cp.PID, l.dir) {
		return nil // dead already
	}
	if err := syscall.Kill(cp.PID, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill control plane: %w", err)
	}
	return waitExited(ctx, exited, cp.PID, "control plane")
}

// waitExited waits until process pid (what, in errors) has exited: until
// exited is closed when this process started it, or it is not alive.
func waitExited(ctx context.Context, exited <-chan struct{}, pid int, what string) error {
	return waitFor(ctx, readyTimeout, nil, func() error {
		if exited != nil {
			select {
			case <-exited:
				return nil
			default:
				return fmt.Errorf("%s (pid %d) still running", what, pid)
			}
		}
		if alive(pid) {
			return fmt.Errorf("%s (pid %d) still running", what, pid)
		}
		return nil
	})
}

// StartControlPlane starts the control plane again after KillControlPlane,
// as Up started it (same data directory, address and admin token), and
// waits until it answers.
func (l *Lab) StartControlPlane(ctx context.Context) error {
	l.mu.Lock()
	cp := l.st.Control
	l.mu.Unlock()
	if cp == nil {
		return fmt.Errorf("control plane: the lab was started without one")
	}
	if len(cp.Replicas) > 0 {
		return l.StartReplica(ctx, 1) // KillControlPlane killed the first
	}
	if isControlPlane(cp.PID, l.dir) {
		return fmt.Errorf("control plane: already running (pid %d)", cp.PID)
	}
	return l.startControlPlane(ctx)
}
