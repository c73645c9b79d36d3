//go:build lab

package faults

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/labtest"
	"ferry/internal/model"
)

// moveSSH is ssh from a lab host to web2 with the move's key, as the old
// host's node runs it (host key checks off: the probe is about what the
// key may do, not whom it talks to).
func moveSSH(e *labtest.Env, from, key string, extra ...string) []string {
	argv := []string{"ssh", "-F", "/dev/null", "-i", key, "-l", "root", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
		"-o", "LogLevel=ERROR", "-b", e.Addr(from)}
	return append(append(argv, extra...), e.Addr("web2"))
}

func TestLabMoveKeyOnlyReceives(t *testing.T) {
	e := newEnv(t)
	s := newSite(e, "ksec")
	other := newSite(e, "kother") // a database of another order
	mv := start(e, s)
	mv.must(model.PhasePrepare)
	key := fmt.Sprintf("/var/lib/ferry-node/moves/%d/key", mv.id)
	keyPath, err := e.Lab.Path("web1", key)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	secrets.add(keyBody(string(priv)))
	// A copy of the key on dns1, and one kept for after the move.
	scratch, err := e.Lab.Scratch()
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(scratch, "move.key")
	if err := os.WriteFile(kept, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	e.WriteFile("dns1", "/root/move.key", string(priv), "")
	e.MustOn("dns1", "chmod", "600", "/root/move.key")
	e.MustOn("web2", "ln", "-s", "/root", s.dir+"/web/evil")

	run := func(from string, argv []string) (string, error) {
		return e.On(from, argv...)
	}
	// The key works for what it is for.
	if out, err := run("web1", append(moveSSH(e, "web1", key), "ferry-sums mysql "+s.db)); err != nil || !strings.HasPrefix(out, "[") {
		t.Fatalf("the move's key cannot read its own database's sums: %q %v", out, err)
	}
	probes := []struct {
		name, from, cmd string
		extra           []string
		says            string
	}{
		{"a command", "web1", "id", nil, "only runs"},
		{"a shell", "web1", "sh -c 'touch /root/pwned'", nil, "only runs"},
		{"a command list", "web1", "ferry-sums mysql " + s.db + "; touch /root/pwned", nil, "only plain words"},
		{"rsync into /root", "web1", "rsync --server -lHogtpAXre.iLsfxCIvu . /root/", nil, "outside the order directory"},
		{"rsync climbing out with ..", "web1", "rsync --server -lHogtpAXre.iLsfxCIvu . " + s.dir + "/../../../../root/", nil, `".." is not allowed`},
		{"rsync through a symlink in the order directory", "web1", "rsync --server -lHogtpAXre.iLsfxCIvu . " + s.dir + "/web/evil/", nil, "symlink"},
		{"rsync reading files out (--sender)", "web1", "rsync --server --sender -lHogtpAXre.iLsfxCIvu . /etc/", nil, "--sender"},
		{"rsync with device files (-D)", "web1", "rsync --server -lHogtpDAXre.iLsfxCIvu . " + s.dir + "/", nil, "-D is not allowed"},
		{"a load into the server's own database", "web1", "ferry-load mysql mysql", nil, `"mysql" is not a database name`},
		{"a load into another order's database", "web1", "ferry-load mysql " + other.db, nil, "not one of move"},
		{"root's crontab", "web1", "ferry-crontab root", nil, "not one of move"},
		{"a remote port forward", "web1", "ferry-sums mysql " + s.db, []string{"-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:10022:127.0.0.1:22"}, "forwarding failed"},
		{"the key from another host (dns1)", "dns1", "ferry-sums mysql " + s.db, nil, "Permission denied"},
	}
	var rows []string
	for _, p := range probes {
		k := key
		if p.from == "dns1" {
			k = "/root/move.key"
		}
		out, err := run(p.from, append(moveSSH(e, p.from, k, p.extra...), p.cmd))
		// What ssh printed: Lab.Run's error ends with the command's stderr.
		said := strings.Join(strings.Fields(out+" "+after(fmt.Sprint(err), "exit status")), " ")
		status := "as expected"
		if err == nil || !strings.Contains(said, p.says) {
			t.Errorf("%s: %s; want a refusal saying %q", p.name, said, p.says)
			status = "**FAILED**"
		}
		rows = append(rows, fmt.Sprintf("| move key: %s | refused | %s: %s |", p.name, status, oneLine(after(said, "refused: "))))
	}
	if _, err := e.On("web2", "test", "-e", "/root/pwned"); err == nil {
		t.Error("/root/pwned exists on web2")
	}
	e.MustOn("web2", "rm", s.dir+"/web/evil")

	for _, p := range []model.MovePhase{model.PhaseSync, model.PhaseVerify, model.PhaseCutover, model.PhaseCleanup} {
		mv.phase(p)
		mv.must(p)
	}
	leftovers(e, s, "web1", mv.id)
	e.WriteFile("web1", "/root/move.key", string(priv), "")
	e.MustOn("web1", "chmod", "600", "/root/move.key")
	out, err := e.On("web1", append(moveSSH(e, "web1", "/root/move.key"), "ferry-sums mysql "+s.db)...)
	if err == nil || !strings.Contains(out+" "+err.Error(), "Permission denied") {
		t.Errorf("the move's key still gets in after the move: %q %v", out, err)
	}
	e.MustOn("web1", "rm", "/root/move.key")
	e.MustOn("dns1", "rm", "/root/move.key")
	rows = append(rows, fmt.Sprintf("| move key after cleanup | gone from both hosts; a kept copy gets nowhere | %s: no key or policy in either node's state, no line in web2's authorized_keys, ssh with a copy: Permission denied |", passed(t)))
	writeReport(t, rows...)
}

// TestLabNoSecretInAnyLog runs after the other lab tests (files run in
// name order): every log the lab's control plane, agents and services
// wrote is searched for the tokens, passwords and keys the suite used.
func TestLabNoSecretInAnyLog(t *testing.T) {
	e := newEnv(t)
	var files, bytes int
	err := filepath.WalkDir(e.Lab.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file a service removed meanwhile
		}
		if d.IsDir() {
			if d.Name() == "mysql" || d.Name() == "postgresql" && !strings.Contains(path, "/log") {
				return fs.SkipDir // database files, not logs
			}
			return nil
		}
		if !strings.HasSuffix(path, ".log") && !strings.Contains(path, "/log/") {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > 64<<20 {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		files++
		bytes += len(data)
		if leaked := secrets.find(string(data)); len(leaked) > 0 {
			t.Errorf("%s holds secrets: %s", strings.TrimPrefix(path, e.Lab.Dir()+"/"), strings.Join(leaked, ", "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("found only %d log files under %s", files, e.Lab.Dir())
	}
	n := len(secrets.list)
	t.Logf("searched %d log files (%d bytes) for %d secrets", files, bytes, n)
	writeReport(t, fmt.Sprintf("| secrets in logs | no token, password or key in any log of the control plane, the agents, sshd, Apache, MariaDB, PostgreSQL, nor in the test output | %s: %d log files (%d kB) searched for %d secrets; the test output is searched at the end of the run |",
		passed(t), files, bytes/1024, n))
}

// keyBody is a line of an OpenSSH private key from its private part (the
// first lines are the same in every key, and hold the public key).
func keyBody(pem string) string {
	var body []string
	for _, l := range strings.Split(strings.TrimSpace(pem), "\n") {
		if !strings.HasPrefix(l, "-----") {
			body = append(body, strings.TrimSpace(l))
		}
	}
	if len(body) < 3 {
		return strings.Join(body, "")
	}
	return body[len(body)-2]
}

// after returns s from the first sep on, or s.
func after(s, sep string) string {
	if i := strings.Index(s, sep); i >= 0 {
		return s[i:]
	}
	return s
}
