// Package api serves ferry's HTTP JSON API under /api/v1 and holds its one
// typed Go client. Every error crosses the wire as api.Error.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// Server is the HTTP API over a panel.
type Server struct {
	panel *panel.Panel
	log   *slog.Logger
	mux   *http.ServeMux
	// ops are the control plane's operational hooks (TLS, metrics).
	ops Ops
}

// NewServer returns the API handler. Extra routes (the move engine, the
// web UI) are added with Handle before it serves.
func NewServer(p *panel.Panel, log *slog.Logger) *Server {
	s := &Server{panel: p, log: log, mux: http.NewServeMux()}
	s.routes()
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// HandlerFunc is an API handler: it gets the authenticated caller and
// returns a value to send as JSON, or an error.
type HandlerFunc func(ctx context.Context, c panel.Caller, r *http.Request) (any, error)

// Handle registers an authenticated JSON route, pattern as http.ServeMux
// takes it ("POST /api/v1/moves").
func (s *Server) Handle(pattern string, h HandlerFunc) {
	s.mux.HandleFunc(pattern, s.wrap(h, http.StatusOK))
}

// HandleRaw registers a plain http handler (the web UI, metrics).
func (s *Server) HandleRaw(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func (s *Server) wrap(h HandlerFunc, okStatus int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c, err := s.authenticate(r)
		var v any
		if err == nil {
			v, err = h(r.Context(), c, r)
		}
		status := okStatus
		if err != nil {
			ae := toError(err)
			status = ae.Status
			if status == http.StatusInternalServerError {
				s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeJSON(w, status, ae)
		} else {
			writeJSON(w, status, v)
		}
		s.log.Debug("api", "method", r.Method, "path", r.URL.Path, "status", status, "caller", c.Name, "took", time.Since(start))
	}
}

func (s *Server) authenticate(r *http.Request) (panel.Caller, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return panel.Caller{}, fmt.Errorf("%w: send an Authorization: Bearer token header", panel.ErrUnauthenticated)
	}
	return s.panel.Authenticate(r.Context(), strings.TrimSpace(secret))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Decode reads a JSON body into v, refusing unknown fields, trailing data
// and bodies over 1 MiB, with errors that name the field.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: "request body holds more than one JSON value"}
	}
	return nil
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: te.Field, Message: fmt.Sprintf("must be a JSON %s, not %s", jsonType(te.Type.Kind().String()), te.Value)}
	case errors.As(err, &se):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: "request body is empty; send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: "request body is cut short (over 1 MiB or truncated JSON)"}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: f, Message: fmt.Sprintf("unknown field %q", f)}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: err.Error()}
}

func jsonType(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "slice":
		return "array"
	case goKind == "struct", goKind == "map":
		return "object"
	case goKind == "bool":
		return "boolean"
	}
	return goKind
}

func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: name, Message: fmt.Sprintf("%q is not an id (a positive number)", v)}
	}
	return id, nil
}

func queryDuration(r *http.Request, name string, def, max time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: name, Message: fmt.Sprintf("%q is not a duration like 30s", v)}
	}
	return min(d, max), nil
}

func queryStates(r *http.Request) ([]model.State, error) {
	var out []model.State
	for _, v := range r.URL.Query()["state"] {
		for _, s := range strings.Split(v, ",") {
			st := model.State(s)
			if !st.Valid() {
				return nil, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: "state", Message: fmt.Sprintf("unknown item state %q", s)}
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: name, Message: fmt.Sprintf("%q is not a number", v)}
	}
	return n, nil
}

// healthz answers 200 while the process serves HTTP at all: a load
// balancer's or supervisor's liveness check. It needs no token.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, "ok\n")
}

// readyz answers 200 when this control plane can serve requests (its
// store answers within two seconds and holds this ferry's schema), and
// 503 naming what is wrong otherwise: a load balancer sends requests only
// to ready replicas. It needs no token and says nothing secret.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.panel.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		if errors.Is(err, store.ErrSchema) {
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		// The driver's words may name the database's address and user;
		// the log has them, the unauthenticated answer does not.
		fmt.Fprintf(w, "not ready: the %s store does not answer (the control plane's log says why)\n", s.panel.Driver())
		return
	}
	io.WriteString(w, "ready\n")
}
