package movetask

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"ferry/internal/maildir"
	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/node/dbengine"
	"ferry/internal/node/hostexec"
	"ferry/internal/node/receive"
)

// ErrReceiveRefused marks a command the forced command does not allow.
var ErrReceiveRefused = receive.ErrRefused

// receiveRefused returns a refusal that says why.
func receiveRefused(format string, args ...any) error { return receive.Refused(format, args...) }

// What the old host may ask of the forced command (package receive).
const (
	receiveSums    = receive.CmdSums
	receiveLoad    = receive.CmdLoad
	receiveCrontab = receive.CmdCrontab
	receiveObjects = receive.CmdObjects
	receiveSparse  = receive.CmdSparse
	receiveMailbox = receive.CmdMailboxes
	receiveTLS     = receive.CmdTLS
)

// movePolicy is what the forced command lets the old host do on the new
// host during one move. move-authorize writes it; receive reads it.
type movePolicy = receive.Policy

// ReceiveOptions are the streams and environment of one forced command.
type ReceiveOptions = receive.Options

// Receive runs the forced command of a move's key on the new host
// (receive.Run) with this host's runner and database engines. A refusal
// wraps ErrReceiveRefused.
func Receive(ctx context.Context, cfg Config, o ReceiveOptions) error {
	m, err := newMover(cfg)
	if err != nil {
		return err
	}
	return receive.Run(ctx, receiveHost{m}, o)
}

// receiveHost is the new host as the forced command uses it.
type receiveHost struct{ m *mover }

func (h receiveHost) Policy(id int64) (receive.Policy, error) {
	return readMovePolicy(h.m.cfg.StateDir, id)
}

func (receiveHost) Engine(engine string) bool {
	_, err := dbengine.New(engine, dbengine.Host{})
	return err == nil
}

func (h receiveHost) Rsync(ctx context.Context, argv []string, o receive.Options) error {
	return h.m.receiveRsync(ctx, argv, o)
}

func (h receiveHost) Load(ctx context.Context, db model.MoveDB, o receive.Options) error {
	return h.m.receiveLoad(ctx, o.MoveID, db, o)
}

func (h receiveHost) Sums(ctx context.Context, db model.MoveDB, only []string) ([]model.TableSum, error) {
	return h.m.tableSums(ctx, db, only)
}

func (h receiveHost) Stamps(ctx context.Context, db model.MoveDB) (any, error) {
	eng, ok := dbEngines[db.Engine]
	if !ok {
		return nil, receiveRefused("engine %q", db.Engine)
	}
	return eng.stamps(ctx, h.m, db)
}

func (h receiveHost) Objects(ctx context.Context, db model.MoveDB, stdin io.Reader, stdout io.Writer) error {
	return h.m.receiveObjects(ctx, db, stdin, stdout)
}

func (h receiveHost) Rows(ctx context.Context, db model.MoveDB, stdin io.Reader, stdout io.Writer) error {
	return h.m.receiveRowList(ctx, db, stdin, stdout)
}

func (h receiveHost) Crontab(ctx context.Context, login string, stdin io.Reader) error {
	return h.m.receiveCrontab(ctx, login, stdin)
}

// TLS installs an ACME site's carried certificate; a refusal of the
// applier's (nothing written) is a refusal of the forced command.
func (h receiveHost) TLS(ctx context.Context, order, site string, chain, key []byte) error {
	msg, err := h.m.a.InstallCarriedCert(ctx, order, site, chain, key)
	if errors.Is(err, apply.ErrCarriedCert) {
		return receiveRefused("%s: %v", receiveTLS, err)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", receiveTLS, site, err)
	}
	h.m.log.Info("move: carried certificate served", "site", site, "message", msg)
	return nil
}

func (receiveHost) SparseFiles(dir string) map[string][2]int64 { return sparseFiles(dir, 0) }

func (receiveHost) Mailboxes(orderDir string) (any, error) {
	folders, err := readMailboxes(orderDir)
	if folders == nil {
		folders = []maildir.Folder{}
	}
	return folders, err
}

// receiveRsync runs rsync's receiving server as argv, checked by receive.
func (m *mover) receiveRsync(ctx context.Context, argv []string, o ReceiveOptions) error {
	bin, err := exec.LookPath("rsync")
	if err != nil {
		return fmt.Errorf("rsync is not installed on this host: %w", err)
	}
	// rsync's server runs in the environment sshd gave the forced command.
	wait, err := m.a.Start(ctx, hostexec.Cmd{Argv: argv, Path: bin, Env: os.Environ(),
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if err != nil {
		return err
	}
	return wait()
}
