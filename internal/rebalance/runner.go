package rebalance

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// Mover is the move engine as the runner drives it; *move.Engine is one.
type Mover interface {
	StartMove(ctx context.Context, c panel.Caller, in move.StartInput) (move.View, error)
	RunPhase(ctx context.Context, c panel.Caller, id int64, phase model.MovePhase, in move.PhaseInput) (move.View, error)
	Get(ctx context.Context, c panel.Caller, id int64) (move.View, error)
	List(ctx context.Context, c panel.Caller, orderRef string, activeOnly bool) ([]move.View, error)
}

var _ Mover = (*move.Engine)(nil)

// Limits of what a batch may ask for.
const (
	MaxConcurrency = 32
	maxMoves       = 100000
)

// RunnerOptions configure a Runner. Zero fields take the defaults.
type RunnerOptions struct {
	// ImportDir holds batch files (b-*.json) kept there by a ferry from
	// before batches lived in the store: on start, each one the store lacks
	// is copied into it and its file renamed *.json.imported. Empty, or a
	// directory that does not exist, imports nothing.
	ImportDir string
	Log       *slog.Logger
	// Poll is how often running batches look at their moves (2s).
	Poll time.Duration
	// Retry is how long an entry waits after a guard refused its next
	// phase before it asks again (15s).
	Retry time.Duration
}

// Runner carries plans out as batches, in the control plane: a batch goes
// on when the CLI that applied it goes away, and after a restart of the
// control plane (batches are kept in the store).
type Runner struct {
	p    *panel.Panel
	e    Mover
	opts RunnerOptions
	log  *slog.Logger

	// mu guards the batches and is held through a whole pass of the loop,
	// so that a pass and a request never act on one batch at once.
	mu      sync.Mutex
	batches map[string]*Batch
	written map[string][]byte
	retryAt map[int64]time.Time // by move id
	wake    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

// NewRunner returns a runner over the panel and the move engine, with the
// batches the store keeps loaded (and those of opts.ImportDir imported).
// Start makes it work.
func NewRunner(ctx context.Context, p *panel.Panel, e Mover, opts RunnerOptions) (*Runner, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = 15 * time.Second
	}
	r := &Runner{p: p, e: e, opts: opts, log: opts.Log, batches: map[string]*Batch{}, written: map[string][]byte{},
		retryAt: map[int64]time.Time{}, wake: make(chan struct{}, 1)}
	var recs []model.BatchRecord
	err := p.View(ctx, func(tx store.Tx) error {
		var err error
		recs, err = tx.ListBatches(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("rebalance: %w", err)
	}
	for _, rec := range recs {
		r.take(rec)
	}
	if err := r.importFiles(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// importFiles copies the batch files of opts.ImportDir the store lacks
// into it, and renames each file it took (or found taken) *.imported.
func (r *Runner) importFiles(ctx context.Context) error {
	if r.opts.ImportDir == "" {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(r.opts.ImportDir, "b-*.json"))
	if err != nil {
		return fmt.Errorf("rebalance: %w", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		var b Batch
		if err == nil {
			err = json.Unmarshal(data, &b)
		}
		if err != nil || b.ID+".json" != filepath.Base(f) {
			r.log.Warn("rebalance: not importing a batch file that does not read", "file", f, "err", err)
			continue
		}
		if r.batches[b.ID] == nil {
			if err := r.save(ctx, &b); err != nil {
				return err
			}
			r.batches[b.ID] = &b
			r.log.Info("rebalance: batch file imported into the store", "file", f, "batch", b.ID, "state", b.State)
		}
		if err := os.Rename(f, f+".imported"); err != nil {
			return fmt.Errorf("rebalance: %w", err)
		}
	}
	return nil
}

// Start runs the batches in the background until Stop. One replica of
// the control plane runs them at a time (the leader); every replica
// answers for them, from the store.
func (r *Runner) Start(ctx context.Context) {
	if r.stop != nil {
		return
	}
	ctx, r.stop = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.opts.Poll)
		defer t.Stop()
		for {
			r.pass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-r.wake:
			}
		}
	}()
}

// Stop stops running batches; their moves go on in the move engine, and
// the batches where they were at the next Start.
func (r *Runner) Stop() {
	if r.stop != nil {
		r.stop()
		<-r.done
		r.stop, r.done = nil, nil
	}
}

func (r *Runner) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func mayRebalance(c panel.Caller) error {
	if !c.IsAdmin() {
		return fmt.Errorf("%w: only admins move orders (a %s token cannot)", panel.ErrForbidden, c.Role)
	}
	return nil
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", panel.ErrRefused, fmt.Sprintf(format, args...))
}

// Plan reads the fleet and plans; it changes nothing.
func (r *Runner) Plan(ctx context.Context, c panel.Caller, o Options) (Plan, error) {
	if err := mayRebalance(c); err != nil {
		return Plan{}, err
	}
	if _, err := ParseMetric(string(o.By)); err != nil {
		return Plan{}, err
	}
	if o.MaxMoves < 0 {
		return Plan{}, &model.FieldError{Field: "max_moves", Message: "must not be negative"}
	}
	if o.Drain != "" {
		if _, err := r.p.GetHost(ctx, c, o.Drain); err != nil {
			return Plan{}, err
		}
	}
	var f Fleet
	now := r.p.Now()
	err := r.p.View(ctx, func(tx store.Tx) error {
		var err error
		f, err = ReadFleet(ctx, tx, now)
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	p := Build(f, o)
	p.MadeAt = now
	return p, nil
}

func checkOptions(o *ApplyOptions) error {
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	switch {
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		return &model.FieldError{Field: "concurrency", Message: fmt.Sprintf("must be 1 to %d", MaxConcurrency)}
	case o.BWLimit < 0:
		return &model.FieldError{Field: "bwlimit", Message: "must not be negative"}
	case o.Force && !o.AutoCutover:
		return &model.FieldError{Field: "force", Message: "forces the cutover and cleanup of auto-cutover only; give auto-cutover too, or force each move by hand"}
	}
	return nil
}

// checkPlan refuses a plan that cannot be carried out as it stands. The
// moves' own guards are the move engine's, checked as each one starts.
func checkPlan(p Plan) error {
	if len(p.Problems) > 0 {
		return panel.RefusedList("the plan has problems", p.Problems)
	}
	if len(p.Moves) > maxMoves {
		return &model.FieldError{Field: "plan", Message: fmt.Sprintf("holds %d moves, more than %d", len(p.Moves), maxMoves)}
	}
	seen := map[int64]bool{}
	for i, m := range p.Moves {
		switch {
		case m.OrderID <= 0 || m.From == "" || m.To == "":
			return &model.FieldError{Field: fmt.Sprintf("plan.moves[%d]", i), Message: "needs order_id, from and to"}
		case m.From == m.To:
			return &model.FieldError{Field: fmt.Sprintf("plan.moves[%d]", i), Message: fmt.Sprintf("moves %s from %s to itself", m.Identifier, m.From)}
		case seen[m.OrderID]:
			return &model.FieldError{Field: fmt.Sprintf("plan.moves[%d]", i), Message: fmt.Sprintf("moves order %d a second time", m.OrderID)}
		}
		seen[m.OrderID] = true
	}
	return nil
}

// Apply starts carrying a plan out, or, for a plan applied before, takes
// its batch up again with the new options: ended moves stay as they are,
// failed ones are tried again, running ones go on.
func (r *Runner) Apply(ctx context.Context, c panel.Caller, in ApplyInput) (Batch, error) {
	if err := mayRebalance(c); err != nil {
		return Batch{}, err
	}
	if err := checkOptions(&in.ApplyOptions); err != nil {
		return Batch{}, err
	}
	if err := checkPlan(in.Plan); err != nil {
		return Batch{}, err
	}
	if len(in.Plan.Moves) == 0 && in.Plan.Drain == "" {
		return Batch{}, refused("the plan moves nothing")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh(ctx)
	now := r.p.Now()
	id := in.Plan.BatchID()
	b := r.batches[id]
	if b == nil {
		b = &Batch{ID: id, Plan: in.Plan, CreatedAt: now, Entries: make([]Entry, len(in.Plan.Moves))}
		for i, m := range in.Plan.Moves {
			b.Entries[i] = Entry{PlannedMove: m, Status: EntryPending}
		}
		r.batches[id] = b
	}
	b.By, b.ApplyOptions, b.State, b.UpdatedAt = c.Name, in.ApplyOptions, BatchRunning, now
	for i := range b.Entries {
		if e := &b.Entries[i]; e.Status == EntryFailed {
			e.Status, e.Note = EntryPending, "tried again after: "+e.Note
			delete(r.retryAt, e.MoveID)
		}
	}
	if err := r.save(ctx, b); err != nil {
		return Batch{}, err
	}
	r.log.Info("rebalance batch applied", "batch", id, "by", c.Name, "moves", len(b.Entries), "concurrency", b.Concurrency, "auto_cutover", b.AutoCutover, "force", b.Force)
	r.kick()
	return clone(b), nil
}

// Drain marks a web host draining, so that it takes no new orders, and
// moves every one of its orders to the other active hosts as a batch. It
// refuses, and changes nothing, when an order cannot leave the host. A
// drain of a host whose drain batch is still running takes that batch up
// again.
func (r *Runner) Drain(ctx context.Context, c panel.Caller, name string, in DrainInput) (Batch, error) {
	if err := mayRebalance(c); err != nil {
		return Batch{}, err
	}
	if err := checkOptions(&in.ApplyOptions); err != nil {
		return Batch{}, err
	}
	h, err := r.p.GetHost(ctx, c, name)
	if err != nil {
		return Batch{}, err
	}
	if !h.HasRole(model.RoleWeb) {
		return Batch{}, refused("host %s has no web role: it holds no orders to drain", name)
	}
	if h.State == model.HostRetired {
		return Batch{}, refused("host %s is retired already", name)
	}
	r.mu.Lock()
	r.refresh(ctx)
	var plan *Plan
	for _, b := range r.batches {
		if b.State == BatchRunning && b.Plan.Drain == name {
			plan = &b.Plan
		}
	}
	r.mu.Unlock()
	if plan == nil {
		p, err := r.Plan(ctx, c, Options{By: ByDisk, Drain: name})
		if err != nil {
			return Batch{}, err
		}
		if len(p.Problems) > 0 {
			return Batch{}, panel.RefusedList("cannot drain "+name, p.Problems)
		}
		plan = &p
	}
	if h.State != model.HostDraining {
		draining := model.HostDraining
		if _, err := r.p.UpdateHost(ctx, c, name, panel.HostPatch{State: &draining}); err != nil {
			return Batch{}, err
		}
	}
	return r.Apply(ctx, c, ApplyInput{Plan: *plan, ApplyOptions: in.ApplyOptions})
}

// Get returns a batch.
func (r *Runner) Get(ctx context.Context, c panel.Caller, id string) (Batch, error) {
	if err := mayRebalance(c); err != nil {
		return Batch{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh(ctx)
	b, err := r.batch(id)
	if err != nil {
		return Batch{}, err
	}
	return clone(b), nil
}

// batch finds a batch; r.mu is held.
func (r *Runner) batch(id string) (*Batch, error) {
	b := r.batches[id]
	if b == nil {
		return nil, fmt.Errorf("batch %q does not exist (ferry rebalance status lists them): %w", id, store.ErrNotFound)
	}
	return b, nil
}

// List returns every batch, newest first.
func (r *Runner) List(ctx context.Context, c panel.Caller) ([]Batch, error) {
	if err := mayRebalance(c); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh(ctx)
	out := make([]Batch, 0, len(r.batches))
	for _, b := range r.batches {
		out = append(out, clone(b))
	}
	slices.SortFunc(out, func(a, b Batch) int { return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.ID, b.ID)) })
	return out, nil
}

// Cancel stops a batch from starting or driving any more moves; the moves
// it started stay where they are, to be finished or aborted by hand.
func (r *Runner) Cancel(ctx context.Context, c panel.Caller, id string) (Batch, error) {
	if err := mayRebalance(c); err != nil {
		return Batch{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh(ctx)
	b, err := r.batch(id)
	if err != nil {
		return Batch{}, err
	}
	if b.State == BatchRunning {
		b.State, b.UpdatedAt = BatchCancelled, r.p.Now()
		if err := r.save(ctx, b); err != nil {
			return Batch{}, err
		}
		r.log.Info("rebalance batch cancelled", "batch", id, "by", c.Name)
	}
	return clone(b), nil
}

func clone(b *Batch) Batch {
	c := *b
	c.Entries = slices.Clone(b.Entries)
	return c
}

// ErrBatchChanged: another replica changed the batch since this one read
// it; nothing was written, and the batch as it now stands is read again.
// It is a store.ErrConflict, which the API answers with 409.
var ErrBatchChanged = fmt.Errorf("the batch changed meanwhile (another replica of the control plane wrote it); look at it again and retry: %w", store.ErrConflict)

// save keeps the batch in the store when it changed, unless the store's
// copy is no longer the one this runner last read or wrote: then it
// writes nothing, takes the store's copy and returns ErrBatchChanged.
func (r *Runner) save(ctx context.Context, b *Batch) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	prev, known := r.written[b.ID]
	if bytes.Equal(data, prev) {
		return nil
	}
	rec := model.BatchRecord{ID: b.ID, State: string(b.State), Data: string(data), CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
	var theirs *model.BatchRecord
	err = r.p.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetBatch(ctx, b.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case !known || cur.Data != string(prev):
			theirs = &cur
			return nil
		}
		return tx.PutBatch(ctx, rec)
	})
	if err != nil {
		return fmt.Errorf("rebalance: save batch %s: %w", b.ID, err)
	}
	if theirs != nil {
		r.take(*theirs)
		return fmt.Errorf("rebalance: save batch %s: %w", b.ID, ErrBatchChanged)
	}
	r.written[b.ID] = data
	return nil
}

// refresh takes the batches the store holds that differ from what this
// runner last read or wrote: those another replica made or changed. r.mu
// is held. A store that does not answer leaves the batches as they were.
func (r *Runner) refresh(ctx context.Context) {
	var recs []model.BatchRecord
	err := r.p.View(ctx, func(tx store.Tx) error {
		var err error
		recs, err = tx.ListBatches(ctx)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("rebalance: read batches", "err", err)
		}
		return
	}
	for _, rec := range recs {
		if rec.Data != string(r.written[rec.ID]) {
			r.take(rec)
		}
	}
}

// take puts the store's copy of a batch in place of this runner's.
func (r *Runner) take(rec model.BatchRecord) {
	var b Batch
	if err := json.Unmarshal([]byte(rec.Data), &b); err != nil || b.ID != rec.ID {
		r.log.Warn("rebalance: skipping a batch that does not read", "batch", rec.ID, "err", err)
		return
	}
	r.batches[b.ID] = &b
	r.written[b.ID] = []byte(rec.Data)
}
