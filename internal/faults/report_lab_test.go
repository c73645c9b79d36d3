//go:build lab

package faults

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeCrashReport sums the crashes up by victim and part: how many fell
// inside, the longest recovery, and the states the move was in.
func writeCrashReport(t testing.TB, records []crashRecord, seed uint64) {
	type key struct{ victim, at string }
	type agg struct {
		n, inside int
		worst     time.Duration
		saw       map[string]bool
	}
	sums := map[key]*agg{}
	var order []key
	for _, v := range victims {
		for _, at := range []string{atPrepare, atFiles, atDatabase, atVerify, atCutover, atCleanup, atAbort} {
			order = append(order, key{v, at})
		}
	}
	for _, r := range records {
		k := key{r.victim, r.at}
		a := sums[k]
		if a == nil {
			a = &agg{saw: map[string]bool{}}
			sums[k] = a
		}
		a.n++
		if r.inside {
			a.inside++
			a.saw[r.state] = true
		}
		a.worst = max(a.worst, r.recovered)
	}
	lines := []string{fmt.Sprintf("<!-- crash points: seed %d -->", seed)}
	for _, k := range order {
		a := sums[k]
		if a == nil {
			continue
		}
		var saw []string
		for s := range a.saw {
			saw = append(saw, s)
		}
		slices.Sort(saw)
		line := fmt.Sprintf("| kill -9 %s in %s | the phase goes on after the restart; the move ends as an undisturbed one does | %s: %d of %d random points inside the %s; the phase ended at most %s after the kill; caught the move at: %s |",
			k.victim, k.at, passed(t), a.inside, a.n, k.at, a.worst.Round(100*time.Millisecond), strings.Join(saw, "; "))
		t.Log(line)
		lines = append(lines, line)
	}
	writeReport(t, lines...)
}
