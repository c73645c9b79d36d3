package apply

import (
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// hostLock serialises changes to what items share on a host (Apache's and
// PHP-FPM's configs and reloads, crontabs, the user database): within a
// process by a mutex, and across processes (the agent, a `ferry node apply`
// run by hand) by flock on a file. The lock file lives under /run, so in a
// lab each host has its own.
type hostLock struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex
	f    *os.File
}

// Lock waits for the host's lock. If the lock file cannot be opened, it
// says so and holds the process's lock alone.
func (l *hostLock) Lock() {
	l.mu.Lock()
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		l.log.Warn("cannot open the host lock file; locking this process only", "file", l.path, "error", err)
		return
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		l.log.Warn("cannot lock the host lock file; locking this process only", "file", l.path, "error", err)
		f.Close()
		return
	}
	l.f = f
}

// Unlock releases the lock.
func (l *hostLock) Unlock() {
	if l.f != nil {
		l.f.Close() // releases the flock
		l.f = nil
	}
	l.mu.Unlock()
}
