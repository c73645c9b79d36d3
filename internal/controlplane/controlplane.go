// Package controlplane wires the running control plane in one place: store,
// panel, move engine, rebalance runner, HTTP API and web UI, built from one
// Config. `ferry serve` and the benchmark call it; its test kit
// (controlplane/cptest) gives tests a store and a panel the same way.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ferry/internal/api"
	"ferry/internal/metrics"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/rebalance"
	"ferry/internal/store"
	"ferry/internal/web"
)

// Config says what to build.
type Config struct {
	// StoreURL is a SQLite file path or a postgres:// URL (store.Open).
	StoreURL string
	// Log receives every part's log; slog.Default when nil.
	Log *slog.Logger
	// Now is the panel's clock; time.Now when nil.
	Now func() time.Time
	// Metrics, when set, makes the metrics from the panel; the engine
	// records its phases and syncs there.
	Metrics func(*panel.Panel) *metrics.Metrics
	// Rebalance runs the rebalance runner, whose batches the store keeps.
	Rebalance bool
	// RebalanceImportDir holds batch files an older ferry kept in its data
	// directory, imported into the store on start (rebalance.RunnerOptions).
	RebalanceImportDir string
	// Web serves the web UI at "/" beside the API.
	Web bool
	// SessionIdle is how long a web session lasts without use (web's
	// default when zero).
	SessionIdle time.Duration
	// Move tunes the move engine (task poll and hold, reconcile period,
	// the port verify fetches sites on); zero fields keep its defaults.
	// Its log and metrics are the control plane's, its clock Now.
	Move move.Options
}

// ControlPlane is a started control plane. Serve API over HTTP; Close
// stops it.
type ControlPlane struct {
	Store     store.Store
	Panel     *panel.Panel
	Metrics   *metrics.Metrics
	Engine    *move.Engine
	Rebalance *rebalance.Runner
	// API serves /api/v1 (moves and, with a runner, rebalance) and, with
	// Config.Web, the web UI.
	API *api.Server
	// AdminSecret is the first admin token's secret when this start made
	// it, empty when one existed already.
	AdminSecret string

	log     *slog.Logger
	started bool
	// stopRelay ends the wake-ups between replicas (panel.RelayWakeups).
	stopRelay func()
}

// Start opens the store, makes the first admin token if there is none,
// starts the move engine (phases interrupted by a stop or a crash go on)
// and the rebalance runner, and builds the API.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	st, err := store.Open(ctx, cfg.StoreURL)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	cp := &ControlPlane{Store: st, log: log}
	if err := cp.start(ctx, cfg); err != nil {
		return nil, errors.Join(err, cp.Close())
	}
	return cp, nil
}

func (cp *ControlPlane) start(ctx context.Context, cfg Config) error {
	cp.Panel = panel.New(cp.Store, panel.Options{Log: cp.log, Now: cfg.Now})
	rctx, stop := context.WithCancel(ctx)
	wait := cp.Panel.RelayWakeups(rctx)
	cp.stopRelay = func() { stop(); wait() }
	if cfg.Metrics != nil {
		cp.Metrics = cfg.Metrics(cp.Panel)
	}
	secret, err := cp.Panel.EnsureAdminToken(ctx)
	if err != nil {
		return fmt.Errorf("first admin token: %w", err)
	}
	cp.AdminSecret = secret
	mo := cfg.Move
	mo.Log, mo.Metrics = cp.log, cp.Metrics
	cp.Engine, err = move.New(ctx, cp.Panel, mo)
	if err != nil {
		return err
	}
	if err := cp.Engine.Start(ctx); err != nil {
		return err
	}
	cp.started = true
	cp.API = api.NewServer(cp.Panel, cp.log)
	api.RegisterMoves(cp.API, cp.Engine)
	if cfg.Rebalance {
		cp.Rebalance, err = rebalance.NewRunner(ctx, cp.Panel, cp.Engine, rebalance.RunnerOptions{ImportDir: cfg.RebalanceImportDir, Log: cp.log})
		if err != nil {
			return err
		}
		cp.Rebalance.Start(ctx)
		api.RegisterRebalance(cp.API, cp.Rebalance)
	}
	if cfg.Web {
		wo := web.Options{Log: cp.log, IdleTimeout: cfg.SessionIdle, Moves: cp.Engine}
		if cp.Rebalance != nil {
			wo.Rebalance = cp.Rebalance
		}
		ui, err := web.New(cp.Panel, wo)
		if err != nil {
			return err
		}
		cp.API.HandleRaw("/", ui)
	}
	return nil
}

// Close stops the rebalance runner and the move engine (giving running
// phases up to 10 seconds to reach a checkpoint) and closes the store.
func (cp *ControlPlane) Close() error {
	if cp.stopRelay != nil {
		cp.stopRelay()
	}
	if cp.Rebalance != nil {
		cp.Rebalance.Stop()
	}
	if cp.started {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cp.Engine.Stop(sctx); err != nil {
			cp.log.Warn("move engine stop", "err", err)
		}
	}
	return cp.Store.Close()
}
