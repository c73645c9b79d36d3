package store

import (
	"context"

	"ferry/internal/model"
)

const memberCols = "name, friendly_name, created_at"

func scanMember(s scanner) (model.Member, error) {
	var m model.Member
	err := s.Scan(&m.Name, &m.FriendlyName, timeCol{&m.CreatedAt})
	return m, err
}

func (t *tx) CreateMember(ctx context.Context, m *model.Member) error {
	at := now()
	err := t.change(ctx, "create member "+m.Name, nil,
		"INSERT INTO members ("+memberCols+") VALUES (?, ?, ?)", m.Name, m.FriendlyName, at)
	if err != nil {
		return err
	}
	m.CreatedAt = at
	return nil
}

func (t *tx) GetMember(ctx context.Context, name string) (model.Member, error) {
	return get(ctx, t, scanMember, "get member "+name,
		"SELECT "+memberCols+" FROM members WHERE name = ?", name)
}

func (t *tx) ListMembers(ctx context.Context) ([]model.Member, error) {
	return list(ctx, t, scanMember, "list members",
		"SELECT "+memberCols+" FROM members ORDER BY name")
}

func (t *tx) UpdateMember(ctx context.Context, m *model.Member) error {
	return t.change(ctx, "update member "+m.Name, nil,
		"UPDATE members SET friendly_name = ? WHERE name = ?", m.FriendlyName, m.Name)
}

func (t *tx) DeleteMember(ctx context.Context, name string) error {
	return t.remove(ctx, member(name),
		"SELECT COUNT(*) FROM orders WHERE member = ? AND state <> 'deleted'", "orders")
}
