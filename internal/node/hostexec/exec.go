// Package hostexec runs the node's host commands. Every command an applier
// or a move task runs goes through a Runner, from an argument vector and
// never a shell, so the host side runs against a fake host in unit tests
// (package hostexectest) and against the real one in the lab.
package hostexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Runner runs a host command from an argument vector, never through a
// shell. Tests replace it with a script of answers.
type Runner interface {
	// Run runs a command to its end with stdin as its input and returns
	// what it printed.
	Run(ctx context.Context, stdin []byte, argv ...string) (stdout, stderr []byte, err error)
	// Start starts a command whose input and output flow while it runs
	// (a dump into ssh, rsync's progress) and returns how to wait for its
	// end. wait returns once the command has exited and its output has
	// been written.
	Start(ctx context.Context, c Cmd) (wait func() error, err error)
}

// Cmd is a command with streams for its standard input and output.
type Cmd struct {
	Argv   []string
	Stdin  io.Reader // nil: no input
	Stdout io.Writer // nil: discarded
	Stderr io.Writer // nil: discarded
	// Path is the program to run when argv[0] is only the name it is
	// shown under; empty: argv[0], looked up in PATH.
	Path string
	// Env is the whole environment; nil: the node's own, in the C locale.
	Env []string
	// Cred runs the command as another user; nil: as the node.
	Cred *syscall.Credential
	// EndWithNode has the kernel kill the command when the node agent
	// dies, for a command that would otherwise outlive it (an ssh
	// master, which reads no input).
	EndWithNode bool
}

// Local runs commands for real, in the C locale so that their messages
// read the same on every host.
type Local struct{}

// Run runs argv on this host.
func (Local) Run(ctx context.Context, stdin []byte, argv ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.Bytes(), errOut.Bytes(), err
}

// Start starts c on this host.
func (Local) Start(ctx context.Context, c Cmd) (func() error, error) {
	name := c.Argv[0]
	if c.Path != "" {
		name = c.Path
	}
	cmd := exec.CommandContext(ctx, name, c.Argv[1:]...)
	cmd.Args[0] = c.Argv[0]
	cmd.Env = c.Env
	if c.Env == nil {
		cmd.Env = append(os.Environ(), "LC_ALL=C")
	}
	if c.Cred != nil || c.EndWithNode {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.Cred}
		if c.EndWithNode {
			cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		}
	}
	cmd.Dir = "/"
	if c.Stdin != nil {
		cmd.Stdin = c.Stdin
	}
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	if c.Stderr != nil {
		cmd.Stderr = c.Stderr
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd.Wait, nil
}

// Run runs argv through r and, when it fails, returns an error that
// names the command and carries what it printed, for an admin to read.
func Run(ctx context.Context, r Runner, stdin []byte, argv ...string) (string, error) {
	out, errOut, err := r.Run(ctx, stdin, argv...)
	if err != nil {
		return string(out), &CmdError{argv: argv, Output: commandOutput(errOut, out), err: err}
	}
	return string(out), nil
}

// CmdError is a command that failed: what it said, and its exit status.
type CmdError struct {
	argv []string
	// Output is what the command said, on one line (stderr, else stdout).
	Output string
	err    error
}

// Error names the command and says what it printed and how it ended.
func (e *CmdError) Error() string {
	name := e.argv[0]
	if len(e.argv) > 1 && !strings.HasPrefix(e.argv[1], "-") {
		name += " " + e.argv[1]
	}
	switch {
	case e.Output == "":
		return fmt.Sprintf("%s: %v", name, e.err)
	case strings.HasPrefix(e.Output, e.argv[0]+":"):
		// Most tools name themselves already.
		return fmt.Sprintf("%s (%v)", e.Output, e.err)
	default:
		return fmt.Sprintf("%s: %s (%v)", name, e.Output, e.err)
	}
}

// Unwrap returns how the command ended (an *exec.ExitError when it ran).
func (e *CmdError) Unwrap() error { return e.err }

// ExitCode returns err's exit status, or -1 when err is not a command that
// ran and exited (*exec.ExitError, or a test's stand-in for it).
func ExitCode(err error) int {
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// commandOutput picks what a failed command said (stderr, else stdout), on
// one line and cut to a length a state message can carry.
func commandOutput(stderr, stdout []byte) string {
	s := strings.TrimSpace(string(stderr))
	if s == "" {
		s = strings.TrimSpace(string(stdout))
	}
	return OneLine(s, 600)
}

// OneLine joins s's lines with " | " and cuts it to at most max bytes.
func OneLine(s string, max int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	s = strings.Join(lines, " | ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + " …"
	}
	return s
}
