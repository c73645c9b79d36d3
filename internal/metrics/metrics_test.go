package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
)

// scrape fetches /metrics from h and returns the text.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("metrics lack the line %q", l)
		}
	}
}

func TestServeMetricsExposure(t *testing.T) {
	seen := time.Unix(1700000000, 0)
	m := New(Options{Version: "1.2.3", Role: "serve", Hosts: func(context.Context) ([]model.Host, error) {
		return []model.Host{
			{Name: "web1", State: model.HostActive, Heartbeat: model.Heartbeat{LastSeen: &seen}},
			{Name: "web2", State: model.HostActive},
		}, nil
	}})
	m.MoveStarted(model.PhaseSync)
	m.MoveStarted(model.PhaseSync)
	m.MovePhaseDone(model.PhaseSync, ResultOK, 90*time.Second)
	m.MovePhaseDone(model.PhaseVerify, ResultFailed, 2*time.Second)
	m.BytesSynced(4096)
	m.FilesSynced(3)
	m.ItemReported(model.KindUserAccount, model.StateActive)
	m.ItemReported(model.KindWebConf, model.StateSoftError)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/items/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) })
	mux.Handle("GET /metrics", m.Handler())
	h := m.Instrument(mux)
	for _, p := range []string{"/api/v1/items/1", "/api/v1/items/2", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}

	text := scrape(t, h)
	wantLines(t, text,
		`ferry_build_info{role="serve",version="1.2.3"} 1`,
		`ferry_move_phases_started_total{phase="sync"} 2`,
		`ferry_move_phases_total{phase="sync",result="ok"} 1`,
		`ferry_move_phases_total{phase="verify",result="failed"} 1`,
		`ferry_move_phase_duration_seconds_sum{phase="sync"} 90`,
		`ferry_move_synced_bytes_total 4096`,
		`ferry_move_synced_files_total 3`,
		`ferry_item_apply_results_total{kind="user-account",state="active"} 1`,
		`ferry_item_apply_results_total{kind="web-conf",state="soft-error"} 1`,
		`ferry_node_last_seen_timestamp_seconds{host="web1"} 1.7e+09`,
		`ferry_hosts{state="active"} 2`,
		`ferry_http_requests_total{code="404",method="GET",route="/api/v1/items/{id}"} 2`,
		`ferry_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`ferry_http_request_duration_seconds_count{method="GET",route="/api/v1/items/{id}"} 2`,
	)
	if strings.Contains(text, `host="web2"`) {
		t.Error("a host never seen has a last-seen time")
	}
	if !strings.Contains(text, "go_goroutines") {
		t.Error("no Go runtime metrics")
	}
	if strings.Contains(text, "ferry_node_api_requests_total") {
		t.Error("the control plane exposes the node's client metrics")
	}
}

func TestNilMetricsDoNothing(t *testing.T) {
	var m *Metrics
	m.MoveStarted(model.PhaseSync)
	m.MovePhaseDone(model.PhaseSync, ResultOK, time.Second)
	m.BytesSynced(1)
	m.FilesSynced(1)
	m.ItemReported(model.KindDNS, model.StateActive)
	h := http.NotFoundHandler()
	if got := m.Instrument(h); got == nil {
		t.Fatal("Instrument on nil returned nil")
	}
	if m.RoundTripper(nil) != http.DefaultTransport {
		t.Error("RoundTripper on nil does not hand back the transport")
	}
}

func TestNodeClientMetrics(t *testing.T) {
	cp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/report") {
			io.WriteString(w, `{"id":7,"kind":"mysql-db","state":"hard-error"}`)
			return
		}
		w.WriteHeader(401)
	}))
	defer cp.Close()
	m := New(Options{Version: "1", Role: "node"})
	c := &http.Client{Transport: m.RoundTripper(nil)}
	resp, err := c.Post(cp.URL+"/api/v1/node/items/7/report", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "hard-error") {
		t.Errorf("the report's answer did not reach the caller: %q", body)
	}
	if resp, err := c.Get(cp.URL + "/api/v1/node/work"); err == nil {
		resp.Body.Close()
	}
	text := scrape(t, m.Handler())
	wantLines(t, text,
		`ferry_item_apply_results_total{kind="mysql-db",state="hard-error"} 1`,
		`ferry_node_api_requests_total{code="200",route="/api/v1/node/items/{id}/report"} 1`,
		`ferry_node_api_requests_total{code="401",route="/api/v1/node/work"} 1`,
	)
	if !strings.Contains(text, "ferry_node_last_contact_timestamp_seconds 1.") {
		t.Error("no last-contact time after an answer")
	}
}
