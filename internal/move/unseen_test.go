package move_test

import (
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
)

// A host whose agent goes silent while the phase waits on it shows in the
// move's view, since when and what to do, and drops out once it is back.
func TestViewSaysHostUnseen(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v, release := e.syncHeld()
		if g := e.get(v.ID); len(g.Unseen) != 0 {
			t.Fatalf("web1 was just seen, yet the view says %+v", g.Unseen)
		}

		// web1's agent stops; the lease (2 min) outlives what follows.
		e.nodes["web1"].SetOffline(true)
		time.Sleep(150 * time.Millisecond)
		e.clock.Advance(move.UnseenAfter - 5*time.Second)
		if g := e.get(v.ID); len(g.Unseen) != 0 {
			t.Fatalf("web1 unseen for less than %s, yet the view says %+v", move.UnseenAfter, g.Unseen)
		}
		e.clock.Advance(50 * time.Second)
		g := e.get(v.ID)
		if len(g.Unseen) != 1 {
			t.Fatalf("unseen hosts %+v, want web1 alone", g.Unseen)
		}
		u := g.Unseen[0]
		if u.Host != "web1" || u.LastSeen == nil || u.Seconds < 90 || u.Seconds > 120 {
			t.Fatalf("unseen %+v, want web1 last seen 90 s ago", u)
		}
		line := u.String()
		for _, want := range []string{"waiting for web1: its agent has not been seen since " + u.LastSeen.Local().Format(time.TimeOnly), "(1m3", "check `ferry node` on web1 (service ferry-node)", "resumes by itself"} {
			if !strings.Contains(line, want) {
				t.Errorf("line %q does not say %q", line, want)
			}
		}
		vs, err := e.eng.List(e.ctx, admin, "example.org", true)
		if err != nil || len(vs) != 1 || len(vs[0].Unseen) != 1 {
			t.Fatalf("list: %v, %+v", err, vs)
		}

		// It comes back: the view says nothing more, the phase goes on.
		e.nodes["web1"].SetOffline(false)
		e.eventually("web1 seen again", func() bool { return len(e.get(v.ID).Unseen) == 0 })
		release()
		e.mustSucceed(e.waitPhase(v.ID), model.PhaseSync)
		if g := e.get(v.ID); len(g.Unseen) != 0 {
			t.Errorf("an ended phase waits on nobody, yet the view says %+v", g.Unseen)
		}
	})
}

// A host that never reported and holds an item the phase waits on shows
// as never seen.
func TestHostUnseenNeverSeen(t *testing.T) {
	u := move.HostUnseen{Host: "web3", Seconds: 300}
	if got, want := u.String(), "waiting for web3: its agent has never been seen; check `ferry node` on web3 (service ferry-node), the move resumes by itself when it is back"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	at := time.Date(2026, 5, 4, 18, 2, 11, 0, time.Local)
	u = move.HostUnseen{Host: "web1", LastSeen: &at, Seconds: 151}
	if got, want := u.String(), "waiting for web1: its agent has not been seen since 18:02:11 (2m31s); check `ferry node` on web1 (service ferry-node), the move resumes by itself when it is back"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func (e *env) get(id int64) move.View {
	e.t.Helper()
	v, err := e.eng.Get(e.ctx, admin, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}
