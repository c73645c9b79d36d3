// Package cli holds ferry's commands. Each command parses its flags into an
// options struct and calls a plain runX function that tests call directly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"ferry/internal/wire"
)

// Exit codes, listed in `ferry --help`.
const (
	ExitOK         = 0
	ExitError      = 1
	ExitUsage      = 2
	ExitRefused    = 3
	ExitNotFound   = 4
	ExitNotAllowed = 5
)

const exitCodesHelp = `
Exit codes:
  0  ok
  1  error
  2  usage (bad flags or arguments)
  3  refused by a guard or a rule (validation, state transition, move guard)
  4  not found
  5  not allowed (missing or wrong token, role without the right)
`

// globals are the flags every command shares.
type globals struct {
	server string
	token  string
	json   bool
	stdout io.Writer
	stderr io.Writer
	// ops are the config file, TLS trust and logging flags (config.go).
	ops opsFlags
}

// Main runs ferry with args and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// Run runs ferry with args on the given streams and returns the exit code;
// tests call it in-process.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(g.stderr, "ferry:", listProblems(err))
	return exitCode(err)
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "Control panel for a hosting co-op: hosting orders, their items, hosts, and safe moves between servers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetHelpTemplate(root.HelpTemplate() + exitCodesHelp)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", envOr("FERRY_SERVER", "http://127.0.0.1:7080"), "control plane URL (env FERRY_SERVER)")
	pf.StringVar(&g.token, "token", os.Getenv("FERRY_TOKEN"), "API token (env FERRY_TOKEN)")
	addOpsFlags(pf, &g.ops)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return g.applyConfig(cmd) }
	for _, add := range []func(*globals) *cobra.Command{
		// Each command group lives in its own file.
		newServeCmd, newNodeCmd, newTokenCmd, newLoginCmd, newMemberCmd, newHostCmd, newOrderCmd, newItemCmd, newMoveCmd, newAuditCmd, newVersionCmd,
		newDNSCmd, newZoneCmd, newLabCmd, newRebalanceCmd,
		newConfigCmd, newCACmd, newBackupCmd, newRestoreCmd, newCompletionCmd, newManCmd,
	} {
		root.AddCommand(add(g))
	}
	root.Version = Version
	root.SetVersionTemplate("ferry {{.Version}}\n")
	usageArgs(root)
	return root
}

// usageArgs makes every command's argument check, and a group's unknown
// subcommand, a usage error (exit code 2).
func usageArgs(c *cobra.Command) {
	check := c.Args
	if c.HasSubCommands() && !c.Runnable() {
		// A group runs only to show its help, or to refuse an unknown
		// subcommand in its check.
		check = unknownSubcommand
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	if check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			switch {
			case err == nil:
				return nil
			case !cmd.HasSubCommands() && strings.HasPrefix(err.Error(), "unknown command"):
				// cobra.NoArgs says "unknown command" of a plain argument.
				err = fmt.Errorf("%q takes no arguments, was given %q; its flags are in %s --help", cmd.CommandPath(), args, cmd.CommandPath())
			}
			return usageError{err}
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// unknownSubcommand refuses arguments to a command group: the first one
// named no subcommand of it.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return fmt.Errorf("unknown command %q for %q; its commands are: %s", args[0], cmd.CommandPath(), strings.Join(names, ", "))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// usageError marks a bad flag or argument: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	var ae *wire.Error
	if errors.As(err, &ae) {
		return exitForAPI(ae)
	}
	return ExitError
}
