package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"ferry/internal/model"
	"ferry/internal/panel"
)

type loginData struct {
	Next   string
	Error  string
	Notice string
}

// loginForm shows the token form, with a fresh login CSRF token in a
// cookie and in the form.
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

// login checks the posted token with the panel and opens a session.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	next := safeNext(r.PostFormValue("next"))
	lc, err := r.Cookie(loginCookie)
	if err != nil || !tokensEqual(r.PostFormValue("csrf"), lc.Value) {
		u.showLogin(w, r, http.StatusForbidden, loginData{Next: next, Error: "The login form had expired. Please try again."})
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	c, err := u.panel.Authenticate(r.Context(), secret)
	if errors.Is(err, panel.ErrUnauthenticated) {
		u.log.Info("web login refused", "remote", r.RemoteAddr)
		u.showLogin(w, r, http.StatusUnauthorized, loginData{Next: next, Error: "That token is not valid: unknown, mistyped or revoked."})
		return
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
