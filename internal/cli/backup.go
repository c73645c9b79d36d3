package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"ferry/internal/store"
)

// storeOptions name the control plane's store as serve's flags do.
type storeOptions struct {
	dataDir string
	dbURL   string
	force   bool
}

func (o storeOptions) url() string {
	if o.dbURL != "" {
		return o.dbURL
	}
	return filepath.Join(o.dataDir, "ferry.db")
}

// where names the store for messages, without a PostgreSQL URL's password.
func (o storeOptions) where() string {
	if o.dbURL == "" {
		return "sqlite store " + o.url()
	}
	u := o.dbURL
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			u = u[:j+3] + "…" + u[i:]
		}
	}
	return "postgres store " + u
}

func addStoreFlags(cmd *cobra.Command, o *storeOptions) {
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data", envOr("FERRY_DATA", "/var/lib/ferry"), "the control plane's state directory, as for serve (env FERRY_DATA)")
	f.StringVar(&o.dbURL, "db", os.Getenv("FERRY_DB"), "PostgreSQL URL, as for serve; empty means SQLite in DIR/ferry.db (env FERRY_DB)")
}

// Backup and restore work on the store directly, like serve, not through
// the API: a restore must run while serve is stopped, and a backup needs
// no token, only read access to the database (root, or the ferry user).
func newBackupCmd(g *globals) *cobra.Command {
	var opts storeOptions
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent snapshot of the control plane's store to FILE",
		Long: `Write a consistent snapshot of the store to FILE (a new file, mode 0600:
it holds token and password hashes). SQLite stores are copied with VACUUM
INTO, PostgreSQL stores with pg_dump (custom format, the --db URL's schema).
ferry serve may keep running.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runBackup(cmd.Context(), g, opts, args[0]) },
	}
	addStoreFlags(cmd, &opts)
	return cmd
}

func newRestoreCmd(g *globals) *cobra.Command {
	var opts storeOptions
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore the control plane's store from a backup (stop ferry serve first)",
		Long: `Replace the store with the backup in FILE, made by ferry backup from a store
of the same kind (SQLite or PostgreSQL), and bring its schema up to date.
A store that holds members, hosts or orders is replaced only with --force.
Stop ferry serve first, and start it again afterwards.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRestore(cmd.Context(), g, opts, args[0]) },
	}
	addStoreFlags(cmd, &opts)
	cmd.Flags().BoolVar(&opts.force, "force", false, "replace a store that holds members, hosts or orders")
	return cmd
}

func runBackup(ctx context.Context, g *globals, opts storeOptions, file string) error {
	info, err := store.Backup(ctx, opts.url(), file)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "backed up the %s to %s (%d bytes)\n", opts.where(), file, info.Size)
	return nil
}

func runRestore(ctx context.Context, g *globals, opts storeOptions, file string) error {
	if opts.dbURL == "" {
		if err := os.MkdirAll(opts.dataDir, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	if err := store.Restore(ctx, opts.url(), file, opts.force); err != nil {
		if errors.Is(err, store.ErrNotFresh) {
			return refusedError{err}
		}
		return err
	}
	if opts.dbURL == "" {
		// The ferry user's serve must be able to write what root restored.
		if err := chownLikeParent(opts.dataDir, opts.dataDir, "ferry.db"); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.stdout, "restored the %s from %s\n", opts.where(), file)
	return nil
}

// refusedError is a refusal by a guard: exit code 3.
type refusedError struct{ err error }

func (e refusedError) Error() string { return e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

// ExitCode is ExitRefused.
func (e refusedError) ExitCode() int { return ExitRefused }
