package panel

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

// SessionLimits end web sessions: after Idle without a request, or
// Lifetime after login however busy.
type SessionLimits struct {
	Idle, Lifetime time.Duration
}

// WebSession is a live web UI session as the web UI sees it.
type WebSession struct {
	// ID is the cookie's value; only its hash is stored.
	ID string
	// CSRF is the token every form of the session carries.
	CSRF string
	// Flash is the one-shot message left for this page, taken by reading.
	Flash     string
	Caller    Caller
	CreatedAt time.Time
	SeenAt    time.Time
}

// ErrNoSession: the session does not exist, has ended, or its token no
// longer holds. It is an ErrUnauthenticated.
var ErrNoSession = fmt.Errorf("%w: no such web session", ErrUnauthenticated)

// randomID returns 32 random bytes, base64url-encoded.
func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// OpenWebSession opens a session that acts as c's token, kept in the store
// (every replica sees it, a restart keeps it), and ends the sessions past
// lim on the way.
func (p *Panel) OpenWebSession(ctx context.Context, c Caller, lim SessionLimits) (WebSession, error) {
	if c.TokenID == 0 {
		return WebSession{}, fmt.Errorf("%w: a web session needs a token", ErrUnauthenticated)
	}
	id, err := randomID()
	if err != nil {
		return WebSession{}, err
	}
	csrf, err := randomID()
	if err != nil {
		return WebSession{}, err
	}
	now := p.Now()
	w := model.WebSession{IDHash: HashToken(id), TokenID: c.TokenID, CSRF: csrf, CreatedAt: now, SeenAt: now}
	err = p.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.DeleteStaleWebSessions(ctx, now.Add(-lim.Idle), now.Add(-lim.Lifetime)); err != nil {
			return err
		}
		return tx.CreateWebSession(ctx, &w)
	})
	if err != nil {
		return WebSession{}, err
	}
	return WebSession{ID: id, CSRF: csrf, Caller: c, CreatedAt: now, SeenAt: now}, nil
}

// seenEvery is how often a session's last use is written: idle limits
// are hours, so a busy session need not write at every page.
const seenEvery = 30 * time.Second

// UseWebSession returns the live session id and marks it used, taking its
// flash message. Its token is checked again: a session past lim, or whose
// token was revoked or whose member is gone, is ended and ErrNoSession.
func (p *Panel) UseWebSession(ctx context.Context, id string, lim SessionLimits) (WebSession, error) {
	return p.webSession(ctx, id, lim, true)
}

// PeekWebSession is UseWebSession without counting as a use (a progress
// stream left open keeps no session alive) and without taking the flash.
func (p *Panel) PeekWebSession(ctx context.Context, id string, lim SessionLimits) (WebSession, error) {
	return p.webSession(ctx, id, lim, false)
}

func (p *Panel) webSession(ctx context.Context, id string, lim SessionLimits, use bool) (WebSession, error) {
	if id == "" || len(id) > 100 {
		return WebSession{}, ErrNoSession
	}
	var out WebSession
	var gone bool
	err := p.store.Update(ctx, func(tx store.Tx) error {
		w, err := tx.GetWebSession(ctx, HashToken(id))
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		now := p.Now()
		c, cerr := p.sessionCaller(ctx, tx, w)
		if cerr != nil || now.Sub(w.SeenAt) > lim.Idle || now.Sub(w.CreatedAt) > lim.Lifetime {
			gone = true
			return tx.DeleteWebSession(ctx, w.IDHash)
		}
		out = WebSession{ID: id, CSRF: w.CSRF, Flash: w.Flash, Caller: c, CreatedAt: w.CreatedAt, SeenAt: w.SeenAt}
		if !use {
			out.Flash = ""
			return nil
		}
		if w.Flash == "" && now.Sub(w.SeenAt) < seenEvery {
			return nil // seen a moment ago: no write for every page
		}
		w.SeenAt, w.Flash = now, ""
		out.SeenAt = now
		return tx.UpdateWebSession(ctx, w)
	})
	if err == nil && gone {
		err = ErrNoSession
	}
	return out, err
}

func (p *Panel) sessionCaller(ctx context.Context, tx store.Tx, w model.WebSession) (Caller, error) {
	t, err := tx.GetToken(ctx, w.TokenID)
	if err != nil {
		return Caller{}, err
	}
	return callerOf(ctx, tx, t)
}

// SetWebSessionFlash leaves a message for the session's next page; a
// session that has ended takes none.
func (p *Panel) SetWebSessionFlash(ctx context.Context, id, msg string) error {
	err := p.store.Update(ctx, func(tx store.Tx) error {
		w, err := tx.GetWebSession(ctx, HashToken(id))
		if err != nil {
			return err
		}
		w.Flash = msg
		return tx.UpdateWebSession(ctx, w)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// CloseWebSession ends a session (logout); one that has ended already is
// no error.
func (p *Panel) CloseWebSession(ctx context.Context, id string) error {
	err := p.store.Update(ctx, func(tx store.Tx) error { return tx.DeleteWebSession(ctx, HashToken(id)) })
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// CountWebSessions counts the sessions kept, ended-but-not-yet-removed
// ones included.
func (p *Panel) CountWebSessions(ctx context.Context) (int, error) {
	var n int
	err := p.store.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.CountWebSessions(ctx)
		return err
	})
	return n, err
}
