package receive

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ferry/internal/model"
)

const moveTestDir = "/home/members/coop/sites/example.org"

func moveTestPolicy() Policy {
	return Policy{
		MoveID:   7,
		Order:    "example.org",
		OrderDir: moveTestDir,
		FromAddr: "127.0.1.11",
		Databases: []model.MoveDB{
			{Engine: "mysql", Name: "shop"},
			{Engine: "pgsql", Name: "blog", Owner: "blogger"},
		},
		Logins: []string{"shopper"},
	}
}

// isEngine is the node's engines as the tests know them.
func isEngine(e string) bool { return e == "mysql" || e == "pgsql" }

func TestParseReceiveAllows(t *testing.T) {
	pol := moveTestPolicy()
	tests := []struct {
		name    string
		command string
		want    request
	}{
		{
			name:    "sync as rsync's client sends it",
			command: "rsync --server -lHogtpAXre.LsfxCIvu --timeout=600 --bwlimit=500 --delete --stats --partial . " + moveTestDir + "/",
			want: request{Kind: CmdRsync, Dest: moveTestDir + "/", Rsync: []string{"--server", "-lHogtpAXre.LsfxCIvu",
				"--timeout=600", "--bwlimit=500", "--delete", "--stats", "--partial", rsyncServerChmod, ".", moveTestDir + "/"}},
		},
		{
			name:    "the final sync's list of changed paths",
			command: "rsync --server -ldHogtpAXRSe.LsfxCIvu --specials --timeout=600 --force --stats --delete-missing-args --partial . " + moveTestDir + "/",
			want: request{Kind: CmdRsync, Dest: moveTestDir + "/", Rsync: []string{"--server", "-ldHogtpAXRSe.LsfxCIvu", "--specials",
				"--timeout=600", "--force", "--stats", "--delete-missing-args", "--partial", rsyncServerChmod, ".", moveTestDir + "/"}},
		},
		{
			name:    "dry run of verify",
			command: "rsync --server -nlHogtpAXre.LsfxCIvu --log-format=%i --timeout=600 --delete . " + moveTestDir + "/",
			want: request{Kind: CmdRsync, Dest: moveTestDir + "/", DryRun: true, Rsync: []string{"--server",
				"-nlHogtpAXre.LsfxCIvu", "--log-format=%i", "--timeout=600", "--delete", rsyncServerChmod, ".", moveTestDir + "/"}},
		},
		{
			name:    "a directory inside the order, quoted, with --info",
			command: `rsync --server -lHogtpAXre.iLsfxCIvu --info=progress2,stats2 . '` + moveTestDir + `/web//blog/'`,
			want: request{Kind: CmdRsync, Dest: moveTestDir + "/web/blog/", Rsync: []string{"--server",
				"-lHogtpAXre.iLsfxCIvu", "--info=progress2,stats2", rsyncServerChmod, ".", moveTestDir + "/web/blog/"}},
		},
		{
			name:    "the order directory without a slash, backslash-escaped",
			command: `rsync --server -r\tpe. . ` + strings.ReplaceAll(moveTestDir, ".", `\.`),
			want:    request{Kind: CmdRsync, Dest: moveTestDir, Rsync: []string{"--server", "-rtpe.", rsyncServerChmod, ".", moveTestDir}},
		},
		{
			name:    "load into a mariadb database of the move",
			command: "ferry-load mysql shop",
			want:    request{Kind: CmdLoad, DB: model.MoveDB{Engine: "mysql", Name: "shop"}},
		},
		{
			name:    "checksums of a postgresql database, extra blanks",
			command: "  ferry-sums\tpgsql   blog ",
			want:    request{Kind: CmdSums, DB: model.MoveDB{Engine: "pgsql", Name: "blog", Owner: "blogger"}},
		},
		{
			name:    "stamps of a mariadb database of the move",
			command: "ferry-stamps mysql shop",
			want:    request{Kind: CmdStamps, DB: model.MoveDB{Engine: "mysql", Name: "shop"}},
		},
		{
			name:    "crontab of a login of the order",
			command: "ferry-crontab shopper",
			want:    request{Kind: CmdCrontab, Login: "shopper"},
		},
		{
			name:    "an ACME site's certificate for a site of the order",
			command: "ferry-tls www.example.org",
			want:    request{Kind: CmdTLS, Site: "www.example.org"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.command, pol, isEngine)
			if err != nil {
				t.Fatalf("parse(%q): %v", tt.command, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parse(%q)\n got %+v\nwant %+v", tt.command, got, tt.want)
			}
		})
	}
}

func TestParseReceiveRefuses(t *testing.T) {
	pol := moveTestPolicy()
	ok := "rsync --server -lHogtpAXre.LsfxCIvu --delete --stats --partial . " + moveTestDir + "/"
	tests := []struct {
		command string
		why     string // part of the message
	}{
		{"", "no command"},
		{"   ", "no command"},
		{"ls", `"ls"`},
		{"ls -la /", `"ls"`},
		{"bash -c id", `"bash"`},
		{"/usr/bin/rsync --server -lHogtpAXre. . " + moveTestDir, `"/usr/bin/rsync"`},
		{"scp -t " + moveTestDir, `"scp"`},
		{"rsync -av . /tmp", "only as a server"},
		{"rsync --server --sender -lHogtpAXre.LsfxCIvu . " + moveTestDir + "/", "--sender"},
		{"rsync --server -lHogtpAXre.LsfxCIvu --sender . " + moveTestDir + "/", "--sender"},
		{"rsync --server -lHogtpAXre.LsfxCIvu --numeric-ids . " + moveTestDir + "/", "by name"},
		{"rsync --server -lHogDtpAXre.LsfxCIvu . " + moveTestDir + "/", "-D"},
		{"rsync --server -slHogtpAXre.LsfxCIvu . " + moveTestDir + "/", "-s"},
		{"rsync --server -lHogtpAXrKe.Ls . " + moveTestDir + "/", "-K"},
		{"rsync --server -lHogtpAXre.Ls -r . " + moveTestDir + "/", "second cluster"},
		{"rsync --server -lHogtpAXre.L=s . " + moveTestDir + "/", "capabilities"},
		{"rsync --server --protect-args -lHogtpAXre.Ls . " + moveTestDir + "/", "--protect-args"},
		{"rsync --server -lHogtpAXre.Ls --rsync-path=/tmp/x . " + moveTestDir + "/", "--rsync-path"},
		{"rsync --server -lHogtpAXre.Ls --temp-dir=/tmp . " + moveTestDir + "/", "--temp-dir"},
		{"rsync --server -lHogtpAXre.Ls --log-format=%n%L . " + moveTestDir + "/", "value not allowed"},
		{"rsync --server -lHogtpAXre.Ls --bwlimit=1m . " + moveTestDir + "/", "value not allowed"},
		{"rsync --server -lHogtpAXre.Ls --delete=yes . " + moveTestDir + "/", "value not allowed"},
		{"rsync --server -lHogtpAXre.Ls --timeout . " + moveTestDir + "/", "value not allowed"},
		{"rsync --server --daemon .", "--daemon"},
		{"rsync --server . " + moveTestDir + "/", "no transfer options"},
		{"rsync --server -lHogtpAXre.Ls . /tmp/", "outside the order directory"},
		{"rsync --server -lHogtpAXre.Ls . /", "outside the order directory"},
		{"rsync --server -lHogtpAXre.Ls . /home/members/coop/sites/example.org.evil/", "outside the order directory"},
		{"rsync --server -lHogtpAXre.Ls . /home/members/coop/sites/", "outside the order directory"},
		{"rsync --server -lHogtpAXre.Ls . " + moveTestDir + "/../other.org/", `".."`},
		{"rsync --server -lHogtpAXre.Ls . " + moveTestDir + "/web/../../x", `".."`},
		{"rsync --server -lHogtpAXre.Ls . example.org/", "absolute"},
		{"rsync --server -lHogtpAXre.Ls . " + moveTestDir + " /tmp", "DESTINATION"},
		{"rsync --server -lHogtpAXre.Ls ./ " + moveTestDir, "DESTINATION"},
		{"rsync --server -lHogtpAXre.Ls " + moveTestDir, "DESTINATION"},
		{"rsync --server -lHogtpAXre.Ls -- . " + moveTestDir, "--"},
		{ok + "; rm -rf /", `';'`},
		{ok + " && id", `'&'`},
		{ok + " | nc x 1", `'|'`},
		{ok + " > /etc/passwd", `'>'`},
		{"rsync --server -lHogtpAXre.Ls . $(id)", `'$'`},
		{"rsync --server -lHogtpAXre.Ls . `id`", "'`'"},
		{`rsync --server -lHogtpAXre.Ls . "` + moveTestDir + `$HOME"`, `'$'`},
		{"rsync --server -lHogtpAXre.Ls . " + moveTestDir + "/*", `'*'`},
		{"rsync --server -lHogtpAXre.Ls . ~/x", `'~'`},
		{"rsync --server -lHogtpAXre.Ls . '" + moveTestDir, "unterminated"},
		{"rsync --server -lHogtpAXre.Ls . " + moveTestDir + "\\", "backslash"},
		{"rsync --server -lHogtpAXre.Ls . " + moveTestDir + "\n id", "control character"},
		{"rsync --server -lHogtpAXre.Ls . " + moveTestDir + "\x00", "control character"},
		{"ferry-load mysql other", "not one of move 7's databases"},
		{"ferry-load mysql blog", "not one of move 7's databases"},
		{"ferry-load pgsql shop", "not one of move 7's databases"},
		{"ferry-load mysql mysql", "not a database name"},
		{"ferry-load mysql Shop", "not a database name"},
		{"ferry-load mysql shop; DROP DATABASE shop", `';'`},
		{"ferry-load mysql shop other", "usage"},
		{"ferry-load mysql", "usage"},
		{"ferry-load sqlite shop", "engine"},
		{"ferry-sums mysql other", "not one of move 7's databases"},
		{"ferry-stamps mysql other", "not one of move 7's databases"},
		{"ferry-stamps mysql", "usage"},
		{"ferry-rows mysql other", "not one of move 7's databases"},
		{"ferry-rows mysql shop orders", "usage"},
		{"ferry-stamps sqlite shop", "engine"},
		{"ferry-crontab root", "not one of move 7's logins"},
		{"ferry-crontab other", "not one of move 7's logins"},
		{"ferry-crontab shopper root", "usage"},
		{"ferry-tls ../../etc/x", "not a server name"},
		{"ferry-tls example.org/x", "not a server name"},
		{"ferry-tls Example.org", "not a server name"},
		{"ferry-tls localhost", "not a server name"},
		{"ferry-tls -rf", "not a server name"},
		{"ferry-tls", "usage"},
		{"ferry-tls example.org www.example.org", "usage"},
		{strings.Repeat("a", maxReceiveCommand+1), "longer than"},
	}
	for _, tt := range tests {
		_, err := parse(tt.command, pol, isEngine)
		if err == nil {
			t.Errorf("parse(%q) allowed it", tt.command)
			continue
		}
		if !errors.Is(err, ErrRefused) {
			t.Errorf("parse(%q): %v is not a refusal", tt.command, err)
		}
		if !strings.Contains(err.Error(), tt.why) {
			t.Errorf("parse(%q): %q does not say %q", tt.command, err, tt.why)
		}
	}
}

func TestSplitCommandWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a b  c", []string{"a", "b", "c"}},
		{`a\ b c`, []string{"a b", "c"}},
		{`'a b' "c d" e`, []string{"a b", "c d", "e"}},
		{`"a\"b\\c\d"`, []string{`a"b\c\d`}},
		{`'a\b'`, []string{`a\b`}},
		{`x''y ""`, []string{"xy", ""}},
		{`--log-format=%i`, []string{"--log-format=%i"}},
		{"", nil},
	}
	for _, tt := range tests {
		got, err := splitCommandWords(tt.in)
		if err != nil {
			t.Errorf("splitCommandWords(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitCommandWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckReceiveClient(t *testing.T) {
	if err := checkReceiveClient("127.0.1.11 50022 22", "127.0.1.11"); err != nil {
		t.Errorf("the old host was refused: %v", err)
	}
	if err := checkReceiveClient("", "127.0.1.11"); err != nil {
		t.Errorf("no SSH_CLIENT (sshd's from= decides): %v", err)
	}
	for _, c := range []string{"127.0.1.12 50022 22", "garbage", "::1 1 22"} {
		if err := checkReceiveClient(c, "127.0.1.11"); !errors.Is(err, ErrRefused) {
			t.Errorf("checkReceiveClient(%q) = %v, want a refusal", c, err)
		}
	}
}

func TestCheckNoSymlinkBelow(t *testing.T) {
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	if err := os.MkdirAll(filepath.Join(order, "web", "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(order, "web", "evil")); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{order, order + "/", order + "/web/real/", order + "/web/new/deeper"} {
		if err := checkNoSymlinkBelow(order, ok); err != nil {
			t.Errorf("checkNoSymlinkBelow(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{order + "/web/evil", order + "/web/evil/x/", dir} {
		if err := checkNoSymlinkBelow(order, bad); !errors.Is(err, ErrRefused) {
			t.Errorf("checkNoSymlinkBelow(%s) = %v, want a refusal", bad, err)
		}
	}
	link := filepath.Join(dir, "linked")
	if err := os.Symlink(order, link); err != nil {
		t.Fatal(err)
	}
	if err := checkNoSymlinkBelow(link, link+"/"); !errors.Is(err, ErrRefused) {
		t.Errorf("an order directory that is a symlink: %v, want a refusal", err)
	}
}

// FuzzParseReceive holds the parser of the old host's commands to its
// promises whatever it is given: no panic, and what passes is one of the
// four shapes, inside the policy.
func FuzzParseReceive(f *testing.F) {
	for _, s := range []string{
		"rsync --server -lHogtpAXre.LsfxCIvu --timeout=600 --delete --stats --partial . " + moveTestDir + "/",
		"rsync --server -nlHogtpAXre.LsfxCIvu --log-format=%i --delete . " + moveTestDir + "/web/",
		"rsync --server --sender -lHogtpAXre.Ls . " + moveTestDir,
		`rsync --server -lHogtpAXre.Ls . '` + moveTestDir + `/a b'`,
		"ferry-load mysql shop", "ferry-sums pgsql blog", "ferry-stamps mysql shop", "ferry-stamps mysql other", "ferry-crontab shopper", "ferry-tls www.example.org",
		"ls; id", `"a\"b" 'c'`, "rsync --server -e. . /",
	} {
		f.Add(s)
	}
	pol := moveTestPolicy()
	f.Fuzz(func(t *testing.T, command string) {
		req, err := parse(command, pol, isEngine)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("parse(%q): %v is not a refusal", command, err)
			}
			return
		}
		switch req.Kind {
		case CmdRsync:
			a := req.Rsync
			if len(a) < 5 || a[0] != "--server" || a[len(a)-1] != req.Dest || a[len(a)-2] != "." || a[len(a)-3] != rsyncServerChmod {
				t.Fatalf("parse(%q): rsync argv %q", command, a)
			}
			d := strings.TrimSuffix(req.Dest, "/")
			if d != filepath.Clean(d) || (d != moveTestDir && !strings.HasPrefix(d, moveTestDir+"/")) {
				t.Fatalf("parse(%q): destination %q outside %s", command, req.Dest, moveTestDir)
			}
			for _, x := range a[1 : len(a)-3] {
				if !strings.HasPrefix(x, "-") || x == "--sender" || x == "--numeric-ids" {
					t.Fatalf("parse(%q): argument %q passed", command, x)
				}
				if !strings.HasPrefix(x, "--") {
					flags, _, _ := strings.Cut(x[1:], "e")
					if strings.ContainsAny(flags, "sDKLRkbT") {
						t.Fatalf("parse(%q): flags %q passed", command, x)
					}
				}
			}
		case CmdLoad, CmdSums, CmdStamps, CmdObjects:
			if _, ok := pol.Database(req.DB.Engine, req.DB.Name); !ok {
				t.Fatalf("parse(%q): database %+v is not the policy's", command, req.DB)
			}
		case CmdCrontab:
			if req.Login != "shopper" {
				t.Fatalf("parse(%q): login %q", command, req.Login)
			}
		case CmdTLS:
			if d, err := model.NormalizeDomain(req.Site, 2); err != nil || d != req.Site || strings.ContainsAny(req.Site, "/ ") {
				t.Fatalf("parse(%q): site %q is not a server name", command, req.Site)
			}
		default:
			t.Fatalf("parse(%q): kind %q", command, req.Kind)
		}
	})
}
