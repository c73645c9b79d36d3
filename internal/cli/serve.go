package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/atomicfile"
	"ferry/internal/controlplane"
	"ferry/internal/web"
)

type serveOptions struct {
	dataDir string
	dbURL   string
	listen  string
	// sessionIdle ends web UI sessions idle that long.
	sessionIdle time.Duration
	// replicaID names this replica among those on one PostgreSQL store.
	replicaID string
	// ready, when set, receives the bound address once the server listens
	// (tests use it).
	ready func(addr string)
	// ops: TLS (serve_ops.go).
	ops serveOps
}

func newServeCmd(g *globals) *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the control plane: the HTTP API, the store and the move engine",
		Long: `Run the control plane. State lives in --data (default /var/lib/ferry): the
embedded SQLite store ferry.db, unless --db names a PostgreSQL URL. On first
start an admin token is written to DIR/admin.token (mode 0600).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.dataDir, "data", envOr("FERRY_DATA", "/var/lib/ferry"), "state directory (env FERRY_DATA)")
	f.StringVar(&opts.dbURL, "db", os.Getenv("FERRY_DB"), "PostgreSQL URL (postgres://…); empty means SQLite in DIR/ferry.db (env FERRY_DB)")
	f.StringVar(&opts.listen, "listen", envOr("FERRY_LISTEN", "127.0.0.1:7080"), "address to serve the API on (env FERRY_LISTEN)")
	f.DurationVar(&opts.sessionIdle, "session-idle", web.DefaultIdleTimeout, "log web UI sessions out after this long without a request")
	f.StringVar(&opts.replicaID, "replica-id", os.Getenv("FERRY_REPLICA_ID"), "this replica's name among those on one PostgreSQL store; its host name and a random suffix when empty (env FERRY_REPLICA_ID)")
	addServeOpsFlags(f, &opts.ops)
	return cmd
}

func runServe(ctx context.Context, g *globals, opts serveOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	url := opts.dbURL
	if url == "" {
		url = filepath.Join(opts.dataDir, "ferry.db")
	}
	// Phases interrupted by a stop or a crash go on from here; rebalance
	// batches run here, kept in the store, and go on after a restart
	// (batch files an older ferry kept in DIR/rebalance are imported).
	cp, err := controlplane.Start(ctx, controlplane.Config{
		StoreURL: url, Log: log, Metrics: serveMetrics,
		Rebalance: true, RebalanceImportDir: filepath.Join(opts.dataDir, "rebalance"),
		Web: true, SessionIdle: opts.sessionIdle, ReplicaID: opts.replicaID,
	})
	if err != nil {
		return err
	}
	defer cp.Close()
	tokenFile := filepath.Join(opts.dataDir, "admin.token")
	if cp.AdminSecret != "" {
		if err := writeSecret(tokenFile, cp.AdminSecret); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "admin token written to %s\n", tokenFile)
	}
	m, srv, st := cp.Metrics, cp.API, cp.Store
	handler, tlsCfg, err := setupServeOps(ctx, opts.ops, opts.dataDir, opts.listen, m, srv, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Info("ferry control plane serving", "addr", ln.Addr().String(), "store", st.Driver(), "data", opts.dataDir)
	if opts.ready != nil {
		opts.ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// writeSecret writes a secret to a new file only root can read.
func writeSecret(path, secret string) error {
	if err := atomicfile.Write(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
