package cptest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// NodeOptions say how a fake node answers.
type NodeOptions struct {
	// DiskFree is what its heartbeats report; 100 GiB when zero.
	DiskFree int64
	// Results are the move tasks' results by task kind; a kind not in
	// it succeeds with no result. MoveResults when nil.
	Results map[string]any
	// Wait is how long one long poll waits for work; 200ms when zero.
	Wait time.Duration
}

// MoveResults are canned results of a move's tasks that let every phase
// go through: keys, a host key, a file sync, a database sync and a verify
// that finds the copies equal.
func MoveResults() map[string]any {
	sums := []model.TableSum{{DB: "coop_db", Table: "posts", Rows: 3, Checksum: "42"}}
	return map[string]any{
		model.TaskMoveKeygen:    model.MoveKeygenResult{PublicKey: "ssh-ed25519 AAAAkey move"},
		model.TaskMoveAuthorize: model.MoveAuthorizeResult{HostKey: "127.0.1.12 ssh-ed25519 AAAAhost"},
		model.TaskMoveSyncFiles: model.MoveSyncFilesResult{Bytes: 5 << 20, TotalBytes: 8 << 20, Files: 12, TotalFiles: 30, Percent: 100},
		model.TaskMoveSyncDB:    model.MoveSyncDBResult{Tables: sums, TablesCopied: 1},
		model.TaskMoveVerify:    model.MoveVerifyResult{Old: sums, New: sums},
		model.TaskMoveFreeze: model.MoveFreezeResult{FreezeSeconds: 0.2, Runs: 1, Steps: map[string]float64{"maintenance": 0.03, "files": 0.08, "db": 0.12, "proxy": 0.04},
			Files: model.MoveSyncFilesResult{Files: 1, TrackedPaths: 1, Percent: 100}, DB: model.MoveSyncDBResult{Tables: sums, TablesCopied: 1}},
	}
}

// Node is a fake node agent for one host: a goroutine that long-polls the
// host's work through the typed client, as ferry node does (or, from
// StartPanelNode, through the panel itself), and answers it without
// touching the machine. Items are reported applied (deleted,
// disabled or active, as they ask), move tasks done with canned results;
// hooks make it fail or hold items and tasks of a kind, or go offline.
// It stops when the test ends.
type Node struct {
	api  nodeAPI
	wait time.Duration

	mu        sync.Mutex
	diskFree  int64
	results   map[string]any
	failItems map[model.Kind]wire.Report
	holdItems map[model.Kind]bool
	failTasks map[string]string
	holdTasks map[string]chan struct{}
	held      map[int64]bool // tasks waiting for their kind's release
	ran       map[string]int // task kind → times reported done
	offline   bool
	// clock, when set, gives the time the node's heartbeats say they were
	// sent at: a node whose clock is off.
	clock func() time.Time

	// php are the PHP-FPM versions the node's heartbeats report.
	php []string
	// beats counts the heartbeats the control plane took.
	beats atomic.Int64
}

// nodeAPI is what a fake node calls: the typed client (StartNode) or the
// panel as the host's node token would (StartPanelNode).
type nodeAPI interface {
	Heartbeat(ctx context.Context, hb model.Heartbeat) error
	NodeWork(ctx context.Context, wait time.Duration) (wire.Work, error)
	ReportItem(ctx context.Context, id int64, r wire.Report) (model.Item, error)
	ReportTask(ctx context.Context, id int64, r wire.TaskReport) (model.Task, error)
}

// StartNode starts a fake node that talks to the API at url with the node
// token token; it stops when the test ends.
func StartNode(t testing.TB, url, token string, o NodeOptions) *Node {
	t.Helper()
	c, err := client.New(url, token, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return startNode(t, c, o)
}

func startNode(t testing.TB, api nodeAPI, o NodeOptions) *Node {
	ctx, cancel := context.WithCancel(context.Background())
	n, wait := runNode(ctx, api, o)
	t.Cleanup(func() {
		cancel()
		wait()
	})
	return n
}

// RunNode runs a fake node through c, outside a test (the benchmark's
// nodes), until ctx ends; wait returns once it has stopped.
func RunNode(ctx context.Context, c *client.Client, o NodeOptions) (n *Node, wait func()) {
	return runNode(ctx, c, o)
}

func runNode(ctx context.Context, api nodeAPI, o NodeOptions) (*Node, func()) {
	n := &Node{api: api, wait: o.Wait, diskFree: o.DiskFree, results: o.Results,
		failItems: map[model.Kind]wire.Report{}, holdItems: map[model.Kind]bool{},
		failTasks: map[string]string{}, holdTasks: map[string]chan struct{}{},
		held: map[int64]bool{}, ran: map[string]int{}}
	if n.wait == 0 {
		n.wait = 200 * time.Millisecond
	}
	if n.diskFree == 0 {
		n.diskFree = 100 << 30
	}
	if n.results == nil {
		n.results = MoveResults()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.run(ctx)
	}()
	return n, wg.Wait
}

// FailItems makes the node report items of kind in state (soft-error or
// hard-error) with message instead of applying them.
func (n *Node) FailItems(kind model.Kind, state model.State, message string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failItems[kind] = wire.Report{State: state, Message: message}
}

// HoldItems leaves items of kind pending until release is called.
func (n *Node) HoldItems(kind model.Kind) (release func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.holdItems[kind] = true
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.holdItems, kind)
	}
}

// FailTasks makes the node report tasks of kind failed with message; an
// empty message makes it answer them again.
func (n *Node) FailTasks(kind, message string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if message == "" {
		delete(n.failTasks, kind)
		return
	}
	n.failTasks[kind] = message
}

// HoldTasks keeps tasks of kind unanswered until release is called.
func (n *Node) HoldTasks(kind string) (release func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := make(chan struct{})
	n.holdTasks[kind] = ch
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.holdTasks[kind] == ch {
			delete(n.holdTasks, kind)
			close(ch)
		}
	}
}

// SetOffline stops (true) or resumes (false) the node's heartbeats and
// polls, as a node that lost the control plane would.
func (n *Node) SetOffline(off bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.offline = off
}

// SetClock makes the node's heartbeats carry now() as the time they were
// sent, as a node with its own clock does; nil leaves the time out.
func (n *Node) SetClock(now func() time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.clock = now
}

// SetDiskFree changes what the node's heartbeats report.
func (n *Node) SetDiskFree(b int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.diskFree = b
}

// SetPHPVersions changes the PHP-FPM versions the node's heartbeats
// report its host has, and waits until one has reported them.
func (n *Node) SetPHPVersions(versions ...string) {
	n.mu.Lock()
	n.php = slices.Clone(versions)
	n.mu.Unlock()
	n.beats.Store(0) // the second heartbeat from now was built after the change
	for deadline := time.Now().Add(5 * time.Second); n.beats.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// Ran counts the tasks of kind the node reported done.
func (n *Node) Ran(kind string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ran[kind]
}

func (n *Node) run(ctx context.Context) {
	var tasks sync.WaitGroup
	defer tasks.Wait()
	for ctx.Err() == nil {
		n.mu.Lock()
		off, hb := n.offline, model.Heartbeat{DiskFree: n.diskFree, PHPVersions: n.php}
		if n.clock != nil {
			at := n.clock()
			hb.LastSeen = &at
		}
		n.mu.Unlock()
		if off {
			pause(ctx, 20*time.Millisecond)
			continue
		}
		if n.api.Heartbeat(ctx, hb) == nil {
			n.beats.Add(1)
		}
		w, err := n.api.NodeWork(ctx, n.wait)
		if err != nil {
			pause(ctx, 50*time.Millisecond)
			continue
		}
		held := 0
		for _, wi := range w.Items {
			rep, ok := n.itemReport(wi.Item)
			if !ok {
				held++
				continue
			}
			_, _ = n.api.ReportItem(ctx, wi.Item.ID, rep)
		}
		for _, tk := range w.Tasks {
			if hold := n.taskHold(tk); hold != nil {
				tasks.Add(1)
				go func() {
					defer tasks.Done()
					select {
					case <-hold:
						n.answer(ctx, tk)
					case <-ctx.Done():
					}
				}()
				continue
			}
			n.answer(ctx, tk)
		}
		if held > 0 && held == len(w.Items) && len(w.Tasks) == 0 {
			// Held items come back at once with every poll.
			pause(ctx, 20*time.Millisecond)
		}
	}
}

// itemReport is what the node reports for it, or false while its kind is
// held.
func (n *Node) itemReport(it model.Item) (wire.Report, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.holdItems[it.Kind] {
		return wire.Report{}, false
	}
	if rep, ok := n.failItems[it.Kind]; ok {
		return rep, true
	}
	return wire.Report{State: AppliedState(it.State)}, true
}

// AppliedState is what a node reports for an item in state once it did
// what the state asks: deleted, disabled, or active.
func AppliedState(state model.State) model.State {
	switch state {
	case model.StatePendingDelete:
		return model.StateDeleted
	case model.StatePendingDisable:
		return model.StateDisabled
	}
	return model.StateActive
}

// taskHold returns what a held task waits for, once per task: a task
// comes back with each lease, and one waiting already is not held again.
func (n *Node) taskHold(tk model.Task) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	hold := n.holdTasks[tk.Kind]
	if hold == nil || n.held[tk.ID] {
		return nil
	}
	n.held[tk.ID] = true
	return hold
}

func (n *Node) answer(ctx context.Context, tk model.Task) {
	n.mu.Lock()
	msg, failed := n.failTasks[tk.Kind]
	res, hasResult := n.results[tk.Kind]
	delete(n.held, tk.ID)
	n.mu.Unlock()
	rep := wire.TaskReport{OK: !failed, Error: msg}
	if !failed && hasResult {
		rep.Result, _ = json.Marshal(res)
	}
	if _, err := n.api.ReportTask(ctx, tk.ID, rep); err != nil {
		return
	}
	if rep.OK {
		n.mu.Lock()
		n.ran[tk.Kind]++
		n.mu.Unlock()
	}
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
