package rebalance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// admin is who a batch's moves are driven and audited as: the admin who
// applied it.
func admin(name string) panel.Caller { return panel.Caller{Name: name, Role: model.RoleAdmin} }

// copying reports whether a move runs one of the phases that copy or
// compare data (prepare, sync, verify). Any such move keeps its source host
// from starting another one of a batch.
func copying(m model.Move) bool {
	return m.Status == model.MoveRunning && (m.Phase == model.PhasePrepare || m.Phase == model.PhaseSync || m.Phase == model.PhaseVerify)
}

// copyingEntry reports whether a batch's move is between its start and a
// verify that ran: it holds a place in the batch's concurrency, and keeps
// its source from starting another move, also between two phases.
func copyingEntry(e Entry) bool {
	return e.Status == EntryRunning && (e.Phase == model.PhasePrepare || e.Phase == model.PhaseSync || e.Phase == model.PhaseVerify)
}

// refusal reports whether err is the engine or the panel saying no, as
// opposed to failing to answer.
func refusal(err error) bool {
	var fe *model.FieldError
	return errors.Is(err, panel.ErrRefused) || errors.Is(err, panel.ErrForbidden) || errors.Is(err, store.ErrNotFound) || errors.As(err, &fe)
}

// pass looks at every running batch once, oldest first: it follows each
// started move and starts its next phase when one is due, then starts
// pending moves while the batch's concurrency and the source hosts allow.
func (r *Runner) pass(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh(ctx)
	var running []*Batch
	for _, b := range r.batches {
		if b.State == BatchRunning {
			running = append(running, b)
		}
	}
	if len(running) == 0 {
		return
	}
	slices.SortFunc(running, func(a, b *Batch) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID)) })
	// Sources busy with any move, this runner's or not.
	active, err := r.e.List(ctx, panel.System, "", true)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("rebalance: list moves", "err", err)
		}
		return
	}
	busy := map[string]bool{}
	for _, v := range active {
		if copying(v.Move) {
			busy[v.From] = true
		}
	}
	for _, b := range running {
		if ctx.Err() != nil {
			return
		}
		before := slices.Clone(b.Entries)
		r.advance(ctx, b, busy)
		if !slices.Equal(before, b.Entries) {
			b.UpdatedAt = r.p.Now()
			for i, e := range b.Entries {
				if e.Status != before[i].Status && e.Status.Ended() {
					r.log.Info("rebalance move ended", "batch", b.ID, "order", e.Identifier, "from", e.From, "to", e.To, "status", e.Status, "note", e.Note)
				}
			}
		}
		if err := r.save(ctx, b); err != nil {
			r.log.Warn("rebalance: keep batch", "batch", b.ID, "err", err)
		}
	}
}

// advance drives one batch one step.
func (r *Runner) advance(ctx context.Context, b *Batch, busy map[string]bool) {
	for i := range b.Entries {
		e := &b.Entries[i]
		if e.MoveID == 0 || e.Status == EntryPending || e.Status.Ended() {
			continue
		}
		v, err := r.e.Get(ctx, panel.System, e.MoveID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				e.Status, e.Note = EntryFailed, fmt.Sprintf("move %d is gone", e.MoveID)
			} else {
				r.log.Warn("rebalance: follow move", "move", e.MoveID, "err", err)
			}
			continue
		}
		r.track(ctx, b, e, v)
	}
	slots := b.Concurrency
	for _, e := range b.Entries {
		if copyingEntry(e) {
			slots--
			busy[e.From] = true
		}
	}
	for i := range b.Entries {
		e := &b.Entries[i]
		if slots <= 0 {
			break
		}
		if e.Status != EntryPending || busy[e.From] {
			continue
		}
		if e.MoveID != 0 {
			r.resume(ctx, b, e)
		} else {
			r.start(ctx, b, e)
		}
		if copyingEntry(*e) {
			slots--
			busy[e.From] = true
		}
	}
	done := true
	for _, e := range b.Entries {
		done = done && e.Status.Ended()
	}
	if done {
		b.State = BatchFinished
		r.log.Info("rebalance batch finished", "batch", b.ID, "count", b.Count())
	}
}

// track takes the move's state into the entry and starts its next phase
// when one is due.
func (r *Runner) track(ctx context.Context, b *Batch, e *Entry, v move.View) {
	e.Phase = v.Phase
	switch {
	case v.Phase == model.PhaseDone:
		e.Status, e.Note = EntryDone, ""
	case v.Phase == model.PhaseAborted:
		e.Status, e.Note = EntryAborted, "the move was aborted"
	case v.Status == model.MoveRunning:
		d, _ := v.Info()
		e.Status, e.Note = EntryRunning, d.Waiting
	case v.Status == model.MoveFailed:
		e.Status, e.Note = EntryFailed, fmt.Sprintf("%s failed: %s (ferry move %s %s resumes it, or apply the plan again)", v.Phase, v.Error, v.Phase, e.Identifier)
	case v.Phase == model.PhasePrepare:
		r.run(ctx, b, e, model.PhaseSync)
	case v.Phase == model.PhaseSync:
		r.run(ctx, b, e, model.PhaseVerify)
	case v.Phase == model.PhaseVerify:
		if problems, ok := verified(v); !ok {
			e.Status, e.Note = EntryFailed, fmt.Sprintf("verify found differences (%s); see ferry move status %s, then sync and verify again, or abort", problems, e.Identifier)
		} else if !b.AutoCutover {
			e.Status, e.Note = EntryVerified, fmt.Sprintf("verified; cut it over with ferry move cutover %s, or apply the plan again with --auto-cutover", e.Identifier)
		} else {
			r.run(ctx, b, e, model.PhaseCutover)
		}
	case v.Phase == model.PhaseCutover:
		r.run(ctx, b, e, model.PhaseCleanup)
	}
}

func verified(v move.View) (string, bool) {
	d, err := v.Info()
	if err != nil || d.Verify == nil {
		return "no report", false
	}
	return strings.Join(d.Verify.Problems, "; "), d.Verify.Passed
}

// run starts a phase of the entry's move with the batch's options. A
// guard's refusal makes the entry wait and ask again after Retry.
func (r *Runner) run(ctx context.Context, b *Batch, e *Entry, phase model.MovePhase) {
	now := r.p.Now()
	if at, ok := r.retryAt[e.MoveID]; ok && now.Before(at) {
		return
	}
	var in move.PhaseInput
	switch phase {
	case model.PhaseSync:
		in.BWLimit = b.BWLimit
	case model.PhaseCutover, model.PhaseCleanup:
		// A batch's force skips the TTL waits only: auto-cutover cuts
		// over moves whose verify passed, so no other guard is in play.
		in.SkipTTLWait = b.Force
	}
	_, err := r.e.RunPhase(ctx, admin(b.By), e.MoveID, phase, in)
	switch {
	case err == nil:
		delete(r.retryAt, e.MoveID)
		e.Status, e.Phase, e.Note = EntryRunning, phase, ""
	case refusal(err):
		r.retryAt[e.MoveID] = now.Add(r.opts.Retry)
		e.Status, e.Note = EntryWaiting, fmt.Sprintf("%s: %v", phase, err)
	default:
		r.log.Warn("rebalance: start phase", "move", e.MoveID, "phase", phase, "err", err)
	}
}

// start starts the entry's move, after making sure the plan still holds
// for its order: a move of it in progress from and to the same hosts is
// taken over (the runner stopped after starting it, or an admin started
// it), an order that went elsewhere is skipped.
func (r *Runner) start(ctx context.Context, b *Batch, e *Entry) {
	c := admin(b.By)
	ref := strconv.FormatInt(e.OrderID, 10)
	vs, err := r.e.List(ctx, c, ref, true)
	if err == nil && len(vs) > 0 {
		v := vs[len(vs)-1]
		if v.From == e.From && v.To == e.To {
			e.MoveID = v.ID
			r.track(ctx, b, e, v)
			return
		}
		e.Status, e.Note = EntryFailed, fmt.Sprintf("already being moved from %s to %s (move %d); finish or abort that move, then apply the plan again", v.From, v.To, v.ID)
		return
	}
	var o model.Order
	if err == nil {
		o, err = r.p.GetOrder(ctx, c, ref)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.Status, e.Note = EntrySkipped, fmt.Sprintf("order %d is gone", e.OrderID)
		return
	case err != nil:
		r.log.Warn("rebalance: look at order", "order", e.OrderID, "err", err)
		return
	case o.State != model.OrderActive:
		e.Status, e.Note = EntrySkipped, fmt.Sprintf("the order is %s", o.State)
		return
	case o.Host == e.To:
		e.Status, e.Note = EntrySkipped, "already on "+e.To
		return
	case o.Host != e.From:
		e.Status, e.Note = EntrySkipped, fmt.Sprintf("now on %s, not %s: the plan is out of date for it", o.Host, e.From)
		return
	}
	v, err := r.e.StartMove(ctx, c, move.StartInput{Order: ref, To: e.To})
	switch {
	case err == nil:
		e.MoveID, e.Status, e.Phase, e.Note = v.ID, EntryRunning, v.Phase, ""
	case refusal(err):
		e.Status, e.Note = EntryFailed, err.Error()
	default:
		r.log.Warn("rebalance: start move", "order", e.Identifier, "err", err)
	}
}

// resume takes a failed entry up again where its move stopped: a failed
// phase runs again (prepare through a new start, which resumes it), a
// verify that found differences is preceded by a new sync.
func (r *Runner) resume(ctx context.Context, b *Batch, e *Entry) {
	v, err := r.e.Get(ctx, panel.System, e.MoveID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			e.Status, e.Note = EntryFailed, fmt.Sprintf("move %d is gone", e.MoveID)
		}
		return
	}
	_, passed := verified(v)
	switch {
	case v.Status == model.MoveFailed && v.Phase == model.PhasePrepare:
		if _, err := r.e.StartMove(ctx, admin(b.By), move.StartInput{Order: strconv.FormatInt(e.OrderID, 10), To: e.To}); err != nil {
			e.Status, e.Note = EntryFailed, err.Error()
			return
		}
		e.Status, e.Phase, e.Note = EntryRunning, model.PhasePrepare, ""
	case v.Status == model.MoveFailed:
		r.run(ctx, b, e, v.Phase)
	case v.Active() && v.Phase == model.PhaseVerify && v.Status == model.MoveSucceeded && !passed:
		r.run(ctx, b, e, model.PhaseSync)
	default:
		r.track(ctx, b, e, v)
	}
}
