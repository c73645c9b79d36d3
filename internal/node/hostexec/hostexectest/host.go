// Package hostexectest is a fake host for the node's unit tests: a
// hostexec.Runner that answers the commands the appliers and the move tasks
// run from a small in-memory host (users, groups, crontabs) and from
// scripted answers, and records what ran.
package hostexectest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"ferry/internal/node/hostexec"
)

// ExitError stands in for *exec.ExitError in scripted answers.
type ExitError int

// Error reads as *exec.ExitError's.
func (e ExitError) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// ExitCode is the exit status, as *exec.ExitError gives it.
func (e ExitError) ExitCode() int { return int(e) }

// Call is one command a test's host ran.
type Call struct {
	Argv  string // space-joined
	Stdin string
	// Env and AsUID are a streaming command's own environment (nil: the
	// node's) and the user it runs as (-1: the node's).
	Env   []string
	AsUID int64
}

// Answer is what a scripted command prints and how it exits.
type Answer struct {
	Stdout, Stderr string
	Code           int
}

// Host answers the commands an Applier runs as a small in-memory host:
// users and groups for getent, useradd, usermod, userdel, groupadd and groupdel,
// crontabs for crontab, and scripted answers for config tests and reloads.
// It is a hostexec.Runner.
type Host struct {
	mu       sync.Mutex
	Calls    []Call
	Users    map[string]string // login → passwd line
	Groups   map[string]string // name → group line
	Crontabs map[string]string
	// Answers overrides the answer to a command, by its space-joined argv
	// or its first word.
	Answers map[string]Answer
	// Respond, when set, answers first: ok false leaves the command to
	// Answers and the simulation.
	Respond func(argv []string, stdin string) (a Answer, ok bool)
	nextUID int
}

// NewHost returns a host with no users and no crontabs, whose www-data
// group is the test process's own.
func NewHost() *Host {
	h := &Host{
		Users:    map[string]string{},
		Groups:   map[string]string{},
		Crontabs: map[string]string{},
		Answers:  map[string]Answer{},
		nextUID:  os.Getuid(),
	}
	// www-data is the test process's own group, so chown works unprivileged.
	h.Groups["www-data"] = fmt.Sprintf("www-data:x:%d:", os.Getgid())
	return h
}

// AddUser makes login exist with home.
func (h *Host) AddUser(login, home string) {
	h.Users[login] = fmt.Sprintf("%s:x:%d:%d:ferry:%s:/bin/bash", login, os.Getuid(), os.Getgid(), home)
	h.Groups[login] = fmt.Sprintf("%s:x:%d:", login, os.Getgid())
}

// Run answers a command from Respond, Answers or the simulated host.
func (h *Host) Run(_ context.Context, stdin []byte, argv ...string) ([]byte, []byte, error) {
	return h.answer(Call{AsUID: -1}, stdin, argv)
}

// answer records c, the command argv that read stdin, and answers it.
func (h *Host) answer(c Call, stdin []byte, argv []string) ([]byte, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if base := filepath.Base(argv[0]); strings.HasPrefix(base, "php-fpm") {
		// A test's PHP-FPM binaries live under its temporary root;
		// tests name them as a host's PATH would.
		argv = append([]string{base}, argv[1:]...)
	}
	joined := strings.Join(argv, " ")
	c.Argv, c.Stdin = joined, string(stdin)
	h.Calls = append(h.Calls, c)
	var a Answer
	ok := false
	if h.Respond != nil {
		a, ok = h.Respond(argv, string(stdin))
	}
	if !ok {
		a, ok = h.Answers[joined]
	}
	if !ok {
		a, ok = h.Answers[argv[0]]
	}
	if !ok {
		a = h.simulate(argv, string(stdin))
	}
	var err error
	if a.Code != 0 {
		err = ExitError(a.Code)
	}
	return []byte(a.Stdout), []byte(a.Stderr), err
}

// Start answers a streaming command as Run does, once it has read all of
// its input: a pipeline of fake commands flows as a real one would.
func (h *Host) Start(_ context.Context, c hostexec.Cmd) (func() error, error) {
	done := make(chan error, 1)
	go func() {
		var in []byte
		if c.Stdin != nil {
			var err error
			if in, err = io.ReadAll(c.Stdin); err != nil {
				done <- err
				return
			}
		}
		rec := Call{Env: c.Env, AsUID: -1}
		if c.Cred != nil {
			rec.AsUID = int64(c.Cred.Uid)
		}
		out, errOut, err := h.answer(rec, in, c.Argv)
		if c.Stdout != nil {
			c.Stdout.Write(out)
		}
		if c.Stderr != nil {
			c.Stderr.Write(errOut)
		}
		done <- err
	}()
	return func() error { return <-done }, nil
}

func (h *Host) simulate(argv []string, stdin string) Answer {
	last := argv[len(argv)-1]
	switch argv[0] {
	case "getent":
		db := h.Users
		if argv[1] == "group" {
			db = h.Groups
		}
		if len(argv) == 2 {
			var all strings.Builder
			for _, line := range db {
				all.WriteString(line + "\n")
			}
			return Answer{Stdout: all.String()}
		}
		if line, ok := db[argv[2]]; ok {
			return Answer{Stdout: line + "\n"}
		}
		return Answer{Code: 2}
	case "useradd":
		if _, ok := h.Users[last]; ok {
			return Answer{Stderr: "useradd: user '" + last + "' already exists", Code: 9}
		}
		home := ArgvAfter(argv, "--home-dir")
		h.AddUser(last, home)
		if containsArg(argv, "--create-home") {
			os.MkdirAll(home, 0o750)
		}
	case "usermod", "chpasswd":
	case "userdel":
		if _, ok := h.Users[last]; !ok {
			return Answer{Stderr: "userdel: user '" + last + "' does not exist", Code: 6}
		}
		if containsArg(argv, "--remove") {
			home := strings.Split(h.Users[last], ":")[5]
			os.RemoveAll(home)
		}
		delete(h.Users, last)
		delete(h.Groups, last)
	case "groupdel":
		delete(h.Groups, last)
	case "groupadd":
		if _, ok := h.Groups[last]; ok {
			return Answer{Stderr: "groupadd: group '" + last + "' already exists", Code: 9}
		}
		h.Groups[last] = fmt.Sprintf("%s:x:%s:", last, ArgvAfter(argv, "--gid"))
	case "crontab":
		login := argv[2]
		if _, ok := h.Users[login]; !ok {
			return Answer{Stderr: "crontab: user '" + login + "' unknown", Code: 1}
		}
		tab, has := h.Crontabs[login]
		switch argv[3] {
		case "-l":
			if !has {
				return Answer{Stderr: "no crontab for " + login, Code: 1}
			}
			return Answer{Stdout: tab}
		case "-r":
			if !has {
				return Answer{Stderr: "no crontab for " + login, Code: 1}
			}
			delete(h.Crontabs, login)
		case "-":
			h.Crontabs[login] = stdin
		}
	case "apachectl":
		return Answer{Stderr: "Syntax OK"}
	case "postmap":
		// postmap hash:FILE builds FILE.db.
		table := strings.TrimPrefix(argv[len(argv)-1], "hash:")
		if err := os.WriteFile(table+".db", nil, 0o644); err != nil {
			return Answer{Stderr: "postmap: fatal: " + err.Error(), Code: 1}
		}
	case "postfix", "doveadm", "postqueue":
		// reload: the daemons read their maps again.
	case "php-fpm7.4", "php-fpm8.2", "php-fpm8.3", "php-fpm8.4":
		return Answer{Stderr: "NOTICE: configuration file /etc/php/" + strings.TrimPrefix(argv[0], "php-fpm") + "/fpm/php-fpm.conf test is successful"}
	default:
		return Answer{Stderr: argv[0] + ": not simulated", Code: 127}
	}
	return Answer{}
}

// Ran returns the commands run so far, space-joined, and forgets them.
func (h *Host) Ran() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.Calls {
		out = append(out, c.Argv)
	}
	h.Calls = nil
	return out
}

// StdinOf returns what the last command starting with prefix read.
func (h *Host) StdinOf(prefix string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.Calls) - 1; i >= 0; i-- {
		if strings.HasPrefix(h.Calls[i].Argv, prefix) {
			return h.Calls[i].Stdin
		}
	}
	return ""
}

// ArgvAfter returns the argument after flag in argv, or "".
func ArgvAfter(argv []string, flag string) string {
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

// CallsOf returns the calls whose argv starts with prefix.
func (h *Host) CallsOf(prefix string) []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Call
	for _, c := range h.Calls {
		if strings.HasPrefix(c.Argv, prefix) {
			out = append(out, c)
		}
	}
	return out
}
