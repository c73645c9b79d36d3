package model

import (
	"encoding/json"
	"time"
)

// MovePhase is where a move stands (DESIGN.md, "The move").
type MovePhase string

// Move phases, in order. Aborted and Done are ends.
const (
	PhasePrepare MovePhase = "prepare"
	PhaseSync    MovePhase = "sync"
	PhaseVerify  MovePhase = "verify"
	PhaseCutover MovePhase = "cutover"
	PhaseCleanup MovePhase = "cleanup"
	PhaseAbort   MovePhase = "abort"
	PhaseDone    MovePhase = "done"
	PhaseAborted MovePhase = "aborted"
)

// MoveStatus is how the move's current phase is going.
type MoveStatus string

// Move statuses.
const (
	MoveRunning   MoveStatus = "running"
	MoveSucceeded MoveStatus = "succeeded"
	MoveFailed    MoveStatus = "failed"
)

// Move is one hosting order's move from one host to another.
type Move struct {
	ID           int64           `json:"id"`
	OrderID      int64           `json:"order_id"`
	LimboOrderID int64           `json:"limbo_order_id,omitempty"`
	From         string          `json:"from"`
	To           string          `json:"to"`
	Phase        MovePhase       `json:"phase"`
	Status       MoveStatus      `json:"status"`
	Error        string          `json:"error,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// Active reports whether the move has not ended.
func (m *Move) Active() bool { return m.Phase != PhaseDone && m.Phase != PhaseAborted }

// TaskState is a node task's state.
type TaskState string

// Task states.
const (
	TaskQueued TaskState = "queued"
	TaskLeased TaskState = "leased"
	TaskDone   TaskState = "done"
	TaskFailed TaskState = "failed"
)

// Task is a piece of data work for one host's node (a sync, a dump, a
// check), handed out through the node's pull loop under a lease: a node
// that dies mid-task loses the lease and the task is handed out again.
type Task struct {
	ID         int64           `json:"id"`
	Host       string          `json:"host"`
	MoveID     int64           `json:"move_id,omitempty"`
	Kind       string          `json:"kind"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	State      TaskState       `json:"state"`
	Attempts   int             `json:"attempts"`
	LeaseUntil *time.Time      `json:"lease_until,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      string          `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}
