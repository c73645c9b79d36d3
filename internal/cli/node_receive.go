package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"ferry/internal/node/apply"
	"ferry/internal/node/movetask"
)

// receiveOptions are the flags of `ferry node receive`.
type receiveOptions struct {
	move     int64
	stateDir string
	tlsDir   string
	command  string
	client   string
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
}

// newNodeReceiveCmd is the forced command of a move's ssh key on the new
// host: sshd runs it with the old host's command in SSH_ORIGINAL_COMMAND.
func newNodeReceiveCmd(g *globals) *cobra.Command {
	opts := receiveOptions{stdin: os.Stdin, stdout: g.stdout, stderr: g.stderr}
	cmd := &cobra.Command{
		Use:   "receive --move ID",
		Short: "Forced command of a move's ssh key: take the old host's files and tables, nothing else",
		Long: `Run by sshd on the new host of a move, as the forced command that
move-authorize put in root's authorized_keys. It reads the command the old
host asked for from SSH_ORIGINAL_COMMAND and the move's receive policy from
the node state directory, and allows only:

  rsync --server …  . DIR      rsync receiving into the order directory
  ferry-load mysql|pgsql DB    SQL on stdin into one of the move's databases
  ferry-sums mysql|pgsql DB    every table's row count and checksum, as JSON
  ferry-crontab LOGIN          the login's own crontab lines on stdin
  ferry-objects mysql DB       views, triggers, routines, events as JSON
  ferry-sparse                 the order directory's sparse files, as JSON
  ferry-tls NAME               the order's ACME site first named NAME: its
                               chain and key (PEM) on stdin, checked,
                               installed, served

Anything else is refused (exit 3) with the reason on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.command = os.Getenv("SSH_ORIGINAL_COMMAND")
			opts.client = os.Getenv("SSH_CLIENT")
			return runNodeReceive(cmd.Context(), opts)
		},
	}
	cmd.Flags().Int64Var(&opts.move, "move", 0, "the move whose policy applies")
	cmd.Flags().StringVar(&opts.stateDir, "state", envOr("FERRY_NODE_STATE", movetask.DefaultStateDir), "node state directory")
	cmd.Flags().StringVar(&opts.tlsDir, "tls-dir", apply.DefaultConfig().HTTPS.TLSDir, "where HTTPS sites' certificates and keys are kept (the node agent's --tls-dir)")
	return cmd
}

// receiveRefusedError is a refused forced command: exit code 3.
type receiveRefusedError struct{ err error }

func (e receiveRefusedError) Error() string { return e.err.Error() }
func (e receiveRefusedError) Unwrap() error { return e.err }
func (e receiveRefusedError) ExitCode() int { return ExitRefused }

func runNodeReceive(ctx context.Context, opts receiveOptions) error {
	if opts.move <= 0 {
		return usageError{errors.New("--move: give the move id")}
	}
	log := slog.New(slog.NewTextHandler(opts.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := movetask.Config{StateDir: opts.stateDir, Log: log}
	cfg.Node = apply.DefaultConfig()
	cfg.Node.Logger = log
	if opts.tlsDir != "" {
		cfg.Node.HTTPS.TLSDir = opts.tlsDir
	}
	err := movetask.Receive(ctx, cfg, movetask.ReceiveOptions{MoveID: opts.move, Command: opts.command, Client: opts.client,
		Stdin: opts.stdin, Stdout: opts.stdout, Stderr: opts.stderr})
	if errors.Is(err, movetask.ErrReceiveRefused) {
		return receiveRefusedError{err}
	}
	return err
}

// nodeTaskOptions are the flags of `ferry node task`.
type nodeTaskOptions struct {
	kind     string
	payload  string
	stateDir string
}

// newNodeTaskCmd runs one move task on this host without the control
// plane, for tests and for an admin mending a move by hand.
func newNodeTaskCmd(g *globals) *cobra.Command {
	var opts nodeTaskOptions
	cmd := &cobra.Command{
		Use:    "task --kind KIND --payload FILE",
		Short:  "Run one move task from a JSON payload on this host and print its result (debugging, tests)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(cmd *cobra.Command, _ []string) error { return runNodeTask(cmd.Context(), g, opts) },
	}
	cmd.Flags().StringVar(&opts.kind, "kind", "", "task kind (move-keygen, move-authorize, move-sync-files, …)")
	cmd.Flags().StringVar(&opts.payload, "payload", "", "payload JSON file (- for stdin)")
	cmd.Flags().StringVar(&opts.stateDir, "state", envOr("FERRY_NODE_STATE", movetask.DefaultStateDir), "node state directory")
	return cmd
}

func runNodeTask(ctx context.Context, g *globals, opts nodeTaskOptions) error {
	if opts.kind == "" || opts.payload == "" {
		return usageError{errors.New("give --kind and --payload")}
	}
	var data []byte
	var err error
	if opts.payload == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(opts.payload)
	}
	if err != nil {
		return usageError{err}
	}
	log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := movetask.Config{StateDir: opts.stateDir, Log: log}
	cfg.Node = apply.DefaultConfig()
	cfg.Node.Logger = log
	progress := func(v any) {
		if b, err := json.Marshal(v); err == nil {
			fmt.Fprintf(g.stderr, "progress %s\n", b)
		}
	}
	res, err := movetask.Run(ctx, cfg, opts.kind, data, progress)
	if err != nil {
		return err
	}
	return g.printJSON(res)
}
