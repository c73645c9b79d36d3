package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/store"
)

// A write the SQLite file has no room for fails as ErrFull, naming the
// file; it leaves nothing behind, the store stays whole and readable, and
// writes succeed again once there is room.
func TestSQLiteFullIsErrFull(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	add := func(name string) error {
		return s.Update(ctx, func(tx store.Tx) error {
			return tx.CreateMember(ctx, &model.Member{Name: name, FriendlyName: strings.Repeat("x", 3000)})
		})
	}
	if err := add("before"); err != nil {
		t.Fatal(err)
	}
	pages, err := store.LimitSQLitePages(ctx, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.LimitSQLitePages(ctx, s, pages); err != nil {
		t.Fatal(err)
	}
	var full error
	refused := ""
	for i := 0; i < 50 && full == nil; i++ {
		refused = fmt.Sprintf("m%d", i)
		full = add(refused)
	}
	if !errors.Is(full, store.ErrFull) || !strings.Contains(full.Error(), path) {
		t.Fatalf("a write into a full store: %v, want %v naming %s", full, store.ErrFull, path)
	}
	var names []string
	if err := s.View(ctx, func(tx store.Tx) error {
		ms, err := tx.ListMembers(ctx)
		for _, m := range ms {
			names = append(names, m.Name)
		}
		return err
	}); err != nil {
		t.Fatalf("reading a full store: %v", err)
	}
	if ok, err := store.IntegrityCheck(ctx, s); err != nil || ok != "ok" {
		t.Errorf("integrity check of the full store: %q %v", ok, err)
	}
	if _, err := store.LimitSQLitePages(ctx, s, 0); err != nil {
		t.Fatal(err)
	}
	if err := add("after"); err != nil {
		t.Fatalf("a write once there is room: %v", err)
	}
	if names[0] != "before" || slices.Contains(names, refused) {
		t.Errorf("members in the full store: %v (%s refused)", names, refused)
	}
}
