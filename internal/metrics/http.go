package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"ferry/internal/model"
)

// Instrument counts and times the requests h serves. Requests are labelled
// by the route pattern that served them (r.Pattern, set by the ServeMux
// inside h), never by the raw path, so ids in paths do not make a label
// each.
func (m *Metrics) Instrument(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		route := routeOf(r.Pattern)
		m.httpRequests.WithLabelValues(r.Method, route, code(sw.status)).Inc()
		m.httpDuration.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
	})
}

// routeOf is a ServeMux pattern without its method and host.
func routeOf(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = path
	}
	if i := strings.Index(pattern, "/"); i > 0 {
		pattern = pattern[i:]
	}
	return pattern
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (flushes,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RoundTripper records a node's requests to the control plane: counts by
// route and status, the time of the last answer, and from each item report
// the answer's item kind and state (what this node applied). next is
// http.DefaultTransport when nil.
func (m *Metrics) RoundTripper(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if m == nil {
		return next
	}
	return roundTripper{m: m, next: next}
}

type roundTripper struct {
	m    *Metrics
	next http.RoundTripper
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	route := clientRoute(req.URL.Path)
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.m.clientRequests.WithLabelValues(route, "error").Inc()
		return nil, err
	}
	t.m.clientRequests.WithLabelValues(route, code(resp.StatusCode)).Inc()
	t.m.lastContact.SetToCurrentTime()
	if route == "/api/v1/node/items/{id}/report" && resp.StatusCode < 300 {
		// An item's answer is small; read it to learn the kind and
		// state, and hand the same bytes on.
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr == nil {
			var it struct {
				Kind  model.Kind  `json:"kind"`
				State model.State `json:"state"`
			}
			if json.Unmarshal(body, &it) == nil && it.Kind != "" {
				t.m.ItemReported(it.Kind, it.State)
			}
		}
	}
	return resp, nil
}

// clientRoute is a request path with its numeric segments as {id}.
func clientRoute(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}
