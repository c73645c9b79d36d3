package move

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"ferry/internal/metrics"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// Timings of the move, from DESIGN.md.
const (
	// LoweredTTL is the TTL prepare gives the order's dns records.
	LoweredTTL = model.MoveTTL
	// HeartbeatMaxAge is how old a host's last heartbeat may be for the
	// host to count as online.
	HeartbeatMaxAge = 60 * time.Second
	// DiskFactor is how much free disk the new host needs per byte of the
	// order.
	DiskFactor = 1.2
)

// Engine runs moves: it checks and starts phases for the API, and works
// them durably through River jobs over the store's own database.
type Engine struct {
	p     *panel.Panel
	log   *slog.Logger
	opts  Options
	river *river.Client[*sql.Tx]
	now   func() time.Time
	http  *http.Client
	// stop ends the reconciler started by Start.
	stop context.CancelFunc
	done chan struct{}
	// ctx is Start's, for a reconciler Lead starts later.
	ctx context.Context
	// stopped is set by Stop: the engine works no more phases.
	stopped atomic.Bool
}

// Options configure an Engine. Zero fields take the defaults.
type Options struct {
	Log *slog.Logger
	// Now is the clock for guards and reports; the panel's when nil.
	Now func() time.Time
	// HTTP fetches the sites for verify; it must not follow redirects.
	HTTP *http.Client
	// HTTPPort is the port verify fetches sites on (80).
	HTTPPort int
	// HTTPSPort is the port verify fetches HTTPS sites on (443).
	HTTPSPort int
	// Poll is how often a waiting phase looks at its items and tasks (1s).
	Poll time.Duration
	// Hold is how long a job waits in process before it snoozes and frees
	// its worker (30s).
	Hold time.Duration
	// Workers is how many phases run at once (4).
	Workers int
	// Reconcile is how often running phases without a job get one (1m).
	Reconcile time.Duration
	// Metrics receives phases started and ended and the bytes and files
	// syncs sent (metrics.go); nil records nothing.
	Metrics *metrics.Metrics
	// ReplicaID names this process among the replicas on one store, as
	// the job queue's client id (River's own when empty): unique to one
	// start of one replica, so that Alive of a dead one's says false.
	ReplicaID string
	// Standby keeps Start from reconciling: the replica that leads calls
	// Lead, and StepDown when it no longer does.
	Standby bool
	// Alive says whether the replica called id still lives. With it, the
	// reconciler leaves alone a phase a live replica's job is working and
	// gives a new run to one whose replica died, whenever it looks; without
	// it (one process), a job still marked running is taken for dead at
	// startup only.
	Alive func(ctx context.Context, id string) (bool, error)
}

// New returns an engine over the panel, with River's tables brought up
// to date in the panel's database. Start makes it work.
func New(ctx context.Context, p *panel.Panel, opts Options) (*Engine, error) {
	name, db, err := p.JobDB()
	if err != nil {
		return nil, fmt.Errorf("move engine: %w", err)
	}
	var driver riverdriver.Driver[*sql.Tx]
	switch name {
	case "sqlite":
		driver = riversqlite.New(db)
	case "postgres":
		driver = riverdatabasesql.New(db)
	default:
		return nil, fmt.Errorf("move engine: no job queue driver for store %q", name)
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = p.Now
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{
			Timeout:       20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.HTTPPort == 0 {
		opts.HTTPPort = 80
	}
	if opts.HTTPSPort == 0 {
		opts.HTTPSPort = 443
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Hold <= 0 {
		opts.Hold = 30 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Reconcile <= 0 {
		opts.Reconcile = time.Minute
	}
	// River logs every snooze and retry at info; ferry's log wants its
	// warnings only.
	riverLog := slog.New(levelFilter{opts.Log.Handler(), slog.LevelWarn})
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: riverLog})
	if err != nil {
		return nil, fmt.Errorf("move engine: %w", err)
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("move engine: migrate job queue: %w", err)
	}
	e := &Engine{p: p, log: opts.Log, opts: opts, now: func() time.Time { return opts.Now().UTC() }, http: opts.HTTP}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{e: e}); err != nil {
		return nil, fmt.Errorf("move engine: %w", err)
	}
	e.river, err = river.NewClient(driver, &river.Config{
		ID:                   opts.ReplicaID,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers:              workers,
		Logger:               riverLog,
		PollOnly:             true,
		FetchPollInterval:    500 * time.Millisecond,
		FetchCooldown:        100 * time.Millisecond,
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: jobTimeout + 5*time.Minute,
		MaxAttempts:          maxAttempts,
	})
	if err != nil {
		return nil, fmt.Errorf("move engine: %w", err)
	}
	return e, nil
}

// Start starts working phases: River's workers, and (unless
// Options.Standby) a reconciler that gives every running phase a job (at
// once, then every Options.Reconcile), so that a phase whose process died
// goes on in this one.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.river.Start(ctx); err != nil {
		return fmt.Errorf("move engine: %w", err)
	}
	e.ctx = ctx
	if !e.opts.Standby {
		e.Lead()
	}
	return nil
}

// Lead starts the reconciler, which one replica runs at a time: it looks
// at once, then every Options.Reconcile. It does nothing if it runs.
func (e *Engine) Lead() {
	if e.stop != nil || e.Stopped() {
		return
	}
	ctx := e.ctx
	if err := e.reconcile(ctx, true); err != nil && ctx.Err() == nil {
		e.log.Warn("move engine: reconcile", "err", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	e.stop, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		t := time.NewTicker(e.opts.Reconcile)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if err := e.reconcile(rctx, false); err != nil && rctx.Err() == nil {
					e.log.Warn("move engine: reconcile", "err", err)
				}
			}
		}
	}()
}

// Stopped says whether Stop was called: a replica whose engine stopped
// must not lead.
func (e *Engine) Stopped() bool { return e.stopped.Load() }

// StepDown stops the reconciler Lead started; phases go on in River.
func (e *Engine) StepDown() {
	if e.stop != nil {
		e.stop()
		<-e.done
		e.stop, e.done = nil, nil
	}
}

// Stop stops working: running phases are interrupted and pick up where
// they were at the next Start, here or in another process.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopped.Store(true)
	e.StepDown()
	return e.river.StopAndCancel(ctx)
}

// reconcile makes sure every running phase has a job that will work it.
// At startup a job still marked running belongs to a process that died:
// the phase gets a new run, and the old job, should it ever wake, finds
// itself stale and does nothing.
func (e *Engine) reconcile(ctx context.Context, startup bool) error {
	var moves []model.Move
	err := e.p.View(ctx, func(tx store.Tx) error {
		var err error
		moves, err = tx.ListMoves(ctx, store.MoveFilter{ActiveOnly: true})
		return err
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range moves {
		if m.Status != model.MoveRunning {
			continue
		}
		if err := e.ensureJob(ctx, m, startup); err != nil {
			errs = append(errs, fmt.Errorf("move %d: %w", m.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) ensureJob(ctx context.Context, m model.Move, startup bool) error {
	d, err := decodeData(m)
	if err != nil {
		return err
	}
	res, err := e.enqueue(ctx, m.ID, d.Run, m.Phase)
	if err != nil || !res.UniqueSkippedAsDuplicate {
		return err
	}
	switch res.Job.State {
	case "available", "scheduled", "retryable", "pending":
		return nil // it will run
	case "running":
		if e.opts.Alive != nil {
			if alive, err := e.workerAlive(ctx, res.Job.AttemptedBy); err != nil || alive {
				return err // a live replica works it
			}
		} else if !startup {
			return nil // ours, or another live replica's
		}
	}
	// The run's job will not work it: give the phase a new run.
	var run int
	err = e.p.Update(ctx, func(tx store.Tx) error {
		m2, err := tx.GetMove(ctx, m.ID)
		if err != nil {
			return err
		}
		d2, err := decodeData(m2)
		if err != nil {
			return err
		}
		if d2.Run != d.Run || m2.Status != model.MoveRunning {
			run = 0 // moved on meanwhile
			return nil
		}
		d2.Run++
		run = d2.Run
		if ev := d2.eventOf(d.Run); ev != nil {
			ev.Run = run // the same phase run goes on under a new number
		}
		if err := encodeData(&m2, d2); err != nil {
			return err
		}
		return tx.UpdateMove(ctx, &m2)
	})
	if err != nil || run == 0 {
		return err
	}
	e.log.Info("move engine: resuming phase", "move", m.ID, "phase", m.Phase, "run", run)
	_, err = e.enqueue(ctx, m.ID, run, m.Phase)
	return err
}

// workerAlive says whether the replica that took a job last still lives.
func (e *Engine) workerAlive(ctx context.Context, attemptedBy []string) (bool, error) {
	if len(attemptedBy) == 0 {
		return false, nil
	}
	id := attemptedBy[len(attemptedBy)-1]
	if id == e.river.ID() {
		return true, nil
	}
	return e.opts.Alive(ctx, id)
}

// levelFilter drops records below min.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(as), f.min}
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(name), f.min}
}
