package move

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// A step does one part of a phase: it returns advanced once it has recorded
// its work in the move (in the same transaction as the work's effects in
// the store), waiting while a node or the clock has yet to act, or ended.
type step func(ctx context.Context, r *run) (outcome, error)

// phaseSteps are the steps of each phase that runs in the background.
// Prepare's store transaction runs when the move is started (StartMove);
// its steps here are the ssh key's.
var phaseSteps = map[model.MovePhase][]step{
	model.PhasePrepare: {stepKeygen, stepAuthorize},
	model.PhaseSync:    {stepCopiesActive, stepSync},
	model.PhaseVerify:  {stepCopiesActive, stepVerify},
	// The cutover's freeze is one node task (stepFreeze); stepFinalSync and
	// stepProxy do their parts only for a cutover an earlier version began.
	model.PhaseCutover: {stepFreeze, stepFinalSync, stepProxy, stepSwitchDNS, stepDNSApplied},
	model.PhaseCleanup: {stepDeleteLimbo, stepLimboGone},
	model.PhaseAbort:   {stepSettleTasks, stepDeleteCopies, stepRestore, stepRestoreTasks},
}

// resumable phases go on from their failed step when run again; the others
// start afresh.
func resumable(p model.MovePhase) bool {
	return p != model.PhaseSync && p != model.PhaseVerify
}

// orders returns the move's order and its limbo twin with their live items.
type orders struct {
	order, limbo      model.Order
	items, limboItems []model.Item
	fromHost, toHost  model.Host
}

func (r *run) orders(ctx context.Context, tx store.Tx) (*orders, error) {
	o := &orders{}
	var err error
	if o.order, err = tx.GetOrder(ctx, r.m.OrderID); err != nil {
		return nil, err
	}
	if o.limbo, err = tx.GetOrder(ctx, r.m.LimboOrderID); err != nil {
		return nil, err
	}
	if o.items, err = tx.ListItems(ctx, store.ItemFilter{OrderID: o.order.ID}); err != nil {
		return nil, err
	}
	if o.limboItems, err = tx.ListItems(ctx, store.ItemFilter{OrderID: o.limbo.ID}); err != nil {
		return nil, err
	}
	if o.fromHost, err = tx.GetHost(ctx, r.m.From); err != nil {
		return nil, err
	}
	if o.toHost, err = tx.GetHost(ctx, r.m.To); err != nil {
		return nil, err
	}
	return o, nil
}

func (r *run) view(ctx context.Context) (*orders, error) {
	var o *orders
	err := r.e.p.View(ctx, func(tx store.Tx) error {
		var err error
		o, err = r.orders(ctx, tx)
		return err
	})
	return o, err
}

// onHost returns the live host-bound items among items on host.
func onHost(items []model.Item, host string) []model.Item {
	var out []model.Item
	for _, it := range items {
		if it.Kind.HostBound() && it.Host == host && it.State != model.StateDeleted {
			out = append(out, it)
		}
	}
	return out
}

func dnsItems(items []model.Item) []model.Item {
	var out []model.Item
	for _, it := range items {
		if it.Kind == model.KindDNS && it.State != model.StateDeleted {
			out = append(out, it)
		}
	}
	return out
}

// payload is the task payload for the move: the databases, logins and
// names of what the old host serves for the order (the limbo items, or
// the order's own after an abort put them back).
func (r *run) payload(order model.Order, source []model.Item) model.MoveTaskPayload {
	p := model.MoveTaskPayload{
		MoveID: r.m.ID, Order: order, OrderDir: model.OrderDir(r.d.Member, r.d.Identifier),
		FromAddr: r.d.FromAddr, ToAddr: r.d.ToAddr, PublicKey: r.d.PublicKey, HostKey: r.d.HostKey,
	}
	for _, it := range source {
		if it.State == model.StateDeleted || !it.Kind.HostBound() {
			continue
		}
		if engine := model.KindInfoOf(it.Kind).Engine; engine != "" {
			p.Databases = append(p.Databases, model.MoveDB{Engine: engine, Name: it.Spec.Name, Owner: it.Spec.Owner})
		}
		if it.Kind == model.KindUserAccount {
			p.Logins = append(p.Logins, it.Spec.Login)
		}
		if it.Kind == model.KindWebConf {
			// An email-address's domain names no site.
			p.ServerNames = append(p.ServerNames, it.Spec.ServerNames...)
		}
	}
	for i, db := range p.Databases {
		if db.Engine != "mysql" {
			continue
		}
		for _, it := range source {
			if it.Kind == model.KindMySQLUser && it.State != model.StateDeleted && slices.Contains(it.Spec.Databases, db.Name) {
				p.Databases[i].Users = append(p.Databases[i].Users, it.Spec.Name)
			}
		}
		slices.Sort(p.Databases[i].Users)
	}
	return p
}

func itemName(it model.Item) string { return it.Spec.Summary(it.Kind) }

func describeItem(it model.Item) string {
	return fmt.Sprintf("item %d (%s %s)", it.ID, it.Kind, itemName(it))
}

func decodeResult[T any](t model.Task) (T, error) {
	var v T
	if len(t.Result) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(t.Result, &v); err != nil {
		return v, failf("%s on %s returned a result ferry cannot read: %v", t.Kind, t.Host, err)
	}
	return v, nil
}

// --- prepare ---

func stepKeygen(ctx context.Context, r *run) (outcome, error) {
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	spec := taskSpec{"keygen", r.m.From, model.TaskMoveKeygen, r.payload(o.order, o.limboItems)}
	return r.onTasks(ctx, []taskSpec{spec}, false, func(c *change, res map[string]model.Task) (any, error) {
		kr, err := decodeResult[model.MoveKeygenResult](res["keygen"])
		if err != nil {
			return nil, err
		}
		if kr.PublicKey == "" {
			return nil, failf("move-keygen on %s returned no public key", r.m.From)
		}
		c.d.PublicKey = kr.PublicKey
		return nil, nil
	})
}

func stepAuthorize(ctx context.Context, r *run) (outcome, error) {
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	spec := taskSpec{"authorize", r.m.To, model.TaskMoveAuthorize, r.payload(o.order, o.limboItems)}
	return r.onTasks(ctx, []taskSpec{spec}, true, func(c *change, res map[string]model.Task) (any, error) {
		ar, err := decodeResult[model.MoveAuthorizeResult](res["authorize"])
		if err != nil {
			return nil, err
		}
		if ar.HostKey == "" {
			return nil, failf("move-authorize on %s returned no ssh host key", r.m.To)
		}
		c.d.HostKey = ar.HostKey
		return map[string]any{"from": r.m.From, "to": r.m.To, "copies": len(c.d.Copies), "ttls_lowered": len(c.d.TTLs)}, nil
	})
}

// --- sync and verify ---

// stepCopiesActive waits until every item of the order on the new host is
// applied; one its node could not apply fails the phase with its message.
func stepCopiesActive(ctx context.Context, r *run) (outcome, error) {
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	var pending []string
	for _, it := range onHost(o.items, r.m.To) {
		switch {
		case it.State == model.StateSoftError || it.State == model.StateHardError:
			return ended, r.fail(ctx, fmt.Sprintf("%s on %s is %s: %s; fix it (ferry item), then run this phase again",
				describeItem(it), it.Host, it.State, orNone(it.Message)))
		case it.State.Pending():
			pending = append(pending, describeItem(it))
		}
	}
	if len(pending) > 0 {
		return r.wait(ctx, fmt.Sprintf("waiting for %s to apply %d item(s): %s", r.m.To, len(pending), strings.Join(pending, ", ")))
	}
	return r.next(ctx, nil)
}

func (r *run) syncSpecs(o *orders, prefix string) []taskSpec {
	p := r.payload(o.order, o.limboItems)
	if prefix == "sync-" {
		p.BWLimit = r.d.BWLimit // the final sync runs frozen: never capped
	}
	p.Final = prefix == "final-"
	return []taskSpec{
		{prefix + "files", r.m.From, model.TaskMoveSyncFiles, p},
		{prefix + "db", r.m.From, model.TaskMoveSyncDB, p},
	}
}

// recordSync keeps a sync's figures.
func recordSync(c *change, res map[string]model.Task, prefix string, final bool) (SyncReport, error) {
	files, err := decodeResult[model.MoveSyncFilesResult](res[prefix+"files"])
	if err != nil {
		return SyncReport{}, err
	}
	db, err := decodeResult[model.MoveSyncDBResult](res[prefix+"db"])
	if err != nil {
		return SyncReport{}, err
	}
	started := res[prefix+"files"].CreatedAt
	finished := res[prefix+"files"].UpdatedAt
	if t := res[prefix+"db"].UpdatedAt; t.After(finished) {
		finished = t
	}
	s := SyncReport{Run: c.d.Run, Final: final, StartedAt: started, FinishedAt: finished, Files: files, DB: db}
	c.d.Syncs = append(c.d.Syncs, s)
	return s, nil
}

func syncFigures(s SyncReport) map[string]any {
	f := map[string]any{
		"bytes": s.Files.Bytes, "total_bytes": s.Files.TotalBytes, "files": s.Files.Files, "total_files": s.Files.TotalFiles,
		"files_seconds": s.Files.Seconds, "tables": len(s.DB.Tables), "tables_copied": s.DB.TablesCopied,
		"db_bytes": s.DB.Bytes, "db_seconds": s.DB.Seconds, "seconds": s.Seconds(), "final": s.Final,
	}
	if len(s.DB.Unregistered) > 0 {
		f["unregistered_databases"] = s.DB.Unregistered
	}
	return f
}

func stepSync(ctx context.Context, r *run) (outcome, error) {
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	return r.onTasks(ctx, r.syncSpecs(o, "sync-"), true, func(c *change, res map[string]model.Task) (any, error) {
		s, err := recordSync(c, res, "sync-", false)
		if err != nil {
			return nil, err
		}
		return syncFigures(s), nil
	})
}

func stepVerify(ctx context.Context, r *run) (outcome, error) {
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	spec := taskSpec{"verify", r.m.From, model.TaskMoveVerify, r.payload(o.order, o.limboItems)}
	// The report is made before the transaction: the HTTP checks take
	// time, and repeating them after a crash is harmless.
	var report *VerifyReport
	if id, ok := r.d.Tasks["verify"]; ok {
		var t model.Task
		if err := r.e.p.View(ctx, func(tx store.Tx) error {
			var err error
			t, err = tx.GetTask(ctx, id)
			return err
		}); err != nil {
			return 0, err
		}
		if t.State == model.TaskDone {
			vr, err := decodeResult[model.MoveVerifyResult](t)
			if err != nil {
				return r.settle(ctx, err)
			}
			report = r.e.verifyReport(ctx, r, o, vr)
		}
	}
	keep := func(c *change) error {
		report.AfterSyncRuns = c.d.SyncRuns
		items, err := c.tx.ListItems(ctx, store.ItemFilter{OrderID: r.m.OrderID})
		if err != nil {
			return err
		}
		report.ItemsMark = itemsMark(items, r.m.To)
		c.d.Verify = report
		return nil
	}
	if report != nil && !report.Passed {
		return ended, r.failWith(ctx, "verify found differences: "+strings.Join(report.Problems, "; "), keep)
	}
	return r.onTasks(ctx, []taskSpec{spec}, true, func(c *change, _ map[string]model.Task) (any, error) {
		if report == nil {
			return nil, waitFor("verifying") // the task finished just now; the next look makes the report
		}
		if err := keep(c); err != nil {
			return nil, err
		}
		return map[string]any{"passed": true, "names": len(report.HTTP), "tables": len(report.Tables)}, nil
	})
}

// --- cutover ---

func (r *run) cutover(c *change) *CutoverReport {
	if c.d.Cutover == nil {
		c.d.Cutover = &CutoverReport{}
	}
	return c.d.Cutover
}

// stepFreeze is the freeze: one task on the old host puts the site in
// maintenance mode, runs the final sync of files and databases side by
// side and puts the site in proxy mode, with no round trip to the control
// plane inside it, and reports the freeze window it measured. The task is
// idempotent and keeps its own state, so a crash of either side ends in a
// task run again that finishes (or, once the site proxies, only reports)
// the freeze.
func stepFreeze(ctx context.Context, r *run) (outcome, error) {
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	// Before anything is frozen: the DNS switch would send visitors to
	// the new host, so it must answer for every site now, not only at
	// the last verify (its Apache may have died since).
	_, frozen := r.d.Tasks["freeze"]
	_, maintenance := r.d.Tasks["maintenance"] // a cutover begun by an earlier version
	if !frozen && !maintenance && !r.acceptedVerifyDifferences() {
		if down := r.e.newHostDown(ctx, r, o); down != "" {
			return ended, r.failWith(ctx, down, nil)
		}
	}
	p := r.payload(o.order, o.limboItems)
	p.Final = true // never capped
	return r.onTasks(ctx, []taskSpec{{"freeze", r.m.From, model.TaskMoveFreeze, p}}, false, func(c *change, res map[string]model.Task) (any, error) {
		t := res["freeze"]
		fr, err := decodeResult[model.MoveFreezeResult](t)
		if err != nil {
			return nil, err
		}
		cr := r.cutover(c)
		end := t.UpdatedAt
		start := end.Add(-time.Duration(fr.FreezeSeconds * float64(time.Second)))
		if cr.FreezeStart == nil || start.Before(*cr.FreezeStart) {
			cr.FreezeStart = &start
		}
		cr.FreezeEnd, cr.FreezeSeconds, cr.FreezeSteps, cr.Mailboxes = &end, fr.FreezeSeconds, fr.Steps, fr.Mailboxes
		// The final sync ran inside the freeze, from the moment the
		// site was frozen, files and databases side by side; the task's
		// own span also holds the mail hold, maintenance mode and proxy.
		syncStart, syncEnd := t.CreatedAt, end
		if sync := max(fr.Steps["files"], fr.Steps["db"]); sync > 0 && fr.FreezeSeconds > 0 {
			syncStart, syncEnd = start, start.Add(time.Duration(sync*float64(time.Second)))
		}
		s := SyncReport{Run: c.d.Run, Final: true, StartedAt: syncStart, FinishedAt: syncEnd, Files: fr.Files, DB: fr.DB}
		c.d.Syncs = append(c.d.Syncs, s)
		if err := c.audit(panel.AuditCutoverSync, moveObject(c.m.ID), c.m.OrderID, nil, syncFigures(s)); err != nil {
			return nil, err
		}
		return nil, c.audit(panel.AuditCutoverFreeze, moveObject(c.m.ID), c.m.OrderID, nil,
			map[string]any{"freeze_seconds": cr.FreezeSeconds, "steps": fr.Steps, "runs": fr.Runs})
	})
}

// frozenByTask says whether the freeze task ran the final sync and the
// proxy: the two steps after it are then done. They run on their own
// only for a cutover an earlier version began (its maintenance task).
func (r *run) frozenByTask() bool {
	_, ok := r.d.Tasks["freeze"]
	return ok
}

func stepFinalSync(ctx context.Context, r *run) (outcome, error) {
	if r.frozenByTask() {
		return r.next(ctx, nil)
	}
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	return r.onTasks(ctx, r.syncSpecs(o, "final-"), false, func(c *change, res map[string]model.Task) (any, error) {
		s, err := recordSync(c, res, "final-", true)
		if err != nil {
			return nil, err
		}
		return nil, c.audit(panel.AuditCutoverSync, moveObject(c.m.ID), c.m.OrderID, nil, syncFigures(s))
	})
}

func stepProxy(ctx context.Context, r *run) (outcome, error) {
	if r.frozenByTask() {
		return r.next(ctx, nil)
	}
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	p := r.payload(o.order, o.limboItems)
	p.Mode = "proxy"
	return r.onTasks(ctx, []taskSpec{{"proxy", r.m.From, model.TaskMoveSiteMode, p}}, false, func(c *change, res map[string]model.Task) (any, error) {
		cr := r.cutover(c)
		t := res["proxy"].UpdatedAt
		cr.FreezeEnd = &t
		if cr.FreezeStart != nil {
			cr.FreezeSeconds = t.Sub(*cr.FreezeStart).Seconds()
		}
		return nil, c.audit(panel.AuditCutoverFreeze, moveObject(c.m.ID), c.m.OrderID, nil, map[string]any{"freeze_seconds": cr.FreezeSeconds})
	})
}

// ttlOf returns the TTL prepare found on item id, if it lowered it.
func (d *Data) ttlOf(id int64) (TTLChange, bool) {
	for _, t := range d.TTLs {
		if t.ItemID == id {
			return t, true
		}
	}
	return TTLChange{}, false
}

// dnsChange rewrites a dns item: its TTL back to what prepare found and,
// when switch is set, A/AAAA values of the old host to the new host's.
// It reports whether anything changed.
func dnsChange(d *Data, it *model.Item, from, to model.Host, switchAddr bool) (bool, error) {
	changed := false
	if t, ok := d.ttlOf(it.ID); ok && it.Spec.TTL == LoweredTTL && t.Old != LoweredTTL {
		it.Spec.TTL = t.Old
		changed = true
	}
	if switchAddr && (it.Spec.Type == model.RRA || it.Spec.Type == model.RRAAAA) && slices.Contains(from.Addresses, it.Spec.Value) {
		addr := to.Addr4()
		if it.Spec.Type == model.RRAAAA {
			addr = to.Addr6()
		}
		if addr == "" {
			return false, failf("%s points at %s, but %s has no %s address to switch it to; add one (ferry host) and run cutover again",
				describeItem(*it), it.Spec.Value, to.Name, it.Spec.Type)
		}
		it.Spec.Value = addr
		changed = true
	}
	return changed, nil
}

// applyDNS makes the dns changes in c: each changed record goes to
// pending-update so its dns host serves it. A record a node is still
// working on makes the step wait. It says what it switched and which
// TTLs it restored.
func applyDNS(c *change, items []model.Item, from, to model.Host, switchAddr bool) (switched, ttls []string, err error) {
	for _, it := range dnsItems(items) {
		before := it
		changed, err := dnsChange(c.d, &it, from, to, switchAddr)
		if err != nil {
			return nil, nil, err
		}
		if !changed {
			continue
		}
		switch {
		case it.State.Pending():
			return nil, nil, waitFor(fmt.Sprintf("waiting for %s to apply %s before changing it", it.Host, describeItem(before)))
		case it.State != model.StateActive && it.State != model.StateDisabled:
			return nil, nil, failf("%s is %s: %s; fix it (ferry item), then run this phase again", describeItem(before), it.State, orNone(it.Message))
		}
		spec := it.Spec
		it.Spec = before.Spec
		if err := c.e.p.UpdateSpecTx(c.ctx, c.tx, actor(c.d.By), &it, spec); err != nil {
			if refusedSpec(err) {
				return nil, nil, failf("%s cannot be changed as this phase needs: %v; fix it (ferry item), then run this phase again", describeItem(before), err)
			}
			return nil, nil, err
		}
		c.wake = append(c.wake, it.Host)
		if it.Spec.Value != before.Spec.Value {
			switched = append(switched, fmt.Sprintf("%s %s %s → %s", it.Spec.FQDN, it.Spec.Type, before.Spec.Value, it.Spec.Value))
		}
		if it.Spec.TTL != before.Spec.TTL {
			ttls = append(ttls, fmt.Sprintf("%s %s ttl %d → %d", it.Spec.FQDN, it.Spec.Type, before.Spec.TTL, it.Spec.TTL))
		}
	}
	return switched, ttls, nil
}

// refusedSpec reports whether err is the panel refusing a spec change (a
// field that fails validation, a name another item holds, a rule of the
// kind, a state that allows no update), which no retry mends.
func refusedSpec(err error) bool {
	var fe *model.FieldError
	var te *model.TransitionError
	return errors.As(err, &fe) || errors.As(err, &te) || errors.Is(err, model.ErrDuplicate) || errors.Is(err, panel.ErrRefused)
}

func stepSwitchDNS(ctx context.Context, r *run) (outcome, error) {
	return r.next(ctx, func(c *change) error {
		o, err := r.orders(ctx, c.tx)
		if err != nil {
			return err
		}
		switched, ttls, err := applyDNS(c, o.items, o.fromHost, o.toHost, true)
		if err != nil {
			return err
		}
		cr := r.cutover(c)
		now := r.e.now()
		cr.Switched, cr.TTLsRestored, cr.SwitchedAt = switched, ttls, &now
		return c.audit(panel.AuditCutoverDNS, moveObject(c.m.ID), c.m.OrderID, nil, map[string]any{"switched": switched, "ttls": ttls})
	})
}

// dnsSettled reports whether every dns record of the order is served as
// the store has it, and when the last of them was applied.
func dnsSettled(items []model.Item) (time.Time, error) {
	var last time.Time
	var pending []string
	for _, it := range dnsItems(items) {
		switch {
		case it.State.Pending():
			pending = append(pending, describeItem(it))
		case it.State == model.StateSoftError || it.State == model.StateHardError:
			return last, failf("%s on %s is %s: %s", describeItem(it), it.Host, it.State, orNone(it.Message))
		}
		if it.UpdatedAt.After(last) {
			last = it.UpdatedAt
		}
	}
	if len(pending) > 0 {
		return last, waitFor(fmt.Sprintf("waiting for the dns host to apply %s", strings.Join(pending, ", ")))
	}
	return last, nil
}

func stepDNSApplied(ctx context.Context, r *run) (outcome, error) {
	o, err := r.view(ctx)
	if err != nil {
		return 0, err
	}
	last, err := dnsSettled(o.items)
	if err != nil {
		return r.settle(ctx, err)
	}
	return r.finish(ctx, "", func(c *change) (any, error) {
		cr := r.cutover(c)
		if cr.SwitchedAt != nil && last.Before(*cr.SwitchedAt) {
			last = *cr.SwitchedAt // nothing to apply: the switch itself
		}
		cr.DNSAppliedAt = &last
		return map[string]any{"freeze_seconds": cr.FreezeSeconds, "switched": cr.Switched, "forced": cr.Forced}, nil
	})
}

// --- cleanup ---

func stepDeleteLimbo(ctx context.Context, r *run) (outcome, error) {
	return r.next(ctx, func(c *change) error {
		o, err := r.orders(ctx, c.tx)
		if err != nil {
			return err
		}
		if o.limbo.State != model.OrderDeleted {
			hosts, err := r.e.p.DeleteOrderTx(ctx, c.tx, actor(c.d.By), o.limbo)
			if err != nil {
				return err
			}
			c.wake = append(c.wake, hosts...)
			// The panel queued the removal of the old directory; the
			// move watches it with its own tasks.
			tasks, err := c.tx.ListTasks(ctx, store.TaskFilter{Host: r.m.From, States: []model.TaskState{model.TaskQueued}})
			if err != nil {
				return err
			}
			for _, t := range tasks {
				var po model.Order
				if t.Kind == panel.TaskRemoveOrderDir && json.Unmarshal(t.Payload, &po) == nil && po.ID == o.limbo.ID {
					if c.d.Tasks == nil {
						c.d.Tasks = map[string]int64{}
					}
					c.d.Tasks["remove-dir"] = t.ID
				}
			}
		}
		p := r.payload(o.order, o.limboItems)
		if err := c.task("revoke-old", r.m.From, model.TaskMoveRevoke, p); err != nil {
			return err
		}
		return c.task("revoke-new", r.m.To, model.TaskMoveRevoke, p)
	})
}

// driveDeleted moves items towards deleted: active and disabled ones go
// to pending-delete; it waits for those a node works on and fails on
// those a node could not remove.
//
// Items on lost (a host whose agent is silent; "" for none) are set to
// pending-delete and not waited for: their node deletes them when it is
// back.
func (r *run) driveDeleted(ctx context.Context, items func(*orders) []model.Item, what, lost string, deleting func(c *change, it model.Item)) (outcome, error) {
	var waitingOn []string
	err := r.commit(ctx, func(c *change) error {
		o, err := r.orders(ctx, c.tx)
		if err != nil {
			return err
		}
		waitingOn = nil
		for _, it := range items(o) {
			switch it.State {
			case model.StateDeleted:
			case model.StateActive, model.StateDisabled, model.StateTransferLimbo:
				if err := c.e.p.SetStateTx(ctx, c.tx, actor(c.d.By), &it, model.StatePendingDelete); err != nil {
					return err
				}
				if deleting != nil {
					deleting(c, it)
				}
				c.wake = append(c.wake, it.Host)
				if it.Host != lost {
					waitingOn = append(waitingOn, describeItem(it))
				}
			case model.StateSoftError, model.StateHardError:
				return failf("%s on %s is %s: %s; fix it on the host (ferry item), then run this phase again",
					describeItem(it), it.Host, it.State, orNone(it.Message))
			default:
				if it.Host != lost {
					waitingOn = append(waitingOn, describeItem(it))
				}
			}
		}
		return nil
	})
	if err != nil {
		return r.settle(ctx, err)
	}
	if len(waitingOn) > 0 {
		return r.wait(ctx, fmt.Sprintf("waiting for %s to remove %d item(s): %s", what, len(waitingOn), strings.Join(waitingOn, ", ")))
	}
	return advanced, nil
}

func stepLimboGone(ctx context.Context, r *run) (outcome, error) {
	o, err := r.driveDeleted(ctx, func(o *orders) []model.Item { return o.limboItems }, r.m.From, "", nil)
	if err != nil || o != advanced {
		return o, err
	}
	names := []string{"revoke-old", "revoke-new"}
	if _, ok := r.d.Tasks["remove-dir"]; ok {
		names = append(names, "remove-dir")
	}
	var specs []taskSpec
	for _, n := range names {
		specs = append(specs, taskSpec{name: n}) // all exist: made by stepDeleteLimbo
	}
	return r.onTasks(ctx, specs, true, func(c *change, _ map[string]model.Task) (any, error) {
		rep := &EndReport{}
		ord, err := r.orders(ctx, c.tx)
		if err != nil {
			return nil, err
		}
		for _, it := range ord.limboItems {
			rep.Deleted = append(rep.Deleted, fmt.Sprintf("%s on %s", describeItem(it), it.Host))
		}
		rep.Deleted = append(rep.Deleted, fmt.Sprintf("order directory %s on %s", model.OrderDir(r.d.Member, r.d.Identifier), r.m.From))
		c.d.Cleanup = rep
		return map[string]any{"deleted": len(rep.Deleted), "limbo_order": ord.limbo.ID}, nil
	})
}

// --- abort ---

// stepSettleTasks stops the move's earlier tasks: queued ones are
// cancelled, and the abort waits for those a node is running (an rsync
// into the new host must not outlive the abort's removal of its files).
//
// A task leased by a lost new host (see lostHost) is cancelled at once:
// nothing of it runs into the old host.
func stepSettleTasks(ctx context.Context, r *run) (outcome, error) {
	lost, err := r.lostHost(ctx)
	if err != nil {
		return 0, err
	}
	var busy []string
	err = r.commit(ctx, func(c *change) error {
		busy = nil
		tasks, err := c.tx.ListTasks(ctx, store.TaskFilter{MoveID: r.m.ID, States: []model.TaskState{model.TaskQueued, model.TaskLeased}})
		if err != nil {
			return err
		}
		now := r.e.p.Now() // leases run on the panel's clock
		for _, t := range tasks {
			if t.State == model.TaskLeased && t.LeaseUntil != nil && t.LeaseUntil.After(now) && t.Host != lost {
				busy = append(busy, describeTask(t))
				continue
			}
			t.State, t.Error, t.LeaseUntil = model.TaskFailed, "cancelled: the move was aborted", nil
			if err := c.tx.UpdateTask(ctx, &t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return r.settle(ctx, err)
	}
	if len(busy) > 0 {
		return r.wait(ctx, "waiting for running tasks to end: "+strings.Join(busy, ", "))
	}
	return r.next(ctx, nil)
}

func stepDeleteCopies(ctx context.Context, r *run) (outcome, error) {
	copies := map[int64]bool{}
	for _, cp := range r.d.Copies {
		copies[cp.Copy] = true
	}
	// Items the order got on the new host during the move are made anew
	// on the old one by stepRestore.
	added := func(c *change, it model.Item) {
		if !copies[it.ID] && !slices.Contains(c.d.AddedDuringMove, it.ID) {
			c.d.AddedDuringMove = append(c.d.AddedDuringMove, it.ID)
		}
	}
	lost, err := r.lostHost(ctx)
	if err != nil {
		return 0, err
	}
	o, err := r.driveDeleted(ctx, func(o *orders) []model.Item { return onHost(o.items, r.m.To) }, r.m.To, lost, added)
	if err != nil || o != advanced {
		return o, err
	}
	return r.next(ctx, nil)
}

// stepRestore puts the order back as it was, in one transaction: the limbo
// items return to the order, active again on the old host (they never
// left it); items added on the new host during the move are made anew on
// the old one; the limbo order is marked deleted (its directory is the
// order's own, so nothing is removed); TTLs go back; the new host removes
// the order's directory, both hosts the move's key, and the old site
// returns to its normal vhost.
func stepRestore(ctx context.Context, r *run) (outcome, error) {
	return r.next(ctx, func(c *change) error {
		o, err := r.orders(ctx, c.tx)
		if err != nil {
			return err
		}
		who := actor(c.d.By)
		_, restored, err := applyDNS(c, o.items, o.fromHost, o.toHost, false)
		if err != nil {
			return err
		}
		rep := &EndReport{}
		for _, it := range o.items {
			if !slices.Contains(c.d.AddedDuringMove, it.ID) {
				continue
			}
			again := model.Item{OrderID: o.order.ID, Host: r.m.From, Kind: it.Kind, Spec: cloneSpec(it.Spec)}
			if err := c.e.p.InsertItem(ctx, c.tx, who, &again); err != nil {
				return fmt.Errorf("recreate %s on %s: %w", describeItem(it), r.m.From, err)
			}
			rep.Deleted = append(rep.Deleted, fmt.Sprintf("%s moved back to %s as item %d", describeItem(it), r.m.From, again.ID))
		}
		for _, it := range o.limboItems {
			if it.State != model.StateTransferLimbo {
				continue
			}
			it.OrderID = o.order.ID
			if err := c.e.p.SetStateTx(ctx, c.tx, who, &it, model.StateActive); err != nil {
				return fmt.Errorf("%s: %w", describeItem(it), err)
			}
		}
		if err := c.e.p.SetOrderHostTx(ctx, c.tx, who, &o.order, r.m.From); err != nil {
			return err
		}
		if o.limbo.State != model.OrderDeleted {
			if err := c.e.p.RetireLimboOrderTx(ctx, c.tx, who, &o.limbo); err != nil {
				return err
			}
		}
		for _, cp := range c.d.Copies {
			rep.Deleted = append(rep.Deleted, fmt.Sprintf("item %d (%s %s) on %s", cp.Copy, cp.Kind, cp.Name, r.m.To))
		}
		rep.Deleted = append(rep.Deleted, restored...)
		c.d.Abort = rep
		newDir := o.order
		newDir.Host = r.m.To
		p := r.payload(o.order, o.limboItems)
		normal := p
		normal.Mode = "normal"
		c.wake = append(c.wake, r.m.From, r.m.To)
		for _, t := range []taskSpec{
			{"remove-dir", r.m.To, panel.TaskRemoveOrderDir, newDir},
			{"revoke-old", r.m.From, model.TaskMoveRevoke, p},
			{"revoke-new", r.m.To, model.TaskMoveRevoke, p},
			{"normal", r.m.From, model.TaskMoveSiteMode, normal},
		} {
			if err := c.task(t.name, t.host, t.kind, t.payload); err != nil {
				return err
			}
		}
		return nil
	})
}

// stepRestoreTasks waits for the old host to serve the site as before and
// both hosts to drop what the move put there. A lost new host's part is
// not waited for: the abort ends with the old host serving, and says what
// the new host's agent removes when it is back.
func stepRestoreTasks(ctx context.Context, r *run) (outcome, error) {
	lost, err := r.lostHost(ctx)
	if err != nil {
		return 0, err
	}
	specs := []taskSpec{{name: "revoke-old"}, {name: "normal"}}
	if lost == "" {
		specs = append(specs, taskSpec{name: "remove-dir"}, taskSpec{name: "revoke-new"})
	}
	return r.onTasks(ctx, specs, true, func(c *change, _ map[string]model.Task) (any, error) {
		if lost != "" {
			o, err := r.orders(ctx, c.tx)
			if err != nil {
				return nil, err
			}
			var left []string
			for _, it := range onHost(o.items, lost) {
				if it.State != model.StateDeleted {
					left = append(left, fmt.Sprintf("item %d (%s)", it.ID, itemName(it)))
				}
			}
			note := fmt.Sprintf("%s's agent was not seen for over %s: the abort went on without it; when it is back, it removes the order directory %s, the move's key and %d item(s) still pending-delete there (%s); `ferry item list --host %s` shows them until then",
				lost, UnseenAfter, model.OrderDir(r.d.Member, r.d.Identifier), len(left), strings.Join(left, ", "), lost)
			if c.d.Abort != nil {
				// Its copies are not removed yet: they are in the note.
				c.d.Abort.Deleted = slices.DeleteFunc(c.d.Abort.Deleted, func(d string) bool { return strings.HasSuffix(d, " on "+lost) })
				c.d.Abort.Left = append(c.d.Abort.Left, note)
			}
			if ev := c.d.eventOf(c.d.Run); ev != nil {
				ev.Note = note
			}
		}
		return map[string]any{"removed": len(c.d.Copies), "back_on": r.m.From, "new_host_lost": lost != ""}, nil
	})
}

// lostHost names the move's new host when an abort may go on without it:
// its agent has sent no heartbeat for longer than UnseenAfter (the control
// plane's clock). The copies there serve nobody before the cutover, so
// the old host is put back at once and the new host's agent removes them
// when it is back. It is "" when the new host is seen.
func (r *run) lostHost(ctx context.Context) (string, error) {
	var h model.Host
	err := r.e.p.View(ctx, func(tx store.Tx) error {
		var err error
		h, err = tx.GetHost(ctx, r.m.To)
		return err
	})
	if err != nil {
		return "", err
	}
	if _, silent := silence(h, r.e.now()); silent {
		return h.Name, nil
	}
	return "", nil
}

func cloneSpec(s model.Spec) model.Spec {
	s.ServerNames = slices.Clone(s.ServerNames)
	s.Databases = slices.Clone(s.Databases)
	if s.PHP != nil {
		v := *s.PHP
		s.PHP = &v
	}
	return s
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
