package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/wire"
)

// A silent host the move waits on is said at once, again every minute it
// stays so, and once more when the move no longer waits for it.
func TestFollowSaysHostUnseen(t *testing.T) {
	at := time.Date(2026, 5, 4, 18, 2, 11, 0, time.Local)
	running := wire.MoveView{Move: model.Move{ID: 7, Status: model.MoveRunning}}
	silent := running
	silent.Unseen = []wire.MoveHostUnseen{{Host: "web1", LastSeen: &at, Seconds: 151}}

	var out bytes.Buffer
	n := unseenNotes{}
	t0 := at.Add(151 * time.Second)
	steps := []struct {
		v    wire.MoveView
		at   time.Time
		want string
	}{
		{running, t0.Add(-time.Second), ""},
		{silent, t0, "18:04:42  waiting for web1: its agent has not been seen since 18:02:11 (2m31s); check `ferry node` on web1 (service ferry-node), the move resumes by itself when it is back\n"},
		{silent, t0.Add(30 * time.Second), ""},
		{silent, t0.Add(time.Minute), "18:05:42  waiting for web1"},
		{running, t0.Add(70 * time.Second), "18:05:52  web1: no longer waiting for its agent\n"},
		{running, t0.Add(80 * time.Second), ""},
	}
	for i, s := range steps {
		out.Reset()
		n.print(&out, s.v, s.at)
		if got := out.String(); (s.want == "") != (got == "") || !strings.HasPrefix(got, s.want) {
			t.Errorf("step %d: printed %q, want %q", i, got, s.want)
		}
	}
}

func TestStatusSaysHostUnseen(t *testing.T) {
	at := time.Date(2026, 5, 4, 18, 2, 11, 0, time.Local)
	v := wire.MoveView{Move: model.Move{ID: 7, From: "web1", To: "web2", Phase: model.PhaseSync, Status: model.MoveRunning, Data: []byte(`{"waiting":"waiting for move-sync-files on web1 (leased)"}`)},
		Identifier: "kilo.example", Unseen: []wire.MoveHostUnseen{{Host: "web1", LastSeen: &at, Seconds: 151}}}
	var out bytes.Buffer
	if err := printStatus(&out, v); err != nil {
		t.Fatal(err)
	}
	want := "  waiting for move-sync-files on web1 (leased)\n  waiting for web1: its agent has not been seen since 18:02:11 (2m31s); check `ferry node` on web1 (service ferry-node), the move resumes by itself when it is back\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("status:\n%s\nwant it to hold:\n%s", out.String(), want)
	}
	d, _ := v.Info()
	if got, want := waitingCell(v, d), "web1's agent not seen for 2m31s; waiting for move-sync-files on web1 (leased)"; got != want {
		t.Errorf("list cell %q, want %q", got, want)
	}
}
