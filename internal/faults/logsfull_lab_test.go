//go:build lab

package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
)

// The old host's logs fill their disk before a move: web1's /var/log and
// the site's own logs directory lie on one 2 MiB file system, filled to
// the last byte. The move runs from start to cutover on it: logs are no
// reason for it to stop, the site serves throughout, no acknowledged write
// is lost; once there is room again the cleanup finishes it.
func TestLabOldHostLogsFull(t *testing.T) {
	e := newEnv(t)
	s := newSite(e, "logfull")
	before := snapshot(e, s, "web1")
	const fs = "/run/ferry-logs-full"
	logs := s.dir + "/logs"
	e.MustOn("web1", "mkdir", "-p", fs)
	e.MustOn("web1", "mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "ferry-logs-full", fs)
	var mounted []string // innermost last
	mounted = append(mounted, fs)
	unmount := func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			if _, err := e.On("web1", "umount", mounted[i]); err != nil {
				if _, err := e.On("web1", "umount", "-l", mounted[i]); err != nil {
					t.Errorf("unmount %s on web1: %v", mounted[i], err)
				}
			}
		}
		mounted = nil
	}
	defer unmount()
	for _, d := range []struct{ from, to string }{{"/var/log", fs + "/var-log"}, {logs, fs + "/site-logs"}} {
		e.MustOn("web1", "mkdir", "-p", d.to)
		e.MustOn("web1", "cp", "-a", d.from+"/.", d.to+"/")
		e.MustOn("web1", "mount", "--bind", d.to, d.from)
		mounted = append(mounted, d.from)
	}
	// dd stops at the end of the file system, with an error.
	_, ferr := e.On("web1", "dd", "if=/dev/zero", "of="+fs+"/filler", "bs=64k")
	if ferr == nil || !strings.Contains(ferr.Error(), "No space left on device") {
		t.Fatalf("filling web1's log file system: %v", ferr)
	}
	df := strings.Join(strings.Fields(e.MustOn("web1", "df", "--output=avail", "-B1", fs)), " ")
	if !strings.HasSuffix(df, " 0") {
		t.Fatalf("web1's log file system is not full: %s", df)
	}
	// Apache cannot add a line to the site's log.
	if _, err := e.Curl("web1", e.Addr("web1"), "www."+s.domain, "/"); err != nil {
		t.Fatal(err)
	}

	writer := e.StartWriter("www." + s.domain)
	w := watchDNS(e, s)
	mv := start(e, s)
	mv.must(model.PhasePrepare)
	var failed []string
	for _, p := range []model.MovePhase{model.PhaseSync, model.PhaseVerify, model.PhaseCutover} {
		mv.phase(p)
		if err := mv.wait(p, 3*time.Minute); err != nil {
			failed = append(failed, err.Error())
			t.Errorf("%s with web1's logs full: %v", p, err)
			return
		}
	}
	// Room again: the cleanup removes the order from web1.
	unmount()
	mv.phase(model.PhaseCleanup)
	mv.must(model.PhaseCleanup)
	acked, _ := writer.Finish()
	lost := lostWrites(e, s, "web2", acked)
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes are not on web2", lost, len(acked))
	}
	looks, _, split := w.finish()
	if len(split) > 0 {
		t.Errorf("dns answered a half-switched site %d times", len(split))
	}
	leftovers(e, s, "web1", mv.id)
	got := snapshot(e, s, "web2")
	want := before
	want.Items, want.DNS, want.Writes = got.Items, got.DNS, got.Writes
	for _, d := range want.diff(got) {
		t.Errorf("end state: %s", d)
	}
	writeReport(t, fmt.Sprintf("| web1's /var/log and the site's logs directory on one 2 MiB file system, full, for a whole move | the move goes on to the end (logs are no reason to stop); the site serves; no acknowledged write lost; cleanup once there is room | %s: sync, verify and cutover succeeded on the full disk (%s bytes free); %d writes acknowledged, %d lost; %d dns looks, %d split; cleanup succeeded once it was unmounted |",
		passed(t), df, len(acked), lost, looks, len(split)))
}
