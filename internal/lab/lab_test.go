//go:build lab

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"ferry/internal/certs"
)

// testUpEnv makes the test binary run Up on the directory it names and then
// wait to be killed: the stand-in for a `ferry lab up` killed half way.
const (
	testUpEnv       = "FERRY_LAB_TEST_UP_DIR"
	testUpSubnetEnv = "FERRY_LAB_TEST_UP_SUBNET"
)

func TestMain(m *testing.M) {
	MaybeRunHostInit()
	if dir := os.Getenv(testUpEnv); dir != "" {
		os.Exit(testUp(dir))
	}
	Main(m, Config{Web: 2})
}

func testUp(dir string) int {
	subnet, _ := strconv.Atoi(os.Getenv(testUpSubnetEnv))
	if _, err := Up(context.Background(), Config{Dir: dir, Subnet: subnet, Web: 2}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	select {}
}

func run(t *testing.T, l *Lab, host string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := l.Run(ctx, host, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func webHosts(t *testing.T, l *Lab) []Host {
	t.Helper()
	var out []Host
	for _, h := range l.Hosts() {
		if hasRole(h.Roles, RoleWeb) {
			out = append(out, h)
		}
	}
	if len(out) < 2 {
		t.Fatalf("lab has %d web hosts, want 2", len(out))
	}
	return out
}

func TestHostsHaveTheirOwnNamesUsersAndCrontabs(t *testing.T) {
	l := ForTest(t)
	web := webHosts(t, l)
	for _, h := range l.Hosts() {
		if got := run(t, l, h.Name, "hostname"); got != h.Name {
			t.Errorf("hostname on %s = %q", h.Name, got)
		}
	}
	run(t, l, web[0].Name, "useradd", "--create-home", "labtest1")
	if got := run(t, l, web[0].Name, "getent", "passwd", "labtest1"); !strings.HasPrefix(got, "labtest1:") {
		t.Fatalf("getent on %s: %q", web[0].Name, got)
	}
	if _, err := l.Run(context.Background(), web[1].Name, "getent", "passwd", "labtest1"); err == nil {
		t.Errorf("user made on %s exists on %s", web[0].Name, web[1].Name)
	}
	if _, err := os.Stat("/home/labtest1"); err == nil {
		t.Errorf("user's home made on %s shows on the machine", web[0].Name)
	}
	cmd, err := l.Command(context.Background(), web[0].Name, "crontab", "-u", "labtest1", "-")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = strings.NewReader("17 3 * * * true\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("crontab on %s: %v: %s", web[0].Name, err, out)
	}
	if got := run(t, l, web[0].Name, "crontab", "-u", "labtest1", "-l"); !strings.Contains(got, "17 3 * * * true") {
		t.Errorf("crontab -l on %s = %q", web[0].Name, got)
	}
	if _, err := os.Stat(filepath.Join("/var/spool/cron/crontabs", "labtest1")); err == nil {
		t.Errorf("crontab made on %s shows on the machine", web[0].Name)
	}
}

func TestSSHFromHostToHost(t *testing.T) {
	l := ForTest(t)
	web := webHosts(t, l)
	from, to := web[0], web[1]
	run(t, l, from.Name, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab-test", "-f", "/root/.ssh/lab_test")
	pub, err := os.ReadFile(hostPath(from.Dir, "/root/.ssh/lab_test.pub"))
	if err != nil {
		t.Fatal(err)
	}
	run(t, l, to.Name, "install", "-d", "-m", "700", "/root/.ssh")
	if err := os.WriteFile(hostPath(to.Dir, "/root/.ssh/authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	got := run(t, l, from.Name, "ssh", "-i", "/root/.ssh/lab_test", "-o", "BatchMode=yes",
		"root@"+to.Name, "hostname; echo $SSH_CLIENT")
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || lines[0] != to.Name {
		t.Fatalf("ssh %s from %s answered %q", to.Name, from.Name, got)
	}
	// The connection comes from the calling host's own address.
	if !strings.HasPrefix(lines[1], from.Address+" ") {
		t.Errorf("ssh from %s arrived from %q, want %s", from.Name, lines[1], from.Address)
	}
	// Password login is off.
	if _, err := l.Run(context.Background(), from.Name, "ssh", "-o", "BatchMode=yes",
		"-o", "PreferredAuthentications=password", "root@"+to.Name, "true"); err == nil {
		t.Errorf("password login to %s succeeded", to.Name)
	}
}

func TestDatabasesAreSeparate(t *testing.T) {
	l := ForTest(t)
	web := webHosts(t, l)
	for _, h := range web {
		if got := run(t, l, h.Name, "mariadb", "-N", "-e", "SELECT @@hostname, @@bind_address"); got != h.Name+"\t"+h.Address {
			t.Errorf("mariadb on %s: %q", h.Name, got)
		}
		if got := run(t, l, h.Name, "psql", "-U", "postgres", "-Atc", "SHOW listen_addresses"); got != h.Address {
			t.Errorf("postgresql on %s listens on %q", h.Name, got)
		}
	}
	run(t, l, web[0].Name, "mariadb", "-e", "CREATE DATABASE labtest1")
	run(t, l, web[0].Name, "psql", "-U", "postgres", "-c", "CREATE DATABASE labtest1")
	if got := run(t, l, web[1].Name, "mariadb", "-N", "-e", "SHOW DATABASES LIKE 'labtest1'"); got != "" {
		t.Errorf("mariadb database made on %s exists on %s", web[0].Name, web[1].Name)
	}
	if got := run(t, l, web[1].Name, "psql", "-U", "postgres", "-Atc", "SELECT count(*) FROM pg_database WHERE datname = 'labtest1'"); got != "0" {
		t.Errorf("postgresql database made on %s exists on %s", web[0].Name, web[1].Name)
	}
	// A password user reaches another host's PostgreSQL over TCP.
	run(t, l, web[1].Name, "psql", "-U", "postgres", "-c", "CREATE ROLE labtest LOGIN PASSWORD 'labtest'")
	cmd, err := l.Command(context.Background(), web[0].Name, "psql", "-h", web[1].Address, "-U", "labtest", "-d", "postgres", "-Atc", "SELECT inet_server_addr()")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, "PGPASSWORD=labtest")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != web[1].Address {
		t.Errorf("psql from %s to %s over tcp: %v: %s", web[0].Name, web[1].Name, err, out)
	}
}

func TestPHPAnswersWithItsHostsName(t *testing.T) {
	l := ForTest(t)
	for _, h := range webHosts(t, l) {
		page := hostPath(h.Dir, "/var/www/html/lab-name.php")
		if err := os.WriteFile(page, []byte("<?php echo gethostname();\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + h.Address + "/lab-name.php")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != h.Name {
			t.Errorf("php page on %s: %d %q", h.Name, resp.StatusCode, body)
		}
	}
}

func TestKnotTakesSignedUpdatesOnly(t *testing.T) {
	l := ForTest(t)
	st := l.State()
	dns1, err := l.Host("dns1")
	if err != nil {
		t.Fatal(err)
	}
	server := net.JoinHostPort(dns1.Address, strconv.Itoa(KnotPort))
	zone := DefaultZones[0] + "."
	update := func(signed bool, name, addr string) int {
		t.Helper()
		m := new(dns.Msg)
		m.SetUpdate(zone)
		rr, err := dns.NewRR(fmt.Sprintf("%s 300 IN A %s", name, addr))
		if err != nil {
			t.Fatal(err)
		}
		m.Insert([]dns.RR{rr})
		c := &dns.Client{Timeout: 5 * time.Second}
		if signed {
			m.SetTsig(st.TSIG.Name, dns.HmacSHA256, 300, time.Now().Unix())
			c.TsigSecret = map[string]string{st.TSIG.Name: st.TSIG.Secret}
		}
		r, _, err := c.Exchange(m, server)
		if err != nil {
			t.Fatal(err)
		}
		return r.Rcode
	}
	lookup := func(name string) []string {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, err := dns.Exchange(m, server)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				out = append(out, a.A.String())
			}
		}
		return out
	}
	if rc := update(false, "evil."+zone, "192.0.2.1"); rc == dns.RcodeSuccess {
		t.Errorf("unsigned update accepted")
	}
	if rc := update(true, "www."+zone, "127.0.1.11"); rc != dns.RcodeSuccess {
		t.Fatalf("signed update: %s", dns.RcodeToString[rc])
	}
	if got := lookup("www." + zone); len(got) != 1 || got[0] != "127.0.1.11" {
		t.Errorf("www.%s = %v after update", zone, got)
	}
	if got := lookup("evil." + zone); len(got) != 0 {
		t.Errorf("evil.%s = %v", zone, got)
	}
	if err := l.AddZone(context.Background(), "added.test"); err != nil {
		t.Fatal(err)
	}
}

func TestFaultHooks(t *testing.T) {
	l := ForTest(t)
	ctx := context.Background()
	web := webHosts(t, l)
	dial := func(h Host, port string) error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(h.Address, port), 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}

	if err := l.StopService(ctx, web[0].Name, ServiceMariaDB); err != nil {
		t.Fatal(err)
	}
	if dial(web[0], "3306") == nil {
		t.Errorf("mariadb on %s answers after StopService", web[0].Name)
	}
	if dial(web[1], "3306") != nil {
		t.Errorf("mariadb on %s stopped along with %s's", web[1].Name, web[0].Name)
	}
	if err := l.StartService(ctx, web[0].Name, ServiceMariaDB); err != nil {
		t.Fatal(err)
	}
	if got := run(t, l, web[0].Name, "mariadb", "-N", "-e", "SELECT 1"); got != "1" {
		t.Errorf("mariadb after StartService: %q", got)
	}

	t.Cleanup(func() { _ = l.Restore(ctx, web[1].Name) })
	if err := l.CutOff(ctx, web[1].Name); err != nil {
		t.Fatal(err)
	}
	if dial(web[1], "22") == nil {
		t.Errorf("sshd of cut-off %s reachable from the machine", web[1].Name)
	}
	if _, err := l.Run(ctx, web[0].Name, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "root@"+web[1].Name, "true"); err == nil ||
		!strings.Contains(err.Error(), "ssh: connect to host") {
		t.Errorf("ssh from %s to cut-off %s: %v", web[0].Name, web[1].Name, err)
	}
	if dial(web[0], "22") != nil {
		t.Errorf("cutting off %s cut off %s too", web[1].Name, web[0].Name)
	}
	if err := l.Restore(ctx, web[1].Name); err != nil {
		t.Fatal(err)
	}
	if err := dial(web[1], "22"); err != nil {
		t.Errorf("sshd of restored %s: %v", web[1].Name, err)
	}
	// KillAgent on a host without an agent is a no-op, not an error.
	if err := l.KillAgent(ctx, web[0].Name); err != nil {
		t.Error(err)
	}
}

func TestUpRefusesARunningLab(t *testing.T) {
	l := ForTest(t)
	_, err := Up(context.Background(), Config{Dir: l.Dir(), Subnet: l.State().Subnet})
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second Up in %s: %v, want ErrRunning", l.Dir(), err)
	}
	if _, err := os.Stat(filepath.Join(l.Dir(), StateFile)); err != nil {
		t.Fatalf("refused Up harmed the running lab: %v", err)
	}
}

// TestDownAfterKilledUp kills an Up half way (SIGKILL: no cleanup of its
// own) and checks that Down leaves no process, mount or directory behind.
func TestDownAfterKilledUp(t *testing.T) {
	if os.Geteuid() != 0 {
		ForTest(t) // skips, or fails when skipping is disallowed
	}
	subnet, release, err := ClaimTestSubnet()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	dir := filepath.Join(TestBaseDir, fmt.Sprintf("killed%d", subnet))
	ctx := context.Background()
	if err := Down(ctx, dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), testUpEnv+"="+dir, testUpSubnetEnv+"="+strconv.Itoa(subnet))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once some hosts have started and Up is still busy.
	var st *State
	err = waitFor(ctx, time.Minute, nil, func() error {
		st, err = ReadState(dir)
		if err != nil {
			return err
		}
		for _, h := range st.Hosts {
			if h.InitPID > 0 {
				return nil
			}
		}
		return errors.New("no host started yet")
	})
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	st, err = ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusStarting {
		t.Logf("up had finished before it was killed")
	}
	var pids []int
	for _, h := range st.Hosts {
		if h.InitPID > 0 {
			pids = append(pids, h.InitPID)
			if !alive(h.InitPID) {
				t.Errorf("host %s died with up; the test proves nothing", h.Name)
			}
		}
	}

	if err := Down(ctx, dir); err != nil {
		t.Fatal(err)
	}
	assertGone(t, dir, pids)
}

// TestUpDownLeavesNothing brings a lab of its own up and down.
func TestUpDownLeavesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		ForTest(t)
	}
	subnet, release, err := ClaimTestSubnet()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	dir := filepath.Join(TestBaseDir, fmt.Sprintf("updown%d", subnet))
	ctx := context.Background()
	l, err := Up(ctx, Config{Dir: dir, Subnet: subnet, Web: 1, DieWithParent: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CutOff(ctx, "web1"); err != nil {
		t.Fatal(err)
	}
	st := l.State()
	if st.AcmePID == 0 || st.AcmeDirectory == "" {
		t.Errorf("no ACME CA in the lab's state: pid %d, directory %q", st.AcmePID, st.AcmeDirectory)
	}
	if _, err := certs.ParseChain(mustRead(t, st.AcmeCAFile)); err != nil {
		t.Errorf("acme_ca_file %s: %v", st.AcmeCAFile, err)
	}
	pids := []int{st.AcmePID}
	for _, h := range l.Hosts() {
		pids = append(pids, h.InitPID)
		// The services, too: they must die with their host.
		ss, err := l.Services(ctx, h.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if s.Running {
				pids = append(pids, findOutside(t, h.InitPID, s.PID)...)
			}
		}
	}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, dir, pids)
	out, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), nftTableName(subnet)) {
		t.Errorf("nft table %s left behind: %s", nftTableName(subnet), out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// findOutside returns the machine's pids of the processes in the namespace
// of init whose pid there is nspid.
func findOutside(t *testing.T, init, nspid int) []int {
	t.Helper()
	procs, _ := os.ReadDir("/proc")
	var out []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			// NSpid: <pid on the machine> <pid in the host>
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "NSpid:" && f[2] == strconv.Itoa(nspid) && samePIDNS(pid, init) {
				out = append(out, pid)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no process with pid %d in the namespace of %d", nspid, init)
	}
	return out
}

func samePIDNS(a, b int) bool {
	la, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", a))
	lb, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", b))
	return err1 == nil && err2 == nil && la == lb
}

// assertGone checks that no pid is alive, no process of the lab is, no
// mount table anywhere refers to dir, and dir is gone.
func assertGone(t *testing.T, dir string, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d (%v) alive after down", pid, cmdline(pid))
		}
	}
	if ps := labProcesses(dir, nil); len(ps) > 0 {
		t.Errorf("lab processes alive after down: %v", ps)
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", p.Name(), "mountinfo"))
		if err != nil {
			continue
		}
		if strings.Contains(string(data), dir+"/") {
			t.Errorf("process %s (%v) has mounts of %s", p.Name(), cmdline(atoi(p.Name())), dir)
		}
	}
	if points, err := MountsUnder(dir); err != nil || len(points) > 0 {
		t.Errorf("mounts under %s: %v %v", dir, points, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after down: %v", dir, err)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// CutLink cuts only the two hosts apart: each still reaches every other
// address, and others still reach both.
func TestCutLink(t *testing.T) {
	l := ForTest(t)
	ctx := context.Background()
	web := webHosts(t, l)
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dial := func(from *Host, addr string) error {
		d := net.Dialer{Timeout: 2 * time.Second}
		if from != nil {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from.Address)}
		}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}
	ssh := func(h Host) string { return net.JoinHostPort(h.Address, "22") }

	t.Cleanup(func() { _ = l.RestoreLink(ctx, web[0].Name, web[1].Name) })
	if err := l.CutLink(ctx, web[1].Name, web[0].Name); err != nil {
		t.Fatal(err)
	}
	if got := l.State().CutLinks; len(got) != 1 || got[0] != [2]string{min(web[0].Name, web[1].Name), max(web[0].Name, web[1].Name)} {
		t.Errorf("state's cut links: %v", got)
	}
	for _, p := range [][2]Host{{web[0], web[1]}, {web[1], web[0]}} {
		if dial(&p[0], ssh(p[1])) == nil {
			t.Errorf("%s reaches %s's sshd across the cut link", p[0].Name, p[1].Name)
		}
		if err := dial(&p[0], other.Addr().String()); err != nil {
			t.Errorf("%s cut from %s no longer reaches another address: %v", p[0].Name, p[1].Name, err)
		}
		if err := dial(nil, ssh(p[1])); err != nil {
			t.Errorf("%s's sshd unreachable from elsewhere: %v", p[1].Name, err)
		}
	}
	if err := l.CutLink(ctx, web[0].Name, web[0].Name); err == nil {
		t.Error("a link of a host with itself was cut")
	}
	if err := l.RestoreLink(ctx, web[0].Name, web[1].Name); err != nil {
		t.Fatal(err)
	}
	if err := dial(&web[0], ssh(web[1])); err != nil {
		t.Errorf("%s's sshd from %s after RestoreLink: %v", web[1].Name, web[0].Name, err)
	}
	if got := l.State().CutLinks; len(got) != 0 {
		t.Errorf("state's cut links after RestoreLink: %v", got)
	}
}

// A killed host loses every process at once and comes back from its disk:
// a committed row and a file are still there, the other host never
// stopped, and every service answers again.
func TestKillAndRestartHost(t *testing.T) {
	l := ForTest(t)
	ctx := context.Background()
	web := webHosts(t, l)
	h := web[0]
	run(t, l, h.Name, "mariadb", "-e", "CREATE DATABASE IF NOT EXISTS powercut; CREATE TABLE IF NOT EXISTS powercut.t (n INT); INSERT INTO powercut.t VALUES (7)")
	run(t, l, h.Name, "sh", "-c", "echo kept > /home/powercut.txt")
	other := run(t, l, web[1].Name, "cat", "/proc/1/stat")
	before, err := l.Services(ctx, h.Name)
	if err != nil {
		t.Fatal(err)
	}
	pidNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", h.InitPID))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.KillHost(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Run(ctx, h.Name, "true"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("a command on the killed host: %v, want %v", err, ErrNotRunning)
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(h.Address, "22"), time.Second)
	if err == nil {
		c.Close()
		t.Errorf("%s's sshd answers after KillHost", h.Name)
	}
	if got := run(t, l, web[1].Name, "cat", "/proc/1/stat"); got != other {
		t.Errorf("%s's first process changed when %s was killed", web[1].Name, h.Name)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/pid")
	for _, p := range procs {
		if ns, err := os.Readlink(p); err == nil && ns == pidNS {
			t.Errorf("%s lives on after KillHost (%s): %s", filepath.Dir(filepath.Dir(p)), pidNS, strings.Join(cmdline(atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))), " "))
		}
	}
	if err := l.RestartHost(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = l.Run(ctx, h.Name, "mariadb", "-e", "DROP DATABASE IF EXISTS powercut") })
	if got := run(t, l, h.Name, "mariadb", "-N", "-e", "SELECT n FROM powercut.t"); got != "7" {
		t.Errorf("the row committed before the kill: %q", got)
	}
	if got := run(t, l, h.Name, "cat", "/home/powercut.txt"); got != "kept" {
		t.Errorf("the file written before the kill: %q", got)
	}
	if got := run(t, l, h.Name, "runuser", "-u", "postgres", "--", "psql", "-Atc", "SELECT 1"); got != "1" {
		t.Errorf("postgresql after the restart: %q", got)
	}
	after, err := l.Services(ctx, h.Name)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range after {
		if s.Running != before[i].Running {
			t.Errorf("service %s running %v after the restart, %v before", s.Name, s.Running, before[i].Running)
		}
	}
	if err := l.RestartHost(ctx, h.Name); err == nil {
		t.Error("RestartHost of a running host succeeded")
	}
}
