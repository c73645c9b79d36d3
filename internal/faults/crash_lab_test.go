//go:build lab

package faults

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/labtest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// pointsPerPhase is how many random crash points each phase gets for each
// process that is killed.
const pointsPerPhase = 3

// The processes a crash kills.
const (
	victimControl = "control plane"
	victimOld     = "old node agent"
	victimNew     = "new node agent"
)

var victims = []string{victimControl, victimOld, victimNew}

// Where in a move a crash falls: the phases, with a sync's file and
// database parts apart.
const (
	atPrepare  = "prepare"
	atFiles    = "file sync"
	atDatabase = "database sync"
	atVerify   = "verify"
	atCutover  = "cutover"
	atCleanup  = "cleanup"
	atAbort    = "abort"
)

// crash kills one process of the lab with SIGKILL and starts it again, as
// an init system would after a crash.
func crash(ctx context.Context, e *labtest.Env, victim string) error {
	switch victim {
	case victimControl:
		if err := e.Lab.KillControlPlane(ctx); err != nil {
			return err
		}
		return e.Lab.StartControlPlane(ctx)
	case victimOld, victimNew:
		host := map[string]string{victimOld: "web1", victimNew: "web2"}[victim]
		if err := e.Lab.KillAgent(ctx, host); err != nil {
			return err
		}
		return e.Lab.StartService(ctx, host, "agent")
	}
	return fmt.Errorf("no victim %q", victim)
}

// windows are how long each part of an undisturbed move took, measured
// from the moment the crash would be timed from (the phase command, or
// the start of its task); a crash falls at a random point inside.
type windows map[string]time.Duration

// crashRecord is one crash as the report shows it.
type crashRecord struct {
	victim, at string
	after      time.Duration // after the part began
	state      string        // what the move was doing when the crash came
	inside     bool          // the part was still running
	hit        time.Time
	recovered  time.Duration // from the crash to the end of the phase
}

// crasher runs the parts of one move, crashing victim once in each part it
// is given a window for.
type crasher struct {
	e      *labtest.Env
	s      site
	mv     *moving
	victim string
	win    windows
	rnd    *rand.Rand
	// measure, when set, records the windows instead of crashing.
	measure bool
	records []crashRecord
}

// aim is the share of a part's usual length that crash points are drawn
// from: parts run longer or shorter from one move to the next, and a point
// past the end would fall between parts.
const aim = 0.7

// part times a crash inside one part: it waits for the part's anchor
// (began, polled), then a random share of the part's usual length, and
// kills the victim, noting whether the part was still running (inside);
// measuring, it records how long the part took until over says it is.
func (c *crasher) part(at string, began, over func() bool, inside func(wire.MoveView) bool) {
	c.e.T.Helper()
	t0 := time.Now()
	for !began() {
		if v := c.mv.get(); time.Since(t0) > 2*time.Minute || v.Status == model.MoveFailed {
			c.e.T.Fatalf("%s never began: %s", at, describe(v))
		}
		time.Sleep(20 * time.Millisecond)
	}
	anchor := time.Now()
	if c.measure {
		for !over() {
			if time.Since(anchor) > 3*time.Minute {
				c.e.T.Fatalf("%s never ended: %s", at, describe(c.mv.get()))
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.win[at] = time.Since(anchor)
		return
	}
	delay := time.Duration(c.rnd.Float64() * aim * float64(c.win[at]))
	time.Sleep(time.Until(anchor.Add(delay)))
	v := c.mv.get()
	state := describe(v)
	hit := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := crash(ctx, c.e, c.victim); err != nil {
		c.e.T.Fatalf("crash %s in %s: %v", c.victim, at, err)
	}
	c.records = append(c.records, crashRecord{victim: c.victim, at: at, after: delay, state: state, inside: inside(v), hit: hit})
}

// phase runs phase p of the move with a crash inside each of its parts,
// and waits until it succeeded.
func (c *crasher) phase(p model.MovePhase) {
	c.e.T.Helper()
	n := len(c.records)
	v := func() bool { return true }
	end := func() bool {
		done, err := ended(c.mv.get(), p)
		if err != nil {
			c.e.T.Fatalf("%v", err)
		}
		return done
	}
	state := func(task string, s ...model.TaskState) func() bool {
		return func() bool {
			st := taskState(c.mv.get(), task)
			for _, x := range s {
				if st == x {
					return true
				}
			}
			return false
		}
	}
	running := func(task string) func(wire.MoveView) bool {
		return func(v wire.MoveView) bool {
			return v.Phase == p && v.Status == model.MoveRunning && (task == "" || taskState(v, task) != model.TaskDone)
		}
	}
	switch p {
	case model.PhasePrepare:
		c.mv = start(c.e, c.s)
		c.part(atPrepare, v, end, running(""))
	case model.PhaseSync:
		c.mv.phase(p)
		c.part(atFiles, state("sync-files", model.TaskLeased, model.TaskDone), state("sync-files", model.TaskDone), running("sync-files"))
		c.part(atDatabase, state("sync-files", model.TaskDone), end, running("sync-db"))
	default:
		c.mv.phase(p)
		c.part(string(p), v, end, running(""))
	}
	c.mv.must(p)
	for i := n; i < len(c.records); i++ {
		c.records[i].recovered = time.Since(c.records[i].hit)
	}
}

// completeParts and abortParts are the phases of a move that is finished
// and of one that is aborted after a sync.
var (
	completeParts = []model.MovePhase{model.PhasePrepare, model.PhaseSync, model.PhaseVerify, model.PhaseCutover, model.PhaseCleanup}
	abortParts    = []model.MovePhase{model.PhasePrepare, model.PhaseSync, model.PhaseAbort}
)

// crashAt says which parts of a move get a crash: a finished move gets one
// in every part, an aborted one in its abort only (its other parts are
// the finished moves').
func crashAt(parts []model.MovePhase, p model.MovePhase) bool {
	return len(parts) == len(completeParts) || p == model.PhaseAbort
}

// runMove moves s through parts with c crashing inside them; it returns the
// end state, read on the host that serves the site afterwards.
func runMove(c *crasher, parts []model.MovePhase) endState {
	c.e.T.Helper()
	for _, p := range parts {
		if !c.measure && !crashAt(parts, p) {
			if p == model.PhasePrepare {
				c.mv = start(c.e, c.s)
			} else {
				c.mv.phase(p)
			}
			c.mv.must(p)
			continue
		}
		c.phase(p)
	}
	host, other := "web2", "web1"
	if parts[len(parts)-1] == model.PhaseAbort {
		host, other = "web1", "web2"
	}
	leftovers(c.e, c.s, other, c.mv.id)
	return snapshot(c.e, c.s, host)
}

// maxMoves bounds the moves per victim and kind of move made to get
// pointsPerPhase crashes inside every part.
const maxMoves = 6

func TestLabCrashAnywhere(t *testing.T) {
	e := newEnv(t)
	win := windows{}
	var wantMoved, wantAborted endState
	var report []crashRecord

	// The undisturbed moves give the end state every crashed move must
	// reach and the lengths of the parts crashes fall into.
	t.Run("undisturbed", func(t *testing.T) {
		e := e.With(t)
		for _, parts := range [][]model.MovePhase{completeParts, abortParts} {
			s := newSite(e, fmt.Sprintf("base%d", len(parts)))
			before := snapshot(e, s, "web1")
			c := &crasher{e: e, s: s, win: win, measure: true}
			got := runMove(c, parts)
			want := before
			if len(parts) == len(completeParts) {
				want.Items, want.DNS = got.Items, got.DNS
				wantMoved = got
				if !strings.Contains(got.DNS, "WEB2") || strings.Contains(got.DNS, "WEB1") {
					t.Errorf("after the move dns answers %s", got.DNS)
				}
			} else {
				wantAborted = got
			}
			for _, d := range want.diff(got) {
				t.Errorf("undisturbed %s: %s", parts[len(parts)-1], d)
			}
		}
		t.Logf("parts of an undisturbed move took %v", win)
	})
	if t.Failed() {
		t.FailNow()
	}

	// Each process is killed in moves of its own. The control plane's run
	// alone (the test drives the moves through it); the two agents' side by
	// side, so that a move of one also meets the other's crashes.
	var mu sync.Mutex
	chain := func(t *testing.T, vi int, victim string) {
		// A part that ends sooner than the undisturbed move's did (a
		// crash point fell past its end) gets its window cut to that
		// point for this victim's later moves, so that they still land
		// their crashes inside it.
		win := maps.Clone(win)
		for ki, parts := range [][]model.MovePhase{completeParts, abortParts} {
			kind := "finished"
			if ki == 1 {
				kind = "aborted"
			}
			inside := map[string]int{}
			enough := func() bool {
				for _, p := range parts {
					switch {
					case !crashAt(parts, p):
					case p == model.PhaseSync:
						if inside[atFiles] < pointsPerPhase || inside[atDatabase] < pointsPerPhase {
							return false
						}
					case inside[string(p)] < pointsPerPhase:
						return false
					}
				}
				return true
			}
			for i := 0; i < maxMoves && !enough(); i++ {
				no := uint64(100*vi + 10*ki + i)
				t.Run(fmt.Sprintf("%s/%d", kind, i), func(t *testing.T) {
					e := e.With(t)
					s := newSite(e, fmt.Sprintf("c%03d", no))
					before := snapshot(e, s, "web1")
					c := &crasher{e: e, s: s, victim: victim, win: win, rnd: rng(no)}
					got := runMove(c, parts)
					want := before
					if kind == "finished" {
						want.Items, want.DNS = wantMoved.Items, wantMoved.DNS
					} else if got.Items != wantAborted.Items {
						t.Errorf("items after the abort differ from an undisturbed abort's:\n%s\nwant\n%s", got.Items, wantAborted.Items)
					}
					for _, d := range want.diff(got) {
						t.Errorf("end state after crashes: %s", d)
					}
					for _, r := range c.records {
						where := "inside"
						if !r.inside {
							where = "past the end of"
						}
						t.Logf("%s killed %s into %s, %s it (%s): phase done %s later", r.victim, r.after.Round(time.Millisecond), r.at, where, r.state, r.recovered.Round(time.Millisecond))
						if r.inside {
							inside[r.at]++
						} else if r.after < win[r.at] {
							win[r.at] = r.after
						}
					}
					mu.Lock()
					report = append(report, c.records...)
					mu.Unlock()
				})
				if t.Failed() {
					t.FailNow()
				}
			}
			if !enough() {
				t.Errorf("%s moves: after %d, crashes inside each part: %v; want %d each", kind, maxMoves, inside, pointsPerPhase)
			}
		}
	}
	name := func(victim string) string { return strings.ReplaceAll(victim, " ", "-") }
	t.Run(name(victimControl), func(t *testing.T) { chain(t, 0, victimControl) })
	t.Run("agents", func(t *testing.T) {
		for vi, victim := range victims[1:] {
			t.Run(name(victim), func(t *testing.T) {
				t.Parallel()
				chain(t, vi+1, victim)
			})
		}
	})
	writeCrashReport(t, report, seed)
}
