//go:build lab

package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/lab"
	"ferry/internal/model"
)

// fullEnv names the variable that runs every service fault, not only the
// default sample.
const fullEnv = "FERRY_FAULT_FULL"

// serviceFault is one server program of one host killed (SIGKILL) at a
// random point of one phase of a move.
type serviceFault struct {
	service string // lab.Service…
	host    string // web1 (the old host) or web2 (the new one)
	phase   model.MovePhase
}

func (f serviceFault) String() string {
	return fmt.Sprintf("%s on %s in %s", f.service, f.host, f.phase)
}

// serviceWords are the words an error must use to name a dead service.
var serviceWords = map[string][]string{
	lab.ServiceSSH:      {"sshd"},
	lab.ServiceMariaDB:  {"MariaDB"},
	lab.ServicePostgres: {"PostgreSQL"},
	lab.ServiceApache:   {"Apache", "HTTP"},
}

// serviceMatrix is every service fault: each service on the old and the
// new host, in sync, verify and cutover.
func serviceMatrix() []serviceFault {
	var all []serviceFault
	for _, p := range []model.MovePhase{model.PhaseSync, model.PhaseVerify, model.PhaseCutover} {
		for _, h := range []string{"web1", "web2"} {
			for _, s := range []string{lab.ServiceSSH, lab.ServiceMariaDB, lab.ServicePostgres, lab.ServiceApache} {
				all = append(all, serviceFault{s, h, p})
			}
		}
	}
	return all
}

// defaultServiceFaults are the cases a plain run takes: the smallest ones.
// FERRY_FAULT_FULL=1 runs the whole matrix.
var defaultServiceFaults = []serviceFault{
	{lab.ServiceSSH, "web1", model.PhaseSync},
	{lab.ServiceMariaDB, "web1", model.PhaseSync},
}

// serviceHold is how long a killed service stays down: past ssh's
// ConnectTimeout (20 s), so a phase that needs it has failed by then.
const serviceHold = 25 * time.Second

func TestLabServiceDies(t *testing.T) {
	e := newEnv(t)
	cases := defaultServiceFaults
	if fullRun() {
		cases = serviceMatrix()
	}
	for _, f := range cases {
		no := uint64(1000 + slices.Index(serviceMatrix(), f))
		t.Run(strings.ReplaceAll(f.String(), " ", "_"), func(t *testing.T) {
			e := e.With(t)
			s := newSite(e, fmt.Sprintf("svc%d", no))
			before := snapshot(e, s, "web1")
			ctx := context.Background()
			// A server killed in an earlier case refuses moves until its
			// node has measured it again (every 10 s in the lab).
			deadline := time.Now().Add(time.Minute)
			for {
				plan, err := e.Admin.PlanMove(ctx, s.domain, "web2")
				if err == nil && len(plan.Problems) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the move of %s is refused: %v %q", s.domain, err, plan.Problems)
				}
				time.Sleep(time.Second)
			}
			mv := start(e, s)
			mv.must(model.PhasePrepare)
			for _, p := range []model.MovePhase{model.PhaseSync, model.PhaseVerify} {
				if p == f.phase {
					break
				}
				mv.phase(p)
				mv.must(p)
			}
			var w *dnsWatch
			if f.phase == model.PhaseCutover {
				w = watchDNS(e, s)
			}
			writer := e.StartWriter("www." + s.domain)

			// The kill falls up to 2 s into the phase, at a point drawn
			// from the run's seed.
			mv.phase(f.phase)
			delay := time.Duration(rng(no).Float64() * float64(2*time.Second))
			time.Sleep(delay)
			state := describe(mv.get())
			if err := e.Lab.KillService(ctx, f.host, f.service); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			up := false
			defer func() {
				if !up {
					if err := e.Lab.StartService(ctx, f.host, f.service); err != nil {
						t.Error(err)
					}
				}
			}()
			var failed error
			for time.Since(killed) < serviceHold {
				if done, err := ended(mv.get(), f.phase); done {
					failed = err
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err := e.Lab.StartService(ctx, f.host, f.service); err != nil {
				t.Fatal(err)
			}
			up = true
			outcome := "went on"
			if failed != nil {
				outcome = "failed: " + failed.Error()
				t.Logf("%s: %v", f, failed)
				names := strings.Contains(failed.Error(), f.host)
				said := false
				for _, word := range serviceWords[f.service] {
					said = said || strings.Contains(failed.Error(), word)
				}
				if !names || !said {
					t.Errorf("%s: the error does not name %s and %s: %v", f, f.service, f.host, failed)
				}
				mv.phase(f.phase) // once the service is back, a re-run finishes it
			}
			mv.must(f.phase)

			// The move ends: a sync or verify one is aborted, a cutover
			// one cleaned up; neither loses a write the site acknowledged.
			end, host, other := model.PhaseAbort, "web1", "web2"
			if f.phase == model.PhaseCutover {
				end, host, other = model.PhaseCleanup, "web2", "web1"
			}
			mv.phase(end)
			mv.must(end)
			acked, _ := writer.Finish()
			lost := lostWrites(e, s, host, acked)
			if lost > 0 {
				t.Errorf("%s: %d of %d acknowledged writes are not on %s", f, lost, len(acked), host)
			}
			split := 0
			if w != nil {
				_, _, sp := w.finish()
				split = len(sp)
				if split > 0 {
					t.Errorf("%s: dns answered a half-switched site %d times: %v", f, split, sp)
				}
			}
			leftovers(e, s, other, mv.id)
			got := snapshot(e, s, host)
			want := before
			want.Items, want.DNS, want.Writes = got.Items, got.DNS, got.Writes
			for _, d := range want.diff(got) {
				t.Errorf("%s: end state: %s", f, d)
			}
			writeReport(t, fmt.Sprintf("| kill -9 %s | a clear error naming the service and host, or the phase goes on; once it is back a re-run succeeds; dns never half switched; no acknowledged write lost | %s: killed %s into the phase (%s), down %s; %s; then %s succeeded; %d writes acknowledged, %d lost; %d split dns answers |",
				f, passed(t), delay.Round(time.Millisecond), state, serviceHold, oneLine(outcome), f.phase, len(acked), lost, split))
		})
	}
}
