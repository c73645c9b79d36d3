//go:build lab

package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/cli"
	"ferry/internal/labtest"
	"ferry/internal/model"
)

// servedWatch fetches a site's page from one address over and over and
// counts the answers that are not the page.
type servedWatch struct {
	looks, bad atomic.Int64
	stop, done chan struct{}
}

func watchServed(addr, name, want string) *servedWatch {
	w := &servedWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		c := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			req.Host = name
			resp, err := c.Do(req)
			ok := false
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				ok = resp.StatusCode == 200 && strings.Contains(string(body), want)
			}
			w.looks.Add(1)
			if !ok {
				w.bad.Add(1)
			}
		}
	}()
	return w
}

func (w *servedWatch) finish() (looks, bad int64) {
	close(w.stop)
	<-w.done
	return w.looks.Load(), w.bad.Load()
}

// The new host dies and stays down. A move not yet cut over is aborted
// without it: the abort ends once the host has been silent past the
// engine's threshold, and the old host serves the site throughout. A move
// already switched to it is shown with what state each side is in and
// what to run, and its cleanup (which would delete the old host's copy)
// is refused. Once the host is back, its agent removes what the abort
// left there and the other move's cleanup finishes it.
//
// It waits out that threshold, so it is part of the whole matrix
// (FERRY_FAULT_FULL=1), run by TestLabHostDies, not of the sample.
func newHostLost(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := newSite(e, "lsta"), newSite(e, "lstb")
	beforeA := snapshot(e, a, "web1")
	beforeB := snapshot(e, b, "web1")
	mvA := start(e, a)
	mvA.must(model.PhasePrepare)
	mvA.phase(model.PhaseSync)
	mvA.must(model.PhaseSync)
	mvB := start(e, b)
	for _, p := range []model.MovePhase{model.PhasePrepare, model.PhaseSync, model.PhaseVerify, model.PhaseCutover} {
		if p != model.PhasePrepare {
			mvB.phase(p)
		}
		mvB.must(p)
	}
	served := watchServed(e.Addr("web1"), "www."+a.domain, "welcome")
	dnsB := watchDNS(e, b)
	writer := e.StartWriter("www." + b.domain)

	if err := e.Lab.KillHost(ctx, "web2"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	down := true
	defer func() {
		if down {
			if err := e.Lab.RestartHost(ctx, "web2"); err != nil {
				t.Error(err)
			}
		}
	}()

	// A: aborted without web2.
	mvA.phase(model.PhaseAbort)
	if err := mvA.wait(model.PhaseAbort, 3*time.Minute); err != nil {
		t.Fatalf("abort without web2: %v", err)
	}
	abortTook := time.Since(killed)
	info, err := mvA.get().Info()
	if err != nil {
		t.Fatal(err)
	}
	left := ""
	if info.Abort != nil {
		left = strings.Join(info.Abort.Left, "; ")
	}
	if !strings.Contains(left, "web2's agent was not seen") || !strings.Contains(left, "removes the order directory") {
		t.Errorf("the abort does not say what web2 still holds: %q", left)
	}
	if got := labtest.Answer(e.Ask(a.domain, dns.TypeA)); !strings.Contains(got, e.Addr("web1")) || strings.Contains(got, e.Addr("web2")) {
		t.Errorf("after the abort %s answers %s", a.domain, got)
	}
	for what, sum := range map[string][2]string{
		"file tree":      {beforeA.Files, e.TreeSum("web1", a.dir+"/web")},
		"greeting table": {beforeA.Greeting, e.TableSum("web1", a.db, "greeting")},
	} {
		if sum[0] != sum[1] {
			t.Errorf("%s on web1 after the abort: got %q, want %q", what, sum[1], sum[0])
		}
	}

	// B: the view says what each side holds; the cleanup is refused.
	var status string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status = e.Ferry("", "move", "status", b.domain)
		if strings.Contains(status, "web2's agent has not been seen since") || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, want := range []string{"web2's agent has not been seen since", "the site is switched to web2", "web1 still holds the order as of the final sync", "do not run `ferry move cleanup` before it is back"} {
		if !strings.Contains(status, want) {
			t.Errorf("move status with web2 gone does not say %q:\n%s", want, status)
		}
	}
	_, stderr, code := e.FerryCode("", "move", "cleanup", b.domain, "--skip-ttl-wait")
	if code != cli.ExitRefused || !strings.Contains(stderr, "cannot clean up while web2's agent is silent") {
		t.Errorf("cleanup with web2 gone: exit %d: %s", code, stderr)
	}
	statusLine := ""
	for _, l := range strings.Split(status, "\n") {
		if strings.Contains(l, "has not been seen since") {
			statusLine = strings.TrimSpace(l)
		}
	}

	// web2 is back.
	if err := e.Lab.RestartHost(ctx, "web2"); err != nil {
		t.Fatal(err)
	}
	down = false
	looks, bad := served.finish()
	if bad > 0 {
		t.Errorf("web1 did not serve %s %d of %d times while web2 was gone", a.domain, bad, looks)
	}
	leftovers(e, a, "web2", mvA.id)
	gotA := snapshot(e, a, "web1")
	for _, d := range beforeA.diff(gotA) {
		t.Errorf("%s after the abort and web2's return: %s", a.domain, d)
	}
	mvB.phase(model.PhaseCleanup)
	mvB.must(model.PhaseCleanup)
	acked, _ := writer.Finish()
	lost := lostWrites(e, b, "web2", acked)
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes to %s are not on web2", lost, len(acked), b.domain)
	}
	dnsLooks, _, split := dnsB.finish()
	if len(split) > 0 {
		t.Errorf("dns answered a half-switched %s %d times", b.domain, len(split))
	}
	leftovers(e, b, "web1", mvB.id)
	gotB := snapshot(e, b, "web2")
	wantB := beforeB
	wantB.Items, wantB.DNS, wantB.Writes = gotB.Items, gotB.DNS, gotB.Writes
	for _, d := range wantB.diff(gotB) {
		t.Errorf("%s after its cleanup: %s", b.domain, d)
	}
	writeReport(t,
		fmt.Sprintf("| web2 dies for good before the cutover; `move abort` | the abort ends without web2; web1 serves throughout; web2's agent removes what is left once it is back | %s: aborted %s after the kill: %s; web1 answered %d of %d fetches; web2 back: nothing of the order left on it |",
			passed(t), abortTook.Round(time.Second), oneLine(left), looks-bad, looks),
		fmt.Sprintf("| web2 dies after the dns switch | `move status` says what state each side is in and what to run; cleanup refused until web2 is back; then it finishes | %s: %s; cleanup: exit %d, %s; %d writes acknowledged, %d lost; %d dns looks, %d split |",
			passed(t), oneLine(statusLine), code, oneLine(stderr), len(acked), lost, dnsLooks, len(split)))
}
