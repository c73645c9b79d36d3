package move

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// PhaseInput asks for a phase; see wire.MovePhaseInput.
type PhaseInput = wire.MovePhaseInput

// Phases an admin may ask for once a move is started.
var commandPhases = []model.MovePhase{model.PhaseSync, model.PhaseVerify, model.PhaseCutover, model.PhaseCleanup, model.PhaseAbort}

// RunPhase starts (or resumes) a phase of move id, after its guards. It
// returns at once; the phase runs in the background.
func (e *Engine) RunPhase(ctx context.Context, c panel.Caller, id int64, phase model.MovePhase, in PhaseInput) (View, error) {
	if err := mayMove(c); err != nil {
		return View{}, err
	}
	known := false
	for _, p := range commandPhases {
		known = known || p == phase
	}
	if !known {
		return View{}, &model.FieldError{Field: "phase", Message: fmt.Sprintf("unknown phase %q (sync, verify, cutover, cleanup, abort)", phase)}
	}
	if in.Force {
		return View{}, &model.FieldError{Field: "force", Message: "force is replaced by one override per guard: skip_ttl_wait (cutover and cleanup) and accept_verify_differences (cutover)"}
	}
	if in.SkipTTLWait && phase != model.PhaseCutover && phase != model.PhaseCleanup {
		return View{}, &model.FieldError{Field: "skip_ttl_wait", Message: "only cutover and cleanup wait for a TTL"}
	}
	if in.AcceptVerifyDifferences && phase != model.PhaseCutover {
		return View{}, &model.FieldError{Field: "accept_verify_differences", Message: "only cutover waits for a verify that passed"}
	}
	if in.BWLimit < 0 || (in.BWLimit > 0 && phase != model.PhaseSync) {
		return View{}, &model.FieldError{Field: "bwlimit", Message: "only sync takes a bandwidth limit, in KiB/s"}
	}
	var m model.Move
	err := e.p.Update(ctx, func(tx store.Tx) error {
		var err error
		m, err = e.beginPhase(ctx, tx, c, id, phase, in)
		return err
	})
	if err != nil {
		return View{}, err
	}
	e.kick(ctx, m)
	return e.Get(ctx, c, id)
}

// beginPhase checks that phase may run now and records it as running with
// a new run number, in tx.
func (e *Engine) beginPhase(ctx context.Context, tx store.Tx, c panel.Caller, id int64, phase model.MovePhase, in PhaseInput) (model.Move, error) {
	m, err := tx.GetMove(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return m, fmt.Errorf("move %d does not exist: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return m, err
	}
	d, err := decodeData(m)
	if err != nil {
		return m, err
	}
	if err := allowed(m, d, phase); err != nil {
		return m, err
	}
	resume := m.Phase == phase && m.Status == model.MoveFailed && resumable(phase)
	var risk string
	if !resume {
		switch phase {
		case model.PhaseCutover:
			risk, err = e.cutoverGuard(ctx, tx, m, &d, in)
		case model.PhaseCleanup:
			if err = e.newHostGone(ctx, tx, m); err == nil {
				risk, err = e.cleanupGuard(&d, in)
			}
		}
		if err != nil {
			return m, err
		}
	}
	now := e.now()
	d.Run++
	if resume {
		if err := dropFailedTasks(ctx, tx, &d); err != nil {
			return m, err
		}
	} else {
		d.Step, d.Tasks = 0, nil
	}
	overrides := overridesOf(in)
	d.By, d.Force, d.Waiting = c.Name, len(overrides) > 0, ""
	if phase == model.PhaseSync {
		d.SyncRuns++
		d.BWLimit = in.BWLimit
	}
	if phase == model.PhaseCutover && !resume {
		d.Cutover = &CutoverReport{Forced: risk}
	}
	if phase == model.PhaseCleanup && risk != "" {
		d.Cleanup = &EndReport{Forced: risk}
	}
	note := ""
	if resume {
		note = "resumed after: " + m.Error
	}
	d.History = append(d.History, Event{Phase: phase, Run: d.Run, By: c.Name, Force: len(overrides) > 0, Overrides: overrides, At: now, Status: model.MoveRunning, Note: note})
	m.Phase, m.Status, m.Error = phase, model.MoveRunning, ""
	if err := encodeData(&m, d); err != nil {
		return m, err
	}
	if err := tx.UpdateMove(ctx, &m); err != nil {
		return m, err
	}
	after := map[string]any{"force": len(overrides) > 0, "overrides": overrides, "resume": resume}
	if risk != "" {
		after["risk"] = risk
	}
	return m, e.p.Audit(ctx, tx, c, panel.AuditMoveStart(phase), moveObject(m.ID), m.OrderID, nil, after)
}

// acceptedVerifyDifferences says whether the running phase was started
// past a failed verify (--accept-verify-differences).
func (r *run) acceptedVerifyDifferences() bool {
	ev := r.d.eventOf(r.d.Run)
	return ev != nil && slices.Contains(ev.Overrides, "accept-verify-differences")
}

// overridesOf names the guards in overrides, as the CLI's flags do.
func overridesOf(in PhaseInput) []string {
	var o []string
	if in.SkipTTLWait {
		o = append(o, "skip-ttl-wait")
	}
	if in.AcceptVerifyDifferences {
		o = append(o, "accept-verify-differences")
	}
	return o
}

// allowed says whether phase may follow where move m stands.
func allowed(m model.Move, d Data, phase model.MovePhase) error {
	if !m.Active() {
		return refused("move %d has ended (%s); start a new one with ferry move start", m.ID, m.Phase)
	}
	before := m.Phase == model.PhasePrepare || m.Phase == model.PhaseSync || m.Phase == model.PhaseVerify
	if m.Status == model.MoveRunning && !(phase == model.PhaseAbort && before) {
		what := m.Phase
		if d.Waiting != "" {
			return refused("move %d is still running its %s phase (%s); wait for it (ferry move status) or abort it", m.ID, what, d.Waiting)
		}
		return refused("move %d is still running its %s phase; wait for it (ferry move status) or abort it", m.ID, what)
	}
	failedPrepare := m.Phase == model.PhasePrepare && m.Status == model.MoveFailed
	switch phase {
	case model.PhaseSync:
		if failedPrepare {
			return refused("move %d's prepare failed (%s); start it again with ferry move start to resume, or abort it", m.ID, m.Error)
		}
		if !before {
			return refused("move %d is past syncing (phase %s): syncing now would overwrite changes made on %s", m.ID, m.Phase, m.To)
		}
	case model.PhaseVerify:
		switch {
		case m.Phase == model.PhasePrepare:
			return refused("move %d has not synced yet; run ferry move sync first", m.ID)
		case m.Phase == model.PhaseSync && m.Status == model.MoveFailed:
			return refused("move %d's last sync failed (%s); run ferry move sync again first", m.ID, m.Error)
		case !before:
			return refused("move %d is past verifying (phase %s)", m.ID, m.Phase)
		}
	case model.PhaseCutover:
		switch {
		case m.Phase == model.PhaseCutover && m.Status == model.MoveFailed:
		case m.Phase == model.PhaseVerify:
		case m.Phase == model.PhaseSync || m.Phase == model.PhasePrepare:
			return refused("move %d has not been verified since its last sync; run ferry move verify first", m.ID)
		default:
			return refused("move %d is in phase %s (%s); cutover follows a verify", m.ID, m.Phase, m.Status)
		}
	case model.PhaseCleanup:
		if !(m.Phase == model.PhaseCutover && m.Status == model.MoveSucceeded) && !(m.Phase == model.PhaseCleanup && m.Status == model.MoveFailed) {
			return refused("move %d has not been cut over (phase %s, %s); cleanup follows a finished cutover", m.ID, m.Phase, m.Status)
		}
	case model.PhaseAbort:
		switch {
		case before, m.Phase == model.PhaseAbort:
		case m.Phase == model.PhaseCutover && m.Status == model.MoveFailed && (d.Cutover == nil || d.Cutover.SwitchedAt == nil):
		default:
			return refused("move %d is past its cutover: dns points at %s; finish it with ferry move cleanup (a move back is a new move)", m.ID, m.To)
		}
	}
	return nil
}

// dropFailedTasks forgets the run's failed tasks, so that a resumed phase
// hands them out again.
func dropFailedTasks(ctx context.Context, tx store.Tx, d *Data) error {
	for name, id := range d.Tasks {
		t, err := tx.GetTask(ctx, id)
		if err != nil {
			return err
		}
		if t.State == model.TaskFailed {
			delete(d.Tasks, name)
		}
	}
	return nil
}

// itemsMark fingerprints the order's host-bound items on the new host, so
// cutover can tell whether anything changed since verify.
func itemsMark(items []model.Item, host string) string {
	h := sha256.New()
	for _, it := range onHost(items, host) {
		fmt.Fprintf(h, "%d %s %s\n", it.ID, it.State, it.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// oldCacheEnd is when resolvers may have forgotten the old address: the
// old TTL after the dns host served the lowered one. It errs when the dns
// host has not applied the lowered TTLs yet.
func oldCacheEnd(d *Data, items []model.Item) (time.Time, error) {
	since := d.PreparedAt
	for _, it := range items {
		if _, ok := d.ttlOf(it.ID); !ok || it.Kind != model.KindDNS {
			continue
		}
		if it.State.Pending() {
			return time.Time{}, fmt.Errorf("the dns host %s has not applied the lowered TTL of %s yet", it.Host, describeItem(it))
		}
		if it.UpdatedAt.After(since) {
			since = it.UpdatedAt
		}
	}
	return since.Add(time.Duration(d.OldTTL) * time.Second), nil
}

// cutoverGuard refuses a cutover before verify passed on what is there now
// and before the old TTL ran out. in.AcceptVerifyDifferences overrides a
// verify that found differences, in.SkipTTLWait the TTL wait; each refusal
// names the override that would let it through, and the returned risk
// says which guard was overridden, what that costs and when cleanup's
// guard really ends.
func (e *Engine) cutoverGuard(ctx context.Context, tx store.Tx, m model.Move, d *Data, in PhaseInput) (string, error) {
	var hard, refusals, risks []string
	v := d.Verify
	items, err := tx.ListItems(ctx, store.ItemFilter{OrderID: m.OrderID})
	if err != nil {
		return "", err
	}
	switch {
	case v == nil:
		hard = append(hard, "verify has not run; run ferry move verify first")
	case v.AfterSyncRuns != d.SyncRuns:
		hard = append(hard, "a sync ran after the last verify; run ferry move verify again")
	case v.ItemsMark != "" && v.ItemsMark != itemsMark(items, m.To):
		hard = append(hard, fmt.Sprintf("the order's items on %s changed after the last verify; run ferry move verify again", m.To))
	case !v.Passed && !in.AcceptVerifyDifferences:
		refusals = append(refusals, "the last verify found differences ("+strings.Join(v.Problems, "; ")+") (--accept-verify-differences overrides)")
	case !v.Passed:
		risks = append(risks, fmt.Sprintf("overrode the failed verify (--accept-verify-differences): %s may not serve the same site as %s (%s)", m.To, m.From, strings.Join(v.Problems, "; ")))
	}
	now := e.now()
	end, err := oldCacheEnd(d, items)
	ttlWait := ""
	switch {
	case err != nil:
		ttlWait = err.Error()
		end = now.Add(time.Duration(d.OldTTL) * time.Second)
	case now.Before(end):
		ttlWait = fmt.Sprintf("the old TTL (%d s) runs out only at %s, in %s", d.OldTTL, end.Format(time.RFC3339), end.Sub(now).Round(time.Second))
	}
	if ttlWait != "" && !in.SkipTTLWait {
		refusals = append(refusals, ttlWait+" (--skip-ttl-wait overrides)")
	} else if ttlWait != "" {
		// Cleanup's guard ends when both the old TTL and twice the
		// lowered one since the switch (served about now) ran out.
		cleanup := now.Add(2 * LoweredTTL * time.Second)
		if end.After(cleanup) {
			cleanup = end
		}
		risks = append(risks, fmt.Sprintf("overrode the TTL wait (--skip-ttl-wait): resolvers may hand out %s's address until %s; their clients reach %s, which proxies to %s after cutover, so no write is lost; cleanup's guard ends no sooner than %s",
			m.From, end.Format(time.RFC3339), m.From, m.To, cleanup.Format(time.RFC3339)))
	}
	d.CacheEnd = end
	if len(hard) > 0 || len(refusals) > 0 {
		return "", panel.RefusedList(fmt.Sprintf("cannot cut move %d over", m.ID), append(hard, refusals...))
	}
	if len(risks) > 0 {
		return "forced: " + strings.Join(risks, "; "), nil
	}
	return "", nil
}

// cleanupGuard refuses a cleanup before the lowered TTL ran out twice
// since the dns switch was served (and before the old TTL did, when the
// cutover was forced); in.SkipTTLWait overrides and says what it risks.
func (e *Engine) cleanupGuard(d *Data, in PhaseInput) (string, error) {
	cr := d.Cutover
	if cr == nil || cr.DNSAppliedAt == nil {
		return "", refused("the dns switch has not been served yet; wait for the cutover to finish")
	}
	ready := cr.DNSAppliedAt.Add(2 * LoweredTTL * time.Second)
	if d.CacheEnd.After(ready) {
		ready = d.CacheEnd
	}
	now := e.now()
	if !now.Before(ready) {
		return "", nil
	}
	if !in.SkipTTLWait {
		return "", refused("cannot clean up yet: the lowered TTL (%d s) runs out twice since the dns switch at %s only at %s, in %s (--skip-ttl-wait overrides)",
			LoweredTTL, cr.DNSAppliedAt.Format(time.RFC3339), ready.Format(time.RFC3339), ready.Sub(now).Round(time.Second))
	}
	return fmt.Sprintf("forced: overrode the TTL wait (--skip-ttl-wait): resolvers may hand out the old address until %s; clients using it reach a host that no longer serves the site", ready.Format(time.RFC3339)), nil
}

// View is a move as the engine shows it: the move, its order's identifier
// and the node tasks of its current phase run with their progress. The API
// sends it as a wire.MoveView.
type View struct {
	model.Move
	Identifier string       `json:"identifier"`
	Tasks      []TaskView   `json:"tasks,omitempty"`
	Unseen     []HostUnseen `json:"unseen,omitempty"`
}

// TaskView is a task of the current phase run; see wire.MoveTaskView.
type TaskView = wire.MoveTaskView

// HostUnseen is a host a running phase waits on whose agent is silent;
// see wire.MoveHostUnseen.
type HostUnseen = wire.MoveHostUnseen

// UnseenAfter is how long a host the running phase waits on may go
// without a heartbeat before the move's view says so: three of the
// node's heartbeat periods (15 s).
const UnseenAfter = 45 * time.Second

// Info decodes the view's move data.
func (v View) Info() (Data, error) { return decodeData(v.Move) }

// Get returns a move with its current tasks.
func (e *Engine) Get(ctx context.Context, c panel.Caller, id int64) (View, error) {
	if err := mayMove(c); err != nil {
		return View{}, err
	}
	var v View
	err := e.p.View(ctx, func(tx store.Tx) error {
		m, err := tx.GetMove(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("move %d does not exist: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		v, err = view(ctx, tx, m, e.now())
		return err
	})
	return v, err
}

// view makes the view of move m at now (the control plane's clock).
func view(ctx context.Context, tx store.Tx, m model.Move, now time.Time) (View, error) {
	d, err := decodeData(m)
	if err != nil {
		return View{}, err
	}
	v := View{Move: m, Identifier: d.Identifier}
	if err := viewTasks(ctx, tx, d, &v); err != nil {
		return View{}, err
	}
	if v.Unseen, err = unseenHosts(ctx, tx, v, now); err != nil {
		return View{}, err
	}
	if len(v.Unseen) == 0 {
		if v.Unseen, err = unseenSinceSwitch(ctx, tx, v, d, now); err != nil {
			return View{}, err
		}
	}
	return v, nil
}

// silence is how long host has been silent at now, and whether that is
// longer than UnseenAfter.
func silence(h model.Host, now time.Time) (time.Duration, bool) {
	since := h.CreatedAt
	if h.LastSeen != nil {
		since = *h.LastSeen
	}
	age := now.Sub(since)
	return age, age > UnseenAfter
}

// unseenSinceSwitch lists, for a move whose dns switch is made and which
// runs no phase (the cutover ended or failed after the switch, the cleanup
// is to come or failed), each of its hosts whose agent is silent, with
// what state each side is in and what to run.
func unseenSinceSwitch(ctx context.Context, tx store.Tx, v View, d Data, now time.Time) ([]HostUnseen, error) {
	if v.Status == model.MoveRunning || v.Phase == model.PhaseDone || v.Phase == model.PhaseAborted ||
		d.Cutover == nil || d.Cutover.SwitchedAt == nil {
		return nil, nil
	}
	var out []HostUnseen
	for _, name := range []string{v.To, v.From} {
		h, err := tx.GetHost(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		age, silent := silence(h, now)
		if !silent {
			continue
		}
		u := HostUnseen{Host: name, LastSeen: h.LastSeen, Seconds: int64(age / time.Second)}
		if name == v.To {
			u.Note = fmt.Sprintf("the site is switched to %s: dns answers with its address and %s proxies visitors to it, so the site is down until %s is back; "+
				"%s still holds the order as of the final sync of the cutover (frozen, nothing written to it since). "+
				"Bring %s back (`ferry node`, service ferry-node): the move needs nothing else; do not run `ferry move cleanup` before it is back, "+
				"as the cleanup deletes %s's copy, the only other one (ferry refuses it meanwhile)",
				name, v.From, name, v.From, name, v.From)
		} else {
			u.Note = fmt.Sprintf("the site is switched to %s, which serves it; only visitors with %s's old address cached reach %s, and lose the site until their cache expires or %s is back. "+
				"Bring %s back (`ferry node`, service ferry-node); `ferry move cleanup` removes the old copy from it then and waits for it until then",
				v.To, v.From, v.From, v.From, v.From)
		}
		out = append(out, u)
	}
	return out, nil
}

// newHostGone refuses a cleanup while the move's new host is silent: the
// cleanup deletes the old host's copy of the order, the only one left
// while the new host may be lost.
func (e *Engine) newHostGone(ctx context.Context, tx store.Tx, m model.Move) error {
	h, err := tx.GetHost(ctx, m.To)
	if err != nil {
		return err
	}
	age, silent := silence(h, e.now())
	if !silent {
		return nil
	}
	return refused("cannot clean up while %s's agent is silent (not seen for %s): the cleanup deletes %s's copy of the order, the only other one; bring %s back first (service ferry-node)",
		m.To, age.Round(time.Second), m.From, m.To)
}

// viewTasks adds the tasks of the move's current phase run to v.
func viewTasks(ctx context.Context, tx store.Tx, d Data, v *View) error {
	names := map[int64]string{}
	for n, id := range d.Tasks {
		names[id] = n
	}
	if len(names) == 0 {
		return nil
	}
	tasks, err := tx.ListTasks(ctx, store.TaskFilter{MoveID: v.ID})
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if n, ok := names[t.ID]; ok {
			t.Payload = nil
			v.Tasks = append(v.Tasks, TaskView{Name: n, Task: t})
		}
	}
	// remove-order-dir tasks the panel made carry no move id.
	for id, n := range names {
		found := false
		for _, t := range v.Tasks {
			found = found || t.ID == id
		}
		if !found {
			t, err := tx.GetTask(ctx, id)
			if err != nil {
				return err
			}
			t.Payload = nil
			v.Tasks = append(v.Tasks, TaskView{Name: n, Task: t})
		}
	}
	return nil
}

// unseenHosts lists, for a running phase, the hosts it waits on (a task
// of the run not ended, an item of the order or its limbo twin not
// applied) whose last heartbeat is older than UnseenAfter at now. Only
// the control plane's times count: the heartbeat's time is the one the
// control plane recorded it at.
func unseenHosts(ctx context.Context, tx store.Tx, v View, now time.Time) ([]HostUnseen, error) {
	if v.Status != model.MoveRunning {
		return nil, nil
	}
	var hosts []string
	for _, t := range v.Tasks {
		if t.State == model.TaskQueued || t.State == model.TaskLeased {
			hosts = append(hosts, t.Host)
		}
	}
	for _, id := range []int64{v.OrderID, v.LimboOrderID} {
		if id == 0 {
			continue
		}
		items, err := tx.ListItems(ctx, store.ItemFilter{OrderID: id})
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.State.Pending() {
				hosts = append(hosts, it.Host)
			}
		}
	}
	slices.Sort(hosts)
	var out []HostUnseen
	for _, name := range slices.Compact(hosts) {
		h, err := tx.GetHost(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if age, silent := silence(h, now); silent {
			out = append(out, HostUnseen{Host: h.Name, LastSeen: h.LastSeen, Seconds: int64(age / time.Second)})
		}
	}
	return out, nil
}

// List lists the moves of an order (identifier or id, its limbo twin's id
// too), or every move; activeOnly keeps those not ended.
func (e *Engine) List(ctx context.Context, c panel.Caller, orderRef string, activeOnly bool) ([]View, error) {
	if err := mayMove(c); err != nil {
		return nil, err
	}
	out := []View{}
	now := e.now()
	err := e.p.View(ctx, func(tx store.Tx) error {
		f := store.MoveFilter{ActiveOnly: activeOnly}
		var limboID int64
		if orderRef != "" {
			o, err := resolveOrder(ctx, tx, orderRef)
			if err != nil {
				return err
			}
			if o.State == model.OrderTransferLimbo {
				limboID = o.ID
			} else {
				f.OrderID = o.ID
			}
		}
		moves, err := tx.ListMoves(ctx, f)
		if err != nil {
			return err
		}
		for _, m := range moves {
			if limboID != 0 && m.LimboOrderID != limboID {
				continue
			}
			v, err := view(ctx, tx, m, now)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}
