package store

import (
	"context"
	"fmt"
	"time"

	"ferry/internal/model"
)

const tokenCols = "id, name, role, member, host, hash, created_at, revoked_at"

func scanToken(s scanner) (model.Token, error) {
	var tk model.Token
	err := s.Scan(&tk.ID, &tk.Name, &tk.Role, &tk.Member, &tk.Host, &tk.Hash,
		timeCol{&tk.CreatedAt}, nullTimeCol{&tk.RevokedAt})
	return tk, err
}

// CreateToken stores a token; a second token with the same hash is
// ErrConflict.
func (t *tx) CreateToken(ctx context.Context, tk *model.Token) error {
	at := now()
	id, err := t.create(ctx, "create token "+tk.Name, nil,
		"INSERT INTO tokens (name, role, member, host, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		tk.Name, tk.Role, tk.Member, tk.Host, tk.Hash, at, tk.RevokedAt)
	if err != nil {
		return err
	}
	tk.ID, tk.CreatedAt = id, at
	return nil
}

// TokenByHash finds a token by its secret's SHA-256. The hash stays out of
// the error.
func (t *tx) TokenByHash(ctx context.Context, hash string) (model.Token, error) {
	return get(ctx, t, scanToken, "token by hash",
		"SELECT "+tokenCols+" FROM tokens WHERE hash = ?", hash)
}

func (t *tx) GetToken(ctx context.Context, id int64) (model.Token, error) {
	return get(ctx, t, scanToken, fmt.Sprintf("get token %d", id),
		"SELECT "+tokenCols+" FROM tokens WHERE id = ?", id)
}

func (t *tx) ListTokens(ctx context.Context) ([]model.Token, error) {
	return list(ctx, t, scanToken, "list tokens",
		"SELECT "+tokenCols+" FROM tokens ORDER BY id")
}

// RevokeToken marks the token revoked at at. A token revoked before keeps
// its first revocation time.
func (t *tx) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	return t.change(ctx, fmt.Sprintf("revoke token %d", id), nil,
		"UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", at, id)
}
