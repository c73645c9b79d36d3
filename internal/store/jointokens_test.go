package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

func testJoinTokens(t *testing.T, h *harness) {
	ctx := t.Context()
	now := time.Now().UTC()
	fresh := model.JoinToken{Host: "web1", Hash: strings.Repeat("d", 64), CreatedBy: "admin", ExpiresAt: now.Add(10 * time.Minute)}
	stale := model.JoinToken{Host: "web2", Hash: strings.Repeat("e", 64), CreatedBy: "admin", ExpiresAt: now.Add(-time.Minute)}
	update(t, h.s, func(tx store.Tx) error {
		if err := tx.CreateJoinToken(ctx, &fresh); err != nil {
			return err
		}
		return tx.CreateJoinToken(ctx, &stale)
	})
	if fresh.ID == 0 || fresh.CreatedAt.IsZero() {
		t.Fatalf("CreateJoinToken did not set the id and time: %+v", fresh)
	}
	dup := model.JoinToken{Host: "web1", Hash: fresh.Hash, ExpiresAt: now}
	wantErr(t, h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateJoinToken(ctx, &dup) }), store.ErrConflict, "join token")

	// Two claims at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.s.Update(ctx, func(tx store.Tx) error {
				_, err := tx.UseJoinToken(ctx, fresh.Hash, time.Now())
				return err
			})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrSpent):
			t.Errorf("losing claim: %v, want ErrSpent", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d claims of one join token succeeded, want 1: %v", won, errs)
	}
	used := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.JoinToken, error) { return tx.ListJoinTokens(ctx) })
	if len(used) != 2 || used[0].UsedAt == nil || used[1].UsedAt != nil {
		t.Errorf("after one claim, tokens = %+v; want the first used, the second not", used)
	}

	var err error
	var got model.JoinToken
	err = h.s.Update(ctx, func(tx store.Tx) error {
		got, err = tx.UseJoinToken(ctx, stale.Hash, time.Now())
		return err
	})
	wantErr(t, err, store.ErrSpent, "web2")
	if got.Host != "web2" || got.UsedAt != nil {
		t.Errorf("expired token came back as %+v", got)
	}
	unknown := strings.Repeat("f", 64)
	err = h.s.Update(ctx, func(tx store.Tx) error { _, err := tx.UseJoinToken(ctx, unknown, time.Now()); return err })
	wantErr(t, err, store.ErrNotFound, "join token")
	if strings.Contains(err.Error(), unknown) {
		t.Errorf("error %q shows the hash", err)
	}

	// Revocation ends an unused token; a used, expired or unknown one is
	// refused, and the refused revocation changes nothing.
	spare := model.JoinToken{Host: "web1", Hash: strings.Repeat("a", 64), CreatedBy: "admin", ExpiresAt: now.Add(time.Hour)}
	update(t, h.s, func(tx store.Tx) error { return tx.CreateJoinToken(ctx, &spare) })
	at := time.Now().UTC()
	err = h.s.Update(ctx, func(tx store.Tx) error { got, err = tx.ExpireJoinToken(ctx, spare.ID, at); return err })
	if err != nil || got.ID != spare.ID || got.ExpiresAt.After(at) {
		t.Errorf("revoking an unused token = %+v, %v; want it expiring at %s", got, err, at)
	}
	err = h.s.Update(ctx, func(tx store.Tx) error { _, err := tx.UseJoinToken(ctx, spare.Hash, time.Now()); return err })
	wantErr(t, err, store.ErrSpent, "web1")
	for name, id := range map[string]int64{"used": fresh.ID, "expired": stale.ID, "revoked": spare.ID} {
		err = h.s.Update(ctx, func(tx store.Tx) error { _, err := tx.ExpireJoinToken(ctx, id, time.Now()); return err })
		if !errors.Is(err, store.ErrSpent) {
			t.Errorf("revoking the %s token: %v, want ErrSpent", name, err)
		}
	}
	err = h.s.Update(ctx, func(tx store.Tx) error { _, err := tx.ExpireJoinToken(ctx, 9999, time.Now()); return err })
	wantErr(t, err, store.ErrNotFound, "join token 9999")
	after := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.JoinToken, error) { return tx.ListJoinTokens(ctx) })
	if len(after) != 3 || after[0].ExpiresAt != used[0].ExpiresAt || after[1].ExpiresAt != used[1].ExpiresAt {
		t.Errorf("a refused revocation changed tokens: %+v, was %+v", after, used)
	}
}
