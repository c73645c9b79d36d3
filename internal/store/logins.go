package store

import (
	"context"
	"fmt"

	"ferry/internal/model"
)

const loginCols = "name, token_id, password_hash, totp_secret, created_at, updated_at"

func scanLogin(s scanner) (model.Login, error) {
	var l model.Login
	err := s.Scan(&l.Name, &l.TokenID, &l.PasswordHash, &l.TOTPSecret, timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt})
	return l, err
}

// CreateLogin stores a web login as given (its times included); a name
// taken is ErrConflict, a token that does not exist ErrNotFound.
func (t *tx) CreateLogin(ctx context.Context, l *model.Login) error {
	l.CreatedAt, l.UpdatedAt = utc(l.CreatedAt), utc(l.UpdatedAt)
	return t.step(ctx, "create login "+l.Name, missing("token"), func() error {
		return t.execOne(ctx, "INSERT INTO logins ("+loginCols+") VALUES (?, ?, ?, ?, ?, ?)",
			l.Name, l.TokenID, l.PasswordHash, l.TOTPSecret, l.CreatedAt, l.UpdatedAt)
	})
}

// GetLogin finds a web login by name.
func (t *tx) GetLogin(ctx context.Context, name string) (model.Login, error) {
	return get(ctx, t, scanLogin, "login "+name, "SELECT "+loginCols+" FROM logins WHERE name = ?", name)
}

// ListLogins lists the web logins by name.
func (t *tx) ListLogins(ctx context.Context) ([]model.Login, error) {
	return list(ctx, t, scanLogin, "list logins", "SELECT "+loginCols+" FROM logins ORDER BY name")
}

// UpdateLogin writes a login's token, password hash, TOTP secret and
// update time.
func (t *tx) UpdateLogin(ctx context.Context, l *model.Login) error {
	l.UpdatedAt = utc(l.UpdatedAt)
	return t.change(ctx, fmt.Sprintf("update login %s", l.Name), missing("token"),
		"UPDATE logins SET token_id = ?, password_hash = ?, totp_secret = ?, updated_at = ? WHERE name = ?",
		l.TokenID, l.PasswordHash, l.TOTPSecret, l.UpdatedAt, l.Name)
}

// DeleteLogin removes a web login; ErrNotFound when there is none.
func (t *tx) DeleteLogin(ctx context.Context, name string) error {
	return t.change(ctx, "delete login "+name, nil, "DELETE FROM logins WHERE name = ?", name)
}
