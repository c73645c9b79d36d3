package store

import (
	"context"
	"database/sql"

	"ferry/internal/model"
)

const auditCols = "id, at, actor, action, object, order_id, before_json, after_json"

func scanAudit(s scanner) (model.AuditEntry, error) {
	var e model.AuditEntry
	err := s.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.Action, &e.Object,
		nullIDCol{&e.OrderID}, &e.Before, &e.After)
	return e, err
}

// AppendAudit stores an entry; one without a time happened now.
func (t *tx) AppendAudit(ctx context.Context, e *model.AuditEntry) error {
	at := now()
	if !e.At.IsZero() {
		at = utc(e.At)
	}
	id, err := t.create(ctx, "append audit entry "+e.Action+" "+e.Object, nil,
		"INSERT INTO audit (at, actor, action, object, order_id, before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
		at, e.Actor, e.Action, e.Object, nullID(e.OrderID), e.Before, e.After)
	if err != nil {
		return err
	}
	e.ID, e.At = id, at
	return nil
}

// ListAudit lists the newest entries first.
func (t *tx) ListAudit(ctx context.Context, f AuditFilter) ([]model.AuditEntry, error) {
	var w where
	if f.OrderID != 0 {
		w.add("order_id = ?", f.OrderID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	return list(ctx, t, scanAudit, "list audit",
		"SELECT "+auditCols+" FROM audit"+w.String()+" ORDER BY id DESC LIMIT ?", append(w.args, limit)...)
}

// nullID stores the id 0, meaning none, as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullIDCol scans an id column that may be NULL, meaning 0.
type nullIDCol struct{ id *int64 }

func (c nullIDCol) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return err
	}
	*c.id = n.Int64
	return nil
}
