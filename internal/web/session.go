package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
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

// session is one logged-in browser. It keeps the token it was opened with
// so that every request checks the token again: a revoked token ends its
// sessions at their next request.
type session struct {
	id     string
	secret string
	caller panel.Caller
	// csrf is the token every form of this session carries.
	csrf    string
	created time.Time
	seen    time.Time
	// flash is a one-shot message for the next page (after a redirect).
	flash string
}

// sessions is the server-side session map. Sessions end after idle
// without a request, or after lifetime whatever their use.
type sessions struct {
	mu       sync.Mutex
	byID     map[string]*session
	now      func() time.Time
	idle     time.Duration
	lifetime time.Duration
}

func newSessions(now func() time.Time, idle, lifetime time.Duration) *sessions {
	return &sessions{byID: map[string]*session{}, now: now, idle: idle, lifetime: lifetime}
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

// open starts a session for a caller and drops sessions that expired.
func (ss *sessions) open(secret string, c panel.Caller) session {
	now := ss.now()
	s := &session{id: randomToken(), secret: secret, caller: c, csrf: randomToken(), created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, old := range ss.byID {
		if ss.expired(old, now) {
			delete(ss.byID, id)
		}
	}
	ss.byID[s.id] = s
	return *s
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) > ss.idle || now.Sub(s.created) > ss.lifetime
}

// get returns the live session with id and marks it used, taking its flash
// message; an expired session is removed.
func (ss *sessions) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok {
		return session{}, false
	}
	if ss.expired(s, now) {
		delete(ss.byID, id)
		return session{}, false
	}
	s.seen = now
	out := *s
	s.flash = ""
	return out, true
}

// alive reports whether session id is still live, without counting this
// as a use (a progress stream left open keeps no session alive).
func (ss *sessions) alive(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	return ok && !ss.expired(s, ss.now())
}

// setFlash leaves a message for the session's next page.
func (ss *sessions) setFlash(id, msg string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.byID[id]; ok {
		s.flash = msg
	}
}

// refresh stores the caller a re-check of the token found.
func (ss *sessions) refresh(id string, c panel.Caller) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.byID[id]; ok {
		s.caller = c
	}
}

func (ss *sessions) close(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

// len counts the sessions held, expired or not (for tests).
func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.byID)
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
