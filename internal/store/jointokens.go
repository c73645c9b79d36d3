package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ferry/internal/model"
)

// ErrSpent is returned by UseJoinToken for a join token that was used
// already or has expired.
var ErrSpent = errors.New("already used or expired")

const joinTokenCols = "id, host, hash, created_by, created_at, expires_at, used_at"

func scanJoinToken(s scanner) (model.JoinToken, error) {
	var j model.JoinToken
	err := s.Scan(&j.ID, &j.Host, &j.Hash, &j.CreatedBy, timeCol{&j.CreatedAt}, timeCol{&j.ExpiresAt}, nullTimeCol{&j.UsedAt})
	return j, err
}

// CreateJoinToken stores a join token; CreatedAt is set, ExpiresAt kept.
func (t *tx) CreateJoinToken(ctx context.Context, j *model.JoinToken) error {
	at := now()
	id, err := t.create(ctx, "create join token for "+j.Host, nil,
		"INSERT INTO join_tokens (host, hash, created_by, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, NULL)",
		j.Host, j.Hash, j.CreatedBy, at, j.ExpiresAt)
	if err != nil {
		return err
	}
	j.ID, j.CreatedAt, j.ExpiresAt, j.UsedAt = id, at, utc(j.ExpiresAt), nil
	return nil
}

// UseJoinToken claims the join token with hash at time at: one statement
// sets used_at where it is unset and the token has not expired, so of two
// concurrent claims one wins. It returns the token as claimed; ErrNotFound
// when no token has the hash, ErrSpent (with the token) when it was used
// or has expired. The hash stays out of errors.
func (t *tx) UseJoinToken(ctx context.Context, hash string, at time.Time) (model.JoinToken, error) {
	err := t.change(ctx, "use join token", nil,
		"UPDATE join_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ?", at, hash, at)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return model.JoinToken{}, err
	}
	j, gerr := get(ctx, t, scanJoinToken, "join token", "SELECT "+joinTokenCols+" FROM join_tokens WHERE hash = ?", hash)
	if gerr != nil {
		return model.JoinToken{}, gerr
	}
	if err != nil {
		return j, fmt.Errorf("join token %d for %s: %w", j.ID, j.Host, ErrSpent)
	}
	return j, nil
}

// ListJoinTokens lists join tokens, newest last.
func (t *tx) ListJoinTokens(ctx context.Context) ([]model.JoinToken, error) {
	return list(ctx, t, scanJoinToken, "list join tokens", "SELECT "+joinTokenCols+" FROM join_tokens ORDER BY id")
}

// ExpireJoinToken ends the unused join token id at time at, so it can no
// longer enrol a server: revocation. It returns the token as it is now;
// ErrNotFound when there is no such token, ErrSpent (with the token) when
// it was used or had expired already.
func (t *tx) ExpireJoinToken(ctx context.Context, id int64, at time.Time) (model.JoinToken, error) {
	err := t.change(ctx, fmt.Sprintf("revoke join token %d", id), nil,
		"UPDATE join_tokens SET expires_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?", at, id, at)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return model.JoinToken{}, err
	}
	j, gerr := get(ctx, t, scanJoinToken, fmt.Sprintf("join token %d", id), "SELECT "+joinTokenCols+" FROM join_tokens WHERE id = ?", id)
	if gerr != nil {
		return model.JoinToken{}, gerr
	}
	if err != nil {
		return j, fmt.Errorf("join token %d for %s: %w", j.ID, j.Host, ErrSpent)
	}
	return j, nil
}
