package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/wire"
)

// The move page says which host the phase waits on has gone silent, since
// when and what to do, before the phase's own words.
func TestMovePageSaysHostUnseen(t *testing.T) {
	f := newFixture(t)
	fm := &fakeMover{}
	f.useMover(fm)
	mv := model.Move{ID: 3, OrderID: f.orders["alice.example"].ID, From: "web1", To: "web2", Phase: model.PhaseSync, Status: model.MoveRunning}
	fm.set(t, mv, move.Data{MoveInfo: wire.MoveInfo{Identifier: "alice.example", Waiting: "waiting for move-sync-files on web1 (leased)"}})
	at := time.Date(2026, 5, 4, 18, 2, 11, 0, time.Local)
	fm.mu.Lock()
	fm.view.Unseen = []move.HostUnseen{{Host: "web1", LastSeen: &at, Seconds: 151}}
	fm.mu.Unlock()

	b := f.browser()
	b.login(f.admin)
	page := b.get("/moves/3")
	if page.status != http.StatusOK {
		t.Fatalf("move page: %d", page.status)
	}
	for _, want := range []string{"waiting for web1: its agent has not been seen since 18:02:11 (2m31s)", "(service ferry-node), the move resumes by itself when it is back; waiting for move-sync-files on web1 (leased)"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("move page lacks %q:\n%s", want, page.body)
		}
	}
}
