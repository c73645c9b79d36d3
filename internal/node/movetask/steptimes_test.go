package movetask

import (
	"context"
	"testing"
	"time"
)

func TestStepTimesAddUpUnderTheFreezeOnly(t *testing.T) {
	st := &stepTimes{}
	ctx := withStepTimes(context.Background(), st)
	start := time.Now().Add(-300 * time.Millisecond)
	stepSince(ctx, "db.sums", start)
	stepSince(ctx, "db.sums", start) // a second database
	stepSince(context.Background(), "db.sums", start)
	steps := map[string]float64{"files": 1}
	st.into(steps)
	if got := steps["db.sums"]; got < 0.6 || got > 5 {
		t.Errorf("db.sums = %v s, want the two databases' 0.3 s and more added up", got)
	}
	if steps["files"] != 1 || len(steps) != 2 {
		t.Errorf("steps = %v, want files kept and db.sums added", steps)
	}
}
