package panel

import "sync"

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

// Notify wakes the nodes of hosts, after a change committed outside the
// panel's own methods (the move engine).
func (p *Panel) Notify(hosts ...string) { p.wakeup.notify(hosts...) }
