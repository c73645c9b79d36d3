package panel

import (
	"testing"

	"ferry/internal/model"
)

// The move's audit entries keep the names operators filter on
// (docs/move.md, ferry audit).
func TestMoveAuditNames(t *testing.T) {
	for got, want := range map[AuditAction]string{
		AuditMoveStart(model.PhasePrepare): "move.prepare.start",
		AuditMoveStart(model.PhaseSync):    "move.sync.start",
		AuditMoveFail(model.PhaseCutover):  "move.cutover.fail",
		AuditMoveEnd(model.PhaseVerify):    "move.verify",
		AuditCutoverDNS:                    "move.cutover.dns",
	} {
		if string(got) != want {
			t.Errorf("audit action %q, want %q", got, want)
		}
	}
}
