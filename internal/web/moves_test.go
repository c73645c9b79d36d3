package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// readyToMove makes alice.example movable: its items active on web1, and
// web1 and web2 reporting with room to spare.
func (f *fixture) readyToMove() {
	f.t.Helper()
	ctx := context.Background()
	node := panel.Caller{Name: "node-web1", Role: model.RoleNode, Host: "web1"}
	items, err := f.panel.ListItems(ctx, panel.System, store.ItemFilter{OrderID: f.orders["alice.example"].ID})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, it := range items {
		f.must(f.panel.ReportItem(ctx, node, it.ID, panel.Report{State: model.StateActive}))
	}
	for _, h := range []string{"web1", "web2"} {
		c := panel.Caller{Name: "node-" + h, Role: model.RoleNode, Host: h}
		if err := f.panel.Heartbeat(ctx, c, model.Heartbeat{DiskFree: 50 << 30, DiskUsed: 50 << 30}); err != nil {
			f.t.Fatal(err)
		}
	}
}

// engine returns a move engine over the fixture's panel that is not
// started: phases are queued but no worker runs them.
func (f *fixture) engine() *move.Engine {
	f.t.Helper()
	e, err := move.New(context.Background(), f.panel, move.Options{Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func TestAdminPlansAndStartsAMoveAndSeesRefusals(t *testing.T) {
	f := newFixture(t)
	f.readyToMove()
	f.useMover(f.engine())
	b := f.browser()
	b.login(f.admin)
	order := f.orderPath("alice.example")

	page := b.get(order)
	if !strings.Contains(page.body, `href="`+order+`/move"`) || !strings.Contains(page.body, `href="/moves"`) {
		t.Fatal("the admin's order page links neither to a move nor to the moves")
	}
	choose := b.get(order + "/move")
	if choose.status != http.StatusOK || !strings.Contains(choose.body, `<option value="web2"`) || !strings.Contains(choose.body, `<option value="web3"`) {
		t.Fatalf("host chooser: %d\n%s", choose.status, choose.body)
	}
	if strings.Contains(choose.body, `<option value="web1"`) {
		t.Error("the host chooser offers the order's own host")
	}

	// web3 never reported: the plan says so and offers no start.
	plan := b.get(order + "/move?to=web3")
	if !strings.Contains(plan.body, "cannot start") || !strings.Contains(plan.body, "web3&#39;s node has never reported") || !strings.Contains(plan.body, "disabled>Start the move") {
		t.Errorf("plan to a silent host:\n%s", plan.body)
	}
	plan = b.get(order + "/move?to=web2")
	for _, want := range []string{"Plan: web1 → web2", "alice_wp", "user-account", "Start the move to web2"} {
		if !strings.Contains(plan.body, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(plan.body, "cannot start") || strings.Contains(plan.body, " disabled>") {
		t.Fatalf("plan to web2 refuses:\n%s", plan.body)
	}
	if r := b.get(order + "/move?to=nowhere"); r.status != http.StatusNotFound {
		t.Errorf("plan to an unknown host: %d, want 404", r.status)
	}

	csrf := formCSRF(t, plan.body)
	r := b.post(order+"/move", url.Values{"csrf": {csrf}, "to": {"web2"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/moves/") {
		t.Fatalf("start: %d to %q\n%s", r.status, r.location, r.body)
	}
	movePath := r.location
	mv := b.get(movePath)
	for _, want := range []string{"Move #", "web1 (127.0.1.11) → web2 (127.0.1.12)", `data-field="phase">prepare<`, `data-events="` + movePath + `/events"`, "started: prepare is running"} {
		if !strings.Contains(mv.body, want) {
			t.Errorf("move page lacks %q", want)
		}
	}
	// The order now carries a move; a second start is refused with the
	// engine's reason.
	r = b.post(order+"/move", url.Values{"csrf": {csrf}, "to": {"web2"}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "already being moved") {
		t.Errorf("second start: %d\n%s", r.status, r.body)
	}

	// Prepare has not finished (no worker runs it): sync is refused, and
	// the page says why.
	r = b.post(movePath+"/sync", url.Values{"csrf": {csrf}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "still running its prepare phase") {
		t.Errorf("sync during prepare: %d\n%s", r.status, r.body)
	}
	r = b.post(movePath+"/cutover", url.Values{"csrf": {csrf}, "skip_ttl_wait": {"yes"}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "tick the box") {
		t.Errorf("cutover without confirming: %d", r.status)
	}
	r = b.post(movePath+"/cutover", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
	if r.status != http.StatusConflict {
		t.Errorf("cutover during prepare: %d, want 409", r.status)
	}
	if r := b.post(movePath+"/sync", url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("a step without the CSRF token: %d, want 403", r.status)
	}
	if r := b.post(movePath+"/bogus", url.Values{"csrf": {csrf}}); r.status != http.StatusNotFound {
		t.Errorf("an unknown step: %d, want 404", r.status)
	}
	list := b.get("/moves")
	if !strings.Contains(list.body, `href="`+movePath+`"`) || !strings.Contains(list.body, "alice.example") {
		t.Errorf("moves list lacks the move")
	}

	// Abort is allowed before cutover.
	r = b.post(movePath+"/abort", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
	if r.status != http.StatusSeeOther {
		t.Errorf("abort during prepare: %d\n%s", r.status, r.body)
	}
}

func TestMembersCannotReachMoves(t *testing.T) {
	f := newFixture(t)
	f.readyToMove()
	e := f.engine()
	f.useMover(e)
	v, err := e.StartMove(context.Background(), panel.System, move.StartInput{Order: "alice.example", To: "web2"})
	if err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	csrf := b.login(f.alice)
	if strings.Contains(b.get("/orders").body, `href="/moves"`) {
		t.Error("a member's menu links to moves")
	}
	if strings.Contains(b.get(f.orderPath("alice.example")).body, "/move") {
		t.Error("a member's order page offers a move")
	}
	movePath := fmt.Sprintf("/moves/%d", v.ID)
	for path, want := range map[string]int{
		"/moves":                               http.StatusForbidden,
		movePath:                               http.StatusForbidden,
		movePath + "/events":                   http.StatusForbidden,
		f.orderPath("alice.example") + "/move": http.StatusForbidden,
		f.orderPath("bob.example") + "/move":   http.StatusNotFound,
		f.orderPath("alice.example") + "/move?to=web2": http.StatusForbidden,
	} {
		if r := b.get(path); r.status != want {
			t.Errorf("alice GET %s: %d, want %d", path, r.status, want)
		}
	}
	if r := b.post(movePath+"/abort", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); r.status != http.StatusForbidden {
		t.Errorf("alice aborts a move: %d, want 403", r.status)
	}
	if got, _ := e.Get(context.Background(), panel.System, v.ID); got.Phase != model.PhasePrepare {
		t.Errorf("after alice's abort the move is in %s", got.Phase)
	}
}

// fakeMover serves one move as the test sets it.
type fakeMover struct {
	mu   sync.Mutex
	view move.View
}

func (m *fakeMover) set(t *testing.T, mv model.Move, d move.Data, tasks ...move.TaskView) {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	mv.Data = b
	m.mu.Lock()
	defer m.mu.Unlock()
	m.view = move.View{Move: mv, Identifier: d.Identifier, Tasks: tasks}
}

func (m *fakeMover) Plan(context.Context, panel.Caller, string, string) (move.Plan, error) {
	return move.Plan{}, fmt.Errorf("%w: not in this test", panel.ErrRefused)
}

func (m *fakeMover) StartMove(context.Context, panel.Caller, move.StartInput) (move.View, error) {
	return move.View{}, fmt.Errorf("%w: not in this test", panel.ErrRefused)
}

func (m *fakeMover) RunPhase(context.Context, panel.Caller, int64, model.MovePhase, move.PhaseInput) (move.View, error) {
	return move.View{}, fmt.Errorf("%w: not in this test", panel.ErrRefused)
}

func (m *fakeMover) Get(_ context.Context, c panel.Caller, id int64) (move.View, error) {
	if !c.IsAdmin() {
		return move.View{}, panel.ErrForbidden
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != m.view.ID {
		return move.View{}, store.ErrNotFound
	}
	return m.view, nil
}

func (m *fakeMover) List(ctx context.Context, c panel.Caller, _ string, _ bool) ([]move.View, error) {
	v, err := m.Get(ctx, c, m.view.ID)
	return []move.View{v}, err
}

func TestMovePageShowsVerifySideBySideAndTheFreezeWindow(t *testing.T) {
	f := newFixture(t)
	fm := &fakeMover{}
	f.useMover(fm)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	freezeEnd := at.Add(4200 * time.Millisecond)
	sum := func(rows int64, c string) *model.TableSum { return &model.TableSum{Rows: rows, Checksum: c} }
	fm.set(t, model.Move{ID: 7, OrderID: f.orders["alice.example"].ID, From: "web1", To: "web2", Phase: model.PhaseCutover, Status: model.MoveSucceeded}, move.Data{MoveInfo: wire.MoveInfo{
		Identifier: "alice.example", FromAddr: "127.0.1.11", ToAddr: "127.0.1.12", OldTTL: 3600, SyncRuns: 2,
		Syncs: []move.SyncReport{{Run: 2, StartedAt: at, FinishedAt: at.Add(3 * time.Second),
			Files: model.MoveSyncFilesResult{Files: 12, TotalFiles: 40, Bytes: 3 << 20, TotalBytes: 9 << 20},
			DB:    model.MoveSyncDBResult{Tables: []model.TableSum{{}, {}, {}}, TablesCopied: 1}}},
		Verify: &move.VerifyReport{At: at, Passed: false, AfterSyncRuns: 2,
			Problems: []string{"table alice_wp.wp_posts differs"},
			Tables: []move.TableCheck{
				{DB: "alice_wp", Table: "wp_options", Old: sum(120, "aaaaaaaaaaaaaaaaaaaa"), New: sum(120, "aaaaaaaaaaaaaaaaaaaa"), Equal: true},
				{DB: "alice_wp", Table: "wp_posts", Old: sum(57, "bbbbbbbbbbbbbbbbbbbb"), New: sum(56, "cccccccccccccccccccc")},
			},
			HTTP: []move.HTTPCheck{{Name: "alice.example",
				Old: move.HTTPFetch{Status: 200, Title: "Alice <Blog>", Bytes: 5120, SHA256: "dddddddddddddddddddd"},
				New: move.HTTPFetch{Status: 500, Title: "Error", Bytes: 90, SHA256: "eeeeeeeeeeeeeeeeeeee"}}},
			Mailboxes: []model.MailboxCheck{
				{Account: "alice", Folder: "INBOX", OldUIDValidity: 9, NewUIDValidity: 9, Old: 12, New: 10, Missing: 2},
				{Account: "alice", Folder: "Sent", OldUIDValidity: 11, NewUIDValidity: 12, Old: 3, New: 3},
			},
			HostsLines: []string{"127.0.1.12 alice.example www.alice.example"}},
		Cutover: &move.CutoverReport{FreezeStart: &at, FreezeEnd: &freezeEnd, FreezeSeconds: 4.2, Switched: []string{"alice.example A 127.0.1.12"}, SwitchedAt: &freezeEnd},
	}})
	b := f.browser()
	b.login(f.admin)
	r := b.get("/moves/7")
	if r.status != http.StatusOK {
		t.Fatalf("move page: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{
		"web1 (old)", "web2 (new)", // the two sides
		"alice_wp.wp_posts", "<td class=\"num\">57</td>", "<td class=\"num\">56</td>", "bbbbbbbbbbbb…", "cccccccccccc…",
		"200 · “Alice &lt;Blog&gt;”", "500 · “Error”",
		"127.0.1.12 alice.example www.alice.example",
		"<strong>4.2 s</strong>", "alice.example A 127.0.1.12",
		"12 of 40 · 3.0 MiB sent of 9.0 MiB", "1 of 3 copied",
		"differences", "table alice_wp.wp_posts differs",
		"alice/INBOX", "2 new, 0 gone since sync (carried at cutover)", "alice/Sent", "<strong>no</strong>: another UIDVALIDITY",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("move page lacks %q", want)
		}
	}
	if r := b.get("/moves/8"); r.status != http.StatusNotFound {
		t.Errorf("unknown move: %d", r.status)
	}
}

func TestMoveEventsStreamProgress(t *testing.T) {
	f := newFixture(t)
	fm := &fakeMover{}
	f.useMover(fm)
	mv := model.Move{ID: 3, OrderID: f.orders["alice.example"].ID, From: "web1", To: "web2", Phase: model.PhaseSync, Status: model.MoveRunning}
	data := move.Data{MoveInfo: wire.MoveInfo{Identifier: "alice.example", Waiting: "waiting for web1 to sync"}}
	files := func(pct int, n int64) move.TaskView {
		res, _ := json.Marshal(model.MoveSyncFilesResult{Percent: pct, Files: n, TotalFiles: 40, Bytes: n << 20, TotalBytes: 40 << 20})
		return move.TaskView{Name: "files", Task: model.Task{ID: 1, Host: "web1", Kind: model.TaskMoveSyncFiles, State: model.TaskLeased, Result: res}}
	}
	dbRes, _ := json.Marshal(model.MoveSyncDBResult{Tables: make([]model.TableSum, 5), TablesCopied: 2, Bytes: 1 << 20})
	db := move.TaskView{Name: "db", Task: model.Task{ID: 2, Host: "web1", Kind: model.TaskMoveSyncDB, State: model.TaskLeased, Result: dbRes}}
	fm.set(t, mv, data, files(10, 4), db)

	b := f.browser()
	b.login(f.admin)
	page := b.get("/moves/3")
	if !strings.Contains(page.body, `data-events="/moves/3/events"`) || !strings.Contains(page.body, "10 % · 4 of 40 files") {
		t.Fatalf("move page has no live progress section:\n%s", page.body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/moves/3/events", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := sseEvents(resp.Body)
	first := <-events
	if first.Phase != model.PhaseSync || first.Waiting != "waiting for web1 to sync" || len(first.Tasks) != 2 {
		t.Fatalf("first event: %+v", first)
	}
	if tk := first.Tasks[1]; tk.Name != "files" || tk.Percent != 10 || tk.Files != 4 || tk.Bytes != 4<<20 || tk.TotalFiles != 40 {
		t.Errorf("files task: %+v", tk)
	}
	if tk := first.Tasks[0]; tk.Name != "db" || tk.Tables != 5 || tk.TablesCopied != 2 {
		t.Errorf("db task: %+v", tk)
	}

	// The node reports more: the stream sends it.
	fm.set(t, mv, data, files(80, 32), db)
	select {
	case next := <-events:
		if next.Tasks[1].Percent != 80 || next.Tasks[1].Files != 32 {
			t.Errorf("second event: %+v", next.Tasks[1])
		}
	case <-ctx.Done():
		t.Fatal("no event after the progress changed")
	}
	// The phase ends: one more event, with the new status.
	mv.Status = model.MoveSucceeded
	fm.set(t, mv, move.Data{MoveInfo: wire.MoveInfo{Identifier: "alice.example"}})
	select {
	case last := <-events:
		if last.Status != model.MoveSucceeded || len(last.Tasks) != 0 {
			t.Errorf("last event: %+v", last)
		}
	case <-ctx.Done():
		t.Fatal("no event after the phase ended")
	}
}

// sseEvents decodes the "progress" events of a stream.
func sseEvents(r io.Reader) <-chan progress {
	out := make(chan progress, 8)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "progress":
				var p progress
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &p) == nil {
					out <- p
				}
			case line == "":
				event = ""
			}
		}
	}()
	return out
}

func TestProgressOfTasksWithoutResults(t *testing.T) {
	v := move.View{Move: model.Move{Phase: model.PhaseVerify, Status: model.MoveFailed, Error: "verify: web1 unreachable"},
		Tasks: []move.TaskView{{Name: "verify", Task: model.Task{Host: "web1", Kind: model.TaskMoveVerify, State: model.TaskFailed, Attempts: 3, Error: "ssh: connection refused"}}}}
	p := progressOf(v, move.Data{})
	if p.Error != "verify: web1 unreachable" || len(p.Tasks) != 1 || p.Tasks[0].Error != "ssh: connection refused" || p.Tasks[0].Detail != "" || p.Tasks[0].Attempts != 3 {
		t.Errorf("progress: %+v", p)
	}
}
