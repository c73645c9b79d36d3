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
	pidFile := filepath.Join(dir("run"), "php-fpm.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{root: root, host: hostexectest.NewHost(), fpmReloads: make(chan os.Signal, 16)}
	signal.Notify(e.fpmReloads, syscall.SIGUSR2)
	t.Cleanup(func() { signal.Stop(e.fpmReloads) })
	e.a = New(Config{
		MembersRoot:          dir("members"),
		ApacheSitesAvailable: dir("sites-available"),
		ApacheSitesEnabled:   dir("sites-enabled"),
		FPMPoolDir:           dir("pool.d"),
		FPMPidFile:           pidFile,
		LockFile:             filepath.Join(root, "run", "ferry-node.lock"),
		HTTPS:                HTTPSConfig{TLSDir: filepath.Join(root, "tls"), ChallengeDir: filepath.Join(root, "acme-challenge"), AccountDir: filepath.Join(root, "acme")},
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e.a.runner = e.host
	e.a.accountDir = dir("etc")
	return e
}

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
