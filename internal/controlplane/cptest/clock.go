package cptest

import (
	"sync"
	"time"
)

// Clock is a test's clock, which the test moves forward to let TTLs,
// holds and sessions run out. Its zero value is real time plus the offset
// advanced so far; FixedClock's stands still between advances. Hand
// Clock.Now to what takes a clock: panel.Options.Now, move.Options.Now,
// web.Options.Now, controlplane.Config.Now.
type Clock struct {
	mu    sync.Mutex
	fixed bool
	at    time.Time     // a fixed clock's instant
	off   time.Duration // a real clock's offset
}

// FixedClock returns a clock that reads at until it is advanced.
func FixedClock(at time.Time) *Clock { return &Clock{fixed: true, at: at} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed {
		return c.at
	}
	return time.Now().Add(c.off)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed {
		c.at = c.at.Add(d)
		return
	}
	c.off += d
}
