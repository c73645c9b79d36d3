package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
)

// Mover is the move engine as the UI drives it; *move.Engine is one. The
// engine checks the caller's role and every guard of a phase, and refuses
// with panel.ErrRefused errors that say why.
type Mover interface {
	Plan(ctx context.Context, c panel.Caller, orderRef, to string) (move.Plan, error)
	StartMove(ctx context.Context, c panel.Caller, in move.StartInput) (move.View, error)
	RunPhase(ctx context.Context, c panel.Caller, id int64, phase model.MovePhase, in move.PhaseInput) (move.View, error)
	Get(ctx context.Context, c panel.Caller, id int64) (move.View, error)
	List(ctx context.Context, c panel.Caller, orderRef string, activeOnly bool) ([]move.View, error)
}

var _ Mover = (*move.Engine)(nil)

// streamFor bounds one progress stream. The browser reconnects by itself,
// and the reconnection passes the session checks again.
const streamFor = 5 * time.Minute

func (u *UI) moveRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /moves", u.authed(u.moveList))
	mux.HandleFunc("GET /orders/{ref}/move", u.authed(u.movePlan))
	mux.HandleFunc("POST /orders/{ref}/move", u.authed(u.moveStart))
	mux.HandleFunc("GET /moves/{id}", u.authed(u.moveShow))
	mux.HandleFunc("GET /moves/{id}/events", u.authed(u.moveEvents))
	mux.HandleFunc("POST /moves/{id}/{phase}", u.authed(u.movePhase))
}

func (u *UI) moveList(w http.ResponseWriter, r *http.Request, s *session) {
	vs, err := u.moves.List(r.Context(), s.caller, "", false)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	// Moves that have not ended first, newest first within each group.
	slices.SortStableFunc(vs, func(a, b move.View) int {
		if a.Active() != b.Active() {
			if a.Active() {
				return -1
			}
			return 1
		}
		return b.UpdatedAt.Compare(a.UpdatedAt)
	})
	u.render(w, r, s, http.StatusOK, "moves", page{Title: "Moves", Nav: "moves", Data: vs})
}

type planData struct {
	Order model.Order
	// Targets are the hosts the order could go to.
	Targets []model.Host
	To      string
	Plan    *move.Plan
	Error   string
}

// movePlan lets an admin choose the target host and shows the plan, which
// changes nothing, before the move can be started.
func (u *UI) movePlan(w http.ResponseWriter, r *http.Request, s *session) {
	o, ok := u.adminOrder(w, r, s, "move orders")
	if !ok {
		return
	}
	u.showPlan(w, r, s, http.StatusOK, o, r.URL.Query().Get("to"), "")
}

func (u *UI) showPlan(w http.ResponseWriter, r *http.Request, s *session, status int, o model.Order, to, msg string) {
	ctx := r.Context()
	hs, err := u.panel.ListHosts(ctx, s.caller)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := planData{Order: o, To: to, Error: msg}
	for _, h := range hs {
		if h.Name != o.Host && h.HasRole(model.RoleWeb) && h.State == model.HostActive {
			d.Targets = append(d.Targets, h)
		}
	}
	if to != "" {
		p, err := u.moves.Plan(ctx, s.caller, strconv.FormatInt(o.ID, 10), to)
		if err != nil {
			st, m := errorStatus(err)
			if st == http.StatusInternalServerError {
				u.fail(w, r, s, err)
				return
			}
			status, d.Error = st, m
		} else {
			d.Plan = &p
		}
	}
	u.render(w, r, s, status, "plan", page{Title: "Move " + o.Identifier, Nav: "moves", Data: d})
}

func (u *UI) moveStart(w http.ResponseWriter, r *http.Request, s *session) {
	o, ok := u.adminOrder(w, r, s, "move orders")
	if !ok {
		return
	}
	to := r.PostFormValue("to")
	v, err := u.moves.StartMove(r.Context(), s.caller, move.StartInput{Order: strconv.FormatInt(o.ID, 10), To: to})
	if err != nil {
		status, msg := errorStatus(err)
		if status == http.StatusInternalServerError {
			u.fail(w, r, s, err)
			return
		}
		u.showPlan(w, r, s, status, o, to, msg)
		return
	}
	u.redirect(w, r, s, fmt.Sprintf("/moves/%d", v.ID), fmt.Sprintf("Move %d of %s to %s started: prepare is running.", v.ID, o.Identifier, to))
}

// phaseAction is a phase an admin can ask for on the move page.
type phaseAction struct {
	Phase model.MovePhase
	Label string
	What  string
	// SkipTTL: the phase waits for a TTL, which an admin may skip;
	// AcceptDiff: it waits for a verify that passed, which an admin may
	// accept differences of.
	SkipTTL, AcceptDiff bool
	// Confirm: the phase changes what the world sees, or throws work away;
	// its form asks for a tick first.
	Confirm bool
	Danger  bool
}

var phaseActions = []phaseAction{
	{Phase: model.PhaseSync, Label: "Sync", What: "Copy files and changed tables from the old host to the new one again. Run it as often as you like before cutover."},
	{Phase: model.PhaseVerify, Label: "Verify", What: "Compare files, tables and every site name on both hosts."},
	{Phase: model.PhaseCutover, Label: "Cut over", What: "Freeze the old site, sync a last time, proxy the old host to the new one and switch DNS.", SkipTTL: true, AcceptDiff: true, Confirm: true},
	{Phase: model.PhaseCleanup, Label: "Clean up", What: "Delete the old copy (the transfer-limbo order) from the old host.", SkipTTL: true, Confirm: true, Danger: true},
	{Phase: model.PhaseAbort, Label: "Abort", What: "Delete the new host's copies and put the order back on the old host, TTLs restored.", Confirm: true, Danger: true},
}

type moveData struct {
	View     move.View
	Info     move.Data
	Progress progress
	Actions  []phaseAction
	// Error is why the engine refused the last request.
	Error string
	// Events is the progress stream's URL, for a move that has not ended.
	Events string
}

func (u *UI) moveShow(w http.ResponseWriter, r *http.Request, s *session) {
	u.showMove(w, r, s, http.StatusOK, "")
}

func (u *UI) showMove(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		u.renderError(w, r, s, http.StatusNotFound, "There is no such move.")
		return
	}
	v, err := u.moves.Get(r.Context(), s.caller, id)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	info, err := v.Info()
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := moveData{View: v, Info: info, Progress: progressOf(v, info), Error: msg}
	if v.Active() {
		d.Actions = phaseActions
		d.Events = fmt.Sprintf("/moves/%d/events", v.ID)
	}
	u.render(w, r, s, status, "move", page{Title: fmt.Sprintf("Move %d: %s", v.ID, v.Identifier), Nav: "moves", Data: d})
}

func (u *UI) movePhase(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		u.renderError(w, r, s, http.StatusNotFound, "There is no such move.")
		return
	}
	phase := model.MovePhase(r.PathValue("phase"))
	i := slices.IndexFunc(phaseActions, func(a phaseAction) bool { return a.Phase == phase })
	if i < 0 {
		u.renderError(w, r, s, http.StatusNotFound, "There is no such step.")
		return
	}
	act := phaseActions[i]
	if act.Confirm && r.PostFormValue("confirm") != "yes" {
		u.showMove(w, r, s, http.StatusUnprocessableEntity, act.Label+": tick the box to confirm first.")
		return
	}
	in := move.PhaseInput{
		SkipTTLWait:             act.SkipTTL && r.PostFormValue("skip_ttl_wait") == "yes",
		AcceptVerifyDifferences: act.AcceptDiff && r.PostFormValue("accept_verify_differences") == "yes",
	}
	if _, err := u.moves.RunPhase(r.Context(), s.caller, id, phase, in); err != nil {
		status, msg := errorStatus(err)
		if status == http.StatusInternalServerError {
			u.fail(w, r, s, err)
			return
		}
		u.showMove(w, r, s, status, msg)
		return
	}
	how := ""
	if in.SkipTTLWait {
		how += ", skipping the TTL wait"
	}
	if in.AcceptVerifyDifferences {
		how += ", accepting verify's differences"
	}
	u.redirect(w, r, s, fmt.Sprintf("/moves/%d", id), fmt.Sprintf("%s started%s.", act.Label, how))
}

// progress is what the move page shows live, and what the event stream
// sends each time it changes.
type progress struct {
	Phase   model.MovePhase  `json:"phase"`
	Status  model.MoveStatus `json:"status"`
	Waiting string           `json:"waiting,omitempty"`
	Error   string           `json:"error,omitempty"`
	Tasks   []taskProgress   `json:"tasks"`
}

// taskProgress is one node task of the running phase.
type taskProgress struct {
	Name     string          `json:"name"`
	Host     string          `json:"host"`
	State    model.TaskState `json:"state"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error,omitempty"`
	// Files and tables, for sync tasks.
	Bytes        int64 `json:"bytes,omitempty"`
	TotalBytes   int64 `json:"total_bytes,omitempty"`
	Files        int64 `json:"files,omitempty"`
	TotalFiles   int64 `json:"total_files,omitempty"`
	Percent      int   `json:"percent,omitempty"`
	Tables       int   `json:"tables,omitempty"`
	TablesCopied int   `json:"tables_copied,omitempty"`
	// Detail is the figures in words.
	Detail string `json:"detail,omitempty"`
}

func progressOf(v move.View, d move.Data) progress {
	p := progress{Phase: v.Phase, Status: v.Status, Waiting: waitingLine(v, d), Error: v.Error, Tasks: []taskProgress{}}
	for _, t := range v.Tasks {
		tp := taskProgress{Name: t.Name, Host: t.Host, State: t.State, Attempts: t.Attempts, Error: t.Error}
		switch t.Kind {
		case model.TaskMoveSyncFiles:
			var res model.MoveSyncFilesResult
			if len(t.Result) > 0 && json.Unmarshal(t.Result, &res) == nil {
				tp.Bytes, tp.TotalBytes, tp.Files, tp.TotalFiles, tp.Percent = res.Bytes, res.TotalBytes, res.Files, res.TotalFiles, res.Percent
				tp.Detail = fmt.Sprintf("%d %% · %d of %d files · %s sent of %s", res.Percent, res.Files, res.TotalFiles, humanBytes(res.Bytes), humanBytes(res.TotalBytes))
			}
		case model.TaskMoveSyncDB:
			var res model.MoveSyncDBResult
			if len(t.Result) > 0 && json.Unmarshal(t.Result, &res) == nil {
				tp.Bytes, tp.Tables, tp.TablesCopied = res.Bytes, res.TableCount(), res.TablesCopied
				tp.Detail = fmt.Sprintf("%d of %d tables copied · %s", res.TablesCopied, res.TableCount(), humanBytes(res.Bytes))
			}
		}
		p.Tasks = append(p.Tasks, tp)
	}
	slices.SortFunc(p.Tasks, func(a, b taskProgress) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return p
}

// waitingLine is what the running phase waits for: first each host whose
// agent has gone silent, with what to do, then the phase's own words.
func waitingLine(v move.View, d move.Data) string {
	var parts []string
	for _, u := range v.Unseen {
		parts = append(parts, u.String())
	}
	if d.Waiting != "" {
		parts = append(parts, d.Waiting)
	}
	return strings.Join(parts, "; ")
}

// moveEvents streams a move's progress as server-sent events: one
// "progress" event (JSON) whenever it changes, woken by the nodes' task
// reports and checked every second for the engine's own steps.
func (u *UI) moveEvents(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "no such move", http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), streamFor)
	defer cancel()
	if _, err := u.moves.Get(ctx, s.caller, id); err != nil {
		status, msg := errorStatus(err)
		http.Error(w, msg, status)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n\n")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last []byte
	for {
		// Ask for the wake-up before reading, so no report slips between.
		wake := u.panel.WaitTask(ctx, id)
		v, err := u.moves.Get(ctx, s.caller, id)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				u.log.Warn("web: move progress", "move", id, "err", err)
			}
			return
		}
		info, err := v.Info()
		if err != nil {
			return
		}
		b, _ := json.Marshal(progressOf(v, info))
		if !bytes.Equal(b, last) {
			if _, err := fmt.Fprintf(w, "event: progress\ndata: %s\n\n", b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			last = b
		}
		if !u.sessions.alive(ctx, s.id) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
	}
}
