package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

func testTasks(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	m := model.Move{OrderID: f.order.ID, From: "web1", To: "web2", Phase: model.PhaseSync, Status: model.MoveRunning}
	update(t, h.s, func(tx store.Tx) error { return tx.CreateMove(ctx, &m) })
	tasks := []model.Task{
		{Host: "web1", MoveID: m.ID, Kind: "rsync", Payload: json.RawMessage(`{"to":"web2"}`)},
		{Host: "web1", Kind: "dump"},
		{Host: "web1", Kind: "check"},
		{Host: "web2", Kind: "load", State: model.TaskQueued},
	}
	update(t, h.s, func(tx store.Tx) error {
		for i := range tasks {
			if err := tx.CreateTask(ctx, &tasks[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if tasks[0].ID == 0 || tasks[0].State != model.TaskQueued || tasks[0].CreatedAt.IsZero() {
		t.Fatalf("CreateTask did not set the id, state and time: %+v", tasks[0])
	}
	diff(t, "GetTask", tasks[0], read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Task, error) {
		return tx.GetTask(ctx, tasks[0].ID)
	}))
	listed := func(f store.TaskFilter) []int64 {
		t.Helper()
		got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Task, error) { return tx.ListTasks(ctx, f) })
		return ids(got, taskID)
	}
	diff(t, "tasks of web1", []int64{tasks[0].ID, tasks[1].ID, tasks[2].ID}, listed(store.TaskFilter{Host: "web1"}))
	diff(t, "tasks of the move", []int64{tasks[0].ID}, listed(store.TaskFilter{MoveID: m.ID}))

	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	lease := func(host string, at time.Time, max int) []model.Task {
		t.Helper()
		var got []model.Task
		update(t, h.s, func(tx store.Tx) (err error) {
			got, err = tx.LeaseTasks(ctx, host, at, time.Minute, max)
			return err
		})
		return got
	}
	got := lease("web1", now, 2)
	diff(t, "first lease", []int64{tasks[0].ID, tasks[1].ID}, ids(got, taskID))
	until := now.Add(time.Minute)
	for _, tk := range got {
		if tk.State != model.TaskLeased || tk.Attempts != 1 || tk.LeaseUntil == nil || !tk.LeaseUntil.Equal(until) {
			t.Errorf("leased task %d: state %s, attempts %d, lease until %v; want leased, 1, %v", tk.ID, tk.State, tk.Attempts, tk.LeaseUntil, until)
		}
	}
	diff(t, "leased task read back", got[0], read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Task, error) {
		return tx.GetTask(ctx, got[0].ID)
	}))
	diff(t, "second lease", []int64{tasks[2].ID}, ids(lease("web1", now, 5), taskID))
	diff(t, "nothing left", []int64{}, ids(lease("web1", now, 5), taskID))
	diff(t, "lease of web2", []int64{tasks[3].ID}, ids(lease("web2", now, 5), taskID))
	diff(t, "lease of none", []int64{}, ids(lease("web2", now.Add(time.Hour), 0), taskID))
	diff(t, "queued tasks", []int64{}, listed(store.TaskFilter{States: []model.TaskState{model.TaskQueued}}))
	diff(t, "leased tasks of web1", []int64{tasks[0].ID, tasks[1].ID, tasks[2].ID},
		listed(store.TaskFilter{Host: "web1", States: []model.TaskState{model.TaskLeased, model.TaskDone}}))

	// A finished task is not handed out again when its lease runs out.
	done := got[0]
	done.State, done.Result, done.LeaseUntil = model.TaskDone, json.RawMessage(`{"bytes":1234}`), nil
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateTask(ctx, &done) })
	diff(t, "finished task", done, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Task, error) {
		return tx.GetTask(ctx, done.ID)
	}))
	diff(t, "lease after expiry", []int64{tasks[1].ID, tasks[2].ID}, ids(lease("web1", now.Add(2*time.Minute), 5), taskID))

	done.ID = 999
	notFound(t, h.s, "task 999",
		func(ctx context.Context, tx store.Tx) error { return tx.UpdateTask(ctx, &done) },
		func(ctx context.Context, tx store.Tx) error { _, err := tx.GetTask(ctx, 999); return err })
	err := h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateTask(ctx, &model.Task{Host: "web9", Kind: "dump"}) })
	wantErr(t, err, store.ErrNotFound, "web9")
}

func testLeaseExpiry(t *testing.T, h *harness) {
	ctx := t.Context()
	seed(t, h.s)
	tk := model.Task{Host: "web1", Kind: "sync"}
	update(t, h.s, func(tx store.Tx) error { return tx.CreateTask(ctx, &tk) })
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	lease := func(at time.Time) []model.Task {
		t.Helper()
		var got []model.Task
		update(t, h.s, func(tx store.Tx) (err error) {
			got, err = tx.LeaseTasks(ctx, "web1", at, time.Minute, 10)
			return err
		})
		return got
	}
	if got := lease(t0); len(got) != 1 || got[0].Attempts != 1 {
		t.Fatalf("first lease: %+v", got)
	}
	for _, at := range []time.Time{t0.Add(30 * time.Second), t0.Add(time.Minute)} {
		if got := lease(at); len(got) != 0 {
			t.Errorf("lease at %v, while the first runs until %v: got %d tasks", at, t0.Add(time.Minute), len(got))
		}
	}
	later := t0.Add(time.Minute + time.Millisecond)
	got := lease(later)
	if len(got) != 1 || got[0].ID != tk.ID || got[0].Attempts != 2 || !got[0].LeaseUntil.Equal(later.Add(time.Minute)) {
		t.Fatalf("lease after expiry: %+v", got)
	}
}

// testLeaseConcurrent has workers on two stores lease one host's tasks
// until none is left: each task must be handed out exactly once.
func testLeaseConcurrent(t *testing.T, h *harness) {
	ctx := t.Context()
	seed(t, h.s)
	const n = 60
	update(t, h.s, func(tx store.Tx) error {
		for range n {
			if err := tx.CreateTask(ctx, &model.Task{Host: "web1", Kind: "sync"}); err != nil {
				return err
			}
		}
		return nil
	})
	stores := []store.Store{h.s, open(t, h.url)}
	now := time.Now()
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			for {
				var got []model.Task
				err := stores[w%2].Update(ctx, func(tx store.Tx) (err error) {
					got, err = tx.LeaseTasks(ctx, "web1", now, time.Hour, 3)
					return err
				})
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, tk := range got {
					seen[tk.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d of %d tasks were leased", len(seen), n)
	}
	for id, times := range seen {
		if times != 1 {
			t.Errorf("task %d was leased %d times", id, times)
		}
	}
}

func testRollback(t *testing.T, h *harness) {
	ctx := t.Context()
	err := h.s.Update(ctx, func(tx store.Tx) error {
		err := errors.Join(
			tx.CreateMember(ctx, &model.Member{Name: "carol"}),
			tx.CreateHost(ctx, &model.Host{Name: "web3", Addresses: []string{"192.0.2.3"}, State: model.HostActive}),
			tx.CreateOrder(ctx, &model.Order{Identifier: "carol.example", Member: "carol", Host: "web3", State: model.OrderActive}),
		)
		if err != nil {
			t.Errorf("writes before the error: %v", err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	view(t, h.s, func(tx store.Tx) error {
		members, err1 := tx.ListMembers(ctx)
		hosts, err2 := tx.ListHosts(ctx)
		orders, err3 := tx.ListOrders(ctx, store.OrderFilter{})
		if len(members)+len(hosts)+len(orders) != 0 {
			t.Errorf("a failed Update left %d members, %d hosts, %d orders", len(members), len(hosts), len(orders))
		}
		return errors.Join(err1, err2, err3)
	})
}

// testFailedMethodKeepsTx checks that a method that fails writes nothing
// and leaves the transaction usable, on PostgreSQL too, where a failed
// statement would otherwise doom the whole transaction.
func testFailedMethodKeepsTx(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	update(t, h.s, func(tx store.Tx) error {
		wantErr(t, tx.CreateMember(ctx, &model.Member{Name: "alice"}), store.ErrConflict, "alice")
		wantErr(t, tx.CreateOrder(ctx, &model.Order{Identifier: "zed.example", Member: "zed", Host: "web1", State: model.OrderActive}),
			store.ErrNotFound, "zed.example")
		wantErr(t, tx.DeleteHost(ctx, "web1"), store.ErrInUse, "web1")
		it := model.Item{OrderID: 999, Host: "web1", Kind: model.KindMySQLDB, State: model.StatePendingInsert, Spec: model.Spec{Name: "lost"}}
		wantErr(t, tx.CreateItem(ctx, &it), store.ErrNotFound, "order 999")
		return tx.CreateMember(ctx, &model.Member{Name: "dave"})
	})
	view(t, h.s, func(tx store.Tx) error {
		if _, err := tx.GetMember(ctx, "dave"); err != nil {
			return err
		}
		orders, err := tx.ListOrders(ctx, store.OrderFilter{})
		diff(t, "orders", []int64{f.order.ID}, ids(orders, orderID))
		return err
	})
	diff(t, "holders of the failed item's identity", []int64{}, ids(read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Holder, error) {
		return tx.HoldersOf(ctx, "mysql-db:lost")
	}), holderID))
}

func testViewIsReadOnly(t *testing.T, h *harness) {
	ctx := t.Context()
	err := h.s.View(ctx, func(tx store.Tx) error { return tx.CreateMember(ctx, &model.Member{Name: "eve"}) })
	if err == nil {
		t.Error("CreateMember in a View succeeded")
	}
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Member, error) { return tx.ListMembers(ctx) })
	if len(got) != 0 {
		t.Errorf("a View wrote %v", got)
	}
}

// testTimes checks that times come back in UTC as the same instant, to the
// microsecond, whatever zone they were given in.
func testTimes(t *testing.T, h *harness) {
	ctx := t.Context()
	zone := time.FixedZone("UTC-4:30", -(4*3600 + 1800))
	ats := []time.Time{
		time.Date(2029, 12, 31, 23, 59, 59, 987654321, zone),
		time.Date(1999, 1, 2, 3, 4, 5, 1000, time.UTC),
		time.Date(2029, 12, 31, 23, 59, 59, 987655000, zone),
	}
	update(t, h.s, func(tx store.Tx) error {
		for _, at := range ats {
			if err := tx.AppendAudit(ctx, &model.AuditEntry{At: at, Actor: "admin", Action: "test", Object: "time"}); err != nil {
				return err
			}
		}
		return nil
	})
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.AuditEntry, error) {
		return tx.ListAudit(ctx, store.AuditFilter{})
	})
	if len(got) != len(ats) {
		t.Fatalf("got %d entries, want %d", len(got), len(ats))
	}
	for i, e := range got {
		want := ats[len(ats)-1-i].UTC().Truncate(time.Microsecond)
		if !e.At.Equal(want) || e.At.Location() != time.UTC {
			t.Errorf("entry %d: At = %v, want %v", e.ID, e.At, want)
		}
	}
	if !got[0].At.After(got[2].At) {
		t.Errorf("times a microsecond apart came back as %v and %v", got[2].At, got[0].At)
	}
}

// testReadModifyWrite has workers on two stores increment one counter kept
// in a move: every increment must count.
func testReadModifyWrite(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	m := model.Move{OrderID: f.order.ID, From: "web1", To: "web2", Phase: model.PhaseSync, Status: model.MoveRunning, Data: json.RawMessage(`{"n":0}`)}
	update(t, h.s, func(tx store.Tx) error { return tx.CreateMove(ctx, &m) })
	type counter struct{ N int }
	stores := []store.Store{h.s, open(t, h.url)}
	const workers, each = 6, 5
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				err := stores[w%2].Update(ctx, func(tx store.Tx) error {
					mv, err := tx.GetMove(ctx, m.ID)
					if err != nil {
						return err
					}
					var c counter
					if err := json.Unmarshal(mv.Data, &c); err != nil {
						return err
					}
					c.N++
					mv.Data, _ = json.Marshal(c)
					return tx.UpdateMove(ctx, &mv)
				})
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Move, error) { return tx.GetMove(ctx, m.ID) })
	var c counter
	if err := json.Unmarshal(got.Data, &c); err != nil {
		t.Fatal(err)
	}
	if c.N != workers*each {
		t.Errorf("counter = %d after %d increments", c.N, workers*each)
	}
}

// testClaimRace has Updates on two stores each check that a login is free
// and then claim it: only one may succeed.
func testClaimRace(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	const identity = "login:shared"
	claim := item(t, f.order, model.KindUserAccount, model.StatePendingInsert, model.Spec{Login: "shared"})
	stores := []store.Store{h.s, open(t, h.url)}
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			errs[w] = stores[w%2].Update(ctx, func(tx store.Tx) error {
				holders, err := tx.HoldersOf(ctx, identity)
				if err != nil {
					return err
				}
				if err := model.CheckUnique(identity, claim.State, holders); err != nil {
					return err
				}
				it := claim
				return tx.CreateItem(ctx, &it)
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, model.ErrDuplicate):
			t.Errorf("claim: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d Updates claimed %s, want 1", won, identity)
	}
}

// testDeleteRace deletes members while orders are made for them, on two
// stores: either the order is made and the delete refused, or the other
// way round, never both.
func testDeleteRace(t *testing.T, h *harness) {
	ctx := t.Context()
	seed(t, h.s)
	stores := []store.Store{h.s, open(t, h.url)}
	for i := range 10 {
		name := fmt.Sprintf("m%d", i)
		addMember(t, h.s, name)
		var deleted, created error
		var wg sync.WaitGroup
		wg.Go(func() {
			deleted = stores[0].Update(ctx, func(tx store.Tx) error { return tx.DeleteMember(ctx, name) })
		})
		wg.Go(func() {
			created = stores[1].Update(ctx, func(tx store.Tx) error {
				return tx.CreateOrder(ctx, &model.Order{Identifier: name + ".example", Member: name, Host: "web1", State: model.OrderActive})
			})
		})
		wg.Wait()
		switch {
		case deleted == nil && created == nil:
			t.Fatalf("member %s was deleted while an order was made for it", name)
		case deleted == nil:
			wantErr(t, created, store.ErrNotFound, name)
		case created == nil:
			wantErr(t, deleted, store.ErrInUse, name)
		default:
			t.Fatalf("both failed: %v; %v", deleted, created)
		}
	}
}

func testReopen(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	again := open(t, h.url)
	if again.Driver() != h.s.Driver() {
		t.Errorf("reopened store has driver %q, was %q", again.Driver(), h.s.Driver())
	}
	diff(t, "order read through the reopened store", f.order, read(t, again, func(ctx context.Context, tx store.Tx) (model.Order, error) {
		return tx.GetOrder(ctx, f.order.ID)
	}))
	update(t, again, func(tx store.Tx) error { return tx.CreateMember(ctx, &model.Member{Name: "bob"}) })
	view(t, h.s, func(tx store.Tx) error { _, err := tx.GetMember(ctx, "bob"); return err })
}
