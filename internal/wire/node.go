package wire

import (
	"encoding/json"
	"time"

	"ferry/internal/model"
)

// WorkItem is one pending item for a node, with the order it belongs to
// (the node needs the member and identifier for the order's directory).
type WorkItem struct {
	Item  model.Item  `json:"item"`
	Order model.Order `json:"order"`
}

// Work is what a node gets from one poll: pending items of its host, in the
// order kinds must be applied, and tasks leased to it. A dns host also gets
// the full set of records it serves (DNS) whenever any dns item is pending.
type Work struct {
	Items []WorkItem   `json:"items"`
	Tasks []model.Task `json:"tasks"`
	DNS   []model.Item `json:"dns,omitempty"`
	Host  model.Host   `json:"host"`
}

// TaskLease is how long a node holds a task before it is handed out again.
const TaskLease = 2 * time.Minute

// Report is a node's result for one item.
type Report struct {
	State   model.State `json:"state"`
	Message string      `json:"message,omitempty"`
}

// TaskReport is a node's result for a task.
type TaskReport struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Progress, when set, is a progress update: the task stays leased and
	// its lease is renewed.
	Progress bool `json:"progress,omitempty"`
}

// TaskRemoveOrderDir is the node task that removes a deleted order's
// directory once none of its items is left on the host.
const TaskRemoveOrderDir = "remove-order-dir"
