package move_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/move"
)

// A sync's bandwidth limit reaches the node's rsync; cutover's final sync,
// which runs while the site is frozen, is never capped.
func TestSyncBandwidthLimit(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		v := e.start("web2")
		e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
		if _, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseVerify, move.PhaseInput{BWLimit: 100}); err == nil {
			t.Fatal("verify took a bandwidth limit")
		}
		if _, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseSync, move.PhaseInput{BWLimit: 512}); err != nil {
			t.Fatal(err)
		}
		e.mustSucceed(e.waitPhase(v.ID), model.PhaseSync)
		e.mustSucceed(e.phase(v.ID, model.PhaseVerify, false), model.PhaseVerify)
		d := e.mustSucceed(e.phase(v.ID, model.PhaseCutover, true), model.PhaseCutover)
		// The forced cutover says which guard it went past and when
		// cleanup's guard really ends.
		if f := d.Cutover.Forced; !strings.Contains(f, "overrode the TTL wait (--skip-ttl-wait)") || !strings.Contains(f, "cleanup's guard ends no sooner than") || strings.Contains(f, "verify") {
			t.Errorf("forced cutover says %q", f)
		}
		// Tasks come by id: the sync's, then the freeze's final sync.
		var limits []int
		for _, tk := range e.tasks(v.ID) {
			if tk.Kind != model.TaskMoveSyncFiles && tk.Kind != model.TaskMoveFreeze {
				continue
			}
			var p model.MoveTaskPayload
			if err := json.Unmarshal(tk.Payload, &p); err != nil {
				t.Fatal(err)
			}
			limits = append(limits, p.BWLimit)
		}
		if !slices.Equal(limits, []int{512, 0}) {
			t.Fatalf("rsync limits of the sync and the final sync = %v, want [512 0]", limits)
		}
	})
}
