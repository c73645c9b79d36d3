package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// exitError stands in for *exec.ExitError in scripted answers.
type exitError int

func (e exitError) Error() string { return "exit status " + strconv.Itoa(int(e)) }
func (e exitError) ExitCode() int { return int(e) }

// call is one command a test's Applier ran.
type call struct {
	argv  string // space-joined
	stdin string
	// env and asUID are a streaming command's own environment (nil: the
	// node's) and the user it runs as (-1: the node's).
	env   []string
	asUID int64
}

// answer is what a scripted command prints and how it exits.
type answer struct {
	stdout, stderr string
	code           int
}

// fakeHost answers the commands an Applier runs as a small in-memory host:
// users and groups for getent, useradd, usermod, userdel, groupadd and groupdel,
// crontabs for crontab, and scripted answers for config tests and reloads.
type fakeHost struct {
	mu       sync.Mutex
	calls    []call
	users    map[string]string // login → passwd line
	groups   map[string]string // name → group line
	crontabs map[string]string
	// answers overrides the answer to a command, by its space-joined argv
	// or its first word.
	answers map[string]answer
	// respond, when set, answers first: ok false leaves the command to
	// answers and the simulation.
	respond func(argv []string, stdin string) (a answer, ok bool)
	nextUID int
}

func newFakeHost() *fakeHost {
	h := &fakeHost{
		users:    map[string]string{},
		groups:   map[string]string{},
		crontabs: map[string]string{},
		answers:  map[string]answer{},
		nextUID:  os.Getuid(),
	}
	// www-data is the test process's own group, so chown works unprivileged.
	h.groups["www-data"] = fmt.Sprintf("www-data:x:%d:", os.Getgid())
	return h
}

// addUser makes login exist with home.
func (h *fakeHost) addUser(login, home string) {
	h.users[login] = fmt.Sprintf("%s:x:%d:%d:ferry:%s:/bin/bash", login, os.Getuid(), os.Getgid(), home)
	h.groups[login] = fmt.Sprintf("%s:x:%d:", login, os.Getgid())
}

func (h *fakeHost) run(_ context.Context, stdin []byte, argv ...string) ([]byte, []byte, error) {
	return h.answer(call{asUID: -1}, stdin, argv)
}

// answer records c, the command argv that read stdin, and answers it.
func (h *fakeHost) answer(c call, stdin []byte, argv []string) ([]byte, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	joined := strings.Join(argv, " ")
	c.argv, c.stdin = joined, string(stdin)
	h.calls = append(h.calls, c)
	var a answer
	ok := false
	if h.respond != nil {
		a, ok = h.respond(argv, string(stdin))
	}
	if !ok {
		a, ok = h.answers[joined]
	}
	if !ok {
		a, ok = h.answers[argv[0]]
	}
	if !ok {
		a = h.simulate(argv, string(stdin))
	}
	var err error
	if a.code != 0 {
		err = exitError(a.code)
	}
	return []byte(a.stdout), []byte(a.stderr), err
}

// start answers a streaming command as run does, once it has read all of
// its input: a pipeline of fake commands flows as a real one would.
func (h *fakeHost) start(_ context.Context, c streamCmd) (func() error, error) {
	done := make(chan error, 1)
	go func() {
		var in []byte
		if c.stdin != nil {
			var err error
			if in, err = io.ReadAll(c.stdin); err != nil {
				done <- err
				return
			}
		}
		rec := call{env: c.env, asUID: -1}
		if c.cred != nil {
			rec.asUID = int64(c.cred.Uid)
		}
		out, errOut, err := h.answer(rec, in, c.argv)
		if c.stdout != nil {
			c.stdout.Write(out)
		}
		if c.stderr != nil {
			c.stderr.Write(errOut)
		}
		done <- err
	}()
	return func() error { return <-done }, nil
}

func (h *fakeHost) simulate(argv []string, stdin string) answer {
	last := argv[len(argv)-1]
	switch argv[0] {
	case "getent":
		db := h.users
		if argv[1] == "group" {
			db = h.groups
		}
		if len(argv) == 2 {
			var all strings.Builder
			for _, line := range db {
				all.WriteString(line + "\n")
			}
			return answer{stdout: all.String()}
		}
		if line, ok := db[argv[2]]; ok {
			return answer{stdout: line + "\n"}
		}
		return answer{code: 2}
	case "useradd":
		if _, ok := h.users[last]; ok {
			return answer{stderr: "useradd: user '" + last + "' already exists", code: 9}
		}
		home := argvAfter(argv, "--home-dir")
		h.addUser(last, home)
		if containsArg(argv, "--create-home") {
			os.MkdirAll(home, 0o750)
		}
	case "usermod", "chpasswd":
	case "userdel":
		if _, ok := h.users[last]; !ok {
			return answer{stderr: "userdel: user '" + last + "' does not exist", code: 6}
		}
		if containsArg(argv, "--remove") {
			home := strings.Split(h.users[last], ":")[5]
			os.RemoveAll(home)
		}
		delete(h.users, last)
		delete(h.groups, last)
	case "groupdel":
		delete(h.groups, last)
	case "groupadd":
		if _, ok := h.groups[last]; ok {
			return answer{stderr: "groupadd: group '" + last + "' already exists", code: 9}
		}
		h.groups[last] = fmt.Sprintf("%s:x:%s:", last, argvAfter(argv, "--gid"))
	case "crontab":
		login := argv[2]
		if _, ok := h.users[login]; !ok {
			return answer{stderr: "crontab: user '" + login + "' unknown", code: 1}
		}
		tab, has := h.crontabs[login]
		switch argv[3] {
		case "-l":
			if !has {
				return answer{stderr: "no crontab for " + login, code: 1}
			}
			return answer{stdout: tab}
		case "-r":
			if !has {
				return answer{stderr: "no crontab for " + login, code: 1}
			}
			delete(h.crontabs, login)
		case "-":
			h.crontabs[login] = stdin
		}
	case "apachectl":
		return answer{stderr: "Syntax OK"}
	case "php-fpm8.2":
		return answer{stderr: "NOTICE: configuration file /etc/php/8.2/fpm/php-fpm.conf test is successful"}
	default:
		return answer{stderr: argv[0] + ": not simulated", code: 127}
	}
	return answer{}
}

// ran returns the commands run so far, space-joined, and forgets them.
func (h *fakeHost) ran() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		out = append(out, c.argv)
	}
	h.calls = nil
	return out
}

// stdinOf returns what the last command starting with prefix read.
func (h *fakeHost) stdinOf(prefix string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.calls) - 1; i >= 0; i-- {
		if strings.HasPrefix(h.calls[i].argv, prefix) {
			return h.calls[i].stdin
		}
	}
	return ""
}

func argvAfter(argv []string, flag string) string {
	for i, a := range argv[:len(argv)-1] {
		if a == flag {
			return argv[i+1]
		}
	}
	return ""
}

func containsArg(argv []string, arg string) bool {
	for _, a := range argv {
		if a == arg {
			return true
		}
	}
	return false
}

// testEnv is an Applier whose files live under a temporary directory and
// whose commands go to a fakeHost.
type testEnv struct {
	a    *Applier
	host *fakeHost
	root string
	// fpmReloads receives the SIGUSR2 a PHP-FPM reload sends: the pid file
	// names the test process itself.
	fpmReloads chan os.Signal
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	root := t.TempDir()
	dir := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	pidFile := filepath.Join(dir("run"), "php-fpm.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{root: root, host: newFakeHost(), fpmReloads: make(chan os.Signal, 16)}
	signal.Notify(e.fpmReloads, syscall.SIGUSR2)
	t.Cleanup(func() { signal.Stop(e.fpmReloads) })
	e.a = New(Config{
		MembersRoot:          dir("members"),
		ApacheSitesAvailable: dir("sites-available"),
		ApacheSitesEnabled:   dir("sites-enabled"),
		FPMPoolDir:           dir("pool.d"),
		FPMPidFile:           pidFile,
		LockFile:             filepath.Join(root, "run", "ferry-node.lock"),
		HTTPS:                HTTPSConfig{TLSDir: filepath.Join(root, "tls"), ChallengeDir: filepath.Join(root, "acme-challenge"), AccountDir: filepath.Join(root, "acme")},
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e.a.runner = e.host
	e.a.accountDir = dir("etc")
	return e
}

// path returns a path under the environment's root.
func (e *testEnv) path(elem ...string) string {
	return filepath.Join(append([]string{e.root}, elem...)...)
}

// reloadedFPM reports whether PHP-FPM got a reload signal since last asked.
func (e *testEnv) reloadedFPM(t *testing.T) bool {
	t.Helper()
	select {
	case <-e.fpmReloads:
		for len(e.fpmReloads) > 0 {
			<-e.fpmReloads
		}
		return true
	case <-time.After(200 * time.Millisecond):
		return false
	}
}
