//go:build lab

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ferry/internal/lab"
)

// labOptions are the flags of `ferry lab` and its subcommands.
type labOptions struct {
	dir     string
	web     int
	noDNS   bool
	subnet  int
	control bool
	// replicas runs the control plane as that many replicas (lab.Config.Replicas).
	replicas int
	ferry    string
	spec     string
	json     bool
	verbose  bool
	// jsonFlag is status's own --json.
	jsonFlag bool
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
}

func newLabCmd(g *globals) *cobra.Command {
	opts := &labOptions{stdout: g.stdout, stderr: g.stderr}
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run several real servers (web1, web2, …, dns1) on this machine, for tests and demos (needs root)",
		PersistentPreRun: func(*cobra.Command, []string) {
			opts.json = g.json || opts.jsonFlag
		},
	}
	cmd.PersistentFlags().StringVar(&opts.dir, "dir", lab.DefaultDir, "lab state directory (one per running lab)")

	up := &cobra.Command{
		Use:   "up",
		Short: "Bring the lab up and return once every service answers",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runLabUp(c.Context(), opts) },
	}
	up.Flags().IntVar(&opts.web, "web", 2, "number of web hosts (web1 127.0.S.11, web2 127.0.S.12, …)")
	up.Flags().BoolVar(&opts.noDNS, "no-dns", false, "leave out the dns host dns1 (127.0.S.53)")
	up.Flags().IntVar(&opts.subnet, "subnet", 1, "S in the lab's addresses 127.0.S.N; labs running at once need different subnets")
	up.Flags().BoolVar(&opts.control, "control", true, "start the control plane and node agents, if this ferry has serve and node")
	up.Flags().IntVar(&opts.replicas, "replicas", 1, "run the control plane as this many replicas on a PostgreSQL server of the lab's own, behind HAProxy (127.0.S.1:7080 as before; replica i on port 7080+i)")
	up.Flags().StringVar(&opts.ferry, "ferry", "", "ferry binary for the control plane and agents (default: this one)")
	up.Flags().BoolVarP(&opts.verbose, "verbose", "v", false, "log each step and how long it took")

	down := &cobra.Command{
		Use:   "down",
		Short: "Stop the lab and remove its processes, rules and state directory",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runLabDown(c.Context(), opts) },
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the lab's directory, hosts, addresses and services",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return runLabStatus(c.Context(), opts) },
	}
	status.Flags().BoolVar(&opts.jsonFlag, "json", false, "print the state file's JSON")
	execCmd := &cobra.Command{
		Use:   "exec HOST -- CMD [ARG...]",
		Short: "Run a command inside a lab host, as root; its exit code becomes ferry's",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{errors.New("lab exec: want a host and a command")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			opts.stdin = c.InOrStdin()
			return runLabExec(c.Context(), opts, args)
		},
	}
	// Flags after HOST belong to CMD.
	execCmd.Flags().SetInterspersed(false)
	hostinit := &cobra.Command{
		Use:    "hostinit",
		Short:  "First process of a lab host (started by lab up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(*cobra.Command, []string) error { return lab.RunHostInit(opts.spec) },
	}
	hostinit.Flags().StringVar(&opts.spec, "spec", "", "host spec file")
	cmd.AddCommand(up, down, status, execCmd, hostinit)
	return cmd
}

// labError gives lab errors their exit code.
type labError struct {
	err  error
	code int
}

func (e labError) Error() string { return e.err.Error() }
func (e labError) Unwrap() error { return e.err }
func (e labError) ExitCode() int { return e.code }

// labExit maps the lab's errors to ferry's exit codes.
func labExit(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, lab.ErrRunning), errors.Is(err, lab.ErrStale):
		return labError{err, ExitRefused}
	case errors.Is(err, lab.ErrNotRunning), errors.Is(err, lab.ErrNoHost):
		return labError{err, ExitNotFound}
	case errors.Is(err, lab.ErrNotRoot):
		return labError{err, ExitNotAllowed}
	}
	return err
}

func runLabUp(ctx context.Context, opts *labOptions) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	ferry := opts.ferry
	if ferry == "" {
		ferry = self
	}
	l, err := lab.Up(ctx, lab.Config{
		Dir:          opts.dir,
		Web:          opts.web,
		NoDNS:        opts.noDNS,
		Subnet:       opts.subnet,
		ControlPlane: opts.control,
		Replicas:     opts.replicas,
		Ferry:        ferry,
		Self:         self,
		Logger:       labLogger(opts),
	})
	if err != nil {
		return labExit(fmt.Errorf("lab up: %w", err))
	}
	return printLabStatus(ctx, opts, l)
}

// labLogger logs the lab's progress to stderr, step by step with -v.
func labLogger(opts *labOptions) *slog.Logger {
	level := slog.LevelInfo
	if opts.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(opts.stderr, &slog.HandlerOptions{Level: level}))
}

func runLabDown(ctx context.Context, opts *labOptions) error {
	if err := lab.Down(ctx, opts.dir); err != nil {
		return labExit(err)
	}
	fmt.Fprintf(opts.stderr, "lab in %s is down\n", opts.dir)
	return nil
}

func runLabStatus(ctx context.Context, opts *labOptions) error {
	l, err := lab.Open(opts.dir)
	if err != nil {
		return labExit(fmt.Errorf("lab status: %w", err))
	}
	return printLabStatus(ctx, opts, l)
}

// printLabStatus prints the lab's state: as the state file's JSON with
// --json, as a table otherwise.
func printLabStatus(ctx context.Context, opts *labOptions, l *lab.Lab) error {
	st := l.State()
	if opts.json {
		enc := json.NewEncoder(opts.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	status := st.Status
	if !l.Running() {
		status = "not running (leftovers of a killed lab; `ferry lab down` removes them)"
	}
	fmt.Fprintf(opts.stdout, "lab %s: %s, started %s\nstate file: %s/%s\n\n",
		st.Dir, status, st.Started.Local().Format("2006-01-02 15:04:05"), st.Dir, lab.StateFile)
	tw := tabwriter.NewWriter(opts.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tADDRESS\tROLES\tINIT PID\tSERVICES")
	for _, h := range st.Hosts {
		services := "not running"
		if ss, err := l.Services(ctx, h.Name); err == nil {
			var parts []string
			for _, s := range ss {
				switch {
				case s.Running:
					parts = append(parts, s.Name)
				case s.Name != lab.ServiceAgent:
					parts = append(parts, s.Name+"(stopped)")
				}
			}
			services = strings.Join(parts, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", h.Name, h.Address, strings.Join(h.Roles, ","), h.InitPID, services)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.CutOff) > 0 {
		fmt.Fprintf(opts.stdout, "\ncut off: %s\n", strings.Join(st.CutOff, " "))
	}
	if c := st.Control; c != nil && len(c.Replicas) > 0 {
		fmt.Fprintf(opts.stdout, "\ncontrol plane: %s (HAProxy, pid %d), admin token in %s\n", c.URL, st.BalancerPID, c.AdminTokenPath)
		for _, r := range c.Replicas {
			fmt.Fprintf(opts.stdout, "  replica %s: http://%s (pid %d)\n", r.ID, r.Listen, r.PID)
		}
		fmt.Fprintf(opts.stdout, "  store: PostgreSQL (pid %d), %s\n", st.PostgresPID, c.StoreURL)
	} else if c != nil {
		fmt.Fprintf(opts.stdout, "\ncontrol plane: %s (pid %d), admin token in %s\n", c.URL, c.PID, c.AdminTokenPath)
	} else {
		fmt.Fprintln(opts.stdout, "\ncontrol plane: not running")
	}
	if k := st.TSIG; k != nil {
		fmt.Fprintf(opts.stdout, "dns updates: TSIG key %s (%s), secret in the state file; zones %s\n",
			k.Name, k.Algorithm, strings.Join(st.Zones, " "))
	}
	return nil
}

// commandExit carries a command's exit code through `ferry lab exec`.
type commandExit struct {
	host string
	code int
}

func (e commandExit) Error() string {
	return fmt.Sprintf("lab exec %s: command exited with status %d", e.host, e.code)
}
func (e commandExit) ExitCode() int { return e.code }

// runLabExec runs args[1:] (after a "--", if any) in lab host args[0].
func runLabExec(ctx context.Context, opts *labOptions, args []string) error {
	host, argv := args[0], args[1:]
	if argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return usageError{errors.New("lab exec: no command after the host name")}
	}
	l, err := lab.Open(opts.dir)
	if err != nil {
		return labExit(fmt.Errorf("lab exec: %w", err))
	}
	cmd, err := l.Command(ctx, host, argv...)
	if err != nil {
		return labExit(fmt.Errorf("lab exec: %w", err))
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.stdin, opts.stdout, opts.stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal()) // as shells report it
		}
		return commandExit{host: host, code: code}
	}
	if err != nil {
		return fmt.Errorf("lab exec %s: %w", host, err)
	}
	return nil
}
