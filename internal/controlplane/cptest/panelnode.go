package cptest

import (
	"context"
	"sync"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/wire"
)

// StartPanelNode starts a fake node for host that calls p as the host's
// node token would, for tests of what runs without an API (the move
// engine). UsePanel hands it another panel.
func StartPanelNode(t testing.TB, p *panel.Panel, host string, o NodeOptions) *Node {
	t.Helper()
	return startNode(t, &panelAPI{p: p, c: panel.Caller{Name: "node-" + host, Role: model.RoleNode, Host: host}}, o)
}

// UsePanel makes a node StartPanelNode started call p from now on, as
// when the control plane restarts on the same store.
func (n *Node) UsePanel(p *panel.Panel) {
	n.api.(*panelAPI).use(p)
}

// panelAPI is the panel as a node sees it.
type panelAPI struct {
	mu sync.Mutex
	p  *panel.Panel
	c  panel.Caller
}

func (a *panelAPI) use(p *panel.Panel) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.p = p
}

func (a *panelAPI) panel() *panel.Panel {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.p
}

func (a *panelAPI) Heartbeat(ctx context.Context, hb model.Heartbeat) error {
	return a.panel().Heartbeat(ctx, a.c, hb)
}

func (a *panelAPI) NodeWork(ctx context.Context, wait time.Duration) (wire.Work, error) {
	return a.panel().NodeWork(ctx, a.c, wait)
}

func (a *panelAPI) ReportItem(ctx context.Context, id int64, r wire.Report) (model.Item, error) {
	return a.panel().ReportItem(ctx, a.c, id, r)
}

func (a *panelAPI) ReportTask(ctx context.Context, id int64, r wire.TaskReport) (model.Task, error) {
	return a.panel().ReportTask(ctx, a.c, id, r)
}
