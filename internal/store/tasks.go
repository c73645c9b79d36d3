package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"ferry/internal/model"
)

const taskCols = "id, host, move_id, kind, payload, state, attempts, lease_until, result, error, created_at, updated_at"

func scanTask(s scanner) (model.Task, error) {
	var tk model.Task
	err := s.Scan(&tk.ID, &tk.Host, nullIDCol{&tk.MoveID}, &tk.Kind, jsonCol{&tk.Payload}, &tk.State,
		&tk.Attempts, nullTimeCol{&tk.LeaseUntil}, jsonCol{&tk.Result}, &tk.Error,
		timeCol{&tk.CreatedAt}, timeCol{&tk.UpdatedAt})
	return tk, err
}

// CreateTask stores a new task; one without a state is queued.
func (t *tx) CreateTask(ctx context.Context, tk *model.Task) error {
	if tk.State == "" {
		tk.State = model.TaskQueued
	}
	what := fmt.Sprintf("create %s task for %s", tk.Kind, tk.Host)
	if err := t.need(ctx, what, host(tk.Host)); err != nil {
		return err
	}
	at := now()
	id, err := t.create(ctx, what, missing("move"),
		"INSERT INTO tasks (host, move_id, kind, payload, state, attempts, lease_until, result, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		tk.Host, nullID(tk.MoveID), tk.Kind, tk.Payload, tk.State, tk.Attempts, tk.LeaseUntil, tk.Result, tk.Error, at, at)
	if err != nil {
		return err
	}
	tk.ID, tk.CreatedAt, tk.UpdatedAt = id, at, at
	return nil
}

func (t *tx) GetTask(ctx context.Context, id int64) (model.Task, error) {
	return get(ctx, t, scanTask, fmt.Sprintf("get task %d", id),
		"SELECT "+taskCols+" FROM tasks WHERE id = ?", id)
}

// ListTasks lists the tasks f matches, by id.
func (t *tx) ListTasks(ctx context.Context, f TaskFilter) ([]model.Task, error) {
	var w where
	if f.MoveID != 0 {
		w.add("move_id = ?", f.MoveID)
	}
	if f.Host != "" {
		w.add("host = ?", f.Host)
	}
	in(&w, "state", f.States)
	return list(ctx, t, scanTask, "list tasks",
		"SELECT "+taskCols+" FROM tasks"+w.String()+" ORDER BY id", w.args...)
}

// LeaseTasks hands out the oldest tasks first. On PostgreSQL, callers in
// concurrent transactions skip the tasks another has locked, so none is
// handed out twice; on SQLite the single writer does the same.
func (t *tx) LeaseTasks(ctx context.Context, host string, at time.Time, lease time.Duration, max int) ([]model.Task, error) {
	if max <= 0 {
		return []model.Task{}, nil
	}
	at = utc(at)
	until := utc(at.Add(lease))
	skipLocked := ""
	if t.d.pg {
		skipLocked = " FOR UPDATE SKIP LOCKED"
	}
	var tasks []model.Task
	err := t.step(ctx, "lease tasks of "+host, nil, func() (err error) {
		// The picked rows are read once, locked, and then leased; a CTE
		// with a locking clause is never folded into the UPDATE.
		tasks, err = list(ctx, t, scanTask, "update",
			`WITH picked AS (SELECT id FROM tasks
				WHERE host = ? AND (state = ? OR (state = ? AND lease_until < ?))
				ORDER BY id LIMIT ?`+skipLocked+`)
			UPDATE tasks SET state = ?, attempts = attempts + 1, lease_until = ?, updated_at = ?
			WHERE id IN (SELECT id FROM picked)
			RETURNING `+taskCols,
			host, model.TaskQueued, model.TaskLeased, at, max, model.TaskLeased, until, now())
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(tasks, func(a, b model.Task) int { return cmp.Compare(a.ID, b.ID) })
	return tasks, nil
}

// UpdateTask writes the task's state, result, error and lease.
func (t *tx) UpdateTask(ctx context.Context, tk *model.Task) error {
	at := now()
	err := t.change(ctx, fmt.Sprintf("update task %d", tk.ID), nil,
		"UPDATE tasks SET state = ?, result = ?, error = ?, lease_until = ?, updated_at = ? WHERE id = ?",
		tk.State, tk.Result, tk.Error, tk.LeaseUntil, at, tk.ID)
	if err != nil {
		return err
	}
	tk.UpdatedAt = at
	return nil
}
