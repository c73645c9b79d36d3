package apply

import (
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"ferry/internal/node/hostexec/hostexectest"
)

// testEnv is an Applier whose files live under a temporary directory and
// whose commands go to a fake host.
type testEnv struct {
	a    *Applier
	host *hostexectest.Host
	root string
	// fpmReloads receives the SIGUSR2 a PHP-FPM reload sends: the pid file
	// names the test process itself.
	fpmReloads chan os.Signal
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	root := t.TempDir()
	dir := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	e := &testEnv{root: root, host: hostexectest.NewHost(), fpmReloads: make(chan os.Signal, 16)}
	dir("run")
	e.addPHP(t, "8.2", true)
	signal.Notify(e.fpmReloads, syscall.SIGUSR2)
	t.Cleanup(func() { signal.Stop(e.fpmReloads) })
	e.a = New(Config{
		MembersRoot:          dir("members"),
		ApacheSitesAvailable: dir("sites-available"),
		ApacheSitesEnabled:   dir("sites-enabled"),
		PHPRoot:              e.path("etc", "php"),
		FPMBinDirs:           []string{e.path("sbin")},
		FPMPidFile:           e.path("run", "php{version}-fpm.pid"),
		LockFile:             filepath.Join(root, "run", "ferry-node.lock"),
		Mail:                 MailConfig{StateDir: filepath.Join(root, "mail-state"), PostfixDir: filepath.Join(root, "postfix"), DovecotUsers: filepath.Join(root, "dovecot", "ferry-users"), Settle: time.Millisecond},
		HTTPS:                HTTPSConfig{TLSDir: filepath.Join(root, "tls"), ChallengeDir: filepath.Join(root, "acme-challenge"), AccountDir: filepath.Join(root, "acme")},
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e.a.runner = e.host
	e.a.accountDir = dir("etc")
	return e
}

// addPHP installs PHP-FPM version v on the environment's host: its
// pool.d, its binary and, when running, a pid file naming the test process
// itself, which then receives the reload signals.
func (e *testEnv) addPHP(t *testing.T, v string, running bool) {
	t.Helper()
	for _, d := range []string{e.poolDir(v), e.path("sbin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(e.path("sbin", fpmBinaryPrefix+v), []byte("#!/bin/false\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if running {
		if err := os.WriteFile(e.fpmPidFile(v), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// poolDir is version v's pool directory on the environment's host.
func (e *testEnv) poolDir(v string) string { return e.path("etc", "php", v, "fpm", "pool.d") }

// fpmPidFile is version v's PHP-FPM pid file on the environment's host.
func (e *testEnv) fpmPidFile(v string) string { return e.path("run", "php"+v+"-fpm.pid") }

// path returns a path under the environment's root.
func (e *testEnv) path(elem ...string) string {
	return filepath.Join(append([]string{e.root}, elem...)...)
}

// reloadedFPM reports whether PHP-FPM got a reload signal since last asked.
func (e *testEnv) reloadedFPM(t *testing.T) bool {
	t.Helper()
	select {
	case <-e.fpmReloads:
		for len(e.fpmReloads) > 0 {
			<-e.fpmReloads
		}
		return true
	case <-time.After(200 * time.Millisecond):
		return false
	}
}
