package move

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ferry/internal/model"
	"ferry/internal/store"
)

const (
	jobKind = "ferry_move_phase"
	// jobTimeout bounds one job's work: waits are cut into Options.Hold
	// slices by snoozing, so only verify's HTTP checks come near it.
	jobTimeout = 10 * time.Minute
	// maxAttempts keeps River from discarding a phase whose store is
	// briefly unreachable; failAfter errors in a row fail the phase instead.
	maxAttempts = 1000
	failAfter   = 8
)

// jobArgs name one run of one move's phase. A run is unique: a second
// insert of the same run is skipped while the first exists.
type jobArgs struct {
	MoveID int64           `json:"move_id" river:"unique"`
	Run    int             `json:"run" river:"unique"`
	Phase  model.MovePhase `json:"phase"`
}

// Kind names the job kind for River.
func (jobArgs) Kind() string { return jobKind }

func (e *Engine) enqueue(ctx context.Context, id int64, run int, phase model.MovePhase) (*rivertype.JobInsertResult, error) {
	res, err := e.river.Insert(ctx, jobArgs{MoveID: id, Run: run, Phase: phase}, &river.InsertOpts{
		MaxAttempts: maxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	})
	if err != nil {
		return nil, fmt.Errorf("queue move %d %s: %w", id, phase, err)
	}
	return res, nil
}

// worker works a phase run as far as it can, waiting in process for node
// reports for up to Options.Hold, then snoozing so the worker is free.
type worker struct {
	river.WorkerDefaults[jobArgs]
	e *Engine
}

// Work advances the phase run.
func (w *worker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	e := w.e
	hold := time.NewTimer(e.opts.Hold)
	defer hold.Stop()
	for {
		wake := e.p.WaitTask(ctx, job.Args.MoveID)
		o, err := e.advance(ctx, job.Args.MoveID, job.Args.Run)
		if err != nil {
			if ctx.Err() != nil {
				// Shutting down: the next process takes the run up at once.
				return river.JobSnooze(0)
			}
			e.log.Warn("move phase failed to advance", "move", job.Args.MoveID, "phase", job.Args.Phase, "attempt", job.Attempt, "err", err)
			if job.Attempt >= failAfter {
				return e.giveUp(ctx, job.Args, err)
			}
			return err
		}
		if o == ended {
			return nil
		}
		tick := time.NewTimer(e.opts.Poll)
		select {
		case <-ctx.Done():
			tick.Stop()
			return river.JobSnooze(0)
		case <-hold.C:
			tick.Stop()
			return river.JobSnooze(e.opts.Poll)
		case <-wake:
		case <-tick.C:
		}
		tick.Stop()
	}
}

// giveUp fails a phase run that keeps erring, so that it shows as failed
// instead of retrying for ever; running the phase again resumes it.
func (e *Engine) giveUp(ctx context.Context, a jobArgs, cause error) error {
	r, err := e.load(ctx, a.MoveID)
	if err != nil {
		return err
	}
	if r.d.Run != a.Run || r.m.Status != model.MoveRunning {
		return nil
	}
	err = r.fail(ctx, fmt.Sprintf("%s keeps failing: %v", r.m.Phase, cause))
	if errors.Is(err, errStale) {
		return nil
	}
	return err
}

// outcome is what one step of a phase did.
type outcome int

const (
	advanced outcome = iota // the step is done and recorded
	waiting                 // the step waits for a node or the clock
	ended                   // the phase run is over (or not ours any more)
)

// advance runs the steps of the move's current phase run while they can
// go on.
func (e *Engine) advance(ctx context.Context, id int64, run int) (outcome, error) {
	for {
		r, err := e.load(ctx, id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ended, nil
			}
			return 0, err
		}
		if r.d.Run != run || r.m.Status != model.MoveRunning || !r.m.Active() {
			return ended, nil
		}
		steps := phaseSteps[r.m.Phase]
		if r.d.Step >= len(steps) {
			return ended, r.fail(ctx, fmt.Sprintf("phase %s has no step %d", r.m.Phase, r.d.Step))
		}
		o, err := steps[r.d.Step](ctx, r)
		if errors.Is(err, errStale) {
			return ended, nil
		}
		if err != nil || o != advanced {
			return o, err
		}
	}
}
