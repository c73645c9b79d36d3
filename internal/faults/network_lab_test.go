//go:build lab

package faults

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/labtest"
	"ferry/internal/model"
)

// maxCut is how long the sync's cut lasts at most: long enough for ssh to
// give up on a connection it could not make (ConnectTimeout 20 s); one
// made before the cut waits it out.
const maxCut = 22 * time.Second

// dnsWatch asks dns1 for every A record of a site over and over and counts
// the answers that name more than one address: a half-switched site.
type dnsWatch struct {
	e     *labtest.Env
	names []string
	mu    sync.Mutex
	seen  map[string]int // address set → observations
	split []string
	looks int
	stop  chan struct{}
	done  chan struct{}
}

func watchDNS(e *labtest.Env, s site) *dnsWatch {
	w := &dnsWatch{e: e, names: []string{s.domain, "www." + s.domain}, seen: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	server := net.JoinHostPort(e.Addr("dns1"), "53")
	c := &dns.Client{Timeout: time.Second}
	// lookA is the sorted A addresses of name, or false when dns1 gave
	// no answer.
	lookA := func(name string) (string, bool) {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := c.Exchange(m, server)
		if err != nil {
			return "", false
		}
		var set []string
		for _, rr := range r.Answer {
			if a, isA := rr.(*dns.A); isA {
				set = append(set, a.A.String())
			}
		}
		slices.Sort(set)
		return strings.Join(set, ","), true
	}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			// The names are asked one after the other, so the first is
			// asked again at the end: a look during which the zone
			// changed (one switch falling between two questions) says
			// nothing of a half switch and is not counted; in a look
			// whose first answer held, differing names were served
			// together.
			addrs := map[string]bool{}
			ok := true
			var first string
			for i, n := range w.names {
				got, answered := lookA(n)
				if !answered {
					ok = false
					break
				}
				if i == 0 {
					first = got
				}
				for _, a := range strings.Split(got, ",") {
					if a != "" {
						addrs[a] = true
					}
				}
			}
			if !ok {
				continue
			}
			if again, answered := lookA(w.names[0]); !answered || again != first {
				continue
			}
			var set []string
			for a := range addrs {
				set = append(set, a)
			}
			slices.Sort(set)
			key := strings.Join(set, ",")
			w.mu.Lock()
			w.looks++
			w.seen[key]++
			if len(set) != 1 {
				w.split = append(w.split, key)
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// finish stops the watch and returns what it saw.
func (w *dnsWatch) finish() (looks int, seen map[string]int, split []string) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.looks, w.seen, w.split
}

// cutDuring cuts web2 off once the phase's task began and holds the cut
// until the phase has failed or hold passed; it restores web2 and returns
// the phase's error, if it failed.
func cutDuring(t *testing.T, e *labtest.Env, mv *moving, p model.MovePhase, began func() bool, hold time.Duration) (failed error, held time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for !began() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never began: %s", p, describe(mv.get()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.Lab.CutOff(ctx, "web2"); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	defer func() {
		if err := e.Lab.Restore(ctx, "web2"); err != nil {
			t.Error(err)
		}
	}()
	for time.Since(cut) < hold {
		if done, err := ended(mv.get(), p); done {
			return err, time.Since(cut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, time.Since(cut)
}

func TestLabNetworkCutMidSyncAndMidCutover(t *testing.T) {
	e := newEnv(t)
	s := newSite(e, "net")
	before := snapshot(e, s, "web1")
	w := watchDNS(e, s)
	mv := start(e, s)
	mv.must(model.PhasePrepare)

	leased := func(name string) func() bool {
		return func() bool { st := taskState(mv.get(), name); return st == model.TaskLeased || st == model.TaskDone }
	}
	// The sync's cut lasts until the sync gives up; the cutover's is short
	// and the cutover goes on once web2 is back (or fails, if ssh gave up).
	for _, c := range []struct {
		p    model.MovePhase
		task string
		hold time.Duration
	}{{model.PhaseSync, "sync-files", maxCut}, {model.PhaseCutover, "freeze", 5 * time.Second}} {
		if c.p == model.PhaseCutover {
			mv.phase(model.PhaseVerify)
			mv.must(model.PhaseVerify)
		}
		mv.phase(c.p)
		failed, held := cutDuring(t, e, mv, c.p, leased(c.task), c.hold)
		outcome := "went on once web2 was back"
		if failed != nil {
			outcome = "failed: " + failed.Error()
			t.Logf("%s with web2 cut off failed after %s: %v", c.p, held.Round(time.Second), failed)
			if !strings.Contains(failed.Error(), "move-sync-files on web1 failed") && !strings.Contains(failed.Error(), "move-freeze on web1 failed") {
				t.Errorf("%s failed without saying what: %v", c.p, failed)
			}
			if v := mv.get(); c.p == model.PhaseCutover && strings.Contains(string(v.Data), `"switched_at"`) {
				t.Errorf("cutover failed after the dns switch")
			}
			mv.phase(c.p) // a re-run finishes it
		}
		mv.must(c.p)
		writeReport(t, fmt.Sprintf("| web2 cut off from web1 (and all) for %s from the start of the %s's %s task | the phase fails with a clear error or goes on; a re-run finishes it | %s: %s; then %s succeeded |",
			held.Round(time.Second), c.p, c.task, passed(t), oneLine(outcome), c.p))
	}
	// web2's node is back: it sends heartbeats again (so the next move
	// may go to it). The cleanup waits for that, as an admin would: it is
	// refused while the new host's agent is silent, since it deletes the
	// old host's copy.
	deadline := time.Now().Add(45 * time.Second)
	for {
		h, err := e.Admin.GetHost(context.Background(), "web2")
		if err == nil && h.Heartbeat.LastSeen != nil && time.Since(*h.Heartbeat.LastSeen) < 20*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("web2's node sent no heartbeat since the cuts: %+v %v", h.Heartbeat, err)
			break
		}
		time.Sleep(time.Second)
	}
	mv.phase(model.PhaseCleanup)
	mv.must(model.PhaseCleanup)
	looks, seen, split := w.finish()
	t.Logf("dns: %d looks, address sets %v", looks, seen)
	if len(split) > 0 {
		t.Errorf("dns answered a half-switched site %d times: %v", len(split), split)
	}
	if seen[e.Addr("web1")] == 0 || seen[e.Addr("web2")] == 0 {
		t.Errorf("dns never showed the site on web1 then on web2: %v", seen)
	}
	leftovers(e, s, "web1", mv.id)
	got := snapshot(e, s, "web2")
	want := before
	want.Items, want.DNS = got.Items, got.DNS
	for _, d := range want.diff(got) {
		t.Errorf("end state after the cuts: %s", d)
	}
	writeReport(t, fmt.Sprintf("| dns during both cuts | every observation shows all of the order's A records on one host | %s: %d observations, %d split; address sets seen: %d on web1, %d on web2 |",
		passed(t), looks, len(split), seen[e.Addr("web1")], seen[e.Addr("web2")]))
}
