package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// labEntries are the names a lab directory may hold; Down refuses to remove
// a directory holding anything else, so a wrong --dir cannot delete data.
var labEntries = []string{StateFile, StateFile + ".tmp", "hosts", "control", "bin", "scratch", acmeDirName}

// Down removes the lab in dir: it kills every process of the lab (each
// host's first process, which takes the whole host with it, and the control
// plane), removes the lab's nftables table and deletes the directory. It
// works from whatever the directory holds, also when Up was killed half way,
// and succeeds when there is nothing to remove.
func Down(ctx context.Context, dir string) error {
	if dir == "" {
		dir = DefaultDir
	}
	dir = filepath.Clean(dir)
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("lab dir %q: must be an absolute path", dir)
	}
	if err := checkDirOutsideCovered(dir); err != nil {
		return err
	}
	if err := checkLabDir(dir); err != nil {
		return err
	}
	st, err := ReadState(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		slog.Warn("lab state unreadable; looking for the lab's processes instead", "dir", dir, "err", err)
	}
	var errs []error
	if err := killProcesses(ctx, labProcesses(dir, st)); err != nil {
		errs = append(errs, err)
	}
	if st != nil && st.NFTable != "" {
		if err := applyNFT(ctx, renderNFT(st.NFTable, nil, nil)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := unmountUnder(dir); err != nil {
		errs = append(errs, err)
	}
	if err := removeAll(ctx, dir); err != nil {
		errs = append(errs, fmt.Errorf("remove lab dir: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab down %s: %w", dir, errors.Join(errs...))
	}
	return nil
}

// removeAll removes dir, trying again for a while: processes killed a
// moment ago may still finish a write on their way out.
func removeAll(ctx context.Context, dir string) error {
	var err error
	_ = waitFor(ctx, 10*time.Second, nil, func() error {
		err = os.RemoveAll(dir)
		return err
	})
	return err
}

// Down removes the lab, as the package-level Down does, and reaps the
// hosts' first processes this process started.
func (l *Lab) Down(ctx context.Context) error {
	err := Down(ctx, l.dir)
	l.mu.Lock()
	exited := make([]chan struct{}, 0, len(l.exited))
	for _, ch := range l.exited {
		exited = append(exited, ch)
	}
	l.mu.Unlock()
	for _, ch := range exited {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
		}
	}
	return err
}

// checkLabDir refuses a directory that does not look like a lab's: one
// without a state file for itself that holds anything a lab does not make.
func checkLabDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lab dir: %w", err)
	}
	if st, err := ReadState(dir); err == nil && st.Dir == dir {
		return nil // tests may have put files of their own there
	}
	for _, e := range entries {
		if !slices.Contains(labEntries, e.Name()) {
			return fmt.Errorf("lab dir %s: holds %s, which no lab makes; not removing it", dir, e.Name())
		}
	}
	return nil
}

// labProcess is a process of a lab and how to stop it.
type labProcess struct {
	pid int
	// graceful processes get SIGTERM and a few seconds before SIGKILL.
	graceful bool
}

// labProcesses finds the lab's processes that are alive: those the state
// file names (checked by their command line, in case a pid was reused) and
// any first process of a host of this lab that the state does not know (Up
// killed between start and record).
func labProcesses(dir string, st *State) []labProcess {
	var out []labProcess
	seen := map[int]bool{}
	add := func(pid int, graceful bool) {
		if pid > 0 && !seen[pid] && alive(pid) {
			seen[pid] = true
			out = append(out, labProcess{pid: pid, graceful: graceful})
		}
	}
	if st != nil {
		if st.Control != nil && isControlPlane(st.Control.PID, dir) {
			add(st.Control.PID, true)
		}
		if isAcmeCA(st.AcmePID, dir) {
			add(st.AcmePID, true)
		}
		if st.Control != nil {
			for _, r := range st.Control.Replicas {
				if isControlPlane(r.PID, dir) {
					add(r.PID, true)
				}
			}
		}
		if isBalancer(st.BalancerPID, dir) {
			add(st.BalancerPID, true)
		}
		if isLabPostgres(st.PostgresPID, dir) {
			add(st.PostgresPID, true)
		}
		for _, h := range st.Hosts {
			if isHostInit(h.InitPID, dir) {
				add(h.InitPID, false)
			}
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if isHostInit(pid, dir) {
			add(pid, false)
		} else if isControlPlane(pid, dir) || isAcmeCA(pid, dir) || isBalancer(pid, dir) || isLabPostgres(pid, dir) {
			add(pid, true)
		}
	}
	return out
}

// cmdline returns a process's arguments.
func cmdline(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}

// isHostInit reports whether pid is the first process of a host of the lab
// in dir, by the arguments hostInitArgs gives it.
func isHostInit(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	args := cmdline(pid)
	i := slices.Index(args, "--spec")
	return i > 0 && i+1 < len(args) && slices.Contains(args, "hostinit") &&
		strings.HasPrefix(args[i+1], filepath.Join(dir, "hosts")+"/")
}

// isControlPlane reports whether pid is the lab's `ferry serve`.
func isControlPlane(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	args := cmdline(pid)
	i := slices.Index(args, "--data")
	return i > 0 && i+1 < len(args) && slices.Contains(args, "serve") &&
		args[i+1] == filepath.Join(dir, "control")
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// killProcesses stops processes and waits until they are gone. Killing a
// host's first process makes the kernel kill everything in its namespace.
func killProcesses(ctx context.Context, procs []labProcess) error {
	graceful := false
	for _, p := range procs {
		if p.graceful {
			_ = syscall.Kill(p.pid, syscall.SIGTERM)
			graceful = true
		} else {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	if graceful {
		_ = waitGone(ctx, procs, 5*time.Second)
		for _, p := range procs {
			if alive(p.pid) {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
	}
	return waitGone(ctx, procs, 20*time.Second)
}

// waitGone waits until none of procs is alive.
func waitGone(ctx context.Context, procs []labProcess, timeout time.Duration) error {
	return waitFor(ctx, timeout, nil, func() error {
		for _, p := range procs {
			if alive(p.pid) {
				return fmt.Errorf("pid %d still alive", p.pid)
			}
		}
		return nil
	})
}

// unmountUnder detaches mounts below dir in this mount namespace. A lab
// makes none there, but a tool run by hand might have.
func unmountUnder(dir string) error {
	points, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	// Deepest first.
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// MountsUnder lists the mount points at or below dir in this process's mount
// table (/proc/self/mountinfo). After Down it is empty for the lab's dir.
func MountsUnder(dir string) ([]string, error) { return mountsUnder(filepath.Clean(dir)) }

func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		// Field 4 is the mount point, with spaces and such octal-escaped.
		point := unescapeMount(fields[4])
		if within(point, dir) {
			out = append(out, point)
		}
	}
	return out, sc.Err()
}

// unescapeMount undoes the octal escapes of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
