//go:build lab

package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"ferry/internal/lab"
	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/wire"
)

// unseenWithin bounds how long after an agent stops the move says so: the
// engine's threshold, counted from the agent's last heartbeat (15 s
// apart), and a few polls.
const unseenWithin = move.UnseenAfter + 15*time.Second

// The old host's agent stops in the middle of a sync: the move's view and
// `move status` say within a bounded time that the sync waits for web1,
// whose agent has not been seen since when, and what to do; once the
// agent is back the sync goes on by itself and finishes.
func TestLabAgentSilentMidSync(t *testing.T) {
	e := newEnv(t)
	s := newSite(e, "quiet")
	mv := start(e, s)
	mv.must(model.PhasePrepare)
	ctx := context.Background()
	// A slow sync (256 KiB/s for the site's 2 MB) is surely running when the
	// agent stops.
	if _, err := e.Admin.MovePhase(ctx, mv.id, model.PhaseSync, wire.MovePhaseInput{BWLimit: 256}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for taskState(mv.get(), "sync-files") != model.TaskLeased {
		if time.Now().After(deadline) {
			t.Fatalf("the sync's file task never ran: %s", describe(mv.get()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := e.Lab.StopService(ctx, "web1", lab.ServiceAgent); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	restarted := false
	defer func() {
		if !restarted {
			if err := e.Lab.StartService(ctx, "web1", lab.ServiceAgent); err != nil {
				t.Error(err)
			}
		}
	}()

	var said wire.MoveHostUnseen
	for {
		v := mv.get()
		if len(v.Unseen) > 0 {
			said = v.Unseen[0]
			if len(v.Unseen) != 1 || said.Host != "web1" {
				t.Errorf("unseen hosts %+v, want web1 alone", v.Unseen)
			}
			break
		}
		if done, err := ended(v, model.PhaseSync); done {
			t.Fatalf("the sync ended with web1's agent stopped: %v (%s)", err, describe(v))
		}
		if time.Since(stopped) > unseenWithin+15*time.Second {
			t.Fatalf("%s after web1's agent stopped the move still does not say so: %s", time.Since(stopped).Round(time.Second), describe(v))
		}
		time.Sleep(500 * time.Millisecond)
	}
	after := time.Since(stopped)
	t.Logf("the move said web1 was unseen %s after its agent stopped: %s", after.Round(100*time.Millisecond), said)
	if after > unseenWithin {
		t.Errorf("the move said web1 was unseen only %s after its agent stopped, want within %s", after.Round(time.Second), unseenWithin)
	}
	status := e.Ferry("", "move", "status", s.domain)
	line := ""
	for _, l := range strings.Split(status, "\n") {
		if strings.Contains(l, "waiting for web1: its agent has not been seen since") {
			line = strings.TrimSpace(l)
		}
	}
	if line == "" || !strings.Contains(line, "service ferry-node") || !strings.Contains(line, "resumes by itself") {
		t.Errorf("move status does not say web1's agent is gone and what to do:\n%s", status)
	}

	if err := e.Lab.StartService(ctx, "web1", lab.ServiceAgent); err != nil {
		t.Fatal(err)
	}
	restarted = true
	back := time.Now()
	mv.must(model.PhaseSync)
	resumed := time.Since(back)
	if v := mv.get(); len(v.Unseen) != 0 {
		t.Errorf("after the sync the view still says %+v", v.Unseen)
	}
	mv.phase(model.PhaseAbort)
	mv.must(model.PhaseAbort)
	leftovers(e, s, "web2", mv.id)
	writeReport(t, fmt.Sprintf("| web1's agent stopped mid-sync (sync-files running) | the move's status says within %s that it waits for web1, not seen since when, and what to do; the sync goes on by itself once the agent is back | %s: said after %s: %q; the sync finished %s after the agent started again |",
		unseenWithin, passed(t), after.Round(time.Second), oneLine(line), resumed.Round(time.Second)))
}
