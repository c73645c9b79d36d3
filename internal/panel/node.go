package panel

import (
	"context"
	"fmt"
	"slices"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// What a node and the control plane exchange; see package wire.
type (
	WorkItem   = wire.WorkItem
	Work       = wire.Work
	Report     = wire.Report
	TaskReport = wire.TaskReport
)

// applyStep is one kind of item, being deleted or not.
type applyStep struct {
	kind   model.Kind
	delete bool
}

// applyOrder is the order a node gets its pending items in: everything but
// deletions in model.Kinds order (accounts before the sites and jobs that
// run as them, databases before their users), then deletions in the
// reverse order, so a site goes before the account its PHP pool runs as.
func applyOrder() []applyStep {
	var steps []applyStep
	for _, k := range model.Kinds {
		steps = append(steps, applyStep{kind: k})
	}
	for i := len(model.Kinds) - 1; i >= 0; i-- {
		steps = append(steps, applyStep{kind: model.Kinds[i], delete: true})
	}
	return steps
}

// TaskLease is how long a node holds a task; see wire.TaskLease.
const TaskLease = wire.TaskLease

// NodeWork returns the caller's host's work, waiting up to wait for some to
// appear. A change through the API wakes the wait at once.
func (p *Panel) NodeWork(ctx context.Context, c Caller, wait time.Duration) (Work, error) {
	if c.Role != model.RoleNode {
		return Work{}, forbidden("only node tokens fetch work")
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		ch := p.wakeup.wait(c.Host)
		w, err := p.work(ctx, c.Host)
		if err != nil || len(w.Items) > 0 || len(w.Tasks) > 0 || wait <= 0 {
			return w, err
		}
		select {
		case <-ch:
		case <-deadline.C:
			return w, nil
		case <-ctx.Done():
			return w, nil
		}
	}
}

// pendingStates are the states in which an item is work for its node.
var pendingStates = slices.DeleteFunc(slices.Clone(model.States), func(s model.State) bool { return !s.Pending() })

func (p *Panel) work(ctx context.Context, host string) (Work, error) {
	var w Work
	err := p.store.Update(ctx, func(tx store.Tx) error {
		h, err := tx.GetHost(ctx, host)
		if err != nil {
			return err
		}
		w.Host = h
		// Only the pending items, by the (host, state) index: an idle
		// poll reads none of the host's settled items.
		items, err := tx.ListItems(ctx, store.ItemFilter{Host: host, States: pendingStates})
		if err != nil {
			return err
		}
		orders := map[int64]model.Order{}
		dnsPending := false
		for _, step := range applyOrder() {
			for _, it := range items {
				if it.Kind != step.kind || !it.State.Pending() || (it.State == model.StatePendingDelete) != step.delete {
					continue
				}
				o, ok := orders[it.OrderID]
				if !ok {
					if o, err = tx.GetOrder(ctx, it.OrderID); err != nil {
						return err
					}
					orders[it.OrderID] = o
				}
				w.Items = append(w.Items, WorkItem{Item: it, Order: o})
				dnsPending = dnsPending || it.Kind == model.KindDNS
			}
		}
		if dnsPending {
			if w.DNS, err = tx.ListItems(ctx, store.ItemFilter{Host: host, Kind: model.KindDNS}); err != nil {
				return err
			}
		}
		w.Tasks, err = tx.LeaseTasks(ctx, host, p.Now(), TaskLease, 8)
		return err
	})
	return w, err
}

// DNSRecords returns every dns item of the caller's host, for a dns node
// that starts up and wants its full data.
func (p *Panel) DNSRecords(ctx context.Context, c Caller) ([]model.Item, error) {
	if c.Role != model.RoleNode && !c.IsAdmin() {
		return nil, forbidden("a %s token cannot read dns data", c.Role)
	}
	f := store.ItemFilter{Kind: model.KindDNS, Host: c.Host}
	var items []model.Item
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		items, err = tx.ListItems(ctx, f)
		return err
	})
	return items, err
}

// ReportItem records a node's result for an item of its host. A report
// that arrives for an item no longer in the state the node worked from
// (changed again meanwhile) is refused, and the node picks up the new work.
//
// An active item reported active again keeps its state and takes the new
// message: a node says so when something changed on its own, such as a
// renewed certificate.
func (p *Panel) ReportItem(ctx context.Context, c Caller, id int64, r Report) (model.Item, error) {
	if c.Role != model.RoleNode {
		return model.Item{}, forbidden("only node tokens report item results")
	}
	if len(r.Message) > 4000 {
		r.Message = r.Message[:4000]
	}
	var it model.Item
	err := p.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if it, err = p.readableItem(ctx, tx, c, id); err != nil {
			return err
		}
		if it.State == model.StateActive && r.State == model.StateActive && r.Message != "" {
			// Not a transition: the node tells what changed on its own
			// (a renewed certificate).
			it.Message, it.UpdatedAt = r.Message, p.Now()
			return tx.UpdateItem(ctx, &it)
		}
		if err := p.setStateTx(ctx, tx, c, &it, r.State, model.ByNode); err != nil {
			return err
		}
		if r.Message != "" {
			it.Message = r.Message
			return tx.UpdateItem(ctx, &it)
		}
		return nil
	})
	return it, err
}

// Heartbeat records what a node reports about its host.
func (p *Panel) Heartbeat(ctx context.Context, c Caller, hb model.Heartbeat) error {
	if c.Role != model.RoleNode {
		return forbidden("only node tokens send heartbeats")
	}
	now := p.Now()
	hb.LastSeen = &now
	php, err := reportedPHP(hb.PHPVersions)
	if err != nil {
		return err
	}
	hb.PHPVersions = php
	return p.store.Update(ctx, func(tx store.Tx) error {
		return tx.RecordHeartbeat(ctx, c.Host, hb)
	})
}

// ReportTask records a node's result (or progress) for one of its tasks.
func (p *Panel) ReportTask(ctx context.Context, c Caller, id int64, r TaskReport) (model.Task, error) {
	if c.Role != model.RoleNode {
		return model.Task{}, forbidden("only node tokens report task results")
	}
	var t model.Task
	err := p.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if t, err = tx.GetTask(ctx, id); err != nil {
			return err
		}
		if t.Host != c.Host {
			return forbidden("task %d is not for host %q", id, c.Host)
		}
		if t.State != model.TaskLeased {
			return refused("task %d is %s, not leased", id, t.State)
		}
		t.Result, t.UpdatedAt = r.Result, p.Now()
		switch {
		case r.Progress:
			until := p.Now().Add(TaskLease)
			t.LeaseUntil = &until
		case r.OK:
			t.State, t.Error = model.TaskDone, ""
		default:
			t.State, t.Error = model.TaskFailed, r.Error
		}
		return tx.UpdateTask(ctx, &t)
	})
	if err == nil && t.MoveID != 0 {
		p.notify(moveKey(t.MoveID))
	}
	return t, err
}

// ReleaseTasks hands back every task leased to the caller's host, so that
// they are leased again at once; a node agent calls it when it starts. One
// agent runs per host, so a task leased before it started belongs to an
// earlier run of it that died or was stopped mid-task, and would otherwise
// wait out its lease (TaskLease) before anyone ran it again.
func (p *Panel) ReleaseTasks(ctx context.Context, c Caller) (int, error) {
	if c.Role != model.RoleNode {
		return 0, forbidden("only node tokens release their tasks")
	}
	n := 0
	err := p.store.Update(ctx, func(tx store.Tx) error {
		tasks, err := tx.ListTasks(ctx, store.TaskFilter{Host: c.Host, States: []model.TaskState{model.TaskLeased}})
		if err != nil {
			return err
		}
		for _, t := range tasks {
			t.State, t.LeaseUntil = model.TaskQueued, nil
			if err := tx.UpdateTask(ctx, &t); err != nil {
				return err
			}
		}
		n = len(tasks)
		return nil
	})
	return n, err
}

func moveKey(id int64) string { return fmt.Sprintf("move/%d", id) }

// WaitTask blocks until a task of a move is reported on, or ctx ends.
func (p *Panel) WaitTask(ctx context.Context, moveID int64) <-chan struct{} {
	return p.wakeup.wait(moveKey(moveID))
}

// ListAudit lists audit entries; members only for their own orders.
func (p *Panel) ListAudit(ctx context.Context, c Caller, orderRef string, limit int) ([]model.AuditEntry, error) {
	var es []model.AuditEntry
	err := p.view(ctx, func(tx store.Tx) error {
		f := store.AuditFilter{Limit: limit}
		if orderRef != "" {
			o, err := p.readableOrder(ctx, tx, c, orderRef)
			if err != nil {
				return err
			}
			f.OrderID = o.ID
		} else if !c.IsAdmin() {
			return forbidden("a %s token reads the audit log of one of its orders only (--order)", c.Role)
		}
		var err error
		es, err = tx.ListAudit(ctx, f)
		return err
	})
	return es, err
}
