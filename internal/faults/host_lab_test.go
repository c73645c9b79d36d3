//go:build lab

package faults

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/labtest"
	"ferry/internal/model"
)

// hostFault is one whole host killed (its PID namespace: every process on
// it) at a random point of one phase of a move, and booted again from its
// disk.
type hostFault struct {
	host  string // web1 (the old host) or web2 (the new one)
	phase model.MovePhase
}

func (f hostFault) String() string { return fmt.Sprintf("%s dies in %s", f.host, f.phase) }

// hostMatrix is every host fault: each host in sync and in cutover.
var hostMatrix = []hostFault{
	{"web1", model.PhaseSync}, {"web2", model.PhaseCutover},
	{"web2", model.PhaseSync}, {"web1", model.PhaseCutover},
}

// defaultHostFaults are the cases a plain run takes; FERRY_FAULT_FULL=1
// runs the whole matrix.
var defaultHostFaults = hostMatrix[:2]

// hostDown is how long a killed host stays down before it boots again.
const hostDown = 3 * time.Second

// fullRun reports whether the whole fault matrix was asked for.
func fullRun() bool {
	full, _ := strconv.ParseBool(os.Getenv(fullEnv))
	return full
}

// lostWrites counts the acknowledged writes that are not in the site's
// writes table on host.
func lostWrites(e *labtest.Env, s site, host string, acked []int) int {
	e.T.Helper()
	if len(acked) == 0 {
		return 0
	}
	rows := e.MustOn(host, "mariadb", "-N", s.db, "-e", "SELECT n FROM writes")
	have := map[string]bool{}
	for _, r := range strings.Fields(rows) {
		have[r] = true
	}
	lost := 0
	for _, n := range acked {
		if !have[strconv.Itoa(n)] {
			lost++
		}
	}
	return lost
}

// A host dies whole in the middle of a phase and boots again from its
// disk: the phase goes on by itself or fails and succeeds when run again,
// and the move ends as an undisturbed one does, with no acknowledged write
// lost and dns never half switched.
func TestLabHostDies(t *testing.T) {
	e := newEnv(t)
	cases := defaultHostFaults
	if fullRun() {
		cases = hostMatrix
	}
	for _, f := range cases {
		no := uint64(2000 + slices.Index(hostMatrix, f))
		t.Run(strings.ReplaceAll(f.String(), " ", "_"), func(t *testing.T) {
			e := e.With(t)
			ctx := context.Background()
			s := newSite(e, fmt.Sprintf("hd%d", no))
			before := snapshot(e, s, "web1")
			mv := start(e, s)
			mv.must(model.PhasePrepare)
			if f.phase == model.PhaseCutover {
				mv.phase(model.PhaseSync)
				mv.must(model.PhaseSync)
				mv.phase(model.PhaseVerify)
				mv.must(model.PhaseVerify)
			}
			w := watchDNS(e, s)
			writer := e.StartWriter("www." + s.domain)

			// The kill falls up to 3 s into the phase, at a point drawn
			// from the run's seed.
			mv.phase(f.phase)
			delay := time.Duration(rng(no).Float64() * float64(3*time.Second))
			time.Sleep(delay)
			state := describe(mv.get())
			if err := e.Lab.KillHost(ctx, f.host); err != nil {
				t.Fatal(err)
			}
			down := true
			defer func() {
				if down {
					if err := e.Lab.RestartHost(ctx, f.host); err != nil {
						t.Error(err)
					}
				}
			}()
			time.Sleep(hostDown)
			booted := time.Now()
			if err := e.Lab.RestartHost(ctx, f.host); err != nil {
				t.Fatal(err)
			}
			down = false
			bootTook := time.Since(booted)
			outcome := "went on"
			if err := mv.wait(f.phase, 3*time.Minute); err != nil {
				outcome = "failed: " + err.Error()
				t.Logf("%s: %v", f, err)
				mv.phase(f.phase)
			}
			mv.must(f.phase)
			ended := time.Since(booted)
			for _, p := range []model.MovePhase{model.PhaseSync, model.PhaseVerify, model.PhaseCutover, model.PhaseCleanup} {
				if p == f.phase || f.phase == model.PhaseCutover && p != model.PhaseCleanup {
					continue
				}
				mv.phase(p)
				mv.must(p)
			}
			acked, _ := writer.Finish()
			lost := lostWrites(e, s, "web2", acked)
			if lost > 0 {
				t.Errorf("%s: %d of %d acknowledged writes are not on web2", f, lost, len(acked))
			}
			looks, _, split := w.finish()
			if len(split) > 0 {
				t.Errorf("%s: dns answered a half-switched site %d times: %v", f, len(split), split)
			}
			leftovers(e, s, "web1", mv.id)
			got := snapshot(e, s, "web2")
			want := before
			want.Items, want.DNS, want.Writes = got.Items, got.DNS, got.Writes
			for _, d := range want.diff(got) {
				t.Errorf("%s: end state: %s", f, d)
			}
			if !strings.Contains(got.DNS, "WEB2") || strings.Contains(got.DNS, "WEB1") {
				t.Errorf("%s: after the move dns answers %s", f, got.DNS)
			}
			for _, l := range strings.Split(got.Items, "\n") {
				if !strings.Contains(l, " active ") || !strings.HasPrefix(l, "dns ") && !strings.Contains(l, " web2 ") {
					t.Errorf("%s: after the move: item %s", f, l)
				}
			}
			writeReport(t, fmt.Sprintf("| %s | the phase goes on once the host is back, or fails and succeeds when run again; the move ends as an undisturbed one does; no acknowledged write lost; dns never half switched | %s: killed %s into the phase (%s), down %s, booted in %s; %s; the phase ended %s after the boot; %d writes acknowledged, %d lost; %d dns looks, %d split |",
				f, passed(t), delay.Round(time.Millisecond), state, hostDown, bootTook.Round(100*time.Millisecond), oneLine(outcome), ended.Round(100*time.Millisecond), len(acked), lost, looks, len(split)))
		})
	}
	if fullRun() {
		t.Run("new_host_lost_for_good", newHostLost)
	}
}
