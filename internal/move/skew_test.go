package move_test

import (
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// Nodes whose clocks are half an hour off, ahead and behind, and say so
// in every heartbeat, change nothing: the control plane records when it
// heard them by its own clock, a lagging node does not look silent, and
// the TTL guards of cutover and cleanup end when the control plane's
// clock says, neither sooner nor later.
func TestNodeClockSkew(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		skews := map[string]time.Duration{"web1": -30 * time.Minute, "web2": 30 * time.Minute, "dns1": 30 * time.Minute}
		for h, d := range skews {
			e.nodes[h].SetClock(func() time.Time { return e.clock.Now().Add(d) })
		}
		time.Sleep(300 * time.Millisecond) // a heartbeat of each
		for h := range skews {
			got, err := e.p.GetHost(e.ctx, admin, h)
			if err != nil {
				t.Fatal(err)
			}
			if got.LastSeen == nil || got.LastSeen.Sub(e.clock.Now()).Abs() > 5*time.Second {
				t.Fatalf("%s last seen at %v, want the control plane's time %v", h, got.LastSeen, e.clock.Now())
			}
		}

		v, release := e.syncHeld()
		d, _ := e.get(v.ID).Info()
		if d.PreparedAt.Sub(e.clock.Now()).Abs() > 5*time.Second {
			t.Errorf("prepared at %v, want about %v", d.PreparedAt, e.clock.Now())
		}
		if u := e.get(v.ID).Unseen; len(u) != 0 {
			t.Errorf("web1's clock is behind, yet the view says it is unseen: %+v", u)
		}
		release()
		e.mustSucceed(e.waitPhase(v.ID), model.PhaseSync)
		e.mustSucceed(e.phase(v.ID, model.PhaseVerify, false), model.PhaseVerify)

		cutover := func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCutover, move.PhaseInput{})
			return err
		}
		e.refused(cutover, panel.ErrRefused, "the old TTL (7200 s) runs out only at")
		// Past the old TTL by the nodes' fast clocks, not by the control
		// plane's: still refused.
		e.clock.Advance(time.Hour + 45*time.Minute)
		e.refused(cutover, panel.ErrRefused, "the old TTL (7200 s) runs out only at")
		e.clock.Advance(16 * time.Minute)
		cd := e.mustSucceed(e.phase(v.ID, model.PhaseCutover, false), model.PhaseCutover)
		if at := cd.Cutover.DNSAppliedAt; at == nil || at.Sub(e.clock.Now()).Abs() > 10*time.Second {
			t.Fatalf("dns applied at %v: not the control plane's time", at)
		}

		cleanup := func() error {
			_, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseCleanup, move.PhaseInput{})
			return err
		}
		e.refused(cleanup, panel.ErrRefused, "runs out twice since the dns switch")
		e.advance(11 * time.Minute)
		if got := e.phase(v.ID, model.PhaseCleanup, false); got.Phase != model.PhaseDone {
			t.Fatalf("cleanup ended %s %s: %s", got.Phase, got.Status, got.Error)
		}
		for _, it := range byHost(e.items(store.ItemFilter{OrderID: e.order.ID}), "dns1") {
			if it.State != model.StateActive {
				t.Errorf("%s %s is %s", it.Spec.FQDN, it.Spec.Type, it.State)
			}
		}
	})
}
