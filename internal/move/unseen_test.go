package move_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
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

// An abort does not wait for a new host whose agent is gone: once it has
// been silent past UnseenAfter, the old host is put back and serves, the
// abort ends and says what the new host still holds; the new host's agent
// removes it when it is back.
func TestAbortGoesOnWithoutALostNewHost(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
		e.nodes["web2"].SetOffline(true)
		time.Sleep(150 * time.Millisecond)
		e.clock.Advance(move.UnseenAfter - 5*time.Second)
		if _, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseAbort, move.PhaseInput{}); err != nil {
			t.Fatal(err)
		}
		// Seen not long ago, web2 is waited for.
		e.eventually("the abort waiting for web2", func() bool {
			d, _ := e.get(v.ID).Info()
			return strings.Contains(d.Waiting, "waiting for web2 to remove")
		})
		time.Sleep(300 * time.Millisecond)
		if g := e.get(v.ID); g.Status != model.MoveRunning {
			t.Fatalf("the abort ended while web2 was seen %s ago: %s %s", move.UnseenAfter-5*time.Second, g.Phase, g.Error)
		}
		e.clock.Advance(10 * time.Second)
		v = e.waitPhase(v.ID)
		if v.Phase != model.PhaseAborted || v.Status != model.MoveSucceeded {
			t.Fatalf("abort ended %s %s: %s", v.Phase, v.Status, v.Error)
		}
		if o := e.getOrder(e.order.ID); o.Host != "web1" || o.State != model.OrderActive {
			t.Errorf("order: %s on %s", o.State, o.Host)
		}
		if !e.allActiveOn(e.order.ID, "web1") {
			t.Errorf("items on web1 after the abort:%v", e.items(store.ItemFilter{OrderID: e.order.ID, Host: "web1"}))
		}
		copies := e.items(store.ItemFilter{OrderID: e.order.ID, Host: "web2"})
		for _, it := range copies {
			if it.State != model.StatePendingDelete {
				t.Errorf("copy %d on web2 is %s, want pending-delete until web2 is back", it.ID, it.State)
			}
		}
		d, _ := v.Info()
		left := ""
		if d.Abort != nil {
			left = strings.Join(d.Abort.Left, "; ")
		}
		for _, want := range []string{"web2's agent was not seen for over 45s", "the abort went on without it", "removes the order directory /home/members/ada/sites/example.org", fmt.Sprintf("%d item(s) still pending-delete", len(copies)), "ferry item list --host web2"} {
			if !strings.Contains(left, want) {
				t.Errorf("the abort's report does not say %q: %q", want, left)
			}
		}
		for _, del := range d.Abort.Deleted {
			if strings.HasSuffix(del, " on web2") {
				t.Errorf("the abort says it removed %s", del)
			}
		}
		if ev := d.History[len(d.History)-1]; !strings.Contains(ev.Note, "went on without it") {
			t.Errorf("the abort's history entry: %+v", ev)
		}

		// web2 is back: its agent removes what the abort left there.
		e.nodes["web2"].SetOffline(false)
		e.eventually("web2's copies removed", func() bool {
			for _, it := range e.items(store.ItemFilter{OrderID: e.order.ID, Host: "web2"}) {
				if it.State != model.StateDeleted {
					return false
				}
			}
			for _, tk := range e.tasks(v.ID) {
				if tk.Host == "web2" && tk.State != model.TaskDone && tk.State != model.TaskFailed {
					return false
				}
			}
			return true
		})
	})
}

// A new host that goes silent after the dns switch is named with what
// state each side is in and what to run, and the cleanup, which would
// delete the old host's copy, is refused until it is back.
func TestNewHostSilentAfterTheSwitch(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
		e.mustSucceed(e.phase(v.ID, model.PhaseVerify, false), model.PhaseVerify)
		e.mustSucceed(e.phase(v.ID, model.PhaseCutover, true), model.PhaseCutover)
		if g := e.get(v.ID); len(g.Unseen) != 0 {
			t.Fatalf("both hosts seen, yet the view says %+v", g.Unseen)
		}
		e.nodes["web2"].SetOffline(true)
		time.Sleep(150 * time.Millisecond)
		e.clock.Advance(move.UnseenAfter + 10*time.Second)
		var g move.View
		e.eventually("web2 alone named", func() bool {
			g = e.get(v.ID)
			return len(g.Unseen) == 1 && g.Unseen[0].Host == "web2"
		})
		line := g.Unseen[0].String()
		for _, want := range []string{"web2's agent has not been seen since", "the site is switched to web2", "web1 proxies visitors to it, so the site is down until web2 is back",
			"web1 still holds the order as of the final sync", "Bring web2 back", "do not run `ferry move cleanup` before it is back"} {
			if !strings.Contains(line, want) {
				t.Errorf("the view does not say %q: %s", want, line)
			}
		}
		e.refused(func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCleanup, move.PhaseInput{SkipTTLWait: true})
			return err
		}, panel.ErrRefused, "cannot clean up while web2's agent is silent")
		if o := e.getOrder(v.LimboOrderID); o.State == model.OrderDeleted {
			t.Errorf("the refused cleanup removed the limbo order")
		}

		e.nodes["web2"].SetOffline(false)
		e.eventually("web2 seen again", func() bool { return len(e.get(v.ID).Unseen) == 0 })
		if got := e.phase(v.ID, model.PhaseCleanup, true); got.Phase != model.PhaseDone {
			t.Fatalf("cleanup ended %s %s: %s", got.Phase, got.Status, got.Error)
		}
	})
}
