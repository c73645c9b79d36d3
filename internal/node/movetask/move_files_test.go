package movetask

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/hostexec/hostexectest"
)

func TestParseRsyncProgress(t *testing.T) {
	tests := []struct {
		in   string
		want rsyncProgress
		ok   bool
	}{
		{"      1,200,000  11%    2.32MB/s    0:00:00 (xfr#6, to-chk=44/53)", rsyncProgress{1200000, 11, 6, 53}, true},
		{"         32,768   0%    0.00kB/s    0:00:00  ", rsyncProgress{32768, 0, 0, 0}, true},
		{"     10,000,000  98%    3.45MB/s    0:00:02 (xfr#50, to-chk=0/53)", rsyncProgress{10000000, 98, 50, 53}, true},
		{"  5   1%  1.00kB/s  0:00:00 (xfr#1, ir-chk=1000/1020)", rsyncProgress{5, 1, 1, 1020}, true},
		{"Number of files: 53 (reg: 51, dir: 2)", rsyncProgress{}, false},
		{"sent 230 bytes  received 57 bytes  574.00 bytes/sec", rsyncProgress{}, false},
		{"", rsyncProgress{}, false},
	}
	for _, tt := range tests {
		got, ok := parseRsyncProgress(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseRsyncProgress(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// readRsyncGolden splits a captured rsync output the way syncFiles reads
// it: progress pieces end in \r, the statistics in \n.
func readRsyncGolden(t *testing.T, name string) (last rsyncProgress, stats string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "move", name))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		for _, seg := range strings.Split(l, "\r") {
			if p, ok := parseRsyncProgress(seg); ok {
				last = p
			} else if seg != "" {
				lines = append(lines, seg)
			}
		}
	}
	return last, strings.Join(lines, "\n")
}

func TestParseRsyncOutputGolden(t *testing.T) {
	tests := []struct {
		file  string
		last  rsyncProgress
		stats model.MoveSyncFilesResult
	}{
		{"rsync-sync.out", rsyncProgress{10000000, 98, 50, 53},
			model.MoveSyncFilesResult{Bytes: 10005571, TotalBytes: 10200000, Files: 50, TotalFiles: 53}},
		{"rsync-resync.out", rsyncProgress{5, 0, 1, 57},
			model.MoveSyncFilesResult{Bytes: 1210, TotalBytes: 10000016, Files: 1, TotalFiles: 57}},
		{"rsync-nochange.out", rsyncProgress{0, 0, 0, 57},
			model.MoveSyncFilesResult{Bytes: 1155, TotalBytes: 10000016, Files: 0, TotalFiles: 57}},
	}
	for _, tt := range tests {
		last, stats := readRsyncGolden(t, tt.file)
		if last != tt.last {
			t.Errorf("%s: last progress %+v, want %+v", tt.file, last, tt.last)
		}
		if got := parseRsyncStats(stats); !reflect.DeepEqual(got, tt.stats) {
			t.Errorf("%s: stats %+v, want %+v", tt.file, got, tt.stats)
		}
	}
}

func TestParseItemizedGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "move", "rsync-dryrun.out"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"stray", "sub/f3", "new.txt", "dir with space/", "dir with space/é.txt", "sub/", "sub/f2", "sub/f4", "sub/f5"}
	if got := parseItemized(string(data)); !reflect.DeepEqual(got, want) {
		t.Errorf("parseItemized:\n got %q\nwant %q", got, want)
	}
	if got := parseItemized(""); got == nil || len(got) != 0 {
		t.Errorf("no output: %q, want an empty list", got)
	}
	var many strings.Builder
	for range maxDiffering + 5 {
		many.WriteString(">f+++++++++ x\n")
	}
	got := parseItemized(many.String())
	if len(got) != maxDiffering+1 || got[maxDiffering] != "(and 5 more)" {
		t.Errorf("%d paths, last %q", len(got), got[len(got)-1])
	}
}

func TestMoveRsyncAndSSHArgv(t *testing.T) {
	env := newMoveTestEnv(t)
	p := moveTestPayload()
	p.HostKey = moveTestHostKey
	p.BWLimit = 2048
	if _, err := env.m.target(p); err == nil {
		t.Fatal("a target without the move's key")
	}
	if _, err := env.m.keygen(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	tg, err := env.m.target(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := env.m.moveDir(7)
	ssh := "ssh -F /dev/null -i " + dir + "/key -l root -p 22 -o IdentitiesOnly=yes -o IdentityAgent=none" +
		" -o UserKnownHostsFile=" + dir + "/known_hosts -o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=ferry-move-7" +
		" -o StrictHostKeyChecking=yes -o UpdateHostKeys=no -o BatchMode=yes -o ConnectTimeout=20" +
		" -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -o ClearAllForwardings=yes -a -x -b 127.0.1.11"
	if got := strings.Join(tg.ssh, " "); got != ssh {
		t.Errorf("ssh:\n got %s\nwant %s", got, ssh)
	}
	kh, _ := os.ReadFile(filepath.Join(dir, "known_hosts"))
	if string(kh) != "ferry-move-7 "+strings.TrimSuffix(moveTestHostKey, " root@web2")+"\n" {
		t.Errorf("known_hosts %q", kh)
	}
	want := []string{"rsync", "-rlptgoHAXS", "--specials", "--delete", "--no-inc-recursive", "--timeout=600",
		"--partial", "--stats", "--info=progress2", "--bwlimit=2048", "-e", ssh,
		moveTestDir + "/", "127.0.1.12:" + moveTestDir + "/"}
	if got := env.m.rsyncArgv(p, tg, false); !reflect.DeepEqual(got, want) {
		t.Errorf("rsync:\n got %q\nwant %q", got, want)
	}
	dry := []string{"rsync", "-rlptgoHAXS", "--specials", "--delete", "--no-inc-recursive", "--timeout=600",
		"-n", "--itemize-changes", "-e", ssh, moveTestDir + "/", "127.0.1.12:" + moveTestDir + "/"}
	if got := env.m.rsyncArgv(p, tg, true); !reflect.DeepEqual(got, dry) {
		t.Errorf("rsync dry run:\n got %q\nwant %q", got, dry)
	}
	if got := tg.command("ferry-sums mysql shop"); got[len(got)-2] != "127.0.1.12" || got[len(got)-1] != "ferry-sums mysql shop" {
		t.Errorf("ssh command %q", got)
	}

	p6 := p
	p6.ToAddr = "2001:db8::12"
	tg6, err := env.m.target(p6)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(tg6.ssh, " "), " -b ") {
		t.Errorf("ssh to an IPv6 address binds the IPv4 from address: %q", tg6.ssh)
	}
	if got := tg6.rsyncDest("/x/"); got != "[2001:db8::12]:/x/" {
		t.Errorf("IPv6 rsync destination %q", got)
	}
	for _, bad := range []func(*model.MoveTaskPayload){
		func(p *model.MoveTaskPayload) { p.ToAddr = "web2" },
		func(p *model.MoveTaskPayload) { p.HostKey = "" },
		func(p *model.MoveTaskPayload) { p.HostKey = moveTestHostKey + "\n@cert-authority * " + moveTestHostKey },
	} {
		q := p
		bad(&q)
		if _, err := env.m.target(q); err == nil {
			t.Errorf("target(%+v) accepted it", q)
		}
	}
}

func TestRsyncFailureSaysWhatTheExitCodeMeans(t *testing.T) {
	for _, c := range []struct {
		err    error
		stderr string
		want   string
	}{
		// The receiver's words lost on the way: the code still says where
		// to look.
		{hostexectest.ExitError(11), "", "exit status 11; rsync: error in file I/O (a full disk or a read-only file system on the new host is the usual cause)"},
		{hostexectest.ExitError(11), "rsync: [receiver] write failed on \"f\": No space left on device (28)\n",
			`rsync: [receiver] write failed on "f": No space left on device (28) (exit status 11); rsync: error in file I/O (a full disk or a read-only file system on the new host is the usual cause)`},
		{hostexectest.ExitError(255), "ssh: connect to host 192.0.2.2 port 22: Connection timed out\n", "ssh: connect to host 192.0.2.2 port 22: Connection timed out (exit status 255)"},
	} {
		if got := rsyncFailure(c.err, c.stderr); got != c.want {
			t.Errorf("rsyncFailure(%v, %q)\n = %q\nwant %q", c.err, c.stderr, got, c.want)
		}
	}
}

func TestNotCarried(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]fs.FileMode{"web/suid": 0o755 | fs.ModeSetuid, "web/sgid": 0o755 | fs.ModeSetgid, "web/plain": 0o644} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	// A set-group-ID directory (web/ uses one) is carried as it is.
	if err := os.Chmod(filepath.Join(dir, "web"), 0o755|fs.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	got, err := notCarried(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"web/sgid: set-group-ID bit dropped on the new host", "web/suid: set-user-ID bit dropped on the new host"}
	if !slices.Equal(got, want) {
		t.Errorf("notCarried = %q, want %q", got, want)
	}
}

func TestSparseFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "sparse.img"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "full"), make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	got := sparseFiles(dir, sparseHole)
	if sa, ok := got["sparse.img"]; !ok || sa[0] != 8<<20 || sa[1] >= 1<<20 || len(got) != 1 {
		t.Errorf("sparseFiles = %v, want sparse.img alone (8 MiB, little allocated)", got)
	}
}
