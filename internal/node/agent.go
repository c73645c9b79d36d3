package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"ferry/internal/client"
	"ferry/internal/dnsserve"
	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/wire"
)

// TaskFunc runs one node task (move data work). progress sends an interim
// result to the control plane and renews the task's lease. It is the same
// type as movetask.TaskFunc, so movetask.Tasks plugs into AgentOptions.
type TaskFunc = func(ctx context.Context, t model.Task, progress func(any)) (any, error)

// AgentOptions configure an Agent.
type AgentOptions struct {
	Client *client.Client
	// Host applies items on this server; nil on hosts that only serve DNS.
	Host Host
	// DNS serves the host's dns items; nil on hosts without the dns role.
	DNS dnsserve.Provider
	// Tasks run node tasks by kind; the agent adds remove-order-dir.
	Tasks   map[string]TaskFunc
	Log     *slog.Logger
	Version string
	// Poll is the long-poll wait (default 30 s).
	Poll time.Duration
	// HeartbeatEvery is the heartbeat period (default 15 s).
	HeartbeatEvery time.Duration
	// DiskPath is the file system whose free space the heartbeat reports
	// (default /home).
	DiskPath string
	// UsageEvery is how often the node measures its orders' and
	// databases' sizes for move plans (default 5 min; the first right
	// after start).
	UsageEvery time.Duration
	// RenewEvery is how often the node checks its sites' ACME
	// certificates (default 12 h; the first check right after start).
	RenewEvery time.Duration
}

// Host is what the agent asks of the server it runs on: the item appliers
// (apply.Applier) are the real one, a test can give its own.
type Host interface {
	// Apply makes an item real on this host, as its state asks, and says
	// what came of it.
	Apply(ctx context.Context, o model.Order, it model.Item) apply.Result
	// RemoveOrderDir removes an order's directory once nothing of the
	// order is left on this host.
	RemoveOrderDir(ctx context.Context, o model.Order) error
	// MeasureUsage measures the host's orders and databases for move
	// plans.
	MeasureUsage(ctx context.Context) model.HostUsage
	// MembersRoot is the directory that holds the members' orders.
	MembersRoot() string
	// PHPVersions are the PHP-FPM versions installed on the host, oldest
	// first.
	PHPVersions() []string
}

// Agent is the node agent: it pulls its host's work from the control
// plane, applies it and reports the results. Pull, not push: the control
// plane never connects to a node.
type Agent struct {
	opts AgentOptions
	log  *slog.Logger
	// usage is the newest measurement not yet sent in a heartbeat.
	usage atomic.Pointer[model.HostUsage]
}

// NewAgent returns an agent.
func NewAgent(opts AgentOptions) *Agent {
	if opts.Poll == 0 {
		opts.Poll = 30 * time.Second
	}
	if opts.HeartbeatEvery == 0 {
		opts.HeartbeatEvery = 15 * time.Second
	}
	if opts.DiskPath == "" {
		opts.DiskPath = "/home"
	}
	if opts.UsageEvery == 0 {
		opts.UsageEvery = 5 * time.Minute
	}
	if opts.RenewEvery == 0 {
		opts.RenewEvery = 12 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Tasks == nil {
		opts.Tasks = map[string]TaskFunc{}
	}
	a := &Agent{opts: opts, log: opts.Log}
	if _, ok := opts.Tasks[wire.TaskRemoveOrderDir]; !ok {
		opts.Tasks[wire.TaskRemoveOrderDir] = a.removeOrderDir
	}
	return a
}

// Run works until ctx ends. While the control plane is unreachable it
// retries with exponential backoff up to 30 s.
func (a *Agent) Run(ctx context.Context) error {
	go a.heartbeats(ctx)
	if a.opts.Host != nil {
		go a.measureUsage(ctx)
		if r, ok := a.opts.Host.(CertRenewer); ok {
			go a.renewCertificates(ctx, r)
		}
	}
	if a.opts.DNS != nil {
		if err := a.syncAllDNS(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("initial dns sync failed; serving the records kept on this host", "err", err)
		}
	}
	backoff := time.Second
	released := false
	for ctx.Err() == nil {
		if !released {
			released = a.releaseTasks(ctx)
		}
		w, err := a.opts.Client.NodeWork(ctx, a.opts.Poll)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			a.log.Warn("cannot fetch work from the control plane; retrying", "err", err, "in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
		a.do(ctx, w)
	}
	return nil
}

// releaseTasks takes back the tasks an earlier run of this agent held when
// it died, so they run again now rather than when their lease ends. It
// reports whether that is settled: false only when the control plane could
// not be reached (the next round tries again).
func (a *Agent) releaseTasks(ctx context.Context) bool {
	n, err := a.opts.Client.ReleaseTasks(ctx)
	var ae *wire.Error
	switch {
	case err == nil:
		if n > 0 {
			a.log.Info("took back the tasks an earlier run of this agent had leased", "tasks", n)
		}
	case errors.As(err, &ae):
		a.log.Warn("cannot take back earlier leased tasks; they run again when their lease ends", "err", err)
	default:
		return false
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// do applies one batch of work: items in kind order, then tasks.
func (a *Agent) do(ctx context.Context, w wire.Work) {
	dnsDone := false
	for _, wi := range w.Items {
		if ctx.Err() != nil {
			return
		}
		if wi.Item.Kind == model.KindDNS {
			if !dnsDone {
				a.applyDNS(ctx, w)
				dnsDone = true
			}
			continue
		}
		res := a.opts.Host.Apply(ctx, wi.Order, wi.Item)
		a.report(ctx, wi.Item, res)
	}
	for _, t := range w.Tasks {
		if ctx.Err() != nil {
			return
		}
		a.runTask(ctx, t)
	}
}

func (a *Agent) report(ctx context.Context, it model.Item, res apply.Result) {
	log := a.log.With("item", it.ID, "kind", it.Kind, "from", it.State, "to", res.State)
	_, err := a.opts.Client.ReportItem(ctx, it.ID, wire.Report{State: res.State, Message: res.Message})
	var ae *wire.Error
	switch {
	case err == nil:
		if res.State == model.StateSoftError || res.State == model.StateHardError {
			log.Warn("item failed", "message", res.Message)
		} else {
			log.Info("item applied")
		}
	case errors.As(err, &ae) && ae.Status == http.StatusConflict:
		// The item changed again while it was applied; the next poll
		// brings its new state.
		log.Info("item changed meanwhile; will apply its new state", "err", err)
	default:
		log.Warn("cannot report item result; it will be applied again", "err", err)
	}
}

// applyDNS hands the full record set to the provider and reports every
// pending dns item.
func (a *Agent) applyDNS(ctx context.Context, w wire.Work) {
	var res apply.Result
	if a.opts.DNS == nil {
		res = apply.Result{State: model.StateHardError, Message: "this host runs no dns provider; give dns items to a host with the dns role"}
	} else if err := a.opts.DNS.Sync(ctx, zonesOf(w.DNS)); err != nil {
		res = apply.Result{State: model.StateSoftError, Message: "dns: " + err.Error()}
	}
	for _, wi := range w.Items {
		if wi.Item.Kind != model.KindDNS {
			continue
		}
		r := res
		if r.State == "" {
			r.State = doneState(wi.Item.State)
		}
		a.report(ctx, wi.Item, r)
	}
}

// doneState is the state a pending item reaches when applied.
func doneState(s model.State) model.State {
	switch s {
	case model.StatePendingDelete:
		return model.StateDeleted
	case model.StatePendingDisable:
		return model.StateDisabled
	}
	return model.StateActive
}

// zonesOf turns dns items into the provider's zones: the records of every
// item that is or will be live. A zone whose items are all disabled or
// deleted is still given, empty, so the provider stops serving it.
func zonesOf(items []model.Item) map[string][]dnsserve.Record {
	zones := map[string][]dnsserve.Record{}
	for _, it := range items {
		switch it.State {
		case model.StateDeleted, model.StatePendingDelete, model.StateDisabled, model.StatePendingDisable:
			if _, ok := zones[it.Spec.Zone]; !ok {
				zones[it.Spec.Zone] = nil
			}
			continue
		}
		zones[it.Spec.Zone] = append(zones[it.Spec.Zone], dnsserve.RecordFromSpec(it.Spec))
	}
	return zones
}

func (a *Agent) syncAllDNS(ctx context.Context) error {
	items, err := a.opts.Client.NodeDNS(ctx)
	if err != nil {
		return err
	}
	return a.opts.DNS.Sync(ctx, zonesOf(items))
}

func (a *Agent) runTask(ctx context.Context, t model.Task) {
	log := a.log.With("task", t.ID, "kind", t.Kind, "move", t.MoveID, "attempt", t.Attempts)
	fn, ok := a.opts.Tasks[t.Kind]
	var res any
	var err error
	if !ok {
		err = fmt.Errorf("this node does not know task kind %q (ferry %s)", t.Kind, a.opts.Version)
	} else {
		log.Info("task started")
		progress := func(v any) {
			if _, perr := a.opts.Client.ReportTask(ctx, t.ID, wire.TaskReport{Progress: true, Result: mustRaw(v)}); perr != nil {
				log.Warn("cannot report task progress", "err", perr)
			}
		}
		res, err = fn(ctx, t, progress)
	}
	rep := wire.TaskReport{OK: err == nil, Result: mustRaw(res)}
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: the lease runs out and the task is handed out again
		}
		rep.Error = err.Error()
		log.Warn("task failed", "err", err)
	} else {
		log.Info("task done")
	}
	if err := a.reportTask(ctx, t.ID, rep); err != nil {
		log.Warn("cannot report task result; it will run again when its lease ends", "err", err)
	}
}

// reportTask sends a task's result, trying again while the control plane
// cannot be reached (a restart, a network blip), for as long as the task's
// lease: a result lost to a short outage would otherwise leave the task's
// move waiting out the lease, and the work would be done twice.
func (a *Agent) reportTask(ctx context.Context, id int64, rep wire.TaskReport) error {
	deadline := time.Now().Add(wire.TaskLease)
	backoff := 250 * time.Millisecond
	for {
		_, err := a.opts.Client.ReportTask(ctx, id, rep)
		var ae *wire.Error
		if err == nil || errors.As(err, &ae) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		sleep(ctx, backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

func mustRaw(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func (a *Agent) removeOrderDir(ctx context.Context, t model.Task, _ func(any)) (any, error) {
	var o model.Order
	if err := json.Unmarshal(t.Payload, &o); err != nil {
		return nil, fmt.Errorf("remove-order-dir payload: %w", err)
	}
	return nil, a.opts.Host.RemoveOrderDir(ctx, o)
}

func (a *Agent) heartbeats(ctx context.Context) {
	tick := time.NewTicker(a.opts.HeartbeatEvery)
	defer tick.Stop()
	for {
		hb := a.heartbeat()
		hb.Usage = a.usage.Load()
		if err := a.opts.Client.Heartbeat(ctx, hb); err != nil && ctx.Err() == nil {
			a.log.Debug("heartbeat failed", "err", err)
		} else if err == nil && hb.Usage != nil {
			a.usage.CompareAndSwap(hb.Usage, nil) // sent; a newer one waits
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// usageRetry is how soon a measurement that found a database server not
// answering is made again.
const usageRetry = 15 * time.Second

// measureUsage measures the host's usage now and every UsageEvery, for
// the next heartbeat to carry.
func (a *Agent) measureUsage(ctx context.Context) {
	for ctx.Err() == nil {
		start := time.Now()
		u := a.opts.Host.MeasureUsage(ctx)
		a.usage.Store(&u)
		a.log.Debug("usage measured", "orders", len(u.Orders), "databases", len(u.Databases), "unreachable", u.Unreachable, "took", time.Since(start).Round(time.Millisecond))
		wait := a.opts.UsageEvery
		if len(u.Unreachable) > 0 {
			// A database server that did not answer refuses moves of
			// its databases until it is measured again: look again soon,
			// so a server back up (or a blip) does not block them long.
			wait = min(wait, usageRetry)
		}
		sleep(ctx, wait)
	}
}

// CertRenewer is a Host that serves HTTPS sites and renews their ACME
// certificates (apply.Applier).
type CertRenewer interface {
	// RenewCertificates obtains the certificates that are missing or due
	// at now and says which sites it served them to.
	RenewCertificates(ctx context.Context, now time.Time) []apply.Renewal
}

// renewCertificates runs the certificate check now and every RenewEvery,
// and tells the control plane of each site whose certificate it renewed.
func (a *Agent) renewCertificates(ctx context.Context, h CertRenewer) {
	for ctx.Err() == nil {
		wait := a.opts.RenewEvery
		for _, r := range h.RenewCertificates(ctx, time.Now()) {
			if r.Err != nil {
				// Logged by the applier; a failure is retried sooner.
				wait = min(wait, 30*time.Minute)
				continue
			}
			a.report(ctx, model.Item{ID: r.ItemID, Kind: model.KindWebConf, State: model.StateActive}, apply.Result{State: model.StateActive, Message: r.Message})
		}
		sleep(ctx, wait)
	}
}

func (a *Agent) heartbeat() model.Heartbeat {
	hb := model.Heartbeat{Version: a.opts.Version}
	if a.opts.Host != nil {
		hb.SystemNames = hostSystemNames(a.opts.Host.MembersRoot())
		hb.PHPVersions = a.opts.Host.PHPVersions()
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(a.opts.DiskPath, &st); err == nil {
		hb.DiskFree = int64(st.Bavail) * st.Bsize
		hb.DiskUsed = int64(st.Blocks-st.Bfree) * st.Bsize
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			hb.Load, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	return hb
}
