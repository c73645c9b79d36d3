package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Defaults for Options.
const (
	DefaultIdleTimeout = 8 * time.Hour
	DefaultLifetime    = 24 * time.Hour
)

// maxForm bounds a form body.
const maxForm = 64 << 10

// Options configure the UI. Zero fields take the defaults.
type Options struct {
	Log *slog.Logger
	// Now is the clock for "last seen" on the pages; the panel's when
	// nil. Sessions, kept by the panel, follow the panel's clock.
	Now func() time.Time
	// IdleTimeout ends a session that made no request for that long
	// (DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Lifetime ends a session that long after login, however busy
	// (DefaultLifetime).
	Lifetime time.Duration
	// TrustedOrigins are origins (https://panel.example.org) besides the
	// request's own Host that may post forms, for a proxy that rewrites
	// Host.
	TrustedOrigins []string
	// Moves is the move engine; nil leaves the move pages out.
	Moves Mover
	// Rebalance runs rebalance plans and drains; nil leaves its pages out.
	Rebalance Rebalancer
}

// UI is the web UI: an http.Handler for everything under /.
type UI struct {
	panel    *panel.Panel
	log      *slog.Logger
	now      func() time.Time
	sessions *sessions
	limits   *limiter
	moves    Mover
	balance  Rebalancer
	pages    map[string]*template.Template
	// assetVersion changes with the embedded assets, for cache busting.
	assetVersion string
	handler      http.Handler
}

// New returns the UI over a panel.
func New(p *panel.Panel, opts Options) (*UI, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = p.Now
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = DefaultLifetime
	}
	u := &UI{
		panel:    p,
		log:      opts.Log,
		now:      opts.Now,
		sessions: newSessions(p, opts.IdleTimeout, opts.Lifetime, opts.Log),
		limits:   newLimiter(opts.Now),
		moves:    opts.Moves,
		balance:  opts.Rebalance,
	}
	var err error
	if u.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if u.assetVersion, err = assetVersion(); err != nil {
		return nil, err
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range opts.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("web: trusted origin: %w", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, r, nil, http.StatusForbidden, "This form was posted from another site and was refused.")
	}))
	u.handler = securityHeaders(cop.Handler(u.routes()))
	return u, nil
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.handler.ServeHTTP(w, r) }

func (u *UI) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /login", u.loginForm)
	mux.HandleFunc("POST /login", u.login)
	mux.HandleFunc("POST /logout", u.authed(u.logout))
	mux.HandleFunc("GET /{$}", u.authed(u.home))
	mux.HandleFunc("GET /account", u.authed(u.account))
	mux.HandleFunc("POST /account/password", u.authed(u.changePassword))
	mux.HandleFunc("GET /account/totp", u.authed(u.totpForm))
	mux.HandleFunc("POST /account/totp", u.authed(u.setTOTP))
	mux.HandleFunc("POST /account/totp/off", u.authed(u.clearTOTP))
	mux.HandleFunc("POST /account/logout-everywhere", u.authed(u.logoutEverywhere))
	mux.HandleFunc("GET /hosts", u.authed(u.hosts))
	mux.HandleFunc("GET /members", u.authed(u.members))
	mux.HandleFunc("GET /tokens", u.authed(u.tokens))
	mux.HandleFunc("GET /audit", u.authed(u.audit))
	mux.HandleFunc("GET /orders", u.authed(u.orders))
	mux.HandleFunc("GET /orders/{ref}", u.authed(u.order))
	mux.HandleFunc("GET /orders/{ref}/items/new", u.authed(u.newItemForm))
	mux.HandleFunc("POST /orders/{ref}/items", u.authed(u.createItem))
	mux.HandleFunc("GET /orders/{ref}/items.json", u.authed(u.itemStates))
	mux.HandleFunc("GET /items/{id}/edit", u.authed(u.editItemForm))
	mux.HandleFunc("POST /items/{id}", u.authed(u.updateItem))
	mux.HandleFunc("POST /items/{id}/state", u.authed(u.itemAction))
	mux.HandleFunc("GET /orders/{ref}/delete", u.authed(u.deleteForm))
	mux.HandleFunc("POST /orders/{ref}/delete", u.authed(u.deleteOrder))
	if u.moves != nil {
		u.moveRoutes(mux)
	}
	if u.balance != nil {
		u.rebalanceRoutes(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	return mux
}

// securityHeaders sets the headers every answer carries: a strict content
// security policy (scripts and styles from this server only, no framing),
// no sniffing, no referrer outside the site.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// handlerFunc is a handler that runs for a logged-in session.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session)

// authed runs h for a request with a live session whose token still holds;
// other requests go to the login page (GET) or are refused (POST). Every
// POST must carry the session's CSRF token.
func (u *UI) authed(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s session
		ok := false
		if c, err := r.Cookie(sessionCookie); err == nil {
			s, ok = u.sessions.get(r.Context(), c.Value)
		}
		if !ok {
			http.SetCookie(w, cookie(r, sessionCookie, "", -1))
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.renderError(w, r, nil, http.StatusForbidden, "Your session has ended. Log in again and repeat what you did.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !tokensEqual(r.PostFormValue("csrf"), s.csrf) {
				u.renderError(w, r, &s, http.StatusForbidden, "This form has expired or did not come from this page. Go back, reload and try again.")
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, &s)
	}
}

// page is what every template gets.
type page struct {
	Title string
	// Nav names the menu entry to highlight.
	Nav   string
	Me    *panel.Caller
	CSRF  string
	Flash string
	// Moves says the move engine is there.
	Moves bool
	// Rebalance says the rebalance pages are there.
	Rebalance bool
	Version   string
	Data      any
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, p page) {
	t, ok := u.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	if s != nil {
		p.Me, p.CSRF = &s.caller, s.csrf
		if p.Flash == "" {
			p.Flash = s.flash
		}
	}
	p.Moves = u.moves != nil
	p.Rebalance = u.balance != nil
	p.Version = u.assetVersion
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		u.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

func (u *UI) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	u.render(w, r, s, status, "error", page{Title: http.StatusText(status), Data: msg})
}

// fail shows err as the panel means it: not found, not allowed, refused by
// a rule, invalid input; anything else is logged and shown as an internal
// error without its details.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, msg := errorStatus(err)
	if status == http.StatusInternalServerError {
		u.log.Error("web request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	u.renderError(w, r, s, status, msg)
}

func errorStatus(err error) (int, string) {
	var fe *model.FieldError
	var te *model.TransitionError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "There is no such page, or it is not yours to see."
	case errors.Is(err, panel.ErrForbidden):
		return http.StatusForbidden, "Your role does not allow this: " + err.Error()
	case errors.Is(err, panel.ErrRefused):
		return http.StatusConflict, err.Error()
	case errors.As(err, &fe):
		return http.StatusUnprocessableEntity, fe.Error()
	case errors.As(err, &te):
		return http.StatusConflict, te.Error()
	case errors.Is(err, model.ErrDuplicate), errors.Is(err, store.ErrConflict):
		return http.StatusConflict, err.Error()
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "The request was cancelled."
	}
	return http.StatusInternalServerError, "Something went wrong on the server; the error is in its log."
}

// redirect sends the browser on after a POST, with a message for the page
// it lands on.
func (u *UI) redirect(w http.ResponseWriter, r *http.Request, s *session, to, flash string) {
	if flash != "" {
		u.sessions.setFlash(r.Context(), s.id, flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", base, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// assetVersion hashes the embedded assets.
func assetVersion() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12], err
}
