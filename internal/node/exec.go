package node

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

// runner runs a host command from an argument vector, never through a
// shell. Tests replace it with a script of answers.
type runner interface {
	run(ctx context.Context, stdin []byte, argv ...string) (stdout, stderr []byte, err error)
	// start starts a command whose input and output flow while it runs
	// (a dump into ssh, rsync's progress) and returns how to wait for its
	// end. wait returns once the command has exited and its output has
	// been written.
	start(ctx context.Context, c streamCmd) (wait func() error, err error)
}

// streamCmd is a command with streams for its standard input and output.
type streamCmd struct {
	argv   []string
	stdin  io.Reader // nil: no input
	stdout io.Writer // nil: discarded
	stderr io.Writer // nil: discarded
	// path is the program to run when argv[0] is only the name it is
	// shown under; empty: argv[0], looked up in PATH.
	path string
	// env is the whole environment; nil: the node's own, in the C locale.
	env []string
	// cred runs the command as another user; nil: as the node.
	cred *syscall.Credential
}

// execRunner runs commands for real, in the C locale so that their messages
// read the same on every host.
type execRunner struct{}

func (execRunner) run(ctx context.Context, stdin []byte, argv ...string) ([]byte, []byte, error) {
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

func (execRunner) start(ctx context.Context, c streamCmd) (func() error, error) {
	name := c.argv[0]
	if c.path != "" {
		name = c.path
	}
	cmd := exec.CommandContext(ctx, name, c.argv[1:]...)
	cmd.Args[0] = c.argv[0]
	cmd.Env = c.env
	if c.env == nil {
		cmd.Env = append(os.Environ(), "LC_ALL=C")
	}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	cmd.Dir = "/"
	if c.stdin != nil {
		cmd.Stdin = c.stdin
	}
	if c.stdout != nil {
		cmd.Stdout = c.stdout
	}
	if c.stderr != nil {
		cmd.Stderr = c.stderr
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd.Wait, nil
}

// run runs argv and, when it fails, returns an error that names the command
// and carries what it printed, for an admin to read.
func (a *Applier) run(ctx context.Context, stdin []byte, argv ...string) (string, error) {
	out, errOut, err := a.runner.run(ctx, stdin, argv...)
	if err != nil {
		return string(out), &cmdError{argv: argv, output: commandOutput(errOut, out), err: err}
	}
	return string(out), nil
}

// cmdError is a command that failed: what it said, and its exit status.
type cmdError struct {
	argv   []string
	output string
	err    error
}

func (e *cmdError) Error() string {
	name := e.argv[0]
	if len(e.argv) > 1 && !strings.HasPrefix(e.argv[1], "-") {
		name += " " + e.argv[1]
	}
	switch {
	case e.output == "":
		return fmt.Sprintf("%s: %v", name, e.err)
	case strings.HasPrefix(e.output, e.argv[0]+":"):
		// Most tools name themselves already.
		return fmt.Sprintf("%s (%v)", e.output, e.err)
	default:
		return fmt.Sprintf("%s: %s (%v)", name, e.output, e.err)
	}
}

func (e *cmdError) Unwrap() error { return e.err }

// exitCode returns err's exit status, or -1 when err is not a command that
// ran and exited (*exec.ExitError, or a test's stand-in for it).
func exitCode(err error) int {
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
	return oneLine(s, 600)
}

// oneLine joins s's lines with " | " and cuts it to at most max bytes.
func oneLine(s string, max int) string {
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
