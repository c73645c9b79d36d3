//go:build lab

package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
)

func TestLabDiskFullOnTargetMidSync(t *testing.T) {
	e := newEnv(t)
	s := newSite(e, "full")
	before := snapshot(e, s, "web1")
	// On web2 the order's parent directory is a 512 KiB file system: the
	// site's 2 MB of files do not fit.
	parent := strings.TrimSuffix(s.dir, "/"+s.domain)
	e.MustOn("web2", "mkdir", "-p", parent)
	e.MustOn("web2", "mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "ferry-full", parent)
	mounted := true
	unmount := func() {
		if mounted {
			if _, err := e.On("web2", "umount", parent); err != nil {
				e.MustOn("web2", "umount", "-l", parent)
			}
			mounted = false
		}
	}
	defer unmount()

	mv := start(e, s)
	mv.must(model.PhasePrepare)
	mv.phase(model.PhaseSync)
	err := mv.wait(model.PhaseSync, 3*time.Minute)
	if err == nil {
		t.Fatalf("sync into a full disk succeeded: %s", describe(mv.get()))
	}
	t.Logf("sync into a full disk: %v", err)
	if !strings.Contains(err.Error(), "move-sync-files on web1 failed") ||
		!strings.Contains(err.Error(), "No space left on device") && !strings.Contains(err.Error(), "a full disk") {
		t.Errorf("the error does not say the disk is full: %v", err)
	}
	// The old site serves on, untouched.
	page, cerr := e.Curl("web1", e.Addr("web1"), "www."+s.domain, "/")
	if cerr != nil || !strings.Contains(page, "welcome") {
		t.Errorf("the site on web1 after the failed sync: %q %v", page, cerr)
	}
	mid := snapshot(e, s, "web1")
	want := before
	want.Items = mid.Items // the move froze them (transfer-limbo)
	want.DNS = "WEB1 ttl=300 / WEB1 ttl=300"
	for _, d := range want.diff(mid) {
		t.Errorf("web1 after the failed sync: %s", d)
	}
	// Undone: abort, and nothing is left on web2.
	mv.phase(model.PhaseAbort)
	mv.must(model.PhaseAbort)
	unmount()
	leftovers(e, s, "web2", mv.id)
	after := snapshot(e, s, "web1")
	for _, d := range before.diff(after) {
		t.Errorf("after the abort: %s", d)
	}
	writeReport(t, fmt.Sprintf("| web2's order directory on a 512 KiB file system, 2 MB of files to sync | a clear error; the old site serves on untouched | %s: %s; web1 served the site throughout, its files, tables, items and dns unchanged; the abort left nothing on web2 |",
		passed(t), oneLine(err.Error())))
}
