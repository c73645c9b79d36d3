//go:build lab

package faults

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/client"
	"ferry/internal/lab"
	"ferry/internal/labtest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// replicatedLab brings up a lab of its own whose control plane is two
// replicas on a PostgreSQL of the lab's own behind HAProxy, and takes it
// down when the test ends.
func replicatedLab(t *testing.T) *labtest.Env {
	t.Helper()
	l, _ := lab.UpOwn(t, lab.Config{Web: 2, ControlPlane: true, Replicas: 2})
	st := l.State()
	tok, err := os.ReadFile(st.Control.AdminTokenPath)
	if err != nil {
		t.Fatal(err)
	}
	e := &labtest.Env{T: t, Lab: l, URL: st.Control.URL, Token: strings.TrimSpace(string(tok))}
	if e.Admin, err = client.New(e.URL, e.Token, client.Options{}); err != nil {
		t.Fatal(err)
	}
	return e
}

// webLogin logs into the web UI through the balancer and returns a
// browser-like client holding the session cookie.
func webLogin(t *testing.T, e *labtest.Env) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(e.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(e.URL)
	var csrf string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "ferry_login" {
			csrf = ck.Value
		}
	}
	if csrf == "" {
		t.Fatal("the login form set no login cookie")
	}
	resp, err = c.PostForm(e.URL+"/login", url.Values{"token": {e.Token}, "csrf": {csrf}, "next": {"/hosts"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("web login: %s", resp.Status)
	}
	return c
}

// webHosts fetches /hosts with the session and says what a user would see.
func webHosts(c *http.Client, base string) error {
	resp, err := c.Get(base + "/hosts")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(b.String(), "web1") {
		return fmt.Errorf("GET /hosts with the session: %s (a login page, or the hosts missing)", resp.Status)
	}
	return nil
}

// phaseThrough asks for phase p of mv through the balancer, asking again
// when the request met a replica as it died; a phase that began already
// counts as asked.
func phaseThrough(mv *moving, p model.MovePhase) {
	e := mv.e
	e.T.Helper()
	args := []string{"move", string(p), mv.s.domain, "--no-wait"}
	if p == model.PhaseCutover || p == model.PhaseCleanup {
		args = append(args, "--skip-ttl-wait")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, errOut, code := e.FerryCode("", args...)
		if code == 0 {
			return
		}
		if v := mv.get(); v.Phase == p || p == model.PhaseCleanup && v.Phase == model.PhaseDone {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		time.Sleep(time.Second)
	}
}

// auditShape is the order's audit log with ids, times and names of this
// order taken out: two moves of the same kind of site that ran each step
// once have the same shape.
func auditShape(t *testing.T, e *labtest.Env, s site, moveID int64) []string {
	t.Helper()
	entries, err := e.Admin.ListAudit(context.Background(), s.domain, 1000)
	if err != nil {
		t.Fatal(err)
	}
	norm := strings.NewReplacer(s.domain, "DOMAIN", s.db, "DB", s.login, "LOGIN", fmt.Sprintf("move %d", moveID), "move N")
	var out []string
	for _, a := range entries {
		obj := a.Object
		if i := strings.LastIndexAny(obj, "/ "); i >= 0 && strings.Trim(obj[i+1:], "0123456789") == "" {
			obj = obj[:i+1] + "N" // item and order ids differ between sites
		}
		out = append(out, norm.Replace(a.Action+" "+obj))
	}
	slices.Sort(out)
	return out
}

// A replica of the control plane is killed with SIGKILL at a random
// (seeded) point while a move (driven by the CLI through the balancer) and
// a rebalance batch (driven by the leading replica) run, and started again
// a few seconds later. The other replica carries on: both moves end as an
// undisturbed move does, with no step run twice, the old host holds
// nothing of either order, and a web session opened before the kill still
// works after it.
func TestLabReplicaKilled(t *testing.T) {
	e := replicatedLab(t)
	rnd := rng(9000)

	// An undisturbed move first: the end state and audit log to match.
	ref := newSite(e, "rref")
	refBefore := snapshot(e, ref, "web1")
	mvRef := start(e, ref)
	mvRef.must(model.PhasePrepare)
	for _, p := range completeParts[1:] {
		phaseThrough(mvRef, p)
		mvRef.must(p)
	}
	leftovers(e, ref, "web1", mvRef.id)
	refAfter := snapshot(e, ref, "web2")
	if d := refBefore.diff(refAfter); len(d) > 0 && (refAfter.Files != refBefore.Files || refAfter.Writes != refBefore.Writes) {
		t.Fatalf("the undisturbed move changed the site: %v", d)
	}
	refAudit := auditShape(t, e, ref, mvRef.id)

	browser := webLogin(t, e)
	if err := webHosts(browser, e.URL); err != nil {
		t.Fatal(err)
	}

	a, b := newSite(e, "rmva"), newSite(e, "rbat")
	aBefore, bBefore := snapshot(e, a, "web1"), snapshot(e, b, "web1")
	ob, err := e.Admin.GetOrder(context.Background(), b.domain)
	if err != nil {
		t.Fatal(err)
	}
	plan := wire.RebalancePlan{Moves: []wire.PlannedMove{{OrderID: ob.ID, Identifier: b.domain, From: "web1", To: "web2"}}}
	batch, err := e.Admin.ApplyRebalance(context.Background(), wire.ApplyInput{Plan: plan,
		ApplyOptions: wire.ApplyOptions{Concurrency: 1, AutoCutover: true, Force: true}})
	if err != nil {
		t.Fatal(err)
	}

	// The kill: which replica, when, and for how long it stays down.
	victim := 1 + rnd.IntN(2)
	after := time.Duration(2000+rnd.IntN(20000)) * time.Millisecond
	down := time.Duration(1000+rnd.IntN(5000)) * time.Millisecond
	killed := make(chan error, 1)
	go func() {
		time.Sleep(after)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := e.Lab.KillReplica(ctx, victim); err != nil {
			killed <- err
			return
		}
		time.Sleep(down)
		killed <- e.Lab.StartReplica(ctx, victim)
	}()
	t.Logf("seed %d: replica r%d killed %v after the batch began, started again %v later", seed, victim, after, down)

	mvA := start(e, a)
	mvA.must(model.PhasePrepare)
	for _, p := range completeParts[1:] {
		phaseThrough(mvA, p)
		mvA.must(p)
	}
	if err := <-killed; err != nil {
		t.Fatalf("kill and restart: %v", err)
	}

	var bb wire.Batch
	for end := time.Now().Add(10 * time.Minute); ; time.Sleep(time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		bb, err = e.Admin.GetBatch(ctx, batch.ID)
		cancel()
		if err == nil && bb.State != wire.BatchRunning {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("batch %s still %s after 10 minutes (last error %v)", batch.ID, bb.State, err)
		}
	}
	if bb.State != wire.BatchFinished || len(bb.Entries) != 1 || bb.Entries[0].MoveID == 0 {
		t.Fatalf("batch ended %s: %+v", bb.State, bb.Entries)
	}
	mvB := &moving{e: e, s: b, id: bb.Entries[0].MoveID}
	if v := mvB.get(); v.Phase != model.PhaseDone {
		t.Fatalf("the batch's move ended in %s %s: %s", v.Phase, v.Status, v.Error)
	}

	for _, c := range []struct {
		s      site
		mv     *moving
		before endState
	}{{a, mvA, aBefore}, {b, mvB, bBefore}} {
		leftovers(e, c.s, "web1", c.mv.id)
		want := c.before
		want.Items, want.DNS = refAfter.Items, refAfter.DNS
		for _, d := range want.diff(snapshot(e, c.s, "web2")) {
			t.Errorf("%s after the kill: %s", c.s.domain, d)
		}
		if got := auditShape(t, e, c.s, c.mv.id); !slices.Equal(got, refAudit) {
			t.Errorf("%s's audit log differs from an undisturbed move's (a step ran twice, or one was lost):\n%s\nwant\n%s",
				c.s.domain, strings.Join(got, "\n"), strings.Join(refAudit, "\n"))
		}
	}
	// Who led, and what the leader took over, as the replicas logged it.
	var lead []string
	for _, r := range e.Lab.Replicas() {
		log, _ := os.ReadFile(filepath.Join(e.Lab.State().Control.DataDir, "serve-"+r.ID+".log"))
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "replica: leading") || strings.Contains(line, "resuming phase") {
				lead = append(lead, line)
			}
		}
	}
	slices.Sort(lead) // by time, the lines' first field
	t.Logf("leadership and resumed phases:\n%s", strings.Join(lead, "\n"))
	led := func(r int) bool {
		return slices.ContainsFunc(lead, func(l string) bool {
			return strings.Contains(l, "replica: leading") && strings.Contains(l, fmt.Sprintf("replica=r%d", r))
		})
	}
	if first := slices.IndexFunc(lead, func(l string) bool { return strings.Contains(l, "replica: leading") }); first < 0 {
		t.Error("no replica ever led")
	} else if strings.Contains(lead[first], fmt.Sprintf("replica=r%d", victim)) && !led(3-victim) {
		t.Errorf("replica r%d led and was killed, but r%d never took the lead", victim, 3-victim)
	}
	for i := range 4 { // round robin: both replicas answer
		if err := webHosts(browser, e.URL); err != nil {
			t.Errorf("web session after the kill (request %d): %v", i, err)
		}
	}
}
