package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"ferry/internal/model"
)

// Metric is what a plan evens out between hosts.
type Metric string

// Metrics a plan can even out.
const (
	// ByDisk evens out the bytes in use on each host's disk, as its node
	// last reported them.
	ByDisk Metric = "disk"
	// ByOrders evens out the number of active orders per host.
	ByOrders Metric = "orders"
	// ByLoad evens out the load average the nodes report; each order is
	// taken to carry an equal share of its host's load.
	ByLoad Metric = "load"
)

// RebalanceOptions say what a rebalance plan is to do.
type RebalanceOptions struct {
	By Metric `json:"by"`
	// MaxMoves bounds the number of moves of a rebalance (0: no bound).
	MaxMoves int `json:"max_moves,omitempty"`
	// Drain names a host to empty: every one of its orders goes to the
	// other active hosts, and nothing else moves.
	Drain string `json:"drain,omitempty"`
}

// RebalancePlan is a list of moves and what they do to each host.
type RebalancePlan struct {
	RebalanceOptions
	// MadeAt is when the fleet was read.
	MadeAt time.Time `json:"made_at"`
	// Moves are listed, and run, smallest first.
	Moves []PlannedMove `json:"moves"`
	// Hosts are the web hosts, by name, before and after the moves.
	Hosts []HostUse `json:"hosts"`
	// TotalBytes is the data the moves copy.
	TotalBytes int64 `json:"total_bytes"`
	// SpreadBefore and SpreadAfter are the difference between the most
	// and the least used host that takes orders, in the plan's metric.
	SpreadBefore float64 `json:"spread_before"`
	SpreadAfter  float64 `json:"spread_after"`
	// Unplaced are the orders of a drained host that fit on no other host.
	Unplaced []PlannedMove `json:"unplaced,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
	// Problems stop a drain: orders that cannot leave the host.
	Problems []string `json:"problems,omitempty"`
}

// PlannedMove is one planned move of an order.
type PlannedMove struct {
	OrderID    int64  `json:"order_id"`
	Identifier string `json:"identifier"`
	From       string `json:"from"`
	To         string `json:"to,omitempty"`
	Size       int64  `json:"size"`
	SizeSource string `json:"size_source,omitempty"`
}

// HostUse is one host before and after the plan.
type HostUse struct {
	Name  string          `json:"name"`
	State model.HostState `json:"state"`
	// Before and After are in the plan's metric.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	// Capacity is the disk the plan keeps the host under (0: unknown);
	// DiskBefore and DiskAfter are its bytes in use.
	Capacity     int64 `json:"capacity"`
	DiskBefore   int64 `json:"disk_before"`
	DiskAfter    int64 `json:"disk_after"`
	OrdersBefore int   `json:"orders_before"`
	OrdersAfter  int   `json:"orders_after"`
	// Out and In count the moves from and to the host.
	Out int `json:"out"`
	In  int `json:"in"`
	// LeftOut says why the plan moves nothing onto or off the host.
	LeftOut string `json:"left_out,omitempty"`
}

// BatchState is where a batch stands.
type BatchState string

// Batch states. A running batch drives its moves; a finished one has
// nothing left to drive; a cancelled one starts nothing more.
const (
	BatchRunning   BatchState = "running"
	BatchFinished  BatchState = "finished"
	BatchCancelled BatchState = "cancelled"
)

// EntryStatus is how one planned move of a batch is going.
type EntryStatus string

// Entry statuses. Done, failed, aborted and skipped are ends: the runner
// leaves such an entry alone (applying the plan again retries failed ones).
const (
	EntryPending EntryStatus = "pending" // not started yet
	EntryRunning EntryStatus = "running" // a phase runs, or the next is due
	// EntryVerified: verify passed and the move waits for an admin's
	// cutover (the batch runs without auto-cutover).
	EntryVerified EntryStatus = "verified"
	// EntryWaiting: auto-cutover waits for a guard (the old TTL, or the
	// delay before cleanup).
	EntryWaiting EntryStatus = "waiting"
	EntryDone    EntryStatus = "done"
	EntryFailed  EntryStatus = "failed"
	EntryAborted EntryStatus = "aborted"
	EntrySkipped EntryStatus = "skipped"
)

// Ended reports whether the runner is done with an entry.
func (s EntryStatus) Ended() bool {
	return s == EntryDone || s == EntryFailed || s == EntryAborted || s == EntrySkipped
}

// ApplyOptions say how a rebalance batch runs its moves.
type ApplyOptions struct {
	// Concurrency bounds the moves copying data at once (start to a passed
	// verify); a source host copies one order at a time whatever it is.
	Concurrency int `json:"concurrency"`
	// BWLimit caps each sync's file transfer in KiB/s (0: no cap).
	BWLimit int `json:"bwlimit,omitempty"`
	// AutoCutover cuts each verified move over and cleans it up as soon as
	// the move engine's guards allow (the old TTL since prepare, twice the
	// lowered TTL since the DNS switch); without it a move stops at verify.
	AutoCutover bool `json:"auto_cutover,omitempty"`
	// Force, with AutoCutover only, passes --skip-ttl-wait to cutover and
	// cleanup:
	// no wait for the TTLs. Resolvers that still hold the old address send
	// clients to the old host, which proxies to the new one until cleanup
	// and serves nothing after it.
	Force bool `json:"force,omitempty"`
}

// ApplyInput asks the control plane to carry a rebalance plan out.
type ApplyInput struct {
	Plan RebalancePlan `json:"plan"`
	ApplyOptions
}

// DrainInput asks the control plane to empty a host.
type DrainInput struct {
	ApplyOptions
}

// Batch is a rebalance plan being carried out, kept in the control plane.
type Batch struct {
	// ID is derived from the plan's moves: the same plan is the same batch.
	ID string `json:"id"`
	// By is the admin who applied it; the moves are audited under that name.
	By   string        `json:"by"`
	Plan RebalancePlan `json:"plan"`
	ApplyOptions
	State     BatchState   `json:"state"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Entries   []BatchEntry `json:"entries"`
}

// BatchEntry is one planned move and how it is going.
type BatchEntry struct {
	PlannedMove
	// MoveID is the move engine's move, once started.
	MoveID int64           `json:"move_id,omitempty"`
	Status EntryStatus     `json:"status"`
	Phase  model.MovePhase `json:"phase,omitempty"`
	// Note says what the entry waits for, or why it failed or was skipped.
	Note string `json:"note,omitempty"`
}

// Count returns how many entries have each status.
func (b *Batch) Count() map[EntryStatus]int {
	n := map[EntryStatus]int{}
	for _, e := range b.Entries {
		n[e.Status]++
	}
	return n
}

// Settled reports whether nothing of the batch runs or waits for a guard:
// every entry has ended or waits for an admin at verify.
func (b *Batch) Settled() bool {
	if b.State != BatchRunning {
		return true
	}
	for _, e := range b.Entries {
		if !e.Status.Ended() && e.Status != EntryVerified {
			return false
		}
	}
	return true
}

// BatchID names the batch that carries the plan out, by the plan's moves:
// the same moves are the same batch.
func (p RebalancePlan) BatchID() string {
	h := sha256.New()
	fmt.Fprintf(h, "drain %s\n", p.Drain)
	for _, m := range p.Moves {
		fmt.Fprintf(h, "%d %s %s\n", m.OrderID, m.From, m.To)
	}
	return "b-" + hex.EncodeToString(h.Sum(nil))[:12]
}
