package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

func testWebSessions(t *testing.T, h *harness) {
	ctx := t.Context()
	var tok, other model.Token
	update(t, h.s, func(tx store.Tx) error {
		tok = model.Token{Name: "admin-web", Role: model.RoleAdmin, Hash: strings.Repeat("1", 64)}
		if err := tx.CreateToken(ctx, &tok); err != nil {
			return err
		}
		other = model.Token{Name: "admin-2", Role: model.RoleAdmin, Hash: strings.Repeat("2", 64)}
		return tx.CreateToken(ctx, &other)
	})
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	mk := func(hash string, tokenID int64, created time.Time) model.WebSession {
		return model.WebSession{IDHash: hash, TokenID: tokenID, CSRF: "csrf-" + hash, CreatedAt: created, SeenAt: created}
	}
	a, b, c := mk("a", tok.ID, t0), mk("b", tok.ID, t0.Add(time.Hour)), mk("c", other.ID, t0.Add(2*time.Hour))
	update(t, h.s, func(tx store.Tx) error {
		for _, w := range []*model.WebSession{&a, &b, &c} {
			if err := tx.CreateWebSession(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	dup := mk("a", tok.ID, t0)
	wantErr(t, h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateWebSession(ctx, &dup) }), store.ErrConflict, "web session")
	orphan := mk("z", 9999, t0)
	wantErr(t, h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateWebSession(ctx, &orphan) }), store.ErrNotFound, "token")

	got := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.WebSession, error) { return tx.GetWebSession(ctx, "b") })
	if got != b {
		t.Errorf("GetWebSession = %+v, want %+v", got, b)
	}
	b.SeenAt, b.Flash = t0.Add(3*time.Hour), "saved"
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateWebSession(ctx, b) })
	if got := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.WebSession, error) { return tx.GetWebSession(ctx, "b") }); got != b {
		t.Errorf("after UpdateWebSession: %+v, want %+v", got, b)
	}
	wantErr(t, h.s.Update(ctx, func(tx store.Tx) error { return tx.UpdateWebSession(ctx, mk("nope", tok.ID, t0)) }), store.ErrNotFound, "web session")
	err := h.s.View(ctx, func(tx store.Tx) error { _, err := tx.GetWebSession(ctx, "nope"); return err })
	wantErr(t, err, store.ErrNotFound, "web session")

	// a was last used at t0, b at t0+3h, c at t0+2h: seen before t0+1h ends a only.
	var n int
	update(t, h.s, func(tx store.Tx) (err error) {
		n, err = tx.DeleteStaleWebSessions(ctx, t0.Add(time.Hour), t0.Add(-time.Hour))
		return err
	})
	if n != 1 {
		t.Errorf("DeleteStaleWebSessions ended %d sessions, want 1 (a)", n)
	}
	update(t, h.s, func(tx store.Tx) (err error) {
		n, err = tx.DeleteWebSessionsOfToken(ctx, tok.ID)
		return err
	})
	if n != 1 {
		t.Errorf("DeleteWebSessionsOfToken ended %d, want 1 (b)", n)
	}
	update(t, h.s, func(tx store.Tx) error { return tx.DeleteWebSession(ctx, "c") })
	wantErr(t, h.s.Update(ctx, func(tx store.Tx) error { return tx.DeleteWebSession(ctx, "c") }), store.ErrNotFound, "web session")
	if left := read(t, h.s, func(ctx context.Context, tx store.Tx) (int, error) { return tx.CountWebSessions(ctx) }); left != 0 {
		t.Errorf("%d sessions left, want none", left)
	}
}

func testBatches(t *testing.T, h *harness) {
	ctx := t.Context()
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	a := model.BatchRecord{ID: "b-2", State: "running", Data: `{"id":"b-2"}`, CreatedAt: t0, UpdatedAt: t0}
	b := model.BatchRecord{ID: "b-1", State: "running", Data: `{"id":"b-1"}`, CreatedAt: t0, UpdatedAt: t0}
	update(t, h.s, func(tx store.Tx) error {
		if err := tx.PutBatch(ctx, a); err != nil {
			return err
		}
		return tx.PutBatch(ctx, b)
	})
	// Replacing keeps the creation time.
	a2 := model.BatchRecord{ID: "b-2", State: "finished", Data: `{"id":"b-2","state":"finished"}`, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour)}
	update(t, h.s, func(tx store.Tx) error { return tx.PutBatch(ctx, a2) })
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.BatchRecord, error) { return tx.ListBatches(ctx) })
	a2.CreatedAt = t0
	if len(got) != 2 || got[0] != b || got[1] != a2 {
		t.Errorf("ListBatches = %+v, want %+v then %+v", got, b, a2)
	}
	one := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.BatchRecord, error) { return tx.GetBatch(ctx, "b-2") })
	if one != a2 {
		t.Errorf("GetBatch = %+v, want %+v", one, a2)
	}
	notFound(t, h.s, "b-9", func(ctx context.Context, tx store.Tx) error { _, err := tx.GetBatch(ctx, "b-9"); return err })
}
