package move_test

import (
	"encoding/json"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/store"
)

// A freeze that fails on the old host fails the cutover before the DNS
// switch; running the cutover again sends the freeze task again (the node
// finishes it), and an abort instead puts the site's own vhost back.
func TestFreezeFailsThenResumesOrAborts(t *testing.T) {
	drivers(t, func(t *testing.T, e *env) {
		for _, then := range []model.MovePhase{model.PhaseAbort, model.PhaseCutover} {
			v := e.start("web2")
			e.mustSucceed(e.waitPhase(v.ID), model.PhasePrepare)
			e.mustSucceed(e.phase(v.ID, model.PhaseSync, false), model.PhaseSync)
			e.mustSucceed(e.phase(v.ID, model.PhaseVerify, false), model.PhaseVerify)
			e.nodes["web1"].FailTasks(model.TaskMoveFreeze, "move 1: rsync to 127.0.1.2: exit status 11; rsync: error in file I/O")
			got := e.phase(v.ID, model.PhaseCutover, true)
			if got.Status != model.MoveFailed || !strings.Contains(got.Error, "move-freeze on web1 failed: move 1: rsync to 127.0.1.2") {
				t.Fatalf("cutover with a failing freeze ended %s: %q", got.Status, got.Error)
			}
			d, err := got.Info()
			if err != nil {
				t.Fatal(err)
			}
			if d.Cutover != nil && d.Cutover.SwitchedAt != nil {
				t.Fatalf("the dns switched after a failed freeze: %+v", d.Cutover)
			}
			for _, it := range e.items(store.ItemFilter{OrderID: e.order.ID, Kind: model.KindDNS}) {
				if it.Spec.Type == "A" && it.Spec.Value != "127.0.1.1" {
					t.Errorf("a failed freeze switched %s to %s", it.Spec.FQDN, it.Spec.Value)
				}
			}
			e.nodes["web1"].FailTasks(model.TaskMoveFreeze, "")
			count := func(kind, mode string) int {
				n := 0
				for _, tk := range e.tasks(v.ID) {
					var p model.MoveTaskPayload
					json.Unmarshal(tk.Payload, &p)
					if tk.Kind == kind && (mode == "" || p.Mode == mode) {
						n++
					}
				}
				return n
			}
			switch then {
			case model.PhaseCutover:
				d := e.mustSucceed(e.phase(v.ID, model.PhaseCutover, true), model.PhaseCutover)
				if n := count(model.TaskMoveFreeze, ""); n != 2 {
					t.Errorf("%d freeze tasks after a resumed cutover, want 2 (the failed one and its run again)", n)
				}
				if d.Cutover.SwitchedAt == nil || d.Cutover.FreezeSeconds != 0.25 {
					t.Errorf("resumed cutover: %+v", d.Cutover)
				}
				if v := e.phase(v.ID, model.PhaseCleanup, true); v.Phase != model.PhaseDone {
					t.Fatalf("cleanup ended %s %s: %s", v.Phase, v.Status, v.Error)
				}
			case model.PhaseAbort:
				if _, err := e.eng.RunPhase(e.ctx, admin, v.ID, model.PhaseAbort, move.PhaseInput{}); err != nil {
					t.Fatal(err)
				}
				if v := e.waitPhase(v.ID); v.Phase != model.PhaseAborted {
					t.Fatalf("abort after a failed freeze ended %s %s: %s", v.Phase, v.Status, v.Error)
				}
				if n := count(model.TaskMoveSiteMode, "normal"); n != 1 {
					t.Errorf("%d tasks putting the site's own vhost back after the failed freeze, want 1", n)
				}
			}
		}
	})
}
