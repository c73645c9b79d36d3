package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

func testLogins(t *testing.T, h *harness) {
	ctx := t.Context()
	var tok, tok2 model.Token
	update(t, h.s, func(tx store.Tx) error {
		tok = model.Token{Name: "login-ann", Role: model.RoleAdmin, Hash: strings.Repeat("3", 64)}
		if err := tx.CreateToken(ctx, &tok); err != nil {
			return err
		}
		tok2 = model.Token{Name: "login-ann-2", Role: model.RoleAdmin, Hash: strings.Repeat("4", 64)}
		return tx.CreateToken(ctx, &tok2)
	})
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	l := model.Login{Name: "ann", TokenID: tok.ID, PasswordHash: "$2a$hash", CreatedAt: t0, UpdatedAt: t0}
	update(t, h.s, func(tx store.Tx) error { return tx.CreateLogin(ctx, &l) })
	dup := l
	wantErr(t, h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateLogin(ctx, &dup) }), store.ErrConflict, "login")
	orphan := model.Login{Name: "bob", TokenID: 9999, PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateLogin(ctx, &orphan) }), store.ErrNotFound, "token")

	got := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Login, error) { return tx.GetLogin(ctx, "ann") })
	if got != l {
		t.Errorf("GetLogin = %+v, want %+v", got, l)
	}
	l.TokenID, l.PasswordHash, l.TOTPSecret, l.UpdatedAt = tok2.ID, "$2a$other", "JBSWY3DPEHPK3PXP", t0.Add(time.Hour)
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateLogin(ctx, &l) })
	if got := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Login, error) { return tx.GetLogin(ctx, "ann") }); got != l {
		t.Errorf("after UpdateLogin: %+v, want %+v", got, l)
	}
	ls := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Login, error) { return tx.ListLogins(ctx) })
	if len(ls) != 1 || ls[0] != l {
		t.Errorf("ListLogins = %+v, want [%+v]", ls, l)
	}
	update(t, h.s, func(tx store.Tx) error { return tx.DeleteLogin(ctx, "ann") })
	wantErr(t, h.s.Update(ctx, func(tx store.Tx) error { return tx.DeleteLogin(ctx, "ann") }), store.ErrNotFound, "login")
	err := h.s.View(ctx, func(tx store.Tx) error { _, err := tx.GetLogin(ctx, "ann"); return err })
	wantErr(t, err, store.ErrNotFound, "login")
}
