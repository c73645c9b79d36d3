package apply

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/hostexec/hostexectest"
)

func TestUserAccountLifeCycle(t *testing.T) {
	e := newTestEnv(t)
	home := e.path("members/rosa/sites/example.org/users/rosa")
	spec := model.Spec{Login: "rosa", PasswordHash: testHash}

	res := applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingInsert, spec), model.StateActive)
	if !strings.Contains(res.Message, "user rosa created") {
		t.Errorf("message %q", res.Message)
	}
	wantRan := []string{
		"getent passwd rosa",
		"useradd --home-dir " + home + " --shell /bin/bash --user-group --comment ferry example.org --key HOME_MODE=0750 --create-home rosa",
		"getent passwd rosa",
		"chpasswd --encrypted",
	}
	if got := e.host.StdinOf("chpasswd"); got != "rosa:"+testHash+"\n" {
		t.Errorf("chpasswd read %q", got)
	}
	if ran := e.host.Ran(); !slices.Equal(ran, wantRan) {
		t.Errorf("insert ran\n%q\nwant\n%q", ran, wantRan)
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		t.Errorf("home: %v", err)
	}

	// Update: the account exists, so it is changed, not made again.
	spec.Shell = "/usr/sbin/nologin"
	spec.PasswordHash = ""
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingUpdate, spec), model.StateActive)
	wantRan = []string{"getent passwd rosa", "getent group rosa", "usermod --shell /usr/sbin/nologin --expiredate  rosa", "chpasswd --encrypted"}
	if got := e.host.StdinOf("chpasswd"); got != "rosa:!\n" {
		t.Errorf("without a hash, chpasswd read %q, want a locked password", got)
	}
	if ran := e.host.Ran(); !slices.Equal(ran, wantRan) {
		t.Errorf("update ran\n%q\nwant\n%q", ran, wantRan)
	}

	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingDisable, spec), model.StateDisabled)
	if ran := e.host.Ran(); !slices.Contains(ran, "usermod --lock --expiredate 1 rosa") {
		t.Errorf("disable ran %q", ran)
	}

	// A PHP pool that still runs as rosa blocks the delete.
	pool := filepath.Join(e.a.cfg.FPMPoolDir, "ferry-example.org-42.conf")
	if err := os.WriteFile(pool, []byte("[ferry-example.org-42]\nuser = rosa\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingDelete, spec), model.StateSoftError)
	if !strings.Contains(res.Message, "user rosa still runs the PHP-FPM pool") || !strings.Contains(res.Message, "delete its web-conf first") {
		t.Errorf("message %q", res.Message)
	}
	if ran := e.host.Ran(); slices.ContainsFunc(ran, func(c string) bool { return strings.HasPrefix(c, "userdel") }) {
		t.Errorf("deleted the user anyway: %q", ran)
	}
	os.Remove(pool)

	e.host.Crontabs["rosa"] = "@daily true\n"
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingDelete, spec), model.StateDeleted)
	wantRan = []string{"getent passwd rosa", "crontab -u rosa -r", "userdel --remove rosa", "getent group rosa"}
	if ran := e.host.Ran(); !slices.Equal(ran, wantRan) {
		t.Errorf("delete ran\n%q\nwant\n%q", ran, wantRan)
	}
	if _, ok := e.host.Crontabs["rosa"]; ok {
		t.Error("crontab left behind")
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("home left behind: %v", err)
	}

	// Deleting again finds nothing to do, and says so.
	res = applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingDelete, spec), model.StateDeleted)
	if res.Message != "user rosa was not on this host" {
		t.Errorf("second delete: %q", res.Message)
	}
}

func TestUserAccountNeverPutsTheHashOnACommandLine(t *testing.T) {
	e := newTestEnv(t)
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingInsert, model.Spec{Login: "rosa", PasswordHash: testHash}), model.StateActive)
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingUpdate, model.Spec{Login: "rosa", PasswordHash: testHash}), model.StateActive)
	for _, c := range e.host.Calls {
		if strings.Contains(c.Argv, "$2b$") {
			t.Errorf("hash on a command line: %q", c.Argv)
		}
	}
}

func TestUserAccountLeavesOtherAccountsAlone(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", "/home/rosa")
	for _, st := range []model.State{model.StatePendingInsert, model.StatePendingDisable, model.StatePendingDelete} {
		res := applyOK(t, e, testItem(1, model.KindUserAccount, st, model.Spec{Login: "rosa"}), model.StateSoftError)
		if !strings.Contains(res.Message, "user rosa already exists on this host with home /home/rosa, not this order's") {
			t.Errorf("%s: message %q", st, res.Message)
		}
	}
	if ran := e.host.Ran(); slices.ContainsFunc(ran, func(c string) bool { return !strings.HasPrefix(c, "getent") }) {
		t.Errorf("touched someone else's account: %q", ran)
	}
}

func TestUserAccountConvergesAfterACrash(t *testing.T) {
	e := newTestEnv(t)
	home := e.path("members/rosa/sites/example.org/users/rosa")
	// A crash after useradd: the account and its home exist, the password
	// was never set.
	e.host.AddUser("rosa", home)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingInsert, model.Spec{Login: "rosa", PasswordHash: testHash}), model.StateActive)
	if got := e.host.StdinOf("chpasswd"); got != "rosa:"+testHash+"\n" {
		t.Errorf("chpasswd read %q", got)
	}

	// A crash inside userdel: the user is gone, its group and home are not.
	delete(e.host.Users, "rosa")
	e.host.Groups["rosa"] = "rosa:x:1234:"
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingDelete, model.Spec{Login: "rosa"}), model.StateDeleted)
	if _, ok := e.host.Groups["rosa"]; ok {
		t.Error("group left behind")
	}
	// A system group, or one with members, is not a leftover of ours.
	e.host.Groups["rosa"] = "rosa:x:120:"
	e.host.Groups["gardeners"] = "gardeners:x:1500:ana,ben"
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingDelete, model.Spec{Login: "rosa"}), model.StateDeleted)
	applyOK(t, e, testItem(2, model.KindUserAccount, model.StatePendingDelete, model.Spec{Login: "gardeners"}), model.StateDeleted)
	if _, ok := e.host.Groups["rosa"]; !ok {
		t.Error("removed a system group that had the login's name")
	}
	if _, ok := e.host.Groups["gardeners"]; !ok {
		t.Error("removed a group with members that had the login's name")
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("home left behind: %v", err)
	}
}

func TestUserAccountReportsCommandFailures(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	e.host.Answers["userdel"] = hostexectest.Answer{Stderr: "userdel: user rosa is currently used by process 4242", Code: 8}
	res := applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingDelete, model.Spec{Login: "rosa"}), model.StateSoftError)
	want := "delete user rosa: userdel: user rosa is currently used by process 4242 (exit status 8)"
	if res.Message != want {
		t.Errorf("got %q\nwant %q", res.Message, want)
	}
}

// An agent killed inside useradd can leave the user without its group; the
// next ensure re-creates the group with the user's gid, so the site's PHP
// pool (which runs as that group) passes php-fpm's config test.
func TestUserAccountMissingGroupIsRecreated(t *testing.T) {
	e := newTestEnv(t)
	home := e.path("members/rosa/sites/example.org/users/rosa")
	e.host.AddUser("rosa", home)
	delete(e.host.Groups, "rosa")
	spec := model.Spec{Login: "rosa", PasswordHash: testHash}
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingInsert, spec), model.StateActive)
	want := fmt.Sprintf("groupadd --gid %d rosa", os.Getgid())
	if ran := e.host.Ran(); !slices.Contains(ran, want) {
		t.Errorf("ran %q, want %q among them", ran, want)
	}
	if _, ok := e.host.Groups["rosa"]; !ok {
		t.Error("group rosa still missing")
	}
}
