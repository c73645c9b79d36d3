package panel

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

// tokenPrefix marks ferry's secrets so scanners and people recognise them.
const tokenPrefix = "fy_"

// HashToken returns the stored form of a token secret.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func newSecret() (string, error) {
	r, err := randomID()
	return tokenPrefix + r, err
}

// randomID returns 32 random bytes, base64url-encoded: the body of every
// secret the panel makes (tokens, join tokens, web session ids).
func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Authenticate finds the caller a bearer secret belongs to.
func (p *Panel) Authenticate(ctx context.Context, secret string) (Caller, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 200 {
		return Caller{}, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	var c Caller
	// No transaction: the token is read, then its member or host. A
	// member's or host's deletion revokes its tokens and removes it in one
	// commit, so whichever side of it each read falls on, a token of a
	// deleted owner is refused (revoked, or no owner, or an owner made
	// after it).
	err := p.store.Read(ctx, func(tx store.Tx) error {
		t, err := tx.TokenByHash(ctx, HashToken(secret))
		if err != nil {
			return err
		}
		c, err = callerOf(ctx, tx, t)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	return c, err
}

// callerOf returns the caller a token makes, unless it was revoked or its
// member or host no longer holds it (ErrUnauthenticated).
func callerOf(ctx context.Context, tx store.Tx, t model.Token) (Caller, error) {
	if t.RevokedAt != nil {
		return Caller{}, fmt.Errorf("%w: token %q was revoked", ErrUnauthenticated, t.Name)
	}
	if owner := tokenOwner(ctx, tx, t); owner != nil {
		return Caller{}, fmt.Errorf("%w: token %q: %v", ErrUnauthenticated, t.Name, owner)
	}
	return Caller{TokenID: t.ID, Name: t.Name, Role: t.Role, Member: t.Member, Host: t.Host}, nil
}

// tokenOwner checks that the member or host a token was made for still
// exists and is the same one: made before the token, not a later one given
// the same name. Deleting a member or host revokes its tokens; this also
// covers tokens left from before that rule.
func tokenOwner(ctx context.Context, tx store.Tx, t model.Token) error {
	var since time.Time
	switch {
	case t.Member != "":
		m, err := tx.GetMember(ctx, t.Member)
		if err != nil {
			return fmt.Errorf("its member %s is gone", t.Member)
		}
		since = m.CreatedAt
	case t.Host != "":
		h, err := tx.GetHost(ctx, t.Host)
		if err != nil {
			return fmt.Errorf("its host %s is gone", t.Host)
		}
		since = h.CreatedAt
	default:
		return nil
	}
	if since.After(t.CreatedAt) {
		return fmt.Errorf("it was made for an earlier %s of that name", map[bool]string{true: "member", false: "host"}[t.Member != ""])
	}
	return nil
}

// CreateToken makes a token and returns it with its secret, which is shown
// only this once. Admins only; the member or host it is scoped to must exist.
func (p *Panel) CreateToken(ctx context.Context, c Caller, t model.Token) (model.Token, string, error) {
	if !c.IsAdmin() {
		return model.Token{}, "", forbidden("only admins create tokens")
	}
	if err := t.Validate(); err != nil {
		return model.Token{}, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return model.Token{}, "", err
	}
	t.Hash = HashToken(secret)
	t.CreatedAt = p.Now()
	err = p.store.Update(ctx, func(tx store.Tx) error {
		if t.Member != "" {
			if _, err := tx.GetMember(ctx, t.Member); err != nil {
				return fmt.Errorf("token member %q: %w", t.Member, err)
			}
		}
		if t.Host != "" {
			if _, err := tx.GetHost(ctx, t.Host); err != nil {
				return fmt.Errorf("token host %q: %w", t.Host, err)
			}
		}
		if err := tx.CreateToken(ctx, &t); errors.Is(err, store.ErrConflict) {
			return &model.FieldError{Field: "name", Message: fmt.Sprintf("a live token is named %q already; token names say who did what in the audit log, so pick another name or revoke that token first", t.Name)}
		} else if err != nil {
			return fmt.Errorf("token %q: %w", t.Name, err)
		}
		return p.audit(ctx, tx, c, AuditTokenCreate, fmt.Sprintf("token/%d", t.ID), 0, nil, t)
	})
	if err != nil {
		return model.Token{}, "", err
	}
	return t, secret, nil
}

// EnsureAdminToken makes the first admin token if no token exists yet and
// returns its secret; "" when tokens already exist.
func (p *Panel) EnsureAdminToken(ctx context.Context) (string, error) {
	var secret string
	err := p.store.Update(ctx, func(tx store.Tx) error {
		ts, err := tx.ListTokens(ctx)
		if err != nil || len(ts) > 0 {
			return err
		}
		secret, err = newSecret()
		if err != nil {
			return err
		}
		t := model.Token{Name: "admin", Role: model.RoleAdmin, Hash: HashToken(secret), CreatedAt: p.Now()}
		if err := tx.CreateToken(ctx, &t); err != nil {
			return err
		}
		return p.audit(ctx, tx, System, AuditTokenCreate, fmt.Sprintf("token/%d", t.ID), 0, nil, t)
	})
	return secret, err
}

// ListTokens lists every token (never their secrets). Admins only.
func (p *Panel) ListTokens(ctx context.Context, c Caller) ([]model.Token, error) {
	if !c.IsAdmin() {
		return nil, forbidden("only admins list tokens")
	}
	var ts []model.Token
	err := p.store.View(ctx, func(tx store.Tx) error {
		var err error
		ts, err = tx.ListTokens(ctx)
		return err
	})
	return ts, err
}

// RevokeToken revokes a token by id or name. Admins only.
func (p *Panel) RevokeToken(ctx context.Context, c Caller, ref string) (model.Token, error) {
	if !c.IsAdmin() {
		return model.Token{}, forbidden("only admins revoke tokens")
	}
	var t model.Token
	err := p.store.Update(ctx, func(tx store.Tx) error {
		ts, err := tx.ListTokens(ctx)
		if err != nil {
			return err
		}
		found := false
		for _, x := range ts {
			if fmt.Sprint(x.ID) == ref || (x.Name == ref && x.RevokedAt == nil) {
				t, found = x, true
				break
			}
		}
		if !found {
			return fmt.Errorf("token %q: %w", ref, store.ErrNotFound)
		}
		if t.RevokedAt != nil {
			return refused("token %q is already revoked", t.Name)
		}
		now := p.Now()
		if err := tx.RevokeToken(ctx, t.ID, now); err != nil {
			return err
		}
		if _, err := tx.DeleteWebSessionsOfToken(ctx, t.ID); err != nil {
			return err
		}
		before := t
		t.RevokedAt = &now
		return p.audit(ctx, tx, c, AuditTokenRevoke, fmt.Sprintf("token/%d", t.ID), 0, before, t)
	})
	return t, err
}
