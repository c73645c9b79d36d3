//go:build lab

package packaging

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/internal/client"
	"ferry/internal/lab"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// The package is installed with dpkg --root into a directory of the lab's
// scratch space, from inside the lab host web1, with
// --force-script-chrootless: dpkg writes the files and its database under
// that root, and the maintainer scripts run with DPKG_ROOT set to it, so
// they make the ferry user, the directories and the permissions there too.
// Nothing of the machine changes (its /usr, /etc and dpkg database are
// untouched), and the lab host's private /etc and /run keep even a script
// that went astray away from the machine's. --force-depends because the
// temporary dpkg database knows none of the machine's packages (passwd).
func TestLabDebInstallUpgradePurge(t *testing.T) {
	l := lab.ForTest(t)
	bin := labFerry(t, l)
	scratch, err := l.Scratch()
	if err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp(scratch, "deb-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(work, 0o755)
	machineHad := exists("/usr/bin/ferry")

	older := buildDeb(t, bin, "0.9.0", filepath.Join(work, "debs"))
	newer := buildDeb(t, bin, "0.9.1", filepath.Join(work, "debs"))
	root := filepath.Join(work, "root")
	emptyRoot(t, root)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dpkg := func(args ...string) string {
		t.Helper()
		argv := append([]string{"dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends"}, args...)
		out, err := l.Run(ctx, "web1", argv...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	status := func() string {
		out, _ := l.Run(ctx, "web1", "dpkg-query", "--root="+root, "-W", "-f=${Status} ${Version}", "ferry")
		return out
	}

	// Install.
	out := dpkg("-i", older)
	if !strings.Contains(out, "nothing started") {
		t.Errorf("first install did not say that it started nothing:\n%s", out)
	}
	if got := status(); got != "install ok installed 0.9.0" {
		t.Fatalf("after install: %q", got)
	}
	uid, gid := ferryUser(t, root)
	if uid == 0 || uid >= 1000 {
		t.Errorf("ferry user uid %d, want a system uid", uid)
	}
	wantMode(t, filepath.Join(root, "var/lib/ferry"), 0o700, uid, gid)
	wantMode(t, filepath.Join(root, "var/lib/ferry-node"), 0o700, 0, 0)
	wantMode(t, filepath.Join(root, "etc/ferry/ferry.toml"), 0o640, 0, gid)
	for _, f := range []string{
		"usr/bin/ferry", "lib/systemd/system/ferry.service", "lib/systemd/system/ferry-node.service",
		"usr/share/man/man1/ferry.1.gz", "usr/share/man/man1/ferry-serve.1.gz", "usr/share/man/man1/ferry-node-join.1.gz",
		"usr/share/bash-completion/completions/ferry", "usr/share/zsh/vendor-completions/_ferry",
		"usr/share/fish/vendor_completions.d/ferry.fish", "usr/share/doc/ferry/operations.md", "usr/share/doc/ferry/config.md",
	} {
		if !exists(filepath.Join(root, f)) {
			t.Errorf("the package did not install /%s", f)
		}
	}
	if !machineHad && exists("/usr/bin/ferry") {
		t.Error("installing into the temporary root wrote the machine's /usr/bin/ferry")
	}
	if hostPasswd, err := l.Path("web1", "/etc/passwd"); err == nil {
		if data, _ := os.ReadFile(hostPasswd); strings.Contains(string(data), "\nferry:") {
			t.Error("the ferry user was made in web1's own /etc/passwd, not under the package's root")
		}
	}

	// No systemd here: run what the units run and see that it answers.
	runUnits(t, l, root, work, uid, gid)

	// Upgrade: the admin's edit of the config file and the state stay.
	conf := filepath.Join(root, "etc/ferry/ferry.toml")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "# edited by the admin")
	f.Close()
	dpkg("-i", newer)
	if got := status(); got != "install ok installed 0.9.1" {
		t.Fatalf("after upgrade: %q", got)
	}
	if data, _ := os.ReadFile(conf); !strings.Contains(string(data), "# edited by the admin") {
		t.Error("the upgrade replaced the admin's config file")
	}
	if !exists(filepath.Join(root, "var/lib/ferry/ferry.db")) {
		t.Error("the upgrade lost the control plane's store")
	}
	if u2, _ := ferryUser(t, root); u2 != uid {
		t.Errorf("the upgrade changed the ferry user's uid from %d to %d", uid, u2)
	}
	wantMode(t, conf, 0o640, 0, gid)

	// Purge: the configuration goes; the state (the co-op's database, CA
	// and tokens) stays unless asked for, and says so; the user stays.
	out = dpkg("--purge", "ferry")
	if got := status(); strings.Contains(got, "installed") && !strings.Contains(got, "not-installed") {
		t.Errorf("after purge: %q", got)
	}
	for _, gone := range []string{"etc/ferry", "usr/bin/ferry", "lib/systemd/system/ferry.service"} {
		if exists(filepath.Join(root, gone)) {
			t.Errorf("/%s is still there after purge", gone)
		}
	}
	if !exists(filepath.Join(root, "var/lib/ferry/ferry.db")) || !strings.Contains(out, "kept /var/lib/ferry") {
		t.Errorf("a plain purge removed the control plane's store, or did not say it kept it:\n%s", out)
	}
	if u, _ := ferryUser(t, root); u != uid {
		t.Errorf("after purge the ferry user is %d, want it kept (%d)", u, uid)
	}
	// Installed again, it takes the kept state up; purged with
	// FERRY_PURGE_STATE=yes, the state goes too.
	dpkg("-i", newer)
	if !exists(filepath.Join(root, "var/lib/ferry/ferry.db")) {
		t.Error("reinstalling lost the kept store")
	}
	argv := []string{"env", "FERRY_PURGE_STATE=yes", "dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends", "--purge", "ferry"}
	if out, err := l.Run(ctx, "web1", argv...); err != nil {
		t.Fatalf("purge with FERRY_PURGE_STATE=yes: %v\n%s", err, out)
	}
	for _, gone := range []string{"var/lib/ferry", "var/lib/ferry-node", "etc/ferry"} {
		if exists(filepath.Join(root, gone)) {
			t.Errorf("/%s is still there after a purge with FERRY_PURGE_STATE=yes", gone)
		}
	}
}

// emptyRoot makes the bare tree dpkg --root and useradd --prefix need.
func emptyRoot(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{"etc", "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd":          "root:x:0:0:root:/root:/bin/bash\n",
		"etc/group":           "root:x:0:\n",
		"etc/shadow":          "root:*:19000:0:99999:7:::\n",
		"etc/gshadow":         "root:*::\n",
		"var/lib/dpkg/status": "", "var/lib/dpkg/available": "",
	}
	for f, text := range files {
		if err := os.WriteFile(filepath.Join(root, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "etc/shadow"), 0o640)
	os.Chmod(filepath.Join(root, "etc/gshadow"), 0o640)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// ferryUser returns the ferry user's uid and group's gid under root.
func ferryUser(t *testing.T, root string) (uid, gid int) {
	t.Helper()
	id := func(file string) int {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Split(line, ":")
			if len(f) >= 3 && f[0] == "ferry" {
				n, _ := strconv.Atoi(f[2])
				if file == "etc/passwd" && (len(f) < 7 || f[5] != "/var/lib/ferry" || f[6] != "/usr/sbin/nologin") {
					t.Errorf("ferry user %q: want home /var/lib/ferry and shell nologin", line)
				}
				return n
			}
		}
		t.Fatalf("no ferry entry in /%s under the package's root", file)
		return 0
	}
	return id("etc/passwd"), id("etc/group")
}

func wantMode(t *testing.T, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != mode || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", path, fi.Mode().Perm(), st.Uid, st.Gid, mode, uid, gid)
	}
}

// unit is what a systemd unit file says about the command it runs.
type unit struct {
	execStart []string
	user      string
}

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var u unit
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			u.execStart = strings.Fields(v)
		}
		if v, ok := strings.CutPrefix(line, "User="); ok {
			u.user = v
		}
	}
	if len(u.execStart) == 0 || u.execStart[0] != "/usr/bin/ferry" {
		t.Fatalf("%s: ExecStart %q does not run /usr/bin/ferry", path, u.execStart)
	}
	return u
}

// runUnits runs the ExecStart of both units, as their users, the binary
// and the state under the package's root (the machine's /usr/bin and
// /var/lib are not the package's here), and checks that each answers.
func runUnits(t *testing.T, l *lab.Lab, root, work string, uid, gid int) {
	t.Helper()
	h, err := l.Host("web1")
	if err != nil {
		t.Fatal(err)
	}
	serveUnit := readUnit(t, filepath.Join(root, "lib/systemd/system/ferry.service"))
	nodeUnit := readUnit(t, filepath.Join(root, "lib/systemd/system/ferry-node.service"))
	if serveUnit.user != "ferry" || nodeUnit.user != "root" {
		t.Errorf("units run as %q and %q, want ferry and root", serveUnit.user, nodeUnit.user)
	}
	argv := func(u unit) []string {
		return append([]string{filepath.Join(root, "usr/bin/ferry")}, u.execStart[1:]...)
	}
	listen := net.JoinHostPort(h.Address, "17080")
	env := []string{"FERRY_CONFIG=" + filepath.Join(root, "etc/ferry/ferry.toml")}
	serveEnv := append(env, "FERRY_DATA="+filepath.Join(root, "var/lib/ferry"), "FERRY_LISTEN="+listen)
	asFerry := []string{"setpriv", "--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--clear-groups", "--"}
	serve := startIn(t, l, "web1", work, "serve", serveEnv, append(asFerry, argv(serveUnit)...)...)

	tokenFile := filepath.Join(root, "var/lib/ferry/admin.token")
	var admin *client.Client
	waitUntil(t, 30*time.Second, serve, func() error {
		data, err := os.ReadFile(tokenFile)
		if err != nil {
			return err
		}
		admin, err = client.New("http://"+listen, strings.TrimSpace(string(data)), client.Options{})
		if err != nil {
			return err
		}
		_, err = admin.WhoAmI(context.Background())
		return err
	})
	wantMode(t, filepath.Join(root, "var/lib/ferry/ferry.db"), 0o600, uid, gid)

	ctx := context.Background()
	if _, err := admin.CreateHost(ctx, model.Host{Name: "web1", Addresses: []string{h.Address}, Roles: []model.Role{model.RoleWeb}}); err != nil {
		t.Fatal(err)
	}
	nt, err := admin.CreateToken(ctx, wire.TokenInput{Name: "pkg-web1", Role: model.RoleNode, Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	nodeState := filepath.Join(root, "var/lib/ferry-node")
	if err := os.WriteFile(filepath.Join(nodeState, "node.token"), []byte(nt.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	metricsAddr := net.JoinHostPort(h.Address, "19781")
	nodeEnv := append(env, "FERRY_NODE_STATE="+nodeState, "FERRY_SERVER=http://"+listen,
		"FERRY_TOKEN_FILE="+filepath.Join(nodeState, "node.token"), "FERRY_BIND="+h.Address,
		"FERRY_NODE_METRICS_LISTEN="+metricsAddr)
	node := startIn(t, l, "web1", work, "node", nodeEnv, argv(nodeUnit)...)
	waitUntil(t, 30*time.Second, node, func() error {
		hh, err := admin.GetHost(ctx, "web1")
		if err != nil {
			return err
		}
		if hh.LastSeen == nil {
			return errors.New("no heartbeat yet")
		}
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `ferry_build_info{role="node"`) {
			return errors.New("node metrics lack ferry_build_info")
		}
		return nil
	})
	node.stop(t)
	serve.stop(t)
}

// waitUntil retries check until it succeeds, failing the test with the
// process's log when it does not within d or the process ends.
func waitUntil(t *testing.T, d time.Duration, b *background, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if gone, werr := b.exited(); gone {
			t.Fatalf("%s ended (%v) before it answered: %v\n%s", b.pidFile, werr, err, b.log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s: %v\n%s", b.pidFile, d, err, b.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
