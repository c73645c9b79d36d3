package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// KillHost kills a whole host, as a power cut would: its first process dies
// by SIGKILL and the kernel ends every other process of its PID namespace
// with it (services, agent, whatever they ran). It returns once all of
// them are gone. The host's disk (its directory in the lab) stays as the
// dead processes left it; RestartHost boots the host again from it.
func (l *Lab) KillHost(ctx context.Context, host string) error {
	pid, err := l.initPID(host)
	if err != nil {
		return err
	}
	l.mu.Lock()
	exited := l.exited[host]
	l.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill host %s: %w", host, err)
	}
	// The first process is reaped only once the kernel has ended every
	// process of its namespace.
	if err := waitExited(ctx, exited, pid, "host "+host); err != nil {
		return fmt.Errorf("kill host %s: %w", host, err)
	}
	l.mu.Lock()
	if h, herr := l.st.host(host); herr == nil {
		h.InitPID = 0
	}
	l.mu.Unlock()
	l.log.Info("host killed", "host", host, "pid", pid)
	return l.saveState()
}

// RestartHost boots a host that KillHost killed, from its disk as it was:
// the same directories, data, configuration and node state. As on a real
// server after a power cut, /run starts empty and each service finds what
// its last run left (MariaDB and PostgreSQL recover from their logs); a
// PostgreSQL pid file left in the data directory is removed, as Debian's
// pg_ctlcluster removes a stale one. The host's agent starts again too,
// when it ran before. It returns once every service answers.
func (l *Lab) RestartHost(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if h.InitPID != 0 && isHostInit(h.InitPID, l.dir) && alive(h.InitPID) {
		return fmt.Errorf("restart host %s: it is running (pid %d)", host, h.InitPID)
	}
	data, err := os.ReadFile(filepath.Join(h.Dir, "host.json"))
	if err != nil {
		return fmt.Errorf("restart host %s: %w", host, err)
	}
	var spec initSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("restart host %s: parse spec: %w", host, err)
	}
	if err := clearRun(h); err != nil {
		return fmt.Errorf("restart host %s: %w", host, err)
	}
	if hasRole(h.Roles, RoleWeb) {
		pidFile := hostPath(h.Dir, pgDataDir+"/postmaster.pid")
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restart host %s: %w", host, err)
		}
	}
	self := l.self
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return fmt.Errorf("restart host %s: find own executable: %w", host, err)
		}
	}
	if err := l.startHost(ctx, self, spec); err != nil {
		return fmt.Errorf("restart host %s: %w", host, err)
	}
	l.mu.Lock()
	cp := l.st.Control
	l.mu.Unlock()
	if cp == nil || !slices.Contains(h.Services, ServiceAgent) {
		return nil
	}
	help, ok := subcommandHelp(ctx, l.ferry, "node")
	if !ok {
		return fmt.Errorf("restart host %s: %s has no node command", host, l.ferry)
	}
	token, err := os.ReadFile(hostPath(h.Dir, agentTokenFile))
	if err != nil {
		return fmt.Errorf("restart host %s: agent token: %w", host, err)
	}
	argv := agentArgs(help, l.ferry, cp.URL, strings.TrimSpace(string(token)), h, l.agentACME())
	if err := l.startAgent(ctx, h, argv); err != nil {
		return fmt.Errorf("restart host %s: %w", host, err)
	}
	return nil
}

// clearRun empties a stopped host's /run and makes its skeleton again.
func clearRun(h Host) error {
	run := filepath.Join(h.Dir, "run")
	entries, err := os.ReadDir(run)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(run, e.Name())); err != nil {
			return err
		}
	}
	p := &preparer{ctx: context.Background(), dir: h.Dir}
	p.makeRun(hasRole(h.Roles, RoleWeb), hasRole(h.Roles, RoleDNS))
	return p.err
}
