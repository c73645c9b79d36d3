//go:build lab

package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/labtest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// site is a small movable order of its own: member, domain, login and
// database share one short name.
type site struct {
	name, domain, login, db, dir string
}

func newSite(e *labtest.Env, name string) site {
	e.T.Helper()
	s := site{name: name, domain: name + ".example", login: name, db: name + "_site"}
	s.dir = e.MovableSite(name, s.domain, s.login, s.db)
	return s
}

// moving follows one move of a site through the CLI and the API.
type moving struct {
	e  *labtest.Env
	s  site
	id int64
}

// start runs `ferry move start --no-wait` and finds the move.
func start(e *labtest.Env, s site) *moving {
	e.T.Helper()
	e.Ferry("", "move", "start", s.domain, "--to", "web2", "--no-wait")
	mv := &moving{e: e, s: s}
	vs, err := e.Admin.ListMoves(context.Background(), s.domain, true)
	if err != nil || len(vs) == 0 {
		e.T.Fatalf("move of %s not found after start: %v", s.domain, err)
	}
	mv.id = vs[len(vs)-1].ID
	return mv
}

// phase asks for a phase with --no-wait (cutover and cleanup past the TTL
// wait: the tests do not wait out TTLs).
func (mv *moving) phase(p model.MovePhase) {
	mv.e.T.Helper()
	args := []string{"move", string(p), mv.s.domain, "--no-wait"}
	if p == model.PhaseCutover || p == model.PhaseCleanup {
		args = append(args, "--skip-ttl-wait")
	}
	mv.e.Ferry("", args...)
}

// get reads the move, riding out a control plane that is restarting.
func (mv *moving) get() wire.MoveView {
	mv.e.T.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := mv.e.Admin.GetMove(ctx, mv.id)
		cancel()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			mv.e.T.Fatalf("move %d: %v", mv.id, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ended says whether v's phase p has ended, and how.
func ended(v wire.MoveView, p model.MovePhase) (done bool, err error) {
	switch {
	case p == model.PhaseCleanup && v.Phase == model.PhaseDone, p == model.PhaseAbort && v.Phase == model.PhaseAborted:
		return true, nil
	case v.Phase != p:
		return false, nil
	case v.Status == model.MoveSucceeded:
		return true, nil
	case v.Status == model.MoveFailed:
		return true, fmt.Errorf("%s failed: %s", p, v.Error)
	}
	return false, nil
}

// wait waits until phase p has ended; it returns the phase's error when it
// failed.
func (mv *moving) wait(p model.MovePhase, within time.Duration) error {
	mv.e.T.Helper()
	deadline := time.Now().Add(within)
	for {
		v := mv.get()
		if done, err := ended(v, p); done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still %s after %s: %s", p, v.Status, within, describe(v))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// must waits for phase p and fails the test when it failed.
func (mv *moving) must(p model.MovePhase) {
	mv.e.T.Helper()
	if err := mv.wait(p, 3*time.Minute); err != nil {
		mv.e.T.Fatalf("move of %s: %v", mv.s.domain, err)
	}
}

// describe says where a move stands: phase, status, what it waits for and
// its tasks' states.
func describe(v wire.MoveView) string {
	s := fmt.Sprintf("%s %s", v.Phase, v.Status)
	if v.Error != "" {
		s += ": " + v.Error
	}
	var tasks []string
	for _, t := range v.Tasks {
		tasks = append(tasks, fmt.Sprintf("%s %s", t.Name, t.State))
	}
	slices.Sort(tasks)
	if len(tasks) > 0 {
		s += " [" + strings.Join(tasks, ", ") + "]"
	}
	return s
}

// taskState is the state of the current run's task called name, or "".
func taskState(v wire.MoveView, name string) model.TaskState {
	for _, t := range v.Tasks {
		if t.Name == name {
			return t.State
		}
	}
	return ""
}

// endState is what a finished move leaves, in words that do not depend on
// the site's names, so that two moves' end states compare as text: the
// files and tables on the host that serves the site, the items' states,
// the DNS answers, and whether the other host still holds anything.
type endState struct {
	Files, Greeting, Writes string
	Items                   string
	DNS                     string
}

// snapshot records the site as served by host (web1 before a move or after
// an abort, web2 after a move).
func snapshot(e *labtest.Env, s site, host string) endState {
	e.T.Helper()
	norm := strings.NewReplacer(s.domain, "DOMAIN", s.db, "DB", s.login, "LOGIN", e.Addr("web1"), "WEB1", e.Addr("web2"), "WEB2")
	return endState{
		Files:    e.TreeSum(host, s.dir+"/web"),
		Greeting: e.TableSum(host, s.db, "greeting"),
		Writes:   e.TableSum(host, s.db, "writes"),
		Items:    norm.Replace(e.ItemStates(s.domain)),
		DNS: norm.Replace(labtest.Answer(e.Ask(s.domain, dns.TypeA)) + " / " +
			labtest.Answer(e.Ask("www."+s.domain, dns.TypeA))),
	}
}

// diff lists how got differs from want.
func (want endState) diff(got endState) []string {
	var d []string
	cmp := func(what, w, g string) {
		if w != g {
			d = append(d, fmt.Sprintf("%s: got %q, want %q", what, g, w))
		}
	}
	cmp("file tree", want.Files, got.Files)
	cmp("greeting table", want.Greeting, got.Greeting)
	cmp("writes table", want.Writes, got.Writes)
	cmp("items", want.Items, got.Items)
	cmp("dns", want.DNS, got.DNS)
	return d
}

// leftovers waits until host holds nothing of the site and no host holds
// the move's key.
func leftovers(e *labtest.Env, s site, host string, moveID int64) {
	e.T.Helper()
	e.WaitNothingOn(host, s.login, s.db, s.dir)
	if keys, _ := e.On("web2", "cat", "/root/.ssh/authorized_keys"); strings.Contains(keys, fmt.Sprintf("ferry-move-%d", moveID)) {
		e.T.Errorf("move %d's key is still authorised on web2", moveID)
	}
	prefix := fmt.Sprintf("ferry\\_mv%d\\_%%", moveID)
	if n, _ := e.On("web2", "mariadb", "-N", "-e", "SELECT COUNT(*) FROM mysql.user WHERE User LIKE '"+prefix+"'"); strings.TrimSpace(n) != "0" {
		e.T.Errorf("move %d's temporary mariadb accounts are left on web2: %s", moveID, n)
	}
	if n, _ := e.On("web2", "runuser", "-u", "postgres", "--", "psql", "-Atc", "SELECT count(*) FROM pg_roles WHERE rolname LIKE '"+prefix+"'"); strings.TrimSpace(n) != "0" {
		e.T.Errorf("move %d's temporary postgresql roles are left on web2: %s", moveID, n)
	}
	for _, h := range []string{"web1", "web2"} {
		if _, err := e.On(h, "test", "-e", fmt.Sprintf("/var/lib/ferry-node/moves/%d", moveID)); err == nil {
			e.T.Errorf("move %d's key or policy is still in %s's node state", moveID, h)
		}
	}
}
