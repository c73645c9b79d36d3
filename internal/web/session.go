package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"ferry/internal/panel"
)

// Cookie names. The session cookie carries only a random id; everything
// else stays on the server.
const (
	sessionCookie = "ferry_session"
	// loginCookie holds the login form's CSRF token before there is a
	// session (a double-submit token: cookie and hidden field must match).
	loginCookie = "ferry_login"
)

// session is one logged-in browser, as a request sees it. The session
// itself is kept in the store by the panel (every replica knows it, a
// restart keeps it); it acts as the token it was opened with, checked
// again at every request, so a revoked token ends its sessions at once.
type session struct {
	id     string
	caller panel.Caller
	// csrf is the token every form of this session carries.
	csrf    string
	created time.Time
	seen    time.Time
	// flash is a one-shot message for the next page (after a redirect).
	flash string
}

// sessions reaches the panel's web sessions with the UI's limits: they end
// after idle without a request, or after lifetime whatever their use.
type sessions struct {
	panel *panel.Panel
	lim   panel.SessionLimits
	log   *slog.Logger
}

func newSessions(p *panel.Panel, idle, lifetime time.Duration, log *slog.Logger) *sessions {
	return &sessions{panel: p, lim: panel.SessionLimits{Idle: idle, Lifetime: lifetime}, log: log}
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on Linux; a session without
		// randomness must never be handed out.
		panic("web: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func fromPanel(w panel.WebSession) session {
	return session{id: w.ID, caller: w.Caller, csrf: w.CSRF, created: w.CreatedAt, seen: w.SeenAt, flash: w.Flash}
}

// open starts a session for a caller.
func (ss *sessions) open(ctx context.Context, c panel.Caller) (session, error) {
	w, err := ss.panel.OpenWebSession(ctx, c, ss.lim)
	return fromPanel(w), err
}

// get returns the live session with id, its token checked again, and
// marks it used, taking its flash message. A session that ended, or whose
// token no longer holds, is not ok; an error of the store is logged and
// counts as no session.
func (ss *sessions) get(ctx context.Context, id string) (session, bool) {
	w, err := ss.panel.UseWebSession(ctx, id, ss.lim)
	if err != nil {
		if !errors.Is(err, panel.ErrUnauthenticated) {
			ss.log.Error("web: read session", "err", err)
		}
		return session{}, false
	}
	return fromPanel(w), true
}

// alive reports whether session id is still live, without counting this
// as a use (a progress stream left open keeps no session alive).
func (ss *sessions) alive(ctx context.Context, id string) bool {
	_, err := ss.panel.PeekWebSession(ctx, id, ss.lim)
	return err == nil
}

// setFlash leaves a message for the session's next page.
func (ss *sessions) setFlash(ctx context.Context, id, msg string) {
	if err := ss.panel.SetWebSessionFlash(ctx, id, msg); err != nil {
		ss.log.Error("web: keep a message for the next page", "err", err)
	}
}

func (ss *sessions) close(ctx context.Context, id string) {
	if err := ss.panel.CloseWebSession(ctx, id); err != nil {
		ss.log.Error("web: end session", "err", err)
	}
}

// len counts the sessions kept, ended or not (for tests).
func (ss *sessions) len() int {
	n, err := ss.panel.CountWebSessions(context.Background())
	if err != nil {
		ss.log.Error("web: count sessions", "err", err)
	}
	return n
}

// tokensEqual compares two CSRF tokens in constant time; an empty token
// never matches.
func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookie returns a cookie as the UI sets them: whole site, HttpOnly,
// SameSite=Strict, Secure when the request came over TLS.
func cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}
