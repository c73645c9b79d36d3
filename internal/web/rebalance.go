package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"ferry/internal/panel"
	"ferry/internal/rebalance"
)

// Rebalancer plans and runs rebalance batches; *rebalance.Runner is one.
// It checks the caller's role.
type Rebalancer interface {
	Plan(ctx context.Context, c panel.Caller, o rebalance.Options) (rebalance.Plan, error)
	Apply(ctx context.Context, c panel.Caller, in rebalance.ApplyInput) (rebalance.Batch, error)
	Get(ctx context.Context, c panel.Caller, id string) (rebalance.Batch, error)
	List(ctx context.Context, c panel.Caller) ([]rebalance.Batch, error)
}

var _ Rebalancer = (*rebalance.Runner)(nil)

func (u *UI) rebalanceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /rebalance", u.authed(u.rebalancePlan))
	mux.HandleFunc("POST /rebalance", u.authed(u.rebalanceApply))
	mux.HandleFunc("GET /rebalance/batches/{id}", u.authed(u.rebalanceBatch))
}

// hostBar is one host's use before and after a plan, as shares of the
// longest bar.
type hostBar struct {
	rebalance.HostUse
	Before, After, Capacity string // percentages for the SVG
	BeforeText, AfterText   string
}

type rebalanceData struct {
	By       rebalance.Metric
	Metrics  []rebalance.Metric
	MaxMoves int
	Plan     rebalance.Plan
	Bars     []hostBar
	// SpreadBefore and SpreadAfter are the plan's spreads, printed.
	SpreadBefore, SpreadAfter string
	// Batch is the batch page's batch, Done its moves done; Batches are
	// the plan page's list.
	Batch   *rebalance.Batch
	Done    int
	Batches []batchRow
	Error   string
}

type batchRow struct {
	rebalance.Batch
	Done int
}

func newRebalanceData(p rebalance.Plan) rebalanceData {
	return rebalanceData{By: p.By, Plan: p, Bars: bars(p), SpreadBefore: metricText(p.By, p.SpreadBefore), SpreadAfter: metricText(p.By, p.SpreadAfter)}
}

// metricText prints a value of a plan's metric.
func metricText(by rebalance.Metric, v float64) string {
	switch by {
	case rebalance.ByOrders:
		return strconv.FormatFloat(v, 'f', 0, 64) + " orders"
	case rebalance.ByLoad:
		return "load " + strconv.FormatFloat(v, 'f', 2, 64)
	}
	return humanBytes(int64(v))
}

// bars scales a plan's hosts to the longest bar (or, by disk, the largest
// capacity).
func bars(p rebalance.Plan) []hostBar {
	full := 0.0
	for _, h := range p.Hosts {
		full = max(full, h.Before, h.After)
		if p.By == rebalance.ByDisk {
			full = max(full, float64(h.Capacity))
		}
	}
	pct := func(v float64) string {
		if full <= 0 {
			return "0%"
		}
		return strconv.FormatFloat(100*v/full, 'f', 1, 64) + "%"
	}
	out := make([]hostBar, len(p.Hosts))
	for i, h := range p.Hosts {
		out[i] = hostBar{HostUse: h, Before: pct(h.Before), After: pct(h.After), BeforeText: metricText(p.By, h.Before), AfterText: metricText(p.By, h.After)}
		if p.By == rebalance.ByDisk && h.Capacity > 0 {
			out[i].Capacity = pct(float64(h.Capacity))
		}
	}
	return out
}

// rebalancePlan shows the plan for the chosen metric (it changes nothing),
// a form to run it, and the batches.
func (u *UI) rebalancePlan(w http.ResponseWriter, r *http.Request, s *session) {
	u.showRebalance(w, r, s, http.StatusOK, "")
}

func (u *UI) showRebalance(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	ctx := r.Context()
	by, err := rebalance.ParseMetric(r.FormValue("by"))
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	maxMoves, _ := strconv.Atoi(r.FormValue("max"))
	p, err := u.balance.Plan(ctx, s.caller, rebalance.Options{By: by, MaxMoves: max(maxMoves, 0)})
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	bs, err := u.balance.List(ctx, s.caller)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := newRebalanceData(p)
	d.Metrics, d.MaxMoves, d.Error = []rebalance.Metric{rebalance.ByDisk, rebalance.ByOrders, rebalance.ByLoad}, max(maxMoves, 0), msg
	for _, b := range bs {
		d.Batches = append(d.Batches, batchRow{Batch: b, Done: b.Count()[rebalance.EntryDone]})
	}
	u.render(w, r, s, status, "rebalance", page{Title: "Rebalance", Nav: "rebalance", Data: d})
}

// rebalanceApply runs the plan the page showed, if the fleet still gives
// the same one.
func (u *UI) rebalanceApply(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	by, err := rebalance.ParseMetric(r.PostFormValue("by"))
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	maxMoves, _ := strconv.Atoi(r.PostFormValue("max"))
	p, err := u.balance.Plan(ctx, s.caller, rebalance.Options{By: by, MaxMoves: max(maxMoves, 0)})
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	if p.BatchID() != r.PostFormValue("plan") {
		u.showRebalance(w, r, s, http.StatusConflict, "The hosts changed since that plan was shown; this is the plan now. Look it over and run it again.")
		return
	}
	concurrency, _ := strconv.Atoi(r.PostFormValue("concurrency"))
	b, err := u.balance.Apply(ctx, s.caller, rebalance.ApplyInput{Plan: p, ApplyOptions: rebalance.ApplyOptions{
		Concurrency: concurrency, AutoCutover: r.PostFormValue("auto_cutover") == "yes"}})
	if err != nil {
		status, msg := errorStatus(err)
		if status == http.StatusInternalServerError {
			u.fail(w, r, s, err)
			return
		}
		u.showRebalance(w, r, s, status, msg)
		return
	}
	u.redirect(w, r, s, "/rebalance/batches/"+b.ID, fmt.Sprintf("Batch %s of %d move(s) is running in the control plane.", b.ID, len(b.Entries)))
}

func (u *UI) rebalanceBatch(w http.ResponseWriter, r *http.Request, s *session) {
	b, err := u.balance.Get(r.Context(), s.caller, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := newRebalanceData(b.Plan)
	d.Batch, d.Done = &b, b.Count()[rebalance.EntryDone]
	u.render(w, r, s, http.StatusOK, "rebalance", page{Title: "Batch " + b.ID, Nav: "rebalance", Data: d})
}
