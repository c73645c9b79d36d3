package panel

import (
	"context"
	"sync"
	"time"
)

// notifier wakes the long-polls of nodes whose work changed: each host has
// a channel that is closed, and replaced, on every notify.
type notifier struct {
	mu sync.Mutex
	ch map[string]chan struct{}
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
	for _, h := range hosts {
		if c, ok := n.ch[h]; ok {
			close(c)
			delete(n.ch, h)
		}
	}
}

// notifyAll wakes every waiter: after the replicas' wake-ups may have been
// missed, each waiter looks again.
func (n *notifier) notifyAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h, c := range n.ch {
		close(c)
		delete(n.ch, h)
	}
}

// wakeTimeout bounds telling the other replicas of a change; a wake-up
// that does not get through only delays their waiters until their next
// look (a node's long poll ends within its wait, a move's job within its
// poll).
const wakeTimeout = 5 * time.Second

// notify wakes the waiters on keys (host names, moveKey) in this process
// and, through the store, in every other replica's.
func (p *Panel) notify(keys ...string) {
	if len(keys) == 0 {
		return
	}
	p.wakeup.notify(keys...)
	ctx, cancel := context.WithTimeout(context.Background(), wakeTimeout)
	defer cancel()
	if err := p.store.Wake(ctx, keys...); err != nil {
		p.log.Warn("panel: wake the other replicas", "err", err)
	}
}

// Notify wakes the nodes of hosts, after a change committed outside the
// panel's own methods (the move engine), here and in every other replica.
func (p *Panel) Notify(hosts ...string) { p.notify(hosts...) }

// ListenReplicas passes the wake-ups other replicas send through the store
// to this process's waiters, until ctx ends. When the store's connection
// breaks it listens again after retry, and wakes every waiter, since a
// wake-up may have come meanwhile. ready, when not nil, is called when the
// first listener is in place.
func (p *Panel) ListenReplicas(ctx context.Context, retry time.Duration, ready func()) {
	first := true
	for ctx.Err() == nil {
		err := p.store.Listen(ctx, func() {
			if first {
				first = false
				if ready != nil {
					ready()
				}
				return
			}
			p.wakeup.notifyAll()
		}, func(key string) { p.wakeup.notify(key) })
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("panel: listening for the other replicas' wake-ups", "err", err, "retry_in", retry)
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}
