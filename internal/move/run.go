package move

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"ferry/internal/metrics"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// errStale says the phase run was taken over (a new run, an abort) since it
// was loaded; the step stops without doing anything.
var errStale = errors.New("the phase run was taken over")

// failure fails the phase with its text when a step returns it.
type failure string

func (f failure) Error() string { return string(f) }

func failf(format string, args ...any) error { return failure(fmt.Sprintf(format, args...)) }

// waitFor makes the step wait, saying for what, when a step returns it
// from inside a transaction (which is rolled back).
type waitFor string

func (w waitFor) Error() string { return string(w) }

// run is a move's current phase run as one advance sees it.
type run struct {
	e *Engine
	m model.Move
	d Data
}

func (e *Engine) load(ctx context.Context, id int64) (*run, error) {
	r := &run{e: e}
	err := e.p.View(ctx, func(tx store.Tx) error {
		var err error
		if r.m, err = tx.GetMove(ctx, id); err != nil {
			return err
		}
		r.d, err = decodeData(r.m)
		return err
	})
	return r, err
}

func actor(name string) panel.Caller {
	if name == "" {
		return panel.System
	}
	return panel.Caller{Name: name, Role: model.RoleAdmin}
}

// change is one transaction on the move and what it touches.
type change struct {
	ctx  context.Context
	e    *Engine
	tx   store.Tx
	m    *model.Move
	d    *Data
	wake []string
}

// task creates a node task of the move, once per name in the phase run.
func (c *change) task(name, host, kind string, payload any) error {
	if _, ok := c.d.Tasks[name]; ok {
		return nil
	}
	t := &model.Task{Host: host, MoveID: c.m.ID, Kind: kind, Payload: mustJSON(payload), State: model.TaskQueued}
	if err := c.tx.CreateTask(c.ctx, t); err != nil {
		return err
	}
	if c.d.Tasks == nil {
		c.d.Tasks = map[string]int64{}
	}
	c.d.Tasks[name] = t.ID
	c.wake = append(c.wake, host)
	return nil
}

// audit records an entry under the phase's caller.
func (c *change) audit(action panel.AuditAction, object string, orderID int64, before, after any) error {
	return c.e.p.Audit(c.ctx, c.tx, actor(c.d.By), action, object, orderID, before, after)
}

// commit applies fn to the move in one transaction. It refuses with
// errStale when the run has moved on since r was loaded, so that a step
// is recorded once even if two workers ever raced on it.
func (r *run) commit(ctx context.Context, fn func(c *change) error) error {
	var m model.Move
	var d Data
	var wake []string
	err := r.e.p.Update(ctx, func(tx store.Tx) error {
		var err error
		if m, err = tx.GetMove(ctx, r.m.ID); err != nil {
			return err
		}
		if d, err = decodeData(m); err != nil {
			return err
		}
		if d.Run != r.d.Run || d.Step != r.d.Step || m.Phase != r.m.Phase || m.Status != model.MoveRunning {
			return errStale
		}
		c := &change{ctx: ctx, e: r.e, tx: tx, m: &m, d: &d}
		if err := fn(c); err != nil {
			return err
		}
		wake = c.wake
		if err := encodeData(&m, d); err != nil {
			return err
		}
		return tx.UpdateMove(ctx, &m)
	})
	if err != nil {
		return err
	}
	r.m, r.d = m, d
	r.e.p.Notify(wake...)
	return nil
}

// next records the step (fn may be nil) and goes on to the next one.
func (r *run) next(ctx context.Context, fn func(c *change) error) (outcome, error) {
	err := r.commit(ctx, func(c *change) error {
		if fn != nil {
			if err := fn(c); err != nil {
				return err
			}
		}
		c.d.Step++
		c.d.Waiting = ""
		return nil
	})
	if err != nil {
		return r.settle(ctx, err)
	}
	return advanced, nil
}

// settle turns a step's waitFor or failure into waiting or a failed phase.
func (r *run) settle(ctx context.Context, err error) (outcome, error) {
	var w waitFor
	var f failure
	switch {
	case errors.As(err, &w):
		return r.wait(ctx, string(w))
	case errors.As(err, &f):
		return ended, r.fail(ctx, string(f))
	}
	return 0, err
}

// wait records what the phase waits for (when it changed).
func (r *run) wait(ctx context.Context, why string) (outcome, error) {
	if r.d.Waiting == why {
		return waiting, nil
	}
	err := r.commit(ctx, func(c *change) error {
		c.d.Waiting = why
		return nil
	})
	return waiting, err
}

// fail ends the phase run as failed. Running the phase again resumes it
// (or, for sync and verify, starts it afresh).
func (r *run) fail(ctx context.Context, msg string) error { return r.failWith(ctx, msg, nil) }

// failWith fails the phase run, recording fn's findings with the failure.
func (r *run) failWith(ctx context.Context, msg string, fn func(c *change) error) error {
	err := r.commit(ctx, func(c *change) error {
		if fn != nil {
			if err := fn(c); err != nil {
				return err
			}
		}
		c.m.Status, c.m.Error = model.MoveFailed, msg
		c.d.Waiting = ""
		if ev := c.d.eventOf(c.d.Run); ev != nil {
			ev.Status, ev.Note = model.MoveFailed, msg
		}
		return c.audit(panel.AuditMoveFail(c.m.Phase), moveObject(c.m.ID), c.m.OrderID, nil, map[string]any{"error": msg})
	})
	if err == nil {
		r.e.log.Warn("move phase failed", "move", r.m.ID, "phase", r.m.Phase, "err", msg)
		r.e.observeEnd(r.m.Phase, metrics.ResultFailed, r.d)
	}
	return err
}

// finish ends the phase run as succeeded, recording fn's results and
// auditing figures. Cleanup ends the move as done, abort as aborted.
func (r *run) finish(ctx context.Context, note string, fn func(c *change) (figures any, err error)) (outcome, error) {
	phase := r.m.Phase
	err := r.commit(ctx, func(c *change) error {
		var figures any
		if fn != nil {
			var err error
			if figures, err = fn(c); err != nil {
				return err
			}
		}
		phase := c.m.Phase
		c.m.Status, c.m.Error = model.MoveSucceeded, ""
		switch phase {
		case model.PhaseCleanup:
			c.m.Phase = model.PhaseDone
		case model.PhaseAbort:
			c.m.Phase = model.PhaseAborted
		}
		c.d.Waiting = ""
		c.d.Step++
		if ev := c.d.eventOf(c.d.Run); ev != nil {
			ev.Status = model.MoveSucceeded
			if note != "" { // a step may have noted something already
				ev.Note = note
			}
		}
		return c.audit(panel.AuditMoveEnd(phase), moveObject(c.m.ID), c.m.OrderID, nil, figures)
	})
	if err != nil {
		return r.settle(ctx, err)
	}
	r.e.log.Info("move phase done", "move", r.m.ID, "phase", r.m.Phase, "note", note)
	r.e.observeEnd(phase, metrics.ResultOK, r.d)
	return ended, nil
}

func moveObject(id int64) string { return fmt.Sprintf("move/%d", id) }

// taskSpec is a node task a step needs.
type taskSpec struct {
	name    string
	host    string
	kind    string
	payload any
}

// onTasks is a step that hands out tasks and waits for them: the tasks
// are created once, in one transaction; when all are done, record stores
// their results and the step is done (the phase too when last).
func (r *run) onTasks(ctx context.Context, specs []taskSpec, last bool, record func(c *change, res map[string]model.Task) (any, error)) (outcome, error) {
	missing := false
	for _, s := range specs {
		if _, ok := r.d.Tasks[s.name]; !ok {
			missing = true
		}
	}
	if missing {
		err := r.commit(ctx, func(c *change) error {
			for _, s := range specs {
				if err := c.task(s.name, s.host, s.kind, s.payload); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	res := map[string]model.Task{}
	err := r.e.p.View(ctx, func(tx store.Tx) error {
		for _, s := range specs {
			t, err := tx.GetTask(ctx, r.d.Tasks[s.name])
			if err != nil {
				return err
			}
			res[s.name] = t
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var busy []string
	for _, s := range specs {
		t := res[s.name]
		switch t.State {
		case model.TaskFailed:
			return ended, r.fail(ctx, fmt.Sprintf("%s on %s failed: %s%s", t.Kind, t.Host, failureNote(r.m, r.d, t), orNone(t.Error)))
		case model.TaskDone:
		default:
			busy = append(busy, describeTask(t))
		}
	}
	if len(busy) > 0 {
		return r.wait(ctx, "waiting for "+strings.Join(busy, ", "))
	}
	if last {
		return r.finish(ctx, "", func(c *change) (any, error) { return record(c, res) })
	}
	return r.next(ctx, func(c *change) error {
		_, err := record(c, res)
		return err
	})
}

// sshUnreachable are words of ssh and rsync when a connection to the
// other host could not be made or broke off.
var sshUnreachable = []string{"ssh: connect to host", "banner exchange", "kex_exchange_identification",
	"connection unexpectedly closed", "Connection closed by", "Connection reset by"}

// deadServers are the words of a node whose database server does not
// answer, with the server's name and the service that runs it.
var deadServers = []struct{ words, name, service string }{
	{"mariadb is not reachable", "MariaDB", "mariadb"},
	{"Can't connect to local server through socket", "MariaDB", "mariadb"},
	{"postgresql is not reachable", "PostgreSQL", "postgresql"},
	{"psql: error: connection to server", "PostgreSQL", "postgresql"},
}

// failureNote says, for a task that failed because a host or a server it
// needs did not answer, which one and what to do; it is empty for any
// other failure. The old host's tasks reach the new host over ssh, so a
// refused or broken connection there names both hosts.
func failureNote(m model.Move, d Data, t model.Task) string {
	if t.Error == "" {
		return ""
	}
	// A server the task reached on the other host is named by that
	// host's address.
	on := t.Host
	if d.ToAddr != "" && strings.Contains(t.Error, d.ToAddr) {
		on = m.To
	}
	for _, s := range deadServers {
		if strings.Contains(t.Error, s.words) {
			return fmt.Sprintf("%s on %s does not answer: start it again (service %s), then run the phase again; ", s.name, on, s.service)
		}
	}
	if t.Host != m.From {
		return ""
	}
	for _, w := range sshUnreachable {
		if strings.Contains(t.Error, w) {
			to := m.To
			if d.ToAddr != "" {
				to += " (" + d.ToAddr + ")"
			}
			return fmt.Sprintf("%s could not reach %s over ssh: check the network between %s and %s and %s's sshd, then run the phase again; ",
				m.From, to, m.From, m.To, m.To)
		}
	}
	return ""
}

func describeTask(t model.Task) string {
	s := fmt.Sprintf("%s on %s (%s", t.Kind, t.Host, t.State)
	if t.Attempts > 1 {
		s += fmt.Sprintf(", attempt %d", t.Attempts)
	}
	return s + ")"
}

func orNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}
