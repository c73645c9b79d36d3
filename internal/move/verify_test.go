package move

import (
	"testing"

	"ferry/internal/model"
)

func TestTableWrittenSinceSyncIsNoVerifyProblem(t *testing.T) {
	sum := func(rows int64, c string) *model.TableSum {
		return &model.TableSum{DB: "d", Table: "t", Rows: rows, Checksum: c}
	}
	synced := []model.TableSum{{DB: "d", Table: "t", Rows: 4, Checksum: "before-dump", NewRows: 5, NewChecksum: "at-sync"}}
	cases := []struct {
		name string
		tc   TableCheck
		want bool
	}{
		{"old wrote since, new as at sync", TableCheck{DB: "d", Table: "t", Old: sum(6, "later"), New: sum(5, "at-sync")}, true},
		{"new differs from sync", TableCheck{DB: "d", Table: "t", Old: sum(6, "later"), New: sum(5, "corrupt")}, false},
		{"missing on new", TableCheck{DB: "d", Table: "t", Old: sum(6, "later")}, false},
		{"never synced", TableCheck{DB: "d", Table: "u", Old: sum(1, "a"), New: sum(1, "b")}, false},
	}
	for _, c := range cases {
		if got := changedSinceSync(c.tc, synced); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
