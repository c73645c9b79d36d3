package store

import (
	"context"
	"time"

	"ferry/internal/model"
)

const webSessionCols = "id_hash, token_id, csrf, flash, created_at, seen_at"

func scanWebSession(s scanner) (model.WebSession, error) {
	var w model.WebSession
	err := s.Scan(&w.IDHash, &w.TokenID, &w.CSRF, &w.Flash, timeCol{&w.CreatedAt}, timeCol{&w.SeenAt})
	return w, err
}

// CreateWebSession stores a session as given (its times included); a
// token that does not exist is ErrNotFound, an id hash taken ErrConflict.
func (t *tx) CreateWebSession(ctx context.Context, w *model.WebSession) error {
	w.CreatedAt, w.SeenAt = utc(w.CreatedAt), utc(w.SeenAt)
	return t.step(ctx, "create web session", missing("token"), func() error {
		return t.execOne(ctx, "INSERT INTO web_sessions ("+webSessionCols+") VALUES (?, ?, ?, ?, ?, ?)",
			w.IDHash, w.TokenID, w.CSRF, w.Flash, w.CreatedAt, w.SeenAt)
	})
}

// GetWebSession finds a session by its id's hash. The hash stays out of
// the error.
func (t *tx) GetWebSession(ctx context.Context, idHash string) (model.WebSession, error) {
	return get(ctx, t, scanWebSession, "web session", "SELECT "+webSessionCols+" FROM web_sessions WHERE id_hash = ?", idHash)
}

// UpdateWebSession saves a session's last use and flash message.
func (t *tx) UpdateWebSession(ctx context.Context, w model.WebSession) error {
	return t.change(ctx, "update web session", nil,
		"UPDATE web_sessions SET seen_at = ?, flash = ? WHERE id_hash = ?", w.SeenAt, w.Flash, w.IDHash)
}

// DeleteWebSession ends a session; ErrNotFound when there is none.
func (t *tx) DeleteWebSession(ctx context.Context, idHash string) error {
	return t.change(ctx, "delete web session", nil, "DELETE FROM web_sessions WHERE id_hash = ?", idHash)
}

// DeleteWebSessionsOfToken ends every session of a token and returns how
// many there were.
func (t *tx) DeleteWebSessionsOfToken(ctx context.Context, tokenID int64) (int, error) {
	return t.deleteCount(ctx, "delete web sessions of a token", "DELETE FROM web_sessions WHERE token_id = ?", tokenID)
}

// DeleteStaleWebSessions ends the sessions last used before seenBefore or
// opened before createdBefore, and returns how many there were.
func (t *tx) DeleteStaleWebSessions(ctx context.Context, seenBefore, createdBefore time.Time) (int, error) {
	return t.deleteCount(ctx, "delete stale web sessions",
		"DELETE FROM web_sessions WHERE seen_at < ? OR created_at < ?", seenBefore, createdBefore)
}

// CountWebSessions counts the sessions kept, stale or not.
func (t *tx) CountWebSessions(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, "SELECT COUNT(*) FROM web_sessions").Scan(&n)
	return n, err
}

// deleteCount runs a DELETE as a step and returns the rows it removed.
func (t *tx) deleteCount(ctx context.Context, what, q string, args ...any) (int, error) {
	var n int64
	err := t.step(ctx, what, nil, func() error {
		res, err := t.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
