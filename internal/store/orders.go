package store

import (
	"context"
	"fmt"
	"strings"

	"ferry/internal/model"
)

const orderCols = "id, identifier, member, host, state, created_at, updated_at"

func scanOrder(s scanner) (model.Order, error) {
	var o model.Order
	err := s.Scan(&o.ID, &o.Identifier, &o.Member, &o.Host, &o.State,
		timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt})
	return o, err
}

// CreateOrder stores a new order. A second active order for the same
// identifier is ErrConflict.
func (t *tx) CreateOrder(ctx context.Context, o *model.Order) error {
	what := "create order " + o.Identifier
	if err := t.need(ctx, what, member(o.Member), host(o.Host)); err != nil {
		return err
	}
	at := now()
	id, err := t.create(ctx, what, nil,
		"INSERT INTO orders (identifier, member, host, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
		o.Identifier, o.Member, o.Host, o.State, at, at)
	if err != nil {
		return err
	}
	o.ID, o.CreatedAt, o.UpdatedAt = id, at, at
	return nil
}

func (t *tx) GetOrder(ctx context.Context, id int64) (model.Order, error) {
	return get(ctx, t, scanOrder, fmt.Sprintf("get order %d", id),
		"SELECT "+orderCols+" FROM orders WHERE id = ?", id)
}

// ListOrders lists the orders f matches, by id.
func (t *tx) ListOrders(ctx context.Context, f OrderFilter) ([]model.Order, error) {
	var w where
	if f.Member != "" {
		w.add("o.member = ?", f.Member)
	}
	if f.Host != "" {
		w.add("o.host = ?", f.Host)
	}
	if f.Identifier != "" {
		w.add("o.identifier = ?", f.Identifier)
	}
	if f.State != "" {
		w.add("o.state = ?", f.State)
	}
	if text := strings.TrimSpace(f.Text); text != "" {
		p := contains(strings.ToLower(text))
		w.add(`(lower(o.identifier) LIKE ? ESCAPE '\' OR lower(o.member) LIKE ? ESCAPE '\' OR lower(o.host) LIKE ? ESCAPE '\'
			OR EXISTS (SELECT 1 FROM items i JOIN item_identities ii ON ii.item_id = i.id
				WHERE i.order_id = o.id AND ii.name LIKE ? ESCAPE '\'))`, p, p, p, p)
	}
	return list(ctx, t, scanOrder, "list orders",
		"SELECT "+orderCols+" FROM orders o"+w.String()+" ORDER BY o.id", w.args...)
}

func (t *tx) UpdateOrder(ctx context.Context, o *model.Order) error {
	what := fmt.Sprintf("update order %d", o.ID)
	if err := t.need(ctx, what, member(o.Member), host(o.Host)); err != nil {
		return err
	}
	at := now()
	err := t.change(ctx, what, nil,
		"UPDATE orders SET identifier = ?, member = ?, host = ?, state = ?, updated_at = ? WHERE id = ?",
		o.Identifier, o.Member, o.Host, o.State, at, o.ID)
	if err != nil {
		return err
	}
	o.UpdatedAt = at
	return nil
}
