package web

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
)

type loginData struct {
	Next   string
	Error  string
	Notice string
	// Login is the login name typed, kept in the form after a failure.
	Login string
	// CodeNeeded: the password was right and the login takes a code.
	CodeNeeded bool
}

// loginForm shows the login form (name, password, code; or an API token),
// with a fresh login CSRF token in a cookie and in the form.
func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if c, err := r.Cookie(sessionCookie); err == nil {
		if _, ok := u.sessions.get(r.Context(), c.Value); ok {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
	}
	u.showLogin(w, r, http.StatusOK, loginData{Next: next})
}

func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	csrf := randomToken()
	http.SetCookie(w, cookie(r, loginCookie, csrf, 0))
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, nil, status, "login", page{Title: "Log in", CSRF: csrf, Data: d})
}

// login checks a login name and password (and code), or an API token,
// with the panel and opens a session. Failed passwords count against the
// login name and the client's address; past the limits they are locked
// for a while, and the page says until when.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	next := safeNext(r.PostFormValue("next"))
	lc, err := r.Cookie(loginCookie)
	if err != nil || !tokensEqual(r.PostFormValue("csrf"), lc.Value) {
		u.showLogin(w, r, http.StatusForbidden, loginData{Next: next, Error: "The login form had expired. Please try again."})
		return
	}
	var c panel.Caller
	if secret := strings.TrimSpace(r.PostFormValue("token")); secret != "" || r.PostFormValue("login") == "" {
		c, err = u.panel.Authenticate(r.Context(), secret)
		if errors.Is(err, panel.ErrUnauthenticated) {
			u.log.Info("web login refused", "remote", r.RemoteAddr)
			u.showLogin(w, r, http.StatusUnauthorized, loginData{Next: next, Error: "That token is not valid: unknown, mistyped or revoked."})
			return
		}
	} else {
		var d loginData
		var status int
		if c, status, d = u.passwordLogin(r); status != 0 {
			d.Next = next
			u.showLogin(w, r, status, d)
			return
		}
	}
	if err != nil {
		u.fail(w, r, nil, err)
		return
	}
	if c.Role != model.RoleAdmin && c.Role != model.RoleMember {
		u.showLogin(w, r, http.StatusForbidden, loginData{Next: next, Error: "The web panel is for admins and members; a " + string(c.Role) + " token cannot log in."})
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		u.sessions.close(r.Context(), old.Value)
	}
	s, err := u.sessions.open(r.Context(), c)
	if err != nil {
		u.fail(w, r, nil, err)
		return
	}
	u.log.Info("web login", "token", c.Name, "role", c.Role)
	http.SetCookie(w, cookie(r, sessionCookie, s.id, 0))
	http.SetCookie(w, cookie(r, loginCookie, "", -1))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// passwordLogin checks the posted login name, password and code against
// the attempt limits and the panel. A status other than 0 means refused,
// with the page's data.
func (u *UI) passwordLogin(r *http.Request) (panel.Caller, int, loginData) {
	name := strings.ToLower(strings.TrimSpace(r.PostFormValue("login")))
	d := loginData{Login: name}
	nameKey, addrKey := "login:"+name, "addr:"+clientAddr(r)
	if until := u.limits.locked(nameKey); !until.IsZero() {
		d.Error = u.lockedMessage("this login", until)
		return panel.Caller{}, http.StatusTooManyRequests, d
	}
	if until := u.limits.locked(addrKey); !until.IsZero() {
		d.Error = u.lockedMessage("your address", until)
		return panel.Caller{}, http.StatusTooManyRequests, d
	}
	c, err := u.panel.PasswordLogin(r.Context(), name, r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("code")))
	switch {
	case errors.Is(err, panel.ErrCodeNeeded):
		d.CodeNeeded = true
		d.Error = "This login takes a code: type the six digits your authenticator app shows, with the password again."
		return c, http.StatusUnauthorized, d
	case errors.Is(err, panel.ErrUnauthenticated):
		u.log.Info("web password login refused", "login", name, "remote", r.RemoteAddr)
		until := u.limits.fail(nameKey, loginFree)
		if a := u.limits.fail(addrKey, addrFree); a.After(until) {
			d.Error = u.lockedMessage("your address", a)
			return c, http.StatusTooManyRequests, d
		}
		if !until.IsZero() {
			d.Error = u.lockedMessage("this login", until)
			return c, http.StatusTooManyRequests, d
		}
		d.Error = "Wrong login name, password or code."
		return c, http.StatusUnauthorized, d
	case err != nil:
		d.Error = "Something went wrong on the server; the error is in its log."
		u.log.Error("web password login", "err", err)
		return c, http.StatusInternalServerError, d
	}
	u.limits.clear(nameKey)
	return c, 0, d
}

// lockedMessage says who is locked out of logging in, and until when.
func (u *UI) lockedMessage(who string, until time.Time) string {
	left := until.Sub(u.now()).Round(time.Second)
	return fmt.Sprintf("Too many failed logins for %s. Try again after %s (in %s).", who, until.UTC().Format("15:04:05 UTC"), left)
}

// clientAddr is the request's client address without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) {
	u.sessions.close(r.Context(), s.id)
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	u.showLogin(w, r, http.StatusOK, loginData{Next: "/", Notice: "You are logged out."})
}

func (u *UI) home(w http.ResponseWriter, r *http.Request, s *session) {
	http.Redirect(w, r, "/orders", http.StatusSeeOther)
}

// safeNext keeps a post-login target on this site: a path, never a URL
// that a browser would take to another host ("//evil", "/\evil").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	p, err := url.Parse(next)
	if err != nil || p.Scheme != "" || p.Host != "" || p.User != nil {
		return "/"
	}
	if strings.ContainsAny(next, "\r\n\t\\") {
		return "/"
	}
	return next
}
