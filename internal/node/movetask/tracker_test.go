package movetask

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newTracker starts a tracker on a fresh tree holding the given files.
func newTracker(t *testing.T, files ...string) (*changeTracker, string) {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := startTracker(root, trackerMaxPaths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	if why := tr.lostReason(); why != "" {
		t.Fatalf("tracker lost at start: %s", why)
	}
	return tr, root
}

// waitFor takes the tracker's list until it holds every path of want (the
// kernel hands events over asynchronously) and returns all it took.
func waitForPaths(t *testing.T, tr *changeTracker, want ...string) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		paths, lost := tr.take()
		if lost != "" {
			t.Fatalf("tracker lost: %s", lost)
		}
		got = append(got, paths...)
		missing := false
		for _, w := range want {
			missing = missing || !slices.Contains(got, w)
		}
		if !missing {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("changed paths %q, want all of %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTrackerWriteAndDelete(t *testing.T) {
	tr, root := newTracker(t, "web/index.php", "web/old.txt", "users/ada/notes")
	if paths, _ := tr.take(); len(paths) != 0 {
		t.Fatalf("changes before anything changed: %q", paths)
	}
	if err := os.WriteFile(filepath.Join(root, "web/index.php"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "web/old.txt")); err != nil {
		t.Fatal(err)
	}
	// One take right after the writes holds them: the final sync takes the
	// list the moment the site is frozen, with no time for events to trickle in.
	got, lost := tr.take()
	if lost != "" {
		t.Fatalf("tracker lost: %s", lost)
	}
	for _, w := range []string{"web/index.php", "web/old.txt", "web"} {
		if !slices.Contains(got, w) {
			t.Errorf("a take right after the change lacks %s: %q", w, got)
		}
	}
	if slices.Contains(got, "users/ada/notes") {
		t.Errorf("an untouched file is listed: %q", got)
	}
	// The list was taken: nothing is listed twice.
	time.Sleep(50 * time.Millisecond)
	if paths, _ := tr.take(); len(paths) != 0 {
		t.Errorf("listed again after take: %q", paths)
	}
}

func TestTrackerRename(t *testing.T) {
	tr, root := newTracker(t, "web/a.txt", "web/img/logo.png")
	if err := os.Rename(filepath.Join(root, "web/a.txt"), filepath.Join(root, "web/b.txt")); err != nil {
		t.Fatal(err)
	}
	// A directory renamed: its old name goes, every path under the new one
	// is listed, and what is written in it afterwards too.
	if err := os.Rename(filepath.Join(root, "web/img"), filepath.Join(root, "web/pictures")); err != nil {
		t.Fatal(err)
	}
	waitForPaths(t, tr, "web/a.txt", "web/b.txt", "web/img", "web/pictures", "web/pictures/logo.png")
	if err := os.WriteFile(filepath.Join(root, "web/pictures/new.png"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitForPaths(t, tr, "web/pictures/new.png")
}

func TestTrackerNewDirectory(t *testing.T) {
	tr, root := newTracker(t, "web/index.php")
	// A tree made after the watch began, files and all, before the tracker
	// can have watched it; then a file written in it later.
	deep := filepath.Join(root, "web/uploads/2026/12")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(deep, "a.jpg"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitForPaths(t, tr, "web/uploads", "web/uploads/2026/12/a.jpg")
	if err := os.WriteFile(filepath.Join(deep, "b.jpg"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitForPaths(t, tr, "web/uploads/2026/12/b.jpg")
	// A directory removed with all it held.
	if err := os.RemoveAll(filepath.Join(root, "web/uploads")); err != nil {
		t.Fatal(err)
	}
	waitForPaths(t, tr, "web/uploads", "web")
}

func TestTrackerAttributes(t *testing.T) {
	tr, root := newTracker(t, "web/index.php")
	if err := os.Chmod(filepath.Join(root, "web/index.php"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitForPaths(t, tr, "web/index.php")
}

func TestTrackerLost(t *testing.T) {
	t.Run("queue overflow", func(t *testing.T) {
		tr, root := newTracker(t, "web/index.php")
		os.WriteFile(filepath.Join(root, "web/index.php"), []byte("x"), 0o644)
		waitForPaths(t, tr, "web/index.php")
		tr.mu.Lock()
		tr.handle(-1, unix.IN_Q_OVERFLOW, "")
		tr.mu.Unlock()
		paths, lost := tr.take()
		if !strings.Contains(lost, "IN_Q_OVERFLOW") || paths != nil {
			t.Fatalf("after an overflow: paths %q, lost %q", paths, lost)
		}
		// It stays lost: later events do not make a list again.
		os.WriteFile(filepath.Join(root, "web/index.php"), []byte("y"), 0o644)
		time.Sleep(50 * time.Millisecond)
		if _, lost := tr.take(); lost == "" {
			t.Fatal("the tracker trusted its list again after an overflow")
		}
	})
	t.Run("too many paths", func(t *testing.T) {
		root := t.TempDir()
		tr, err := startTracker(root, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		for _, f := range []string{"a", "b", "c", "d", "e"} {
			os.WriteFile(filepath.Join(root, f), nil, 0o644)
		}
		deadline := time.Now().Add(10 * time.Second)
		for tr.lostReason() == "" {
			if time.Now().After(deadline) {
				t.Fatal("five changes did not overflow a list of three")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, lost := tr.take(); !strings.Contains(lost, "more than 3 paths") {
			t.Errorf("lost: %q", lost)
		}
	})
	t.Run("order directory moved", func(t *testing.T) {
		tr, root := newTracker(t, "web/index.php")
		if err := os.Rename(root, root+".moved"); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(root+".moved", root)
		deadline := time.Now().Add(10 * time.Second)
		for tr.lostReason() == "" {
			if time.Now().After(deadline) {
				t.Fatal("moving the order directory away kept the tracker")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestTrackerPutBack(t *testing.T) {
	tr, root := newTracker(t, "web/index.php")
	os.WriteFile(filepath.Join(root, "web/index.php"), []byte("x"), 0o644)
	got := waitForPaths(t, tr, "web/index.php")
	tr.putBack(got) // the sync that took them failed
	paths, _ := tr.take()
	if !slices.Contains(paths, "web/index.php") {
		t.Errorf("after put back: %q", paths)
	}
}
