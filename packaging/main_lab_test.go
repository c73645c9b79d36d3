//go:build lab

package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/lab"
)

func TestMain(m *testing.M) {
	lab.Main(m, lab.Config{Web: 1, NoDNS: true})
}

// ferryBin is one ferry binary for the package test binary, built on first
// use into the lab's scratch directory, which every host sees at the same
// path.
var ferryBin struct {
	once sync.Once
	path string
	err  error
}

func labFerry(t *testing.T, l *lab.Lab) string {
	t.Helper()
	ferryBin.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin, cleanup, err := lab.BuildFerry(ctx)
		if err != nil {
			ferryBin.err = err
			return
		}
		defer cleanup()
		scratch, err := l.Scratch()
		if err != nil {
			ferryBin.err = err
			return
		}
		ferryBin.path = filepath.Join(scratch, "ferry")
		data, err := os.ReadFile(bin)
		if err == nil {
			err = os.WriteFile(ferryBin.path, data, 0o755)
		}
		ferryBin.err = err
	})
	if ferryBin.err != nil {
		t.Fatal(ferryBin.err)
	}
	return ferryBin.path
}

// background is a process started inside a lab host, with its pid (in the
// host's namespace) in a file, so that it can be stopped from inside.
type background struct {
	l       *lab.Lab
	host    string
	pidFile string
	logFile string
	// done is closed when the process has ended, with err its end.
	done chan struct{}
	err  error
}

// startIn starts argv inside host with env, its output in logFile.
func startIn(t *testing.T, l *lab.Lab, host, dir, name string, env []string, argv ...string) *background {
	t.Helper()
	b := &background{l: l, host: host, pidFile: filepath.Join(dir, name+".pid"), logFile: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	script := `echo $$ > "$1"; log=$2; shift 2; exec env "$@" >"$log" 2>&1`
	args := append([]string{"sh", "-c", script, "sh", b.pidFile, b.logFile}, env...)
	cmd, err := l.Command(context.Background(), host, append(args, argv...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b.err = cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() { b.stop(t) })
	return b
}

func (b *background) log() string {
	data, _ := os.ReadFile(b.logFile)
	return string(data)
}

func (b *background) stop(t *testing.T) {
	if gone, _ := b.exited(); gone {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := b.l.Run(ctx, b.host, "sh", "-c", `kill "$(cat "$1")" 2>/dev/null || true`, "sh", b.pidFile); err != nil {
		t.Logf("stop %s: %v", b.pidFile, err)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		t.Logf("%s did not stop", b.pidFile)
	}
}

// exited reports whether the process has ended, and how.
func (b *background) exited() (bool, error) {
	select {
	case <-b.done:
		return true, b.err
	default:
		return false, nil
	}
}

// repoRoot is the repository's top directory (this package's parent).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// buildDeb builds the package at version with scripts/deb.sh around bin,
// uncompressed to save the test time, into dir.
func buildDeb(t *testing.T, bin, version, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "scripts", "deb.sh"), dir)
	cmd.Env = append(os.Environ(), "FERRY_BIN="+bin, "DEB_VERSION="+version, "DEB_COMPRESS=none")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("scripts/deb.sh %s: %v: %s", version, err, msg)
	}
	return strings.TrimSpace(string(out))
}
