package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ferry/internal/store"
)

// testCluster checks what replicas on one store rely on: on PostgreSQL a
// lock has one holder at a time, another store (replica) sees it held, and
// a wake-up reaches every listening replica; on SQLite (one process) every
// TryLock succeeds and Held says it cannot tell.
func testCluster(t *testing.T, h *harness) {
	ctx := t.Context()
	a, b := h.s, open(t, h.url)
	l1, err := a.TryLock(ctx, "leader")
	if err != nil || l1 == nil {
		t.Fatalf("first TryLock: %v, %v", l1, err)
	}
	if err := l1.Check(ctx); err != nil {
		t.Fatalf("Check of a held lock: %v", err)
	}
	l2, err := b.TryLock(ctx, "leader")
	if err != nil {
		t.Fatal(err)
	}
	held, herr := b.Held(ctx, "leader")
	if a.Driver() == "sqlite" {
		if l2 == nil || !errors.Is(herr, store.ErrNoLocks) {
			t.Fatalf("sqlite: TryLock %v, Held error %v; want a lock and ErrNoLocks", l2, herr)
		}
		return
	}
	if l2 != nil {
		t.Fatal("a second replica took a lock the first holds")
	}
	if herr != nil || !held {
		t.Fatalf("Held = %v, %v while the first replica holds it", held, herr)
	}
	if other, err := b.Held(ctx, "someone-else"); err != nil || other {
		t.Fatalf("Held of a lock nobody took = %v, %v", other, err)
	}
	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	if held, err := b.Held(ctx, "leader"); err != nil || held {
		t.Fatalf("Held after release = %v, %v", held, err)
	}
	l2, err = b.TryLock(ctx, "leader")
	if err != nil || l2 == nil {
		t.Fatalf("TryLock after the holder let go: %v, %v", l2, err)
	}
	defer l2.Release()

	// A closed store (a replica that died) frees its locks.
	c, err := store.Open(ctx, h.url)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c.TryLock(ctx, "replica-c"); err != nil || l == nil {
		t.Fatalf("TryLock replica-c: %v, %v", l, err)
	}
	c.Close()
	// The server ends the session when it reads the closed connection.
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		held, err := b.Held(ctx, "replica-c")
		if err != nil {
			t.Fatal(err)
		}
		if !held {
			break
		}
		if time.Now().After(end) {
			t.Fatal("replica-c's lock is still held 30 s after its store closed")
		}
	}

	// Wake-ups reach the other replica, keys intact.
	lctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var got []string
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.Listen(lctx, func() { close(ready) }, func(k string) {
			mu.Lock()
			got = append(got, k)
			mu.Unlock()
		})
	}()
	<-ready
	if err := a.Wake(ctx, "web1", "move:7"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Listen ended with %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "web1" || got[1] != "move:7" {
		t.Errorf("the other replica heard %q, want [web1 move:7]", got)
	}
}
