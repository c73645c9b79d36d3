package movetask

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"time"

	"ferry/internal/node/hostexec"
)

// multiplexWait is how long the shared connection may take to come up
// before the task goes on with one connection per command.
const multiplexWait = 20 * time.Second

// multiplex opens one ssh connection to the new host (a master with its
// control socket in a private directory) and returns t with every later
// ssh command carried over it as a session of its own: a database task
// then pays for one key exchange and login, not one per table, per sums
// query and per object batch. Each session still runs the forced command
// with its own request. When the connection cannot be made, t is
// returned as it was (ssh then connects once per command, as before);
// when it dies halfway, ssh falls back to a connection of its own.
// The private directory lies in under, the move's own directory, which
// the move's end removes even after a crash (the system's temporary
// directory when under is too long for a socket's path); the master dies
// with the node agent. closeFn ends the connection and removes the
// directory; call it when the task ends, whatever happened.
func (m *mover) multiplex(ctx context.Context, t moveTarget, under string) (moveTarget, func()) {
	if len(under) > 80 {
		under = ""
	}
	dir, err := os.MkdirTemp(under, "mux-")
	if err != nil {
		m.log.Warn("move: no shared ssh connection", "err", err)
		return t, func() {}
	}
	sock := filepath.Join(dir, "ctl")
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	argv := append(slices.Clone(t.ssh), "-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-o", "ControlPath="+sock, "-N", t.host())
	errOut := &tailBuffer{max: 4 << 10}
	wait, err := m.a.Start(mctx, hostexec.Cmd{Argv: argv, Stderr: errOut, EndWithNode: true})
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		m.log.Warn("move: no shared ssh connection", "err", err)
		return t, func() {}
	}
	exited := make(chan struct{})
	go func() {
		_ = wait()
		close(exited)
	}()
	closeFn := func() {
		cancel() // the master is this task's own child: killing it ends the connection
		<-exited
		os.RemoveAll(dir)
	}
	deadline := time.NewTimer(multiplexWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			shared := t
			shared.ssh = append(slices.Clone(t.ssh), "-o", "ControlMaster=no", "-o", "ControlPath="+sock)
			return shared, closeFn
		}
		select {
		case <-exited:
			m.log.Warn("move: no shared ssh connection; one per command", "host", t.host(), "ssh", hostexec.OneLine(errOut.String(), 300))
			closeFn()
			return t, func() {}
		case <-deadline.C:
			m.log.Warn("move: shared ssh connection not up in time; one per command", "host", t.host())
			closeFn()
			return t, func() {}
		case <-ctx.Done():
			closeFn()
			return t, func() {}
		case <-tick.C:
		}
	}
}
