package movetask

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A changeTracker follows, with inotify, what changes under an order's
// directory between two syncs, so that the final sync under the cutover
// freeze hands rsync the changed paths instead of comparing the whole
// tree: the freeze then follows the change, not the site.
//
// Correctness comes first. Marking a path that did not change costs a
// little time (rsync finds it equal); missing one would lose a write. So
// every event marks its path and the directory it is in, a directory that
// appears (made, or moved in) is watched and every path under it marked,
// and whenever the tracker cannot vouch for its list it is lost: the
// kernel's queue overflowed (IN_Q_OVERFLOW), the watch limit was reached,
// the tree itself was moved or deleted, the list grew past its bound. A
// lost tracker makes the final sync compare the whole tree, as every
// earlier sync does.
//
// What inotify cannot see, no tracker can offer: writes through a shared
// memory mapping (mmap) raise no event. Such files are rare in a web
// site's tree; verify before the cutover compares the whole tree.
type changeTracker struct {
	root string
	fd   int // the inotify instance, non-blocking
	max  int // paths the list may hold before the tracker gives up

	mu      sync.Mutex
	dirs    map[int32]string // watch → its directory, relative to root ("." for root)
	changed map[string]bool  // paths relative to root
	lost    string           // why the list cannot be trusted; "" while it can
	closed  bool
	buf     []byte
	stop    chan struct{}
	done    chan struct{}
}

// trackerMaxPaths bounds a tracker's list (and its memory): a final sync
// past it compares the whole tree, which is then about as fast.
const trackerMaxPaths = 50_000

// trackerMask are the events that mean a path's content, metadata or
// existence changed.
const trackerMask = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE |
	unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_DONT_FOLLOW | unix.IN_ONLYDIR

// startTracker watches every directory under root and returns the tracker.
// A tracker that could not watch everything (the watch limit) comes back
// lost rather than failing: the caller then syncs the whole tree.
func startTracker(root string, max int) (*changeTracker, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	t := &changeTracker{root: root, fd: fd, max: max, buf: make([]byte, 64<<10),
		dirs: map[int32]string{}, changed: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go t.read()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.watchTree("."); err != nil {
		t.lose(err.Error())
	}
	return t, nil
}

// Close stops the tracker.
func (t *changeTracker) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	return unix.Close(t.fd)
}

// take returns the paths changed since the last take (sorted) and empties
// the list, or why the list cannot be trusted. A lost tracker stays lost.
func (t *changeTracker) take() ([]string, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.drain()
	}
	if t.lost != "" {
		return nil, t.lost
	}
	paths := make([]string, 0, len(t.changed))
	for p := range t.changed {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	clear(t.changed)
	return paths, ""
}

// putBack marks paths again: a sync that took them and then failed did
// not carry them.
func (t *changeTracker) putBack(paths []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range paths {
		t.mark(p)
	}
}

// lostReason says why the tracker's list cannot be trusted, "" while it can.
func (t *changeTracker) lostReason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.drain()
	}
	return t.lost
}

// lose gives up the list for good; t.mu is held.
func (t *changeTracker) lose(why string) {
	if t.lost == "" {
		t.lost = why
		clear(t.changed)
	}
}

// mark adds path to the list; t.mu is held.
func (t *changeTracker) mark(path string) {
	if t.lost != "" {
		return
	}
	if len(t.changed) >= t.max {
		t.lose(fmt.Sprintf("more than %d paths changed", t.max))
		return
	}
	t.changed[path] = true
}

// watchTree watches dir (relative to root) and every directory under it,
// marking every path it finds: a directory that appears after tracking
// began may hold files made before its watch was. A directory is watched
// before it is read, so nothing made in it meanwhile is missed. t.mu is
// held.
func (t *changeTracker) watchTree(dir string) error {
	return filepath.WalkDir(filepath.Join(t.root, dir), func(path string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(t.root, path)
		if rerr != nil {
			return rerr
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				t.mark(rel) // gone already: the sync deletes it on the other side
				return nil
			}
			return fmt.Errorf("watch %s: %w", rel, err)
		}
		if dir != "." {
			t.mark(rel)
		}
		if !d.IsDir() {
			return nil
		}
		if t.closed {
			return errors.New("the tracker is closed")
		}
		wd, err := unix.InotifyAddWatch(t.fd, path, trackerMask)
		switch {
		case errors.Is(err, unix.ENOSPC):
			return fmt.Errorf("the inotify watch limit is reached (fs.inotify.max_user_watches) at %s", rel)
		case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
			t.mark(rel)
			return fs.SkipDir
		case err != nil:
			return fmt.Errorf("watch %s: %w", rel, err)
		}
		// A directory moved inside the tree keeps its watch: the same
		// watch now stands for the new path.
		t.dirs[int32(wd)] = rel
		return nil
	})
}

// read drains the kernel's queue as events come, until the tracker is
// closed; take drains it too, so that a list taken holds every event the
// kernel queued before.
func (t *changeTracker) read() {
	defer close(t.done)
	fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
	for {
		select {
		case <-t.stop:
			return
		default:
		}
		if _, err := unix.Poll(fds, 100); err != nil && !errors.Is(err, unix.EINTR) {
			t.mu.Lock()
			t.lose("waiting for inotify events: " + err.Error())
			t.mu.Unlock()
			return
		}
		t.mu.Lock()
		t.drain()
		t.mu.Unlock()
	}
}

// drain handles every event queued; t.mu is held.
func (t *changeTracker) drain() {
	for {
		n, err := unix.Read(t.fd, t.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			return
		}
		if err != nil || n <= 0 {
			t.lose(fmt.Sprintf("reading inotify events: %v", err))
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&t.buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			if end > n {
				t.lose("a truncated inotify event")
				return
			}
			name := t.buf[off+unix.SizeofInotifyEvent : end]
			t.handle(ev.Wd, ev.Mask, strings.TrimRight(string(name), "\x00"))
			off = end
		}
	}
}

// handle takes one event: watch wd saw mask happen to name in its
// directory (name is empty when the event is about the directory itself).
// t.mu is held.
func (t *changeTracker) handle(wd int32, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		t.lose("the kernel's inotify queue overflowed (IN_Q_OVERFLOW)")
		return
	}
	dir, ok := t.dirs[wd]
	if !ok {
		return // a watch already removed
	}
	if mask&unix.IN_IGNORED != 0 {
		delete(t.dirs, wd)
		return
	}
	if name == "" {
		if dir == "." && mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
			t.lose("the order directory itself was moved or deleted")
			return
		}
		t.mark(dir)
		return
	}
	path := filepath.Join(dir, name)
	t.mark(dir) // its entries or times changed
	t.mark(path)
	if mask&unix.IN_ISDIR != 0 && mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
		if err := t.watchTree(path); err != nil {
			t.lose(err.Error())
		}
	}
}
