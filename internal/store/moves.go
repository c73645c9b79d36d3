package store

import (
	"context"
	"fmt"

	"ferry/internal/model"
)

const moveCols = "id, order_id, limbo_order_id, from_host, to_host, phase, status, error, data, created_at, updated_at"

func scanMove(s scanner) (model.Move, error) {
	var m model.Move
	err := s.Scan(&m.ID, &m.OrderID, nullIDCol{&m.LimboOrderID}, &m.From, &m.To, &m.Phase, &m.Status,
		&m.Error, jsonCol{&m.Data}, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt})
	return m, err
}

// CreateMove stores a new move. An order has one active move at a time:
// another is ErrConflict.
func (t *tx) CreateMove(ctx context.Context, m *model.Move) error {
	what := fmt.Sprintf("create move of order %d", m.OrderID)
	if err := t.need(ctx, what, host(m.From), host(m.To)); err != nil {
		return err
	}
	at := now()
	id, err := t.create(ctx, what, missing("order"),
		"INSERT INTO moves (order_id, limbo_order_id, from_host, to_host, phase, status, error, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		m.OrderID, nullID(m.LimboOrderID), m.From, m.To, m.Phase, m.Status, m.Error, m.Data, at, at)
	if err != nil {
		return err
	}
	m.ID, m.CreatedAt, m.UpdatedAt = id, at, at
	return nil
}

func (t *tx) GetMove(ctx context.Context, id int64) (model.Move, error) {
	return get(ctx, t, scanMove, fmt.Sprintf("get move %d", id),
		"SELECT "+moveCols+" FROM moves WHERE id = ?", id)
}

// ListMoves lists the moves f matches, by id.
func (t *tx) ListMoves(ctx context.Context, f MoveFilter) ([]model.Move, error) {
	var w where
	if f.OrderID != 0 {
		w.add("order_id = ?", f.OrderID)
	}
	if f.ActiveOnly {
		w.add("phase NOT IN (?, ?)", model.PhaseDone, model.PhaseAborted)
	}
	return list(ctx, t, scanMove, "list moves",
		"SELECT "+moveCols+" FROM moves"+w.String()+" ORDER BY id", w.args...)
}

func (t *tx) UpdateMove(ctx context.Context, m *model.Move) error {
	what := fmt.Sprintf("update move %d", m.ID)
	if err := t.need(ctx, what, host(m.From), host(m.To)); err != nil {
		return err
	}
	at := now()
	err := t.change(ctx, what, missing("order"),
		"UPDATE moves SET order_id = ?, limbo_order_id = ?, from_host = ?, to_host = ?, phase = ?, status = ?, error = ?, data = ?, updated_at = ? WHERE id = ?",
		m.OrderID, nullID(m.LimboOrderID), m.From, m.To, m.Phase, m.Status, m.Error, m.Data, at, m.ID)
	if err != nil {
		return err
	}
	m.UpdatedAt = at
	return nil
}
