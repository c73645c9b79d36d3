package move

import (
	"encoding/json"
	"fmt"

	"ferry/internal/model"
	"ferry/internal/wire"
)

// Data is the engine's own state of one move, kept as JSON in the moves
// table (model.Move.Data). Everything a phase needs to resume after a crash
// is here; what it reports, which the API shows, is its wire.MoveInfo.
type Data struct {
	// Run numbers each run of a phase: a phase started, resumed or handed
	// to a new process gets a new run, and a job working an older run stops
	// without doing anything (see worker.go).
	Run int `json:"run"`
	// Step is the next step of the current phase run.
	Step int `json:"step"`
	// By is who started the current phase; Force says they overrode its
	// guards.
	By    string `json:"by"`
	Force bool   `json:"force,omitempty"`
	// Tasks are the node tasks of the current phase run, by step name.
	Tasks map[string]int64 `json:"tasks,omitempty"`
	// BWLimit caps the last sync's file transfer in KiB/s (0: no cap).
	BWLimit int `json:"bwlimit,omitempty"`

	// AddedDuringMove are items the order got on the new host during the
	// move, removed there by an abort and made anew on the old host.
	AddedDuringMove []int64 `json:"added_during_move,omitempty"`

	PublicKey string `json:"public_key,omitempty"`
	HostKey   string `json:"host_key,omitempty"`

	wire.MoveInfo
}

// The reports a move's data holds; see package wire.
type (
	TTLChange     = wire.TTLChange
	Copy          = wire.MoveCopy
	SyncReport    = wire.SyncReport
	VerifyReport  = wire.VerifyReport
	TableCheck    = wire.TableCheck
	HTTPCheck     = wire.HTTPCheck
	HTTPFetch     = wire.HTTPFetch
	CutoverReport = wire.CutoverReport
	EndReport     = wire.EndReport
	Event         = wire.MoveEvent
)

func decodeData(m model.Move) (Data, error) {
	var d Data
	if len(m.Data) == 0 {
		return d, nil
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		return d, fmt.Errorf("move %d data: %w", m.ID, err)
	}
	return d, nil
}

func encodeData(m *model.Move, d Data) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("move %d data: %w", m.ID, err)
	}
	m.Data = b
	return nil
}

// eventOf returns the history entry of phase run n, or nil.
func (d *Data) eventOf(n int) *Event {
	for i := len(d.History) - 1; i >= 0; i-- {
		if d.History[i].Run == n {
			return &d.History[i]
		}
	}
	return nil
}

// lastSync returns the newest finished sync, or nil.
func (d *Data) lastSync() *SyncReport {
	if len(d.Syncs) == 0 {
		return nil
	}
	return &d.Syncs[len(d.Syncs)-1]
}
