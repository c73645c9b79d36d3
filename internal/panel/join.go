package panel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

// joinTokenPrefix marks join tokens, apart from API tokens (fy_).
const joinTokenPrefix = "fyj_"

// Join tokens live a short while: long enough to log in to the new server
// and run `ferry node join`, short enough that a leaked one is soon dead.
const (
	DefaultJoinTTL = 30 * time.Minute
	MaxJoinTTL     = 24 * time.Hour
)

// CreateJoinToken makes a one-time token that enrols a server as the node
// of host, good for ttl (DefaultJoinTTL when 0), and returns it with its
// secret, shown only this once. Admins only; the host must exist.
func (p *Panel) CreateJoinToken(ctx context.Context, c Caller, host string, ttl time.Duration) (model.JoinToken, string, error) {
	if !c.IsAdmin() {
		return model.JoinToken{}, "", forbidden("only admins create join tokens")
	}
	if ttl == 0 {
		ttl = DefaultJoinTTL
	}
	if ttl < time.Minute || ttl > MaxJoinTTL {
		return model.JoinToken{}, "", refused("a join token lives from 1m to %s, not %s", MaxJoinTTL, ttl)
	}
	r, err := randomID()
	if err != nil {
		return model.JoinToken{}, "", err
	}
	secret := joinTokenPrefix + r
	j := model.JoinToken{Host: host, Hash: HashToken(secret), CreatedBy: c.Name, ExpiresAt: p.Now().Add(ttl)}
	err = p.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.GetHost(ctx, host); err != nil {
			return fmt.Errorf("join token host %q: %w", host, err)
		}
		if err := tx.CreateJoinToken(ctx, &j); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditJoinTokenCreate, fmt.Sprintf("join-token/%d", j.ID), 0, nil, j)
	})
	if err != nil {
		return model.JoinToken{}, "", err
	}
	return j, secret, nil
}

// ListJoinTokens lists the join tokens, used, expired and usable, oldest
// first (never their secrets, which the control plane does not keep).
// Admins only.
func (p *Panel) ListJoinTokens(ctx context.Context, c Caller) ([]model.JoinToken, error) {
	if !c.IsAdmin() {
		return nil, forbidden("only admins list join tokens")
	}
	var js []model.JoinToken
	err := p.store.View(ctx, func(tx store.Tx) error {
		var err error
		js, err = tx.ListJoinTokens(ctx)
		return err
	})
	return js, err
}

// RevokeJoinToken ends an unused join token at once, so that a token
// that leaked (pasted in a chat, left in a shell history) cannot enrol a
// server. A used one is refused, naming the node token it made, which is
// the one to revoke. Admins only; audited.
func (p *Panel) RevokeJoinToken(ctx context.Context, c Caller, id int64) (model.JoinToken, error) {
	if !c.IsAdmin() {
		return model.JoinToken{}, forbidden("only admins revoke join tokens")
	}
	var j model.JoinToken
	err := p.store.Update(ctx, func(tx store.Tx) error {
		before, err := tx.ExpireJoinToken(ctx, id, p.Now())
		j = before
		switch {
		case errors.Is(err, store.ErrSpent) && before.UsedAt != nil:
			return refused("join token %d for %s was used at %s; revoke the node token it made instead (ferry token list)", id, before.Host, before.UsedAt.Format(time.RFC3339))
		case errors.Is(err, store.ErrSpent):
			return refused("join token %d for %s expired at %s already", id, before.Host, before.ExpiresAt.Format(time.RFC3339))
		case err != nil:
			return err
		}
		return p.audit(ctx, tx, c, AuditJoinTokenRevoke, fmt.Sprintf("join-token/%d", id), 0, nil, j)
	})
	if err != nil {
		return model.JoinToken{}, err
	}
	return j, nil
}

// Join trades a join token for a new node token of the join token's host,
// once, and returns the node token and its secret. Anyone holding the join
// token may call it; a spent, expired or unknown one is ErrUnauthenticated.
func (p *Panel) Join(ctx context.Context, secret string) (model.Token, string, error) {
	if !strings.HasPrefix(secret, joinTokenPrefix) || len(secret) > 200 {
		return model.Token{}, "", fmt.Errorf("%w: malformed join token (it starts with %s)", ErrUnauthenticated, joinTokenPrefix)
	}
	nodeSecret, err := newSecret()
	if err != nil {
		return model.Token{}, "", err
	}
	var t model.Token
	err = p.store.Update(ctx, func(tx store.Tx) error {
		now := p.Now()
		j, err := tx.UseJoinToken(ctx, HashToken(secret), now)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("%w: unknown join token", ErrUnauthenticated)
		case errors.Is(err, store.ErrSpent) && j.UsedAt != nil:
			return fmt.Errorf("%w: join token %d for %s was used at %s; make a new one", ErrUnauthenticated, j.ID, j.Host, j.UsedAt.Format(time.RFC3339))
		case errors.Is(err, store.ErrSpent):
			return fmt.Errorf("%w: join token %d for %s expired at %s; make a new one", ErrUnauthenticated, j.ID, j.Host, j.ExpiresAt.Format(time.RFC3339))
		case err != nil:
			return err
		}
		if _, err := tx.GetHost(ctx, j.Host); err != nil {
			return refused("host %s of the join token no longer exists", j.Host)
		}
		t = model.Token{Name: "node-" + j.Host, Role: model.RoleNode, Host: j.Host, Hash: HashToken(nodeSecret), CreatedAt: now}
		if err := tx.CreateToken(ctx, &t); err != nil {
			return err
		}
		by := Caller{Name: fmt.Sprintf("join-token/%d", j.ID), Role: model.RoleNode, Host: j.Host}
		return p.audit(ctx, tx, by, "token.join", fmt.Sprintf("token/%d", t.ID), 0, nil, t)
	})
	if err != nil {
		return model.Token{}, "", err
	}
	return t, nodeSecret, nil
}
