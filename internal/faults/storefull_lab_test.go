//go:build lab

package faults

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// ownServe is a `ferry serve` of the test's own, on a data directory
// of its choosing.
type ownServe struct {
	t          *testing.T
	ferry, dir string
	log        string
	listen     string
	cmd        *exec.Cmd
}

func (c *ownServe) start() {
	c.t.Helper()
	logf, err := os.OpenFile(c.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	c.cmd = exec.Command(c.ferry, "serve", "--data", c.dir, "--listen", c.listen)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(c.dir, "admin.token")); err == nil {
			if conn, err := net.DialTimeout("tcp", c.listen, time.Second); err == nil {
				conn.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(c.log)
			c.t.Fatalf("ferry serve on %s did not answer:\n%s", c.dir, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the control plane with SIGKILL, as a crash would.
func (c *ownServe) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
	c.cmd = nil
}

// fill writes to a file on dir's file system until it is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return path
		}
	}
}

// The control plane's store runs out of disk: every write is refused with
// an error saying so and what to do, nothing half-made is kept, reads go
// on, a crash while full loses nothing committed, and writes work again
// once there is room.
func TestLabStoreDiskFull(t *testing.T) {
	e := newEnv(t)
	data := t.TempDir()
	if err := syscall.Mount("ferry-store-full", data, "tmpfs", 0, "size=8m,mode=0700"); err != nil {
		t.Fatalf("mount a small file system for the store: %v", err)
	}
	defer func() {
		if err := syscall.Unmount(data, syscall.MNT_DETACH); err != nil {
			t.Error(err)
		}
	}()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	cp := &ownServe{t: t, ferry: filepath.Join(e.Lab.Dir(), "bin", "ferry"), dir: data, log: filepath.Join(t.TempDir(), "serve.log"), listen: listen}
	cp.start()
	defer cp.kill()
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	own := *e
	own.URL, own.Token = "http://"+listen, strings.TrimSpace(string(tok))
	secrets.add(own.Token)
	ferry := func(args ...string) (string, string, int) { return own.FerryCode("", args...) }

	if _, stderr, code := ferry("member", "add", "before"); code != 0 {
		t.Fatalf("member add before the disk is full: %d %s", code, stderr)
	}
	filler := fill(t, data)

	var refusals []string
	for _, args := range [][]string{
		{"member", "add", "during"},
		{"host", "add", "web9", "--address", "127.0.9.9", "--role", "web"},
		{"token", "create", "--role", "admin", "--name", "during"},
	} {
		_, stderr, code := ferry(args...)
		line := fmt.Sprintf("%s: exit %d: %s", strings.Join(args[:2], " "), code, strings.TrimSpace(stderr))
		refusals = append(refusals, line)
		t.Log(line)
		if code == 0 || !strings.Contains(stderr, "no disk space left, so nothing was changed; free space on its disk and try again") ||
			!strings.Contains(stderr, filepath.Join(data, "ferry.db")) {
			t.Errorf("a write into the full store: %s", line)
		}
	}
	out, stderr, code := ferry("member", "list")
	if code != 0 || !strings.Contains(out, "before") || strings.Contains(out, "during") {
		t.Errorf("member list with the store full: exit %d: %s%s", code, out, stderr)
	}

	// A crash while full, then room again.
	cp.kill()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	cp.start()
	out, stderr, code = ferry("member", "list")
	if code != 0 || !strings.Contains(out, "before") || strings.Contains(out, "during") {
		t.Errorf("member list after a crash while full: exit %d: %s%s", code, out, stderr)
	}
	if hosts, _, _ := ferry("host", "list"); strings.Contains(hosts, "web9") {
		t.Errorf("a host refused while full is there: %s", hosts)
	}
	if _, stderr, code := ferry("member", "add", "after"); code != 0 {
		t.Errorf("member add once there is room: exit %d: %s", code, stderr)
	}
	cp.kill()
	integrity := integrityCheck(t, filepath.Join(data, "ferry.db"))
	if integrity != "ok" {
		t.Errorf("integrity check of the store: %s", integrity)
	}
	writeReport(t, fmt.Sprintf("| the control plane's store (SQLite) on a full 8 MiB file system | every write refused with an error saying so and what to do; reads go on; nothing half-made kept; a crash while full loses nothing; writes work again once there is room | %s: %s; member list answered; after a kill -9 while full and room made again: the refused writes absent, a new one kept, integrity check %s |",
		passed(t), oneLine(strings.Join(refusals, "; ")), integrity))
}

// integrityCheck runs SQLite's own check on a store file no process uses.
func integrityCheck(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil {
		t.Fatalf("integrity check of %s: %v", path, err)
	}
	return ok
}
