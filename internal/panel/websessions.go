package panel

import (
	"context"
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
	hash := HashToken(id)
	// Read first: most requests change nothing (a progress stream peeks
	// every second), and a read takes no writer's turn.
	var w model.WebSession
	var c Caller
	var live bool
	err := p.store.View(ctx, func(tx store.Tx) error {
		var err error
		if w, err = tx.GetWebSession(ctx, hash); err != nil {
			return err
		}
		var cerr error
		c, cerr = p.sessionCaller(ctx, tx, w)
		now := p.Now()
		live = cerr == nil && now.Sub(w.SeenAt) <= lim.Idle && now.Sub(w.CreatedAt) <= lim.Lifetime
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return WebSession{}, ErrNoSession
	}
	if err != nil {
		return WebSession{}, err
	}
	if !live {
		// Ended: remove it (another request may have done so already).
		if err := p.CloseWebSession(ctx, id); err != nil {
			return WebSession{}, err
		}
		return WebSession{}, ErrNoSession
	}
	out := WebSession{ID: id, CSRF: w.CSRF, Caller: c, CreatedAt: w.CreatedAt, SeenAt: w.SeenAt}
	now := p.Now()
	if !use || (w.Flash == "" && now.Sub(w.SeenAt) < seenEvery) {
		return out, nil // peeked, or seen a moment ago: no write
	}
	// Take the flash and mark the use in one write, so that two requests
	// at once show the message once.
	err = p.store.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetWebSession(ctx, hash)
		if err != nil {
			return err
		}
		out.Flash = cur.Flash
		cur.SeenAt, cur.Flash = now, ""
		return tx.UpdateWebSession(ctx, cur)
	})
	if errors.Is(err, store.ErrNotFound) {
		return WebSession{}, ErrNoSession // closed meanwhile
	}
	if err != nil {
		return WebSession{}, err
	}
	out.SeenAt = now
	return out, nil
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
