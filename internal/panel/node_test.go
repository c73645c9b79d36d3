package panel

import (
	"slices"
	"testing"

	"ferry/internal/model"
)

func TestDeletionsComeAfterInsertsAndInReverseKindOrder(t *testing.T) {
	steps := applyOrder()
	pos := func(k model.Kind, del bool) int {
		return slices.Index(steps, applyStep{kind: k, delete: del})
	}
	for _, c := range []struct {
		before, after model.Kind
		del           bool
	}{
		{model.KindUserAccount, model.KindWebConf, false},
		{model.KindMySQLDB, model.KindMySQLUser, false},
		{model.KindWebConf, model.KindUserAccount, true},
		{model.KindScheduledJob, model.KindUserAccount, true},
		{model.KindMySQLUser, model.KindMySQLDB, true},
	} {
		if pos(c.before, c.del) > pos(c.after, c.del) {
			t.Errorf("delete=%v: %s comes after %s", c.del, c.before, c.after)
		}
	}
	if pos(model.KindDNS, false) > pos(model.KindUserAccount, true) {
		t.Error("a deletion comes before an insert")
	}
}
