package movetask

import (
	"context"
	"sync"
	"time"
)

// stepTimes collects the seconds of a freeze's finer steps ("db.stamps",
// "files.rsync", …) from the file and database syncs that run side by
// side inside it; the freeze's result carries them beside its main steps,
// so that a slow freeze says where its time went. Steps of the same name
// add up (one per database, say).
type stepTimes struct {
	mu sync.Mutex
	s  map[string]float64
}

type stepTimesKey struct{}

// withStepTimes returns ctx carrying st: the syncs run under it record
// their finer steps there.
func withStepTimes(ctx context.Context, st *stepTimes) context.Context {
	return context.WithValue(ctx, stepTimesKey{}, st)
}

// stepSince records, in the step times ctx carries (if any), the time
// since start under name.
func stepSince(ctx context.Context, name string, start time.Time) {
	st, _ := ctx.Value(stepTimesKey{}).(*stepTimes)
	if st == nil {
		return
	}
	d := time.Since(start)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.s == nil {
		st.s = map[string]float64{}
	}
	st.s[name] += d.Seconds()
}

// into adds the steps recorded, rounded, to steps.
func (st *stepTimes) into(steps map[string]float64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, v := range st.s {
		steps[k] = roundSeconds(time.Duration(v * float64(time.Second)))
	}
}
