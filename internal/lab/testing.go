package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TestBaseDir holds the labs of test binaries, one directory per subnet.
const TestBaseDir = "/var/lib/ferry-lab-test"

// DisallowSkipEnv names the environment variable that turns "lab
// unavailable" from a skip into a failure (set it to 1 in CI).
const DisallowSkipEnv = "FERRY_TEST_DISALLOW_SKIP"

// T is the part of testing.TB that ForTest uses; it keeps the testing
// package out of ferry's binary.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Runner is what TestMain is given: *testing.M.
type Runner interface{ Run() int }

// sharedLab is the one lab of a test binary.
type sharedLab struct {
	once   sync.Once
	inMain bool
	cfg    Config
	lab    *Lab
	err    error
	// release undoes what start claimed besides the lab (subnet lock,
	// built binary).
	release []func()
}

// shared belongs to the test binary: TestMain sets it up through Main, the
// package's tests share it through ForTest.
var shared sharedLab

// Main is for TestMain in packages whose tests use a lab:
//
//	func TestMain(m *testing.M) { lab.Main(m, lab.Config{Web: 2}) }
//
// It runs the tests and then tears the package's lab down (if a test asked
// for one), whatever the tests did, and exits. It also makes the test binary
// able to act as a lab host's first process. cfg.Dir and cfg.Subnet are
// chosen by Main, so that labs of packages tested at the same time stay
// apart; with cfg.ControlPlane and no cfg.Ferry, Main builds ferry once.
func Main(m Runner, cfg Config) {
	MaybeRunHostInit()
	shared.inMain = true
	shared.cfg = cfg

	// An interrupted test run still takes its lab down (a killed one
	// takes its hosts along through DieWithParent).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		slog.Warn("test binary interrupted; taking the lab down", "signal", sig.String())
		shared.stop()
		os.Exit(1)
	}()

	code := m.Run()
	if err := shared.stop(); err != nil {
		slog.Error("lab down after tests", "err", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// ForTest returns the test binary's lab, bringing it up on first use. When
// the lab cannot start (not root, packages missing) the test is skipped, or
// fails if FERRY_TEST_DISALLOW_SKIP=1. Tests share the lab: a test that
// stops a service or cuts a host off restores it before it ends.
func ForTest(t T) *Lab {
	t.Helper()
	if !shared.inMain {
		t.Fatalf("lab.ForTest needs lab.Main in the package's TestMain")
		return nil
	}
	shared.once.Do(shared.start)
	if shared.err != nil {
		if os.Getenv(DisallowSkipEnv) == "1" {
			t.Fatalf("lab unavailable: %v", shared.err)
			return nil
		}
		t.Skipf("lab unavailable (set %s=1 to fail instead): %v", DisallowSkipEnv, shared.err)
		return nil
	}
	return shared.lab
}

func (s *sharedLab) start() {
	if os.Geteuid() != 0 {
		s.err = ErrNotRoot
		return
	}
	if err := checkTools(); err != nil {
		s.err = err
		return
	}
	cfg := s.cfg
	subnet, unlock, err := ClaimTestSubnet()
	if err != nil {
		s.err = err
		return
	}
	s.release = append(s.release, unlock)
	sweepTestLabs()
	cfg.Subnet = subnet
	cfg.Dir = filepath.Join(TestBaseDir, fmt.Sprintf("net%d", subnet))
	cfg.DieWithParent = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A run killed earlier may have left this subnet's directory behind.
	if err := Down(ctx, cfg.Dir); err != nil {
		s.err = err
		return
	}
	if cfg.ControlPlane && cfg.Ferry == "" {
		bin, cleanup, err := BuildFerry(ctx)
		if err != nil {
			s.err = err
			return
		}
		s.release = append(s.release, cleanup)
		cfg.Ferry = bin
	}
	s.lab, s.err = Up(ctx, cfg)
}

// stop takes the lab down and releases what start claimed.
func (s *sharedLab) stop() error {
	var err error
	if s.lab != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = s.lab.Down(ctx)
		cancel()
		s.lab = nil
	}
	for i := len(s.release) - 1; i >= 0; i-- {
		s.release[i]()
	}
	s.release = nil
	return err
}

// sweepTestLabs removes the labs that test binaries which died (killed,
// timed out, panicked) left in TestBaseDir: those whose subnet nobody holds.
// Their hosts died with the test binary; their directories remain.
func sweepTestLabs() {
	entries, _ := os.ReadDir(TestBaseDir)
	for _, e := range entries {
		name := e.Name()
		digits := strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz")
		n, err := strconv.Atoi(digits)
		if err != nil || !e.IsDir() {
			continue
		}
		f, ok := lockSubnet(n)
		if !ok {
			continue // in use by a running test binary (or by us)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := Down(ctx, filepath.Join(TestBaseDir, name)); err != nil {
			slog.Warn("remove a dead test binary's lab", "dir", name, "err", err)
		}
		cancel()
		f.Close()
	}
}

// lockSubnet takes the lock of a test subnet, if nobody holds it.
func lockSubnet(n int) (*os.File, bool) {
	f, err := os.OpenFile(fmt.Sprintf("/run/lock/ferry-lab-subnet-%d.lock", n), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// ClaimTestSubnet picks a lab subnet no other test binary uses (2 and up;
// 1 is left to `ferry lab up`) and holds it until release is called or the
// process ends.
func ClaimTestSubnet() (subnet int, release func(), err error) {
	if err := os.MkdirAll("/run/lock", 0o1777); err != nil {
		return 0, nil, fmt.Errorf("claim subnet: %w", err)
	}
	for n := 2; n <= 254; n++ {
		f, ok := lockSubnet(n)
		if !ok {
			continue
		}
		// A lab started by hand on this subnet holds no lock; its sshd
		// gives it away.
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.%d.11:22", n), 200*time.Millisecond); err == nil {
			c.Close()
			f.Close()
			continue
		}
		return n, func() { f.Close() }, nil
	}
	return 0, nil, errors.New("claim subnet: all lab subnets are in use")
}

// BuildFerry builds the ferry binary into a temporary directory, for the
// control plane and agents of a test lab; cleanup removes it.
func BuildFerry(ctx context.Context) (path string, cleanup func(), err error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	dir, err := os.MkdirTemp("", "ferry-lab-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("build ferry: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, "ferry")
	out, err := exec.CommandContext(ctx, goTool, "build", "-tags", "lab", "-o", path, "ferry/cmd/ferry").CombinedOutput()
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build ferry: %w: %s", err, tail(string(out), 2000))
	}
	return path, cleanup, nil
}

// TB is the part of testing.TB that UpOwn uses.
type TB interface {
	T
	Cleanup(func())
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// UpOwn brings up a lab of the test's own, apart from the package's shared
// one, on a subnet it claims, with a ferry built for it (cfg.Ferry, when
// cfg.ControlPlane, is set to it); the lab goes down when the test ends.
// It returns the lab and the ferry binary. When the lab cannot start the
// test is skipped, or fails if FERRY_TEST_DISALLOW_SKIP=1.
func UpOwn(t TB, cfg Config) (*Lab, string) {
	t.Helper()
	fail := func(format string, args ...any) {
		if os.Getenv(DisallowSkipEnv) == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		fail("a lab needs root")
		return nil, ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	subnet, release, err := ClaimTestSubnet()
	if err != nil {
		t.Fatalf("%v", err)
		return nil, ""
	}
	t.Cleanup(release)
	cfg.Subnet = subnet
	cfg.Dir = filepath.Join(TestBaseDir, fmt.Sprintf("net%d", subnet))
	cfg.DieWithParent = true
	if err := Down(ctx, cfg.Dir); err != nil {
		t.Fatalf("%v", err)
		return nil, ""
	}
	bin, cleanup, err := BuildFerry(ctx)
	if err != nil {
		t.Fatalf("%v", err)
		return nil, ""
	}
	t.Cleanup(cleanup)
	if cfg.ControlPlane {
		cfg.Ferry = bin
	}
	start := time.Now()
	l, err := Up(ctx, cfg)
	if err != nil {
		fail("lab unavailable: %v", err)
		return nil, ""
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Down(ctx); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	t.Logf("lab up in %s", time.Since(start).Round(time.Millisecond))
	return l, bin
}
