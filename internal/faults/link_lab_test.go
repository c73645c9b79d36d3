//go:build lab

package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
)

// The link between web1 and web2 breaks while both stay in touch with the
// control plane: a sync fails with an error naming both hosts and what to
// do, the agents are seen throughout, the old site serves on, and once the
// link is back running the sync again finishes it.
func TestLabLinkCutMidSync(t *testing.T) {
	e := newEnv(t)
	s := newSite(e, "lnk")
	ctx := context.Background()
	mv := start(e, s)
	mv.must(model.PhasePrepare)

	if err := e.Lab.CutLink(ctx, "web1", "web2"); err != nil {
		t.Fatal(err)
	}
	cut := true
	restore := func() {
		if cut {
			if err := e.Lab.RestoreLink(ctx, "web1", "web2"); err != nil {
				t.Error(err)
			}
			cut = false
		}
	}
	defer restore()
	cutAt := time.Now()
	mv.phase(model.PhaseSync)
	err := mv.wait(model.PhaseSync, 2*time.Minute)
	failedAfter := time.Since(cutAt)
	if err == nil {
		t.Fatalf("sync across a cut link succeeded: %s", describe(mv.get()))
	}
	t.Logf("sync across the cut link failed after %s: %v", failedAfter.Round(time.Second), err)
	for _, want := range []string{"on web1 failed", "web1 could not reach web2 (" + e.Addr("web2") + ") over ssh", "check the network between web1 and web2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the sync's error does not say %q: %v", want, err)
		}
	}
	// Both agents still reach the control plane: neither looks silent.
	if v := mv.get(); len(v.Unseen) != 0 {
		t.Errorf("with only the link cut the move says %+v", v.Unseen)
	}
	for _, h := range []string{"web1", "web2"} {
		host, herr := e.Admin.GetHost(ctx, h)
		if herr != nil || host.LastSeen == nil || time.Since(*host.LastSeen) > 30*time.Second {
			t.Errorf("%s's agent not seen during the cut: %v %v", h, host.LastSeen, herr)
		}
	}
	page, cerr := e.Curl("web1", e.Addr("web1"), "www."+s.domain, "/")
	if cerr != nil || !strings.Contains(page, "welcome") {
		t.Errorf("the site on web1 during the cut: %q %v", page, cerr)
	}

	restore()
	back := time.Now()
	mv.phase(model.PhaseSync)
	mv.must(model.PhaseSync)
	resumed := time.Since(back)
	mv.phase(model.PhaseAbort)
	mv.must(model.PhaseAbort)
	leftovers(e, s, "web2", mv.id)
	writeReport(t, fmt.Sprintf("| the link web1↔web2 cut (both still reach the control plane) before a sync | the sync fails with an error naming both hosts and what to do; both agents stay seen; once the link is back a re-run finishes it | %s: failed after %s: %s; then sync succeeded in %s |",
		passed(t), failedAfter.Round(time.Second), oneLine(err.Error()), resumed.Round(time.Second)))
}
