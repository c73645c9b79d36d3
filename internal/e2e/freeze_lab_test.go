//go:build lab

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"ferry/internal/labtest"
	"ferry/internal/wire"
)

// TestLabFreezeFollowsTheChange moves a site with a small change made
// after verify: the cutover's final sync carries only the changed paths
// (the old host tracked them), and the new host ends up with the change,
// deletions and renames included. Then it moves the site back with the old
// host's agent restarted in between, a change made while it was down: the
// tracking is lost, the final sync compares the whole tree and still
// carries the change.
func TestLabFreezeFollowsTheChange(t *testing.T) {
	e := labtest.New(t)
	const domain = "freeze.example"
	dir := e.MovableSite("freeze", domain, "freeze", "freeze_site")
	files := dir + "/web/files"

	e.Ferry("", "move", "start", domain, "--to", "web2")
	e.Ferry("", "move", "sync", domain)
	e.Ferry("", "move", "verify", domain)
	// After the last sync: one file rewritten, one deleted, one renamed,
	// and a new directory tree with a file in it.
	e.MustOn("web1", "sh", "-c", "echo changed > "+files+"/f3 && rm "+files+"/f4 && mv "+files+"/f5 "+files+"/f5b && mkdir -p "+dir+"/web/new/sub && echo new > "+dir+"/web/new/sub/x.txt && chown -R freeze: "+dir+"/web/new")
	final := cutover(t, e, domain)
	t.Logf("final sync: %+v", final.Files)
	if final.Files.FullReason != "" {
		t.Errorf("the final sync compared the whole tree: %s", final.Files.FullReason)
	}
	// Every changed path and its directory: f3, f4, f5, f5b, files/,
	// new/, new/sub/, new/sub/x.txt, web/, and the site's own logs, which
	// Apache writes to. Never the 200-odd others.
	if n := final.Files.TrackedPaths; n < 6 || n > 20 {
		t.Errorf("the final sync got %d tracked paths, want the handful that changed", n)
	}
	if n := final.Files.TotalFiles; n > 30 {
		t.Errorf("the final sync's rsync looked at %d files, want only the changed ones", n)
	}
	if n := final.Files.Files; n < 3 || n > 5 {
		t.Errorf("the final sync sent %d files, want f3, f5b, x.txt and at most the site's two logs", n)
	}
	for _, c := range []struct{ path, want string }{
		{files + "/f3", "changed"},
		{dir + "/web/new/sub/x.txt", "new"},
	} {
		if got, err := e.On("web2", "cat", c.path); err != nil || strings.TrimSpace(got) != c.want {
			t.Errorf("%s on web2: %q, %v; want %q", c.path, got, err, c.want)
		}
	}
	for _, gone := range []string{files + "/f4", files + "/f5"} {
		if _, err := e.On("web2", "test", "!", "-e", gone); err != nil {
			t.Errorf("%s is still on web2 after it was removed on web1", gone)
		}
	}
	if a, b := e.TreeSum("web1", dir+"/web"), e.TreeSum("web2", dir+"/web"); a != b {
		t.Errorf("web/ differs after the cutover: web1 %s, web2 %s", a, b)
	}
	e.Ferry("", "move", "cleanup", domain, "--skip-ttl-wait")
	e.WaitNothingOn("web1", "freeze", "freeze_site", dir)

	// Back to web1, with web2's agent down (and its tracking lost) while
	// the site changes.
	e.Ferry("", "move", "start", domain, "--to", "web1")
	e.Ferry("", "move", "sync", domain)
	e.Ferry("", "move", "verify", domain)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.Lab.KillAgent(ctx, "web2"); err != nil {
		t.Fatal(err)
	}
	e.MustOn("web2", "sh", "-c", "echo while-lost > "+files+"/f6 && rm "+files+"/f7")
	if err := e.Lab.StartService(ctx, "web2", "agent"); err != nil {
		t.Fatal(err)
	}
	final = cutover(t, e, domain)
	t.Logf("final sync after the agent restarted: %+v", final.Files)
	if !strings.Contains(final.Files.FullReason, "no change was tracked") || final.Files.TrackedPaths != 0 {
		t.Errorf("after a restart of the old host's agent the final sync says %q (%d tracked paths), want the whole tree compared",
			final.Files.FullReason, final.Files.TrackedPaths)
	}
	if got, err := e.On("web1", "cat", files+"/f6"); err != nil || strings.TrimSpace(got) != "while-lost" {
		t.Errorf("the change made while tracking was lost is not on web1: %q, %v", got, err)
	}
	if _, err := e.On("web1", "test", "!", "-e", files+"/f7"); err != nil {
		t.Errorf("f7, removed on web2 while tracking was lost, is still on web1")
	}
	if a, b := e.TreeSum("web2", dir+"/web"), e.TreeSum("web1", dir+"/web"); a != b {
		t.Errorf("web/ differs after the second cutover: web2 %s, web1 %s", a, b)
	}
	e.Ferry("", "move", "cleanup", domain, "--skip-ttl-wait")
	e.WaitNothingOn("web2", "freeze", "freeze_site", dir)
}

// cutover cuts the order's move over and returns the freeze's final sync
// as move status reports it, checking the freeze's figures on the way.
func cutover(t *testing.T, e *labtest.Env, domain string) wire.SyncReport {
	t.Helper()
	e.Ferry("", "move", "cutover", domain, "--skip-ttl-wait")
	var view wire.MoveView
	if err := json.Unmarshal([]byte(e.Ferry("", "move", "status", domain, "--json")), &view); err != nil {
		t.Fatal(err)
	}
	info, err := view.Info()
	if err != nil {
		t.Fatal(err)
	}
	cr := info.Cutover
	if cr == nil || cr.FreezeSeconds <= 0 || cr.FreezeSteps["files"] <= 0 || cr.FreezeSteps["proxy"] <= 0 {
		t.Fatalf("cutover report without the old host's freeze figures: %+v", cr)
	}
	// The finer steps say where a slow freeze's time went.
	if _, ok := cr.FreezeSteps["files.rsync"]; !ok {
		t.Fatalf("cutover report without the freeze's rsync step: %v", cr.FreezeSteps)
	}
	t.Logf("freeze %.3f s, steps %v", cr.FreezeSeconds, cr.FreezeSteps)
	if len(info.Syncs) == 0 || !info.Syncs[len(info.Syncs)-1].Final {
		t.Fatalf("no final sync in the move's report: %+v", info.Syncs)
	}
	return info.Syncs[len(info.Syncs)-1]
}
