package panel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync"

	"ferry/internal/store"
)

// notifier wakes the long-polls of nodes whose work changed: each host has
// a channel that is closed, and replaced, on every notify. With a relay
// (RelayWakeups), every notify also reaches the other control plane
// processes on the same store, and theirs reach this one.
type notifier struct {
	mu sync.Mutex
	ch map[string]chan struct{}
	// out holds the hosts to tell the other processes of, and kick wakes
	// the sender; nil without a relay.
	out  map[string]bool
	kick chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: map[string]chan struct{}{}} }

func (n *notifier) wait(host string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.ch[host]
	if !ok {
		c = make(chan struct{})
		n.ch[host] = c
	}
	return c
}

func (n *notifier) notify(hosts ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wakeLocked(hosts)
	if n.kick == nil || len(hosts) == 0 {
		return
	}
	for _, h := range hosts {
		n.out[h] = true
	}
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// local wakes this process's long-polls of hosts only (a wake-up another
// process sent), or all of them when all is set (wake-ups were lost).
func (n *notifier) local(all bool, hosts ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if all {
		hosts = slices.Collect(func(yield func(string) bool) {
			for h := range n.ch {
				if !yield(h) {
					return
				}
			}
		})
	}
	n.wakeLocked(hosts)
}

func (n *notifier) wakeLocked(hosts []string) {
	for _, h := range hosts {
		if c, ok := n.ch[h]; ok {
			close(c)
			delete(n.ch, h)
		}
	}
}

// Notify wakes the nodes of hosts, after a change committed outside the
// panel's own methods (the move engine).
func (p *Panel) Notify(hosts ...string) { p.wakeup.notify(hosts...) }

// wakePayloadMax keeps a wake-up under PostgreSQL's 8,000-byte limit.
const wakePayloadMax = 7000

// RelayWakeups makes node wake-ups cross between the control plane
// processes on this panel's store, until ctx ends: a change made through
// one replica wakes the nodes long-polling another at once, not when
// their poll times out. Each wake-up is one message naming the sender and
// the hosts ("<sender> web1 web2"); a process ignores its own. A store
// that reaches no other process (SQLite) makes this a no-op. The returned
// function waits until the relay stopped after ctx ended.
func (p *Panel) RelayWakeups(ctx context.Context) (wait func()) {
	w := store.AsWaker(p.store)
	if w == nil {
		return func() {}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	self := hex.EncodeToString(b[:])
	n := p.wakeup
	n.mu.Lock()
	n.out, n.kick = map[string]bool{}, make(chan struct{}, 1)
	n.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		w.ListenWake(ctx, func(payload string) {
			from, hosts, _ := strings.Cut(payload, " ")
			if from != self {
				n.local(false, strings.Fields(hosts)...)
			}
		}, func(err error) {
			p.log.Warn("wake-ups from other control plane processes were lost; waking every node of this one", "err", err)
			n.local(true)
		})
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-n.kick:
			}
			for _, msg := range n.take(self) {
				if err := w.Wake(ctx, msg); err != nil && ctx.Err() == nil {
					p.log.Warn("cannot wake the nodes of other control plane processes; they see the change at their next poll", "err", err)
				}
			}
		}
	}()
	return wg.Wait
}

// take empties the hosts to tell the other processes of into messages
// from self of at most wakePayloadMax bytes.
func (n *notifier) take(self string) []string {
	n.mu.Lock()
	hosts := make([]string, 0, len(n.out))
	for h := range n.out {
		hosts = append(hosts, h)
	}
	clear(n.out)
	n.mu.Unlock()
	slices.Sort(hosts)
	var msgs []string
	msg := self
	for _, h := range hosts {
		if len(self)+1+len(h) > wakePayloadMax {
			continue // no host name is this long
		}
		if len(msg)+1+len(h) > wakePayloadMax {
			msgs, msg = append(msgs, msg), self
		}
		msg += " " + h
	}
	if msg != self {
		msgs = append(msgs, msg)
	}
	return msgs
}
