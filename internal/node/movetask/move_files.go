package movetask

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"ferry/internal/atomicfile"
	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/node/hostexec"
)

// moveTarget is the new host as the old host reaches it: address, key
// files and the ssh command line that uses them.
type moveTarget struct {
	addr netip.Addr
	ssh  []string // ssh and its options, without the host
}

// host is the target for ssh's command line.
func (t moveTarget) host() string { return t.addr.String() }

// rsyncDest is rsync's remote destination for dir.
func (t moveTarget) rsyncDest(dir string) string {
	if t.addr.Is6() {
		return "[" + t.addr.String() + "]:" + dir
	}
	return t.addr.String() + ":" + dir
}

// command returns ssh's argv running remote (one line, read by the forced
// command) on the new host.
func (t moveTarget) command(remote string) []string {
	return append(append([]string{}, t.ssh...), t.host(), remote)
}

// target checks the payload's address and host key, writes the move's
// known_hosts and returns how to reach the new host. Only the move's key is
// offered, only the new host's key is accepted, nothing is forwarded, and
// ssh leaves from the old host's address (the one authorised in from=).
func (m *mover) target(p model.MoveTaskPayload) (moveTarget, error) {
	to, err := parseMoveAddr("to address", p.ToAddr)
	if err != nil {
		return moveTarget{}, err
	}
	hk, err := parseHostKey(p.HostKey)
	if err != nil {
		return moveTarget{}, err
	}
	dir := m.moveDir(p.MoveID)
	key := filepath.Join(dir, moveKeyFile)
	if _, err := os.Stat(key); err != nil {
		return moveTarget{}, fmt.Errorf("%w: %v", errMoveNoKey, err)
	}
	kh := filepath.Join(dir, moveKnownHostsFile)
	if err := atomicfile.Write(kh, []byte(moveHostAlias(p.MoveID)+" "+hk+"\n"), 0o600); err != nil {
		return moveTarget{}, fmt.Errorf("write %s: %w", kh, err)
	}
	t := moveTarget{addr: to, ssh: []string{"ssh", "-F", "/dev/null",
		"-i", key, "-l", "root", "-p", strconv.Itoa(m.cfg.SSHPort),
		"-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile=" + kh, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "HostKeyAlias=" + moveHostAlias(p.MoveID),
		"-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
		"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
		"-o", "ClearAllForwardings=yes", "-a", "-x"}}
	if p.FromAddr != "" {
		from, err := parseMoveAddr("from address", p.FromAddr)
		if err != nil {
			return moveTarget{}, err
		}
		if from.Is4() == to.Is4() {
			t.ssh = append(t.ssh, "-b", from.String())
		}
	}
	return t, nil
}

// rsyncArgv is the rsync command that makes the new host's order directory
// like this host's: -a without device files and without --numeric-ids, so
// that owners and groups map by name; hard links, ACLs, xattrs, holes in
// sparse files (-S) and FIFOs and sockets (--specials) kept; deletions
// too. dryRun lists what would change instead.
func (m *mover) rsyncArgv(p model.MoveTaskPayload, t moveTarget, dryRun bool) []string {
	argv := []string{"rsync", "-rlptgoHAXS", "--specials", "--delete", "--no-inc-recursive", "--timeout=600"}
	if dryRun {
		argv = append(argv, "-n", "--itemize-changes")
	} else {
		argv = append(argv, "--partial", "--stats", "--info=progress2")
		if p.BWLimit > 0 {
			argv = append(argv, "--bwlimit="+strconv.Itoa(p.BWLimit))
		}
	}
	return append(argv, "-e", strings.Join(t.ssh, " "), p.OrderDir+"/", t.rsyncDest(p.OrderDir+"/"))
}

// rsyncListArgv is the rsync command that carries only the paths it reads
// on its standard input (NUL-separated, relative to the order directory)
// to the new host: each directory listed without what it holds (-d in
// place of -r: the tracker lists every path that changed under it), each
// listed path gone here deleted there, a directory with all it held.
// Otherwise as rsyncArgv; a final sync is never capped.
func (m *mover) rsyncListArgv(p model.MoveTaskPayload, t moveTarget) []string {
	return []string{"rsync", "-dlptgoHAXS", "--specials", "--delete-missing-args", "--force", "--from0", "--files-from=-",
		"--timeout=600", "--partial", "--stats", "--info=progress2",
		"-e", strings.Join(t.ssh, " "), p.OrderDir + "/", t.rsyncDest(p.OrderDir + "/")}
}

// rsyncVanished is rsync's exit status when source files vanished while it
// ran: normal for a live site, and the next sync picks up the rest.
const rsyncVanished = 24

// syncFiles rsyncs the order directory to the new host, then the order's
// logins' own crontab lines.
func (m *mover) syncFiles(ctx context.Context, p model.MoveTaskPayload, progress func(any)) (any, error) {
	if err := m.checkFilesPayload(&p); err != nil {
		return nil, err
	}
	t, err := m.target(p)
	if err != nil {
		return nil, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	return m.sendFiles(ctx, p, t, progress)
}

// checkFilesPayload checks what a file sync relies on.
func (m *mover) checkFilesPayload(p *model.MoveTaskPayload) error {
	if err := m.checkOrder(p); err != nil {
		return err
	}
	if err := checkLogins(p.Logins); err != nil {
		return err
	}
	if p.BWLimit < 0 {
		return fmt.Errorf("move %d: bandwidth limit %d", p.MoveID, p.BWLimit)
	}
	return nil
}

// sendFiles is a file sync: rsync of the order directory (of the paths
// changed since the last sync only, for a final sync whose changes were
// tracked), the logins' crontabs and the carried certificates.
func (m *mover) sendFiles(ctx context.Context, p model.MoveTaskPayload, t moveTarget, progress func(any)) (model.MoveSyncFilesResult, error) {
	start := time.Now()
	ch := m.changesSince(p)
	var mu sync.Mutex
	var cur model.MoveSyncFilesResult
	stop := everySecond(ctx, func() {
		mu.Lock()
		snap := cur
		mu.Unlock()
		snap.Seconds = roundSeconds(time.Since(start))
		progress(snap)
	})
	argv := m.rsyncArgv(p, t, false)
	var stdin io.Reader
	if ch.tracked {
		argv = m.rsyncListArgv(p, t)
		stdin = strings.NewReader(strings.Join(ch.paths, "\x00") + "\x00")
	}
	// The crontabs and the walk for what is not carried go beside rsync:
	// none of them waits for the others. The certificates follow rsync,
	// as the site they serve does.
	var side sideWork
	side.start(func() error {
		t0 := time.Now()
		var err error
		if side.notCarried, err = notCarried(p.OrderDir); err != nil {
			m.log.Warn("move sync: could not list what is not carried", "move", p.MoveID, "err", err)
		}
		stepSince(ctx, "files.notcarried", t0)
		side.notCarriedD = time.Since(t0)
		return nil
	})
	side.start(func() error {
		t0 := time.Now()
		defer stepSince(ctx, "files.crontab", t0)
		for _, login := range p.Logins {
			if err := m.sendCrontab(ctx, p, t, login); err != nil {
				return err
			}
		}
		return nil
	})
	var stats []string
	var err error
	var errOut string
	t0 := time.Now()
	if !ch.tracked || len(ch.paths) > 0 {
		errOut, err = m.runStreaming(ctx, argv, stdin, func(seg string, newline bool) {
			if pr, ok := parseRsyncProgress(seg); ok {
				mu.Lock()
				cur.Bytes, cur.Percent, cur.Files = pr.bytes, pr.percent, pr.files
				if pr.totalFiles > 0 {
					cur.TotalFiles = pr.totalFiles
				}
				mu.Unlock()
				return
			}
			if newline && len(stats) < 200 {
				stats = append(stats, seg)
			}
		})
	}
	stop()
	rsyncD := time.Since(t0)
	stepSince(ctx, "files.rsync", t0)
	sideErr := side.wait()
	if err != nil && hostexec.ExitCode(err) != rsyncVanished {
		ch.settle(false)
		return model.MoveSyncFilesResult{}, fmt.Errorf("move %d: rsync to %s: %s", p.MoveID, t.host(), rsyncFailure(err, errOut))
	}
	if sideErr != nil {
		ch.settle(false)
		return model.MoveSyncFilesResult{}, fmt.Errorf("move %d: %w", p.MoveID, sideErr)
	}
	t1 := time.Now()
	if err := m.sendCerts(ctx, t, p.Order); err != nil {
		ch.settle(false)
		return model.MoveSyncFilesResult{}, fmt.Errorf("move %d: %w", p.MoveID, err)
	}
	stepSince(ctx, "files.certs", t1)
	if err != nil {
		m.log.Warn("move sync: files vanished during the sync; the next sync copies the rest", "move", p.MoveID)
	}
	res := parseRsyncStats(strings.Join(stats, "\n"))
	res.Percent = 100
	res.FullReason = ch.fullReason
	res.TrackerSeconds = roundSeconds(ch.trackerSetup)
	if ch.tracked {
		res.TrackedPaths = len(ch.paths)
	}
	res.NotCarried = side.notCarried
	notCarriedD := side.notCarriedD
	ch.settle(true)
	res.Seconds = roundSeconds(time.Since(start))
	m.log.Info("move files synced", "move", p.MoveID, "bytes", res.Bytes, "files", res.Files, "total_files", res.TotalFiles,
		"tracked_paths", res.TrackedPaths, "full_reason", res.FullReason, "tracker_seconds", res.TrackerSeconds,
		"rsync_seconds", roundSeconds(rsyncD), "not_carried_seconds", roundSeconds(notCarriedD), "seconds", res.Seconds)
	return res, nil
}

// sideWork runs a file sync's work beside its rsync and keeps the first
// error.
type sideWork struct {
	wg          sync.WaitGroup
	mu          sync.Mutex
	err         error
	notCarried  []string
	notCarriedD time.Duration
}

// start runs f beside the rest.
func (w *sideWork) start(f func() error) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := f(); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
	}()
}

// wait waits for all of it and returns the first error.
func (w *sideWork) wait() error {
	w.wg.Wait()
	return w.err
}

// sendCerts carries the installed certificate and key of each of the
// order's ACME sites to the new host (ferry-tls), which installs them and
// serves the site over HTTPS before the DNS switch, without asking its CA.
// The key goes over the move's ssh channel only, on stdin.
func (m *mover) sendCerts(ctx context.Context, t moveTarget, o model.Order) error {
	carried, err := m.a.CarriedCerts(o, time.Now())
	if err != nil {
		return err
	}
	for _, c := range carried {
		bundle := append(append([]byte{}, c.Chain...), c.Key...)
		argv := t.command(receiveTLS + " " + c.ServerName)
		errOut, err := m.runStreaming(ctx, argv, bytes.NewReader(bundle), func(string, bool) {})
		clear(bundle)
		if err != nil {
			return fmt.Errorf("carry the certificate of %s: %s", c.ServerName, failureText(err, errOut))
		}
		m.log.Info("move: certificate carried", "site", c.ServerName)
	}
	return nil
}

// sparseHole is how much smaller than its size a file's allocation must be
// for verify to require the new host's copy to be sparse too.
const sparseHole = 64 << 10

// sparseFiles lists, relative to dir, the regular files allocated smaller
// than their size minus hole, with their size and allocation.
func sparseFiles(dir string, hole int64) map[string][2]int64 {
	out := map[string][2]int64{}
	apply.WalkStat(dir, func(path string, fi fs.FileInfo, st *syscall.Stat_t) {
		if !fi.Mode().IsRegular() || len(out) >= 100_000 {
			return
		}
		if alloc := st.Blocks * 512; alloc+hole < fi.Size() || (hole == 0 && alloc < fi.Size()) {
			rel, _ := filepath.Rel(dir, path)
			out[rel] = [2]int64{fi.Size(), alloc}
		}
	})
	return out
}

// diffSparse names the files sparse here whose copy on the new host is
// not: rsync's dry run does not compare allocation.
func (m *mover) diffSparse(ctx context.Context, p model.MoveTaskPayload, t moveTarget) ([]string, error) {
	here := sparseFiles(p.OrderDir, sparseHole)
	if len(here) == 0 {
		return nil, nil
	}
	out, err := m.remoteText(ctx, t, receiveSparse, nil)
	if err != nil {
		return nil, fmt.Errorf("sparse files on %s: %w", t.host(), err)
	}
	var there map[string][2]int64
	if err := json.Unmarshal([]byte(out), &there); err != nil {
		return nil, fmt.Errorf("sparse files on %s: %w", t.host(), err)
	}
	var diff []string
	for rel, sa := range here {
		if _, ok := there[rel]; !ok {
			diff = append(diff, fmt.Sprintf("%s (sparse here, %d of %d bytes allocated; not sparse on the new host)", rel, sa[1], sa[0]))
		}
	}
	slices.Sort(diff)
	return diff, nil
}

// maxNotCarried bounds the list of files a sync names as not carried.
const maxNotCarried = 100

// notCarried lists, relative to dir, what a sync copies differently on
// purpose: files whose set-user-ID or set-group-ID bit the new host drops
// (a member's file must not become a way to another account there) and
// device files, which are not copied at all. Nothing is changed silently:
// the sync and verify say so, file by file.
func notCarried(dir string) ([]string, error) {
	var out []string
	more := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone while walking, or unreadable: rsync reports it
		}
		t := d.Type()
		if t.IsDir() || t&fs.ModeSymlink != 0 || t&(fs.ModeNamedPipe|fs.ModeSocket) != 0 {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		var why string
		switch {
		case t&fs.ModeDevice != 0:
			why = "device file, not copied"
		default:
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			switch m := fi.Mode(); {
			case m&fs.ModeSetuid != 0 && m&fs.ModeSetgid != 0:
				why = "set-user-ID and set-group-ID bits dropped on the new host"
			case m&fs.ModeSetuid != 0:
				why = "set-user-ID bit dropped on the new host"
			case m&fs.ModeSetgid != 0:
				why = "set-group-ID bit dropped on the new host"
			}
		}
		if why == "" {
			return nil
		}
		if len(out) < maxNotCarried {
			out = append(out, hostexec.OneLine(rel, 200)+": "+why)
		} else {
			more++
		}
		return nil
	})
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d more", more))
	}
	return out, err
}

// roundSeconds is d in seconds with millisecond precision.
func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// everySecond calls f once a second until stop is called or ctx ends;
// progress reports renew the task's lease even while nothing moves.
func everySecond(ctx context.Context, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				f()
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// runStreaming runs argv with stdin, handing each piece of its standard
// output to seg as it comes (pieces end at \r or \n; newline says which),
// and returns the end of its standard error.
// remoteText runs command on the new host with stdin and returns what it
// printed; a failure says what it printed on stderr.
func (m *mover) remoteText(ctx context.Context, t moveTarget, command string, stdin io.Reader) (string, error) {
	var out strings.Builder
	errOut, err := m.runStreaming(ctx, t.command(command), stdin, func(s string, newline bool) {
		out.WriteString(s)
		if newline {
			out.WriteByte('\n')
		}
	})
	if err != nil {
		return "", errors.New(failureText(err, errOut))
	}
	return out.String(), nil
}

func (m *mover) runStreaming(ctx context.Context, argv []string, stdin io.Reader, seg func(s string, newline bool)) (string, error) {
	errOut := &tailBuffer{max: 8 << 10}
	out := &segmentWriter{seg: seg}
	wait, err := m.a.Start(ctx, hostexec.Cmd{Argv: argv, Stdin: stdin, Stdout: out, Stderr: errOut})
	if err != nil {
		return "", err
	}
	err = wait()
	out.flush()
	return errOut.String(), err
}

// segmentWriter hands what is written to it to seg piece by piece, each
// piece ending at \r or \n and cut to 64 KiB.
type segmentWriter struct {
	seg  func(s string, newline bool)
	line []byte
}

func (w *segmentWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\r' || b == '\n' {
			w.seg(string(w.line), b == '\n')
			w.line = w.line[:0]
			continue
		}
		if len(w.line) < 64<<10 {
			w.line = append(w.line, b)
		}
	}
	return len(p), nil
}

// flush hands on the last piece when the output did not end with a
// line break.
func (w *segmentWriter) flush() {
	if len(w.line) > 0 {
		w.seg(string(w.line), true)
		w.line = w.line[:0]
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// rsyncExits say what rsync's exit codes mean (rsync(1), EXIT VALUES).
var rsyncExits = map[int]string{
	1:  "syntax or usage error",
	2:  "protocol incompatibility",
	3:  "errors selecting input/output files or directories",
	5:  "error starting the client-server protocol",
	10: "error in socket I/O",
	11: "error in file I/O (a full disk or a read-only file system on the new host is the usual cause)",
	12: "error in the rsync protocol data stream (the connection broke)",
	23: "partial transfer due to errors",
	30: "timeout in data send or receive",
}

// rsyncFailure is failureText with the meaning of rsync's exit code: the
// receiving side's own words ("No space left on device") do not always
// reach this host when it fails, and "exit status 11" alone says little.
func rsyncFailure(err error, stderr string) string {
	text := failureText(err, stderr)
	if what, ok := rsyncExits[hostexec.ExitCode(err)]; ok {
		text += "; rsync: " + what
	}
	return text
}

// failureText is what a failed command said, on one line.
func failureText(err error, stderr string) string {
	if s := hostexec.OneLine(stderr[max(0, len(stderr)-600):], 600); s != "" {
		return fmt.Sprintf("%s (%v)", s, err)
	}
	return err.Error()
}

// rsyncProgress is one --info=progress2 line.
type rsyncProgress struct {
	bytes      int64
	percent    int
	files      int64 // transferred so far (xfr#)
	totalFiles int64 // to-chk's total, 0 when the line has none
}

var rsyncProgressRe = regexp.MustCompile(`^\s*([0-9,]+)\s+([0-9]+)%\s+\S+\s+\S+(?:\s+\(xfr#([0-9]+), (?:to|ir)-chk=([0-9]+)/([0-9]+)\))?\s*$`)

// parseRsyncProgress reads a progress2 line such as
// "  1,200,000  11%  2.32MB/s  0:00:00 (xfr#6, to-chk=44/100)".
func parseRsyncProgress(s string) (rsyncProgress, bool) {
	mm := rsyncProgressRe.FindStringSubmatch(s)
	if mm == nil {
		return rsyncProgress{}, false
	}
	var p rsyncProgress
	p.bytes = rsyncNumber(mm[1])
	p.percent, _ = strconv.Atoi(mm[2])
	if p.percent > 100 {
		p.percent = 100
	}
	if mm[3] != "" {
		p.files = rsyncNumber(mm[3])
		p.totalFiles = rsyncNumber(mm[5])
	}
	return p, true
}

// rsyncNumber reads a number rsync printed with thousands separators.
func rsyncNumber(s string) int64 {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

var rsyncStatRe = regexp.MustCompile(`^([A-Za-z ]+): ([0-9,]+)`)

// parseRsyncStats reads the figures of rsync's --stats.
func parseRsyncStats(out string) model.MoveSyncFilesResult {
	var r model.MoveSyncFilesResult
	for _, l := range strings.Split(out, "\n") {
		mm := rsyncStatRe.FindStringSubmatch(strings.TrimSpace(l))
		if mm == nil {
			continue
		}
		n := rsyncNumber(mm[2])
		switch mm[1] {
		case "Number of files":
			r.TotalFiles = n
		case "Number of regular files transferred":
			r.Files = n
		case "Total file size":
			r.TotalBytes = n
		case "Total bytes sent":
			r.Bytes = n
		}
	}
	return r
}

// maxDiffering bounds the paths a verify lists.
const maxDiffering = 1000

// parseItemized reads rsync's --itemize-changes output and returns the
// paths it would change, deletions included, at most maxDiffering of them
// and then a note of how many more.
func parseItemized(out string) []string {
	paths := []string{}
	more := 0
	for _, l := range strings.Split(out, "\n") {
		var p string
		switch {
		case strings.HasPrefix(l, "*deleting "):
			p = strings.TrimLeft(strings.TrimPrefix(l, "*deleting "), " ")
		case len(l) > 12 && l[11] == ' ' && strings.IndexByte("<>ch.*", l[0]) >= 0:
			p = l[12:]
		default:
			continue
		}
		p = unescapeRsyncName(p)
		if p == "" {
			continue
		}
		if len(paths) >= maxDiffering {
			more++
			continue
		}
		paths = append(paths, p)
	}
	if more > 0 {
		paths = append(paths, fmt.Sprintf("(and %d more)", more))
	}
	return paths
}

var rsyncEscapeRe = regexp.MustCompile(`\\#[0-7]{3}`)

// unescapeRsyncName undoes rsync's \#ooo escapes of bytes it would not
// print as they are.
func unescapeRsyncName(s string) string {
	if !strings.Contains(s, `\#`) {
		return s
	}
	return rsyncEscapeRe.ReplaceAllStringFunc(s, func(e string) string {
		n, _ := strconv.ParseUint(e[2:], 8, 8)
		return string([]byte{byte(n)})
	})
}

// diffFiles runs rsync as a dry run and returns the paths that differ.
func (m *mover) diffFiles(ctx context.Context, p model.MoveTaskPayload, t moveTarget) ([]string, error) {
	var out bytes.Buffer
	errOut, err := m.runStreaming(ctx, m.rsyncArgv(p, t, true), nil, func(s string, newline bool) {
		if newline && out.Len() < 16<<20 {
			out.WriteString(s)
			out.WriteByte('\n')
		}
	})
	if err != nil && hostexec.ExitCode(err) != rsyncVanished {
		return nil, fmt.Errorf("rsync dry run to %s: %s", t.host(), failureText(err, errOut))
	}
	return parseItemized(out.String()), nil
}

// maxCrontab bounds a crontab sent to the forced command.
const maxCrontab = 64 << 10

// sendCrontab copies login's own crontab lines (those outside ferry's
// block: ferry's lines come from scheduled-job items) to the new host.
// Each sync notes a digest of what it sent in the move's directory; the
// final sync, under the freeze, skips the ssh round trip when the lines
// are the ones the last sync sent (only this move writes them there).
func (m *mover) sendCrontab(ctx context.Context, p model.MoveTaskPayload, t moveTarget, login string) error {
	cur, err := m.a.ReadCrontab(ctx, login)
	if err != nil {
		return err
	}
	tab, err := apply.ParseCrontab(cur)
	if err != nil {
		return fmt.Errorf("crontab of %s: %w", login, err)
	}
	own := apply.Crontab{Before: append(append([]string{}, tab.Before...), tab.After...)}
	text := own.String()
	if len(text) > maxCrontab {
		return fmt.Errorf("crontab of %s: longer than %d bytes", login, maxCrontab)
	}
	digest := sha256.Sum256([]byte(text))
	sum := hex.EncodeToString(digest[:])
	sent := filepath.Join(m.moveDir(p.MoveID), "crontab-"+login+".sent")
	if prev, err := os.ReadFile(sent); p.Final && err == nil && string(prev) == sum {
		return nil
	}
	argv := t.command(receiveCrontab + " " + login)
	errOut, err := m.runStreaming(ctx, argv, strings.NewReader(text), func(string, bool) {})
	if err != nil {
		return fmt.Errorf("copy crontab of %s: %s", login, failureText(err, errOut))
	}
	if err := atomicfile.Write(sent, []byte(sum), 0o600); err != nil {
		m.log.Warn("move sync: cannot note the crontab sent; the final sync sends it again", "login", login, "err", err)
	}
	return nil
}

// receiveCrontab installs the old host's own crontab lines of login, in
// place of the login's own lines here, keeping ferry's block.
func (m *mover) receiveCrontab(ctx context.Context, login string, stdin io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(stdin, maxCrontab+1))
	if err != nil {
		return err
	}
	if len(data) > maxCrontab {
		return receiveRefused("crontab longer than %d bytes", maxCrontab)
	}
	for _, c := range data {
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return receiveRefused("crontab holds a control character")
		}
	}
	got, err := apply.ParseCrontab(string(data))
	if err != nil || got.Found {
		return receiveRefused("the crontab sent holds ferry's block: only the login's own lines are copied")
	}
	if _, err := m.a.RequireUser(ctx, login); err != nil {
		return err
	}
	cur, err := m.a.ReadCrontab(ctx, login)
	if err != nil {
		return err
	}
	tab, err := apply.ParseCrontab(cur)
	if err != nil {
		return fmt.Errorf("crontab of %s on this host: %w", login, err)
	}
	tab.Before, tab.After = append(got.Before, got.After...), nil
	if next := tab.String(); next != cur {
		return m.a.WriteCrontab(ctx, login, next)
	}
	return nil
}
