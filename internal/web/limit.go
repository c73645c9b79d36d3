package web

import (
	"sync"
	"time"
)

// Login attempt limits. A login name may fail loginFree times, a client
// address addrFree times, before each further failure locks it for
// lockFirst, doubling up to lockMax; a success clears the name's count.
// Failures older than forgetAfter are forgotten.
const (
	loginFree   = 5
	addrFree    = 20
	lockFirst   = time.Minute
	lockMax     = time.Hour
	forgetAfter = 24 * time.Hour
)

// attempts counts one key's failed logins.
type attempts struct {
	failed int
	last   time.Time
	until  time.Time // locked until then
}

// limiter keeps the failed logins per login name and per client address,
// in this process's memory: a restart or another replica starts afresh,
// which still caps a guesser at a few tries a minute per replica.
type limiter struct {
	mu   sync.Mutex
	keys map[string]*attempts
	now  func() time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{keys: map[string]*attempts{}, now: now}
}

// locked says until when key is locked; the zero time when it is not.
func (l *limiter) locked(key string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.keys[key]
	if a == nil || !l.now().Before(a.until) {
		return time.Time{}
	}
	return a.until
}

// fail counts a failure of key, which may fail free times before it is
// locked, and returns until when it is now locked (zero: not locked).
func (l *limiter) fail(key string, free int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	a := l.keys[key]
	if a == nil {
		a = &attempts{}
		l.keys[key] = a
	}
	a.failed++
	a.last = now
	if a.failed < free {
		return time.Time{}
	}
	d := lockFirst
	for i := free; i < a.failed && d < lockMax; i++ {
		d *= 2
	}
	a.until = now.Add(min(d, lockMax))
	return a.until
}

// clear forgets key's failures (a login that succeeded).
func (l *limiter) clear(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

// sweep forgets keys whose last failure is long past and that are not
// locked, so the map stays small.
func (l *limiter) sweep(now time.Time) {
	for k, a := range l.keys {
		if now.Sub(a.last) > forgetAfter && !now.Before(a.until) {
			delete(l.keys, k)
		}
	}
}
