package rebalance

import (
	"errors"
	"testing"

	"ferry/internal/store"
)

// Two runners over one store are two replicas of the control plane: the
// one that leads drives the batch, the other answers for it from the
// store, and takes over where the first left it.
func TestRunnerReplicasShareBatches(t *testing.T) {
	e := newRunnerEnv(t)
	a, b := e.r, e.runner()
	applied := e.apply(e.plan(Options{By: ByOrders}), ApplyOptions{Concurrency: 1})

	// a leads: one pass starts the first move; b sees it.
	a.pass(e.ctx)
	got, err := b.Get(e.ctx, root, applied.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Entries[0].MoveID == 0 {
		t.Fatalf("the other replica does not see the move the leader started: %s", statuses(got))
	}

	// a dies; b leads from where a was, and starts no move twice.
	e.r = b
	final := e.settle(applied.ID)
	if want := "site6.example verified, site1.example verified, site2.example verified, site3.example verified"; statuses(final) != want {
		t.Errorf("batch after the takeover: %s, want %s", statuses(final), want)
	}
	e.startedOnce()
}

func TestRunnerReplicaCancelIsNotOverwritten(t *testing.T) {
	e := newRunnerEnv(t)
	a, b := e.r, e.runner()
	applied := e.apply(e.plan(Options{By: ByOrders}), ApplyOptions{Concurrency: 1})
	a.pass(e.ctx)
	if _, err := b.Cancel(e.ctx, root, applied.ID); err != nil {
		t.Fatal(err)
	}
	e.eng.step()
	a.pass(e.ctx)
	got, err := a.Get(e.ctx, root, applied.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != BatchCancelled {
		t.Errorf("the leader's pass undid the other replica's cancel: batch %s", got.State)
	}
	if n := len(e.eng.starts); n != 1 {
		t.Errorf("%d moves started after the cancel, want the one started before", n)
	}

	// A write from a runner that did not see the other's change is refused.
	stale := a.batches[applied.ID]
	if err := b.save(e.ctx, &Batch{ID: applied.ID, State: BatchRunning, Plan: stale.Plan, CreatedAt: stale.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	if err := a.save(e.ctx, &Batch{ID: applied.ID, State: BatchCancelled, Plan: stale.Plan, CreatedAt: stale.CreatedAt}); !errors.Is(err, ErrBatchChanged) || !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale save: %v, want ErrBatchChanged", err)
	}
	if a.batches[applied.ID].State != BatchRunning {
		t.Errorf("after a refused save the runner holds %s, want the store's running", a.batches[applied.ID].State)
	}
}
