package rebalance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// fakeEngine stands in for the move engine: phases run until step ends
// them, a guard can hold cutover and cleanup back, and failures can be
// planted per order and phase.
type fakeEngine struct {
	mu     sync.Mutex
	p      *panel.Panel
	moves  map[int64]*model.Move
	nextID int64
	// fail makes the named order's phase fail, once.
	fail map[string]model.MovePhase
	// guarded holds cutover and cleanup back unless forced.
	guarded bool
	starts  map[int64]int
	bwlimit []int
	forced  []bool
	// mostCopying is the most moves seen copying at once, overall and
	// from one source.
	mostCopying, mostFromOne int
}

func newFakeEngine(p *panel.Panel) *fakeEngine {
	return &fakeEngine{p: p, moves: map[int64]*model.Move{}, fail: map[string]model.MovePhase{}, starts: map[int64]int{}}
}

func (f *fakeEngine) view(m *model.Move) move.View {
	o, _ := f.p.GetOrder(context.Background(), panel.System, strconv.FormatInt(m.OrderID, 10))
	return move.View{Move: *m, Identifier: o.Identifier}
}

func (f *fakeEngine) StartMove(ctx context.Context, c panel.Caller, in move.StartInput) (move.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, err := f.p.GetOrder(ctx, c, in.Order)
	if err != nil {
		return move.View{}, err
	}
	for _, m := range f.moves {
		if m.OrderID != o.ID || !m.Active() {
			continue
		}
		if m.Phase == model.PhasePrepare && m.Status == model.MoveFailed && m.To == in.To {
			m.Status = model.MoveRunning
			return f.view(m), nil
		}
		return move.View{}, fmt.Errorf("%w: order %s is already being moved", panel.ErrRefused, o.Identifier)
	}
	if in.To == "full" {
		return move.View{}, fmt.Errorf("%w: cannot move %s to full: not enough disk", panel.ErrRefused, o.Identifier)
	}
	f.nextID++
	m := &model.Move{ID: f.nextID, OrderID: o.ID, From: o.Host, To: in.To, Phase: model.PhasePrepare, Status: model.MoveRunning}
	f.moves[m.ID] = m
	f.starts[o.ID]++
	return f.view(m), nil
}

func (f *fakeEngine) RunPhase(ctx context.Context, c panel.Caller, id int64, phase model.MovePhase, in move.PhaseInput) (move.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.moves[id]
	if m.Status == model.MoveRunning {
		return move.View{}, fmt.Errorf("%w: move %d is still running its %s phase", panel.ErrRefused, id, m.Phase)
	}
	if (phase == model.PhaseCutover || phase == model.PhaseCleanup) && f.guarded && !in.SkipTTLWait {
		return move.View{}, fmt.Errorf("%w: cannot %s move %d yet: the old TTL runs out later (--skip-ttl-wait overrides)", panel.ErrRefused, phase, id)
	}
	if phase == model.PhaseSync {
		f.bwlimit = append(f.bwlimit, in.BWLimit)
	}
	if phase == model.PhaseCutover {
		f.forced = append(f.forced, in.SkipTTLWait)
	}
	m.Phase, m.Status = phase, model.MoveRunning
	return f.view(m), nil
}

func (f *fakeEngine) Get(ctx context.Context, c panel.Caller, id int64) (move.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.moves[id]
	if !ok {
		return move.View{}, store.ErrNotFound
	}
	return f.view(m), nil
}

func (f *fakeEngine) List(ctx context.Context, c panel.Caller, ref string, active bool) ([]move.View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []move.View
	for id := int64(1); id <= f.nextID; id++ {
		m := f.moves[id]
		if (ref == "" || ref == strconv.FormatInt(m.OrderID, 10)) && (!active || m.Active()) {
			out = append(out, f.view(m))
		}
	}
	return out, nil
}

// step ends every running phase, as planted; verify passes.
func (f *fakeEngine) step() {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, fromOne := 0, map[string]int{}
	for _, m := range f.moves {
		if copying(*m) {
			n++
			fromOne[m.From]++
			f.mostFromOne = max(f.mostFromOne, fromOne[m.From])
		}
	}
	f.mostCopying = max(f.mostCopying, n)
	for _, m := range f.moves {
		if m.Status != model.MoveRunning {
			continue
		}
		o, _ := f.p.GetOrder(context.Background(), panel.System, strconv.FormatInt(m.OrderID, 10))
		if f.fail[o.Identifier] == m.Phase {
			delete(f.fail, o.Identifier)
			m.Status, m.Error = model.MoveFailed, "planted failure"
			continue
		}
		m.Status = model.MoveSucceeded
		switch m.Phase {
		case model.PhaseVerify:
			m.Data, _ = json.Marshal(move.Data{MoveInfo: wire.MoveInfo{Verify: &move.VerifyReport{Passed: true}}})
		case model.PhaseCleanup:
			m.Phase = model.PhaseDone
		}
	}
}

type runnerEnv struct {
	t   *testing.T
	ctx context.Context
	p   *panel.Panel
	eng *fakeEngine
	dir string
	r   *Runner
}

var root = panel.Caller{Name: "root", Role: model.RoleAdmin}

// newRunnerEnv makes a control plane with web1 holding five orders, web2
// four, and web3 and web4 empty, all reporting. By order count, the plan
// moves two orders off web1 and two off web2.
func newRunnerEnv(t *testing.T) *runnerEnv {
	t.Helper()
	ctx := context.Background()
	p := cptest.Panel(cptest.SQLite(t), nil)
	e := &runnerEnv{t: t, ctx: ctx, p: p, eng: newFakeEngine(p), dir: filepath.Join(t.TempDir(), "rebalance")}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.CreateMember(ctx, root, model.Member{Name: "ada"}))
	for i, h := range []string{"web1", "web2", "web3", "web4"} {
		must(p.CreateHost(ctx, root, model.Host{Name: h, Addresses: []string{fmt.Sprintf("192.0.2.%d", i+1)}}))
		used := []int64{40, 20, 0, 0}[i] * gib
		if err := p.Heartbeat(ctx, panel.Caller{Role: model.RoleNode, Host: h}, model.Heartbeat{DiskUsed: used, DiskFree: 100*gib - used}); err != nil {
			t.Fatal(err)
		}
	}
	for i, host := range []string{"web1", "web1", "web1", "web1", "web1", "web2", "web2", "web2", "web2"} {
		must(p.CreateOrder(ctx, root, model.Order{Identifier: fmt.Sprintf("site%d.example", i+1), Member: "ada", Host: host}))
	}
	e.r = e.runner()
	return e
}

func (e *runnerEnv) runner() *Runner {
	e.t.Helper()
	r, err := NewRunner(e.ctx, e.p, e.eng, RunnerOptions{ImportDir: e.dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Retry: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *runnerEnv) plan(o Options) Plan {
	e.t.Helper()
	p, err := e.r.Plan(e.ctx, root, o)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *runnerEnv) apply(p Plan, o ApplyOptions) Batch {
	e.t.Helper()
	b, err := e.r.Apply(e.ctx, root, ApplyInput{Plan: p, ApplyOptions: o})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// settle runs passes of the runner and steps of the engine until the
// batch settles.
func (e *runnerEnv) settle(id string) Batch {
	e.t.Helper()
	for range 100 {
		e.r.pass(e.ctx)
		b, err := e.r.Get(e.ctx, root, id)
		if err != nil {
			e.t.Fatal(err)
		}
		if b.Settled() {
			return b
		}
		e.eng.step()
	}
	e.t.Fatal("the batch does not settle")
	return Batch{}
}

// startedOnce fails the test when a move of an order was started twice.
func (e *runnerEnv) startedOnce() {
	e.t.Helper()
	for id, n := range e.eng.starts {
		if n != 1 {
			e.t.Errorf("order %d was started %d times", id, n)
		}
	}
}

func statuses(b Batch) string {
	var s []string
	for _, e := range b.Entries {
		s = append(s, e.Identifier+" "+string(e.Status))
	}
	return strings.Join(s, ", ")
}

func TestBatchRunsWithinItsLimitsAndAFailureStopsNothingElse(t *testing.T) {
	e := newRunnerEnv(t)
	p := e.plan(Options{By: ByOrders})
	if len(p.Moves) != 4 {
		t.Fatalf("plan: %+v", p.Moves)
	}
	e.eng.fail["site2.example"] = model.PhaseSync
	b := e.apply(p, ApplyOptions{Concurrency: 2, BWLimit: 500, AutoCutover: true, Force: true})
	b = e.settle(b.ID)
	if b.State != BatchFinished || b.Count()[EntryDone] != 3 || b.Count()[EntryFailed] != 1 {
		t.Fatalf("batch %s: %s", b.State, statuses(b))
	}
	for _, en := range b.Entries {
		if en.Status == EntryFailed && (en.Identifier != "site2.example" || !strings.Contains(en.Note, "sync failed: planted failure")) {
			t.Errorf("failed entry %+v", en)
		}
	}
	if e.eng.mostCopying != 2 || e.eng.mostFromOne != 1 {
		t.Errorf("at most %d moves copied at once, %d from one source; want 2 and 1", e.eng.mostCopying, e.eng.mostFromOne)
	}
	for _, l := range e.eng.bwlimit {
		if l != 500 {
			t.Errorf("sync ran with bwlimit %d, want 500", l)
		}
	}
	for _, f := range e.eng.forced {
		if !f {
			t.Error("a cutover was not forced")
		}
	}

	// Applied again, the same plan is the same batch: the failed move
	// resumes its sync, the others are not touched.
	again := e.apply(p, ApplyOptions{Concurrency: 2, AutoCutover: true, Force: true})
	if again.ID != b.ID {
		t.Fatalf("the same plan made batch %s, then %s", b.ID, again.ID)
	}
	b = e.settle(b.ID)
	if b.State != BatchFinished || b.Count()[EntryDone] != 4 {
		t.Fatalf("after applying again: %s %s", b.State, statuses(b))
	}
	e.startedOnce()
}

func TestBatchStopsAtVerifyUnlessAutoCutover(t *testing.T) {
	e := newRunnerEnv(t)
	p := e.plan(Options{By: ByOrders})
	b := e.settle(e.apply(p, ApplyOptions{Concurrency: 3}).ID)
	if b.State != BatchRunning || b.Count()[EntryVerified] != 4 {
		t.Fatalf("batch %s: %s", b.State, statuses(b))
	}
	if !strings.Contains(b.Entries[0].Note, "ferry move cutover") {
		t.Errorf("note %q", b.Entries[0].Note)
	}
	// Auto-cutover without force waits for the guard, then goes on.
	e.eng.guarded = true
	e.apply(p, ApplyOptions{Concurrency: 3, AutoCutover: true})
	e.r.pass(e.ctx)
	b, _ = e.r.Get(e.ctx, root, b.ID)
	if b.Count()[EntryWaiting] != 4 || !strings.Contains(b.Entries[0].Note, "the old TTL runs out later") {
		t.Fatalf("with the guard up: %s (%q)", statuses(b), b.Entries[0].Note)
	}
	e.eng.guarded = false
	e.r.retryAt = map[int64]time.Time{}
	b = e.settle(b.ID)
	if b.State != BatchFinished || b.Count()[EntryDone] != 4 {
		t.Fatalf("after the guard: %s %s", b.State, statuses(b))
	}
}

func TestBatchGoesOnAfterARestart(t *testing.T) {
	e := newRunnerEnv(t)
	b := e.apply(e.plan(Options{By: ByOrders}), ApplyOptions{Concurrency: 1, AutoCutover: true, Force: true})
	for range 3 {
		e.r.pass(e.ctx)
		e.eng.step()
	}
	// A new control plane process: the batch comes back from the store.
	e.r = e.runner()
	got, err := e.r.Get(e.ctx, root, b.ID)
	if err != nil || got.Count()[EntryPending] == 4 {
		t.Fatalf("after the restart: %v %s", err, statuses(got))
	}
	b = e.settle(b.ID)
	if b.State != BatchFinished || b.Count()[EntryDone] != 4 {
		t.Fatalf("batch %s: %s", b.State, statuses(b))
	}
	e.startedOnce()
}

func TestBatchSkipsAndReportsWhatNoLongerHolds(t *testing.T) {
	e := newRunnerEnv(t)
	p := e.plan(Options{By: ByOrders})
	// site1 was moved by hand meanwhile; the plan's last move goes to a
	// host that refuses it.
	o := p.Moves[0]
	if _, err := e.eng.StartMove(e.ctx, root, move.StartInput{Order: strconv.FormatInt(o.OrderID, 10), To: "web4"}); err != nil {
		t.Fatal(err)
	}
	p.Moves[len(p.Moves)-1].To = "full"
	b := e.settle(e.apply(p, ApplyOptions{Concurrency: 3, AutoCutover: true, Force: true}).ID)
	want := map[EntryStatus]int{EntryFailed: 2, EntryDone: 2}
	if fmt.Sprint(b.Count()) != fmt.Sprint(want) {
		t.Fatalf("batch: %s", statuses(b))
	}
	if n := b.Entries[0].Note; !strings.Contains(n, "already being moved from "+o.From+" to web4") {
		t.Errorf("note %q", n)
	}
	if n := b.Entries[3].Note; !strings.Contains(n, "not enough disk") {
		t.Errorf("note %q", n)
	}
}

func TestDrainMarksTheHostAndPlansEveryOrderOff(t *testing.T) {
	e := newRunnerEnv(t)
	b, err := e.r.Drain(e.ctx, root, "web1", DrainInput{ApplyOptions: ApplyOptions{Concurrency: 2, AutoCutover: true, Force: true}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := e.p.GetHost(e.ctx, root, "web1")
	if h.State != model.HostDraining || len(b.Entries) != 5 || b.Plan.Drain != "web1" {
		t.Fatalf("web1 %s, batch of %d", h.State, len(b.Entries))
	}
	for _, en := range b.Entries {
		if en.From != "web1" || en.To == "web1" || en.To == "" {
			t.Errorf("entry %+v", en)
		}
	}
	// Draining again while the batch runs takes it up again.
	again, err := e.r.Drain(e.ctx, root, "web1", DrainInput{ApplyOptions: ApplyOptions{Concurrency: 1, AutoCutover: true, Force: true}})
	if err != nil || again.ID != b.ID || again.Concurrency != 1 {
		t.Fatalf("drain again: %v, %s", err, again.ID)
	}
	b = e.settle(b.ID)
	if b.Count()[EntryDone] != 5 || e.eng.mostFromOne > 1 {
		t.Fatalf("batch: %s; %d at once from web1", statuses(b), e.eng.mostFromOne)
	}

	if _, err := e.r.Drain(e.ctx, root, "nowhere", DrainInput{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("drain of an unknown host: %v", err)
	}
}

func TestRunnerRefuses(t *testing.T) {
	e := newRunnerEnv(t)
	p := e.plan(Options{By: ByOrders})
	member := panel.Caller{Name: "ada", Role: model.RoleMember, Member: "ada"}
	var fe *model.FieldError
	for _, tc := range []struct {
		name string
		c    panel.Caller
		in   ApplyInput
		ok   func(error) bool
	}{
		{"a member", member, ApplyInput{Plan: p}, func(err error) bool { return errors.Is(err, panel.ErrForbidden) }},
		{"force without auto-cutover", root, ApplyInput{Plan: p, ApplyOptions: ApplyOptions{Force: true}}, func(err error) bool { return errors.As(err, &fe) && fe.Field == "force" }},
		{"too many at once", root, ApplyInput{Plan: p, ApplyOptions: ApplyOptions{Concurrency: 1000}}, func(err error) bool { return errors.As(err, &fe) && fe.Field == "concurrency" }},
		{"an empty plan", root, ApplyInput{Plan: Plan{}}, func(err error) bool { return errors.Is(err, panel.ErrRefused) }},
		{"a plan with problems", root, ApplyInput{Plan: Plan{Problems: []string{"x"}, Moves: p.Moves}}, func(err error) bool { return errors.Is(err, panel.ErrRefused) }},
		{"an order twice", root, ApplyInput{Plan: Plan{Moves: append(p.Moves, p.Moves[0])}}, func(err error) bool { return errors.As(err, &fe) }},
	} {
		if _, err := e.r.Apply(e.ctx, tc.c, tc.in); !tc.ok(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := e.r.Plan(e.ctx, member, Options{}); !errors.Is(err, panel.ErrForbidden) {
		t.Errorf("a member's plan: %v", err)
	}
}

// A batch file an older ferry kept in its data directory is imported into
// the store once, and goes on from there.
func TestBatchFileImportedIntoTheStore(t *testing.T) {
	e := newRunnerEnv(t)
	b := e.apply(e.plan(Options{By: ByOrders}), ApplyOptions{Concurrency: 1})
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// The same batch, as an older ferry would have kept it, in a store
	// that has never seen it.
	fresh := newRunnerEnv(t)
	if err := os.MkdirAll(fresh.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(fresh.dir, b.ID+".json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fresh.dir, "b-broken.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh.r = fresh.runner()
	if got, err := fresh.r.Get(fresh.ctx, root, b.ID); err != nil || len(got.Entries) != len(b.Entries) {
		t.Fatalf("the imported batch: %v, %d entries, want %d", err, len(got.Entries), len(b.Entries))
	}
	if _, err := os.Stat(file + ".imported"); err != nil {
		t.Errorf("the imported file was not renamed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(fresh.dir, "b-broken.json")); err != nil {
		t.Errorf("a file that does not read was moved or removed: %v", err)
	}
	// The store has it now: a runner with no files at all still knows it.
	if err := os.RemoveAll(fresh.dir); err != nil {
		t.Fatal(err)
	}
	fresh.r = fresh.runner()
	if _, err := fresh.r.Get(fresh.ctx, root, b.ID); err != nil {
		t.Errorf("after the import, without the file: %v", err)
	}
}
