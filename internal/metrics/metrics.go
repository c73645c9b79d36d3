// Package metrics holds ferry's Prometheus metrics: one registry per
// process, served at /metrics by `ferry serve` and, with --metrics-listen,
// by `ferry node`.
//
// The move engine reports through MoveStarted, MovePhaseDone, BytesSynced
// and FilesSynced; the API through ItemReported and Instrument; the node
// agent's API client through RoundTripper. Every method is safe on a nil
// *Metrics and then does nothing, so code under test needs no registry.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ferry/internal/model"
)

// namespace prefixes every metric's name.
const namespace = "ferry"

// Results of a move phase, for MovePhaseDone.
const (
	ResultOK     = "ok"
	ResultFailed = "failed"
)

// Options configure a Metrics.
type Options struct {
	// Version labels ferry_build_info.
	Version string
	// Role labels ferry_build_info: "serve" or "node".
	Role string
	// Hosts, when set, is called at each scrape for the hosts' last-seen
	// times (the control plane passes its panel's host list).
	Hosts func(ctx context.Context) ([]model.Host, error)
}

// Metrics is a process's registry and the metrics ferry records in it.
type Metrics struct {
	reg *prometheus.Registry

	moveStarted   *prometheus.CounterVec
	movePhases    *prometheus.CounterVec
	movePhaseTime *prometheus.HistogramVec
	syncedBytes   prometheus.Counter
	syncedFiles   prometheus.Counter

	itemReports *prometheus.CounterVec

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	clientRequests *prometheus.CounterVec
	lastContact    prometheus.Gauge
}

// durationBuckets cover API calls (milliseconds) up to the node long-poll
// (a minute).
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// phaseBuckets cover move phases, from a plan (a second) to a first sync of
// a large site (hours).
var phaseBuckets = []float64{1, 5, 15, 60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600}

// New returns a registry with Go's and the process's metrics and ferry's.
func New(opts Options) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg: reg,
		moveStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "move_phases_started_total",
			Help: "Move phases started, by phase.",
		}, []string{"phase"}),
		movePhases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "move_phases_total",
			Help: "Move phase runs ended, by phase and result (ok, failed).",
		}, []string{"phase", "result"}),
		movePhaseTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "move_phase_duration_seconds",
			Help: "How long finished move phases took, by phase.", Buckets: phaseBuckets,
		}, []string{"phase"}),
		syncedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "move_synced_bytes_total",
			Help: "Bytes of files sent host to host by move syncs.",
		}),
		syncedFiles: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "move_synced_files_total",
			Help: "Files sent host to host by move syncs.",
		}),
		itemReports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "item_apply_results_total",
			Help: "Items nodes applied, by kind and the state they reported (active, soft-error, hard-error, deleted, disabled).",
		}, []string{"kind", "state"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help: "How long HTTP requests took to serve, by method and route pattern (node long-polls wait up to a minute).", Buckets: durationBuckets,
		}, []string{"method", "route"}),
		clientRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "node_api_requests_total",
			Help: "Requests this node made to the control plane, by route and status code (\"error\" when no answer came).",
		}, []string{"route", "code"}),
		lastContact: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "node_last_contact_timestamp_seconds",
			Help: "When this node last had an answer from the control plane (Unix time).",
		}),
	}
	reg.MustRegister(m.moveStarted, m.movePhases, m.movePhaseTime, m.syncedBytes, m.syncedFiles,
		m.itemReports, m.httpRequests, m.httpDuration)
	if opts.Role == "node" {
		reg.MustRegister(m.clientRequests, m.lastContact)
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help: "Always 1; labels say which ferry runs and as what.",
	}, []string{"version", "role"})
	info.WithLabelValues(opts.Version, opts.Role).Set(1)
	reg.MustRegister(info)
	if opts.Hosts != nil {
		reg.MustRegister(&hostCollector{hosts: opts.Hosts})
	}
	return m
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// MoveStarted counts a move phase that began.
func (m *Metrics) MoveStarted(phase model.MovePhase) {
	if m == nil {
		return
	}
	m.moveStarted.WithLabelValues(string(phase)).Inc()
}

// MovePhaseDone counts a move phase run that ended with result (ResultOK or
// ResultFailed) and records how long it took.
func (m *Metrics) MovePhaseDone(phase model.MovePhase, result string, took time.Duration) {
	if m == nil {
		return
	}
	m.movePhases.WithLabelValues(string(phase), result).Inc()
	m.movePhaseTime.WithLabelValues(string(phase)).Observe(took.Seconds())
}

// BytesSynced adds n bytes sent by a move's sync.
func (m *Metrics) BytesSynced(n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.syncedBytes.Add(float64(n))
}

// FilesSynced adds n files sent by a move's sync.
func (m *Metrics) FilesSynced(n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.syncedFiles.Add(float64(n))
}

// ItemReported counts a node's report of an applied item, by the item's
// kind and the state it reached.
func (m *Metrics) ItemReported(kind model.Kind, state model.State) {
	if m == nil {
		return
	}
	m.itemReports.WithLabelValues(string(kind), string(state)).Inc()
}

// hostCollector reads the hosts at scrape time, so the figures are the
// store's, whichever replica the node talked to.
type hostCollector struct {
	hosts func(ctx context.Context) ([]model.Host, error)
}

var lastSeenDesc = prometheus.NewDesc(namespace+"_node_last_seen_timestamp_seconds",
	"When each host's node agent last sent a heartbeat (Unix time); absent for hosts never seen.",
	[]string{"host"}, nil)

var hostsDesc = prometheus.NewDesc(namespace+"_hosts",
	"Hosts the control plane knows, by state.", []string{"state"}, nil)

func (c *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lastSeenDesc
	ch <- hostsDesc
}

func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs, err := c.hosts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lastSeenDesc, err)
		return
	}
	states := map[model.HostState]int{}
	for _, h := range hs {
		states[h.State]++
		if h.LastSeen != nil {
			ch <- prometheus.MustNewConstMetric(lastSeenDesc, prometheus.GaugeValue, float64(h.LastSeen.UnixNano())/1e9, h.Name)
		}
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(hostsDesc, prometheus.GaugeValue, float64(n), string(st))
	}
}

func code(status int) string { return strconv.Itoa(status) }
