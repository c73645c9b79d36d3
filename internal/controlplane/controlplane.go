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
	"sync/atomic"
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
	// On PostgreSQL the reconcile period defaults to ReplicaReconcile.
	Move move.Options
	// ReplicaID names this replica among those on one PostgreSQL store
	// (its host name and a random suffix when empty); two live replicas
	// may not share one.
	ReplicaID string
	// LeaderPoll is how often a replica checks that it still leads, or
	// tries to lead when it does not (DefaultLeaderPoll when zero).
	LeaderPoll time.Duration
}

// DefaultLeaderPoll is how often a replica on PostgreSQL looks at the
// leader's lock: within it a replica takes the lead a dead one let go.
const DefaultLeaderPoll = 2 * time.Second

// ReplicaReconcile is the move engine's reconcile period on PostgreSQL:
// within it (plus DefaultLeaderPoll when the leader died) a phase whose
// replica died gets a new run on a live one.
const ReplicaReconcile = 10 * time.Second

// leaderLock is the store lock the leading replica holds.
const leaderLock = "leader"

func replicaLock(id string) string { return "replica/" + id }

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

	// ReplicaID is this replica's name; Instance names this start of it
	// (the name and a random suffix; the job queue's client id).
	ReplicaID, Instance string

	log     *slog.Logger
	started bool
	// self is the lock that says this replica lives; lead runs the
	// leader loop (leading.go) until Close.
	self     []store.Lock
	stopLead context.CancelFunc
	leadDone chan struct{}
	leading  atomic.Bool
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
	if cfg.Metrics != nil {
		cp.Metrics = cfg.Metrics(cp.Panel)
	}
	secret, err := cp.Panel.EnsureAdminToken(ctx)
	if err != nil {
		return fmt.Errorf("first admin token: %w", err)
	}
	cp.AdminSecret = secret
	replicas := cp.Store.Driver() == "postgres"
	mo := cfg.Move
	mo.Log, mo.Metrics = cp.log, cp.Metrics
	if replicas {
		if err := cp.claimReplica(ctx, cfg.ReplicaID); err != nil {
			return err
		}
		mo.ReplicaID, mo.Standby = cp.Instance, true
		mo.Alive = cp.alive
		if mo.Reconcile == 0 {
			mo.Reconcile = ReplicaReconcile
		}
	}
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
		if !replicas {
			cp.Rebalance.Start(ctx)
		}
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
	if replicas {
		cp.startLeading(ctx, cfg.LeaderPoll)
	}
	return nil
}

// Close stops the rebalance runner and the move engine (giving running
// phases up to 10 seconds to reach a checkpoint) and closes the store.
func (cp *ControlPlane) Close() error {
	cp.stopLeading()
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
	for _, l := range cp.self {
		l.Release()
	}
	return cp.Store.Close()
}
