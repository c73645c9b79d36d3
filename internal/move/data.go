package move

import (
	"encoding/json"
	"fmt"
	"time"

	"ferry/internal/model"
)

// Data is the engine's own state of one move, kept as JSON in the moves
// table (model.Move.Data). Everything a phase needs to resume after a crash
// is here; everything it reports is here too.
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
	// Waiting says what the running phase waits for, for status.
	Waiting string `json:"waiting,omitempty"`
	// Tasks are the node tasks of the current phase run, by step name.
	Tasks map[string]int64 `json:"tasks,omitempty"`
	// BWLimit caps the last sync's file transfer in KiB/s (0: no cap).
	BWLimit int `json:"bwlimit,omitempty"`

	Identifier string `json:"identifier"`
	Member     string `json:"member"`
	// FromAddr and ToAddr are the hosts' addresses the move uses for ssh
	// and the HTTP checks (IPv4 when a host has one).
	FromAddr string `json:"from_addr"`
	ToAddr   string `json:"to_addr"`

	// PreparedAt is when prepare lowered the TTLs; TTLs are the dns
	// records it touched, and OldTTL the largest original TTL of the
	// order's A/AAAA records: how long resolvers may cache the old address.
	PreparedAt time.Time   `json:"prepared_at"`
	TTLs       []TTLChange `json:"ttls,omitempty"`
	OldTTL     int         `json:"old_ttl"`
	// CacheEnd is when resolvers may last hand out the old address, as
	// cutover computed it; cleanup waits for it too.
	CacheEnd time.Time `json:"cache_end,omitzero"`
	// Copies pair each item moved to the limbo order with its copy on the
	// new host.
	Copies []Copy `json:"copies,omitempty"`

	// AddedDuringMove are items the order got on the new host during the
	// move, removed there by an abort and made anew on the old host.
	AddedDuringMove []int64 `json:"added_during_move,omitempty"`

	PublicKey string `json:"public_key,omitempty"`
	HostKey   string `json:"host_key,omitempty"`

	// SyncRuns counts sync phases started; Syncs holds the figures of each
	// one that finished (cutover's final sync included).
	SyncRuns int            `json:"sync_runs"`
	Syncs    []SyncReport   `json:"syncs,omitempty"`
	Verify   *VerifyReport  `json:"verify,omitempty"`
	Cutover  *CutoverReport `json:"cutover,omitempty"`
	Cleanup  *EndReport     `json:"cleanup,omitempty"`
	Abort    *EndReport     `json:"abort,omitempty"`

	// History lists every phase run: who, when, how it ended.
	History []Event `json:"history,omitempty"`
}

// TTLChange is one dns record whose TTL prepare lowered.
type TTLChange struct {
	ItemID int64  `json:"item_id"`
	FQDN   string `json:"fqdn"`
	Type   string `json:"type"`
	Value  string `json:"value"`
	Old    int    `json:"old"`
}

// Copy pairs an item in the limbo order with its copy on the new host.
type Copy struct {
	Kind     model.Kind `json:"kind"`
	Name     string     `json:"name"`
	Original int64      `json:"original"`
	Copy     int64      `json:"copy"`
}

// SyncReport holds one sync's figures, from the node tasks' results.
type SyncReport struct {
	Run        int                       `json:"run"`
	Final      bool                      `json:"final,omitempty"`
	StartedAt  time.Time                 `json:"started_at"`
	FinishedAt time.Time                 `json:"finished_at"`
	Files      model.MoveSyncFilesResult `json:"files"`
	DB         model.MoveSyncDBResult    `json:"db"`
}

// Seconds is how long the sync took from the engine's view.
func (s SyncReport) Seconds() float64 { return s.FinishedAt.Sub(s.StartedAt).Seconds() }

// VerifyReport compares the old and the new host side by side.
type VerifyReport struct {
	At     time.Time `json:"at"`
	Passed bool      `json:"passed"`
	// AfterSyncRuns is SyncRuns when verify ran: a sync since makes the
	// report stale.
	AfterSyncRuns int `json:"after_sync_runs"`
	// ItemsMark fingerprints the order's items on the new host as verify
	// saw them.
	ItemsMark      string       `json:"items_mark"`
	FilesDiffering []string     `json:"files_differing,omitempty"`
	Tables         []TableCheck `json:"tables,omitempty"`
	HTTP           []HTTPCheck  `json:"http,omitempty"`
	// HostsLines are /etc/hosts lines that point the order's names at the
	// new host, for testing in a browser.
	HostsLines []string `json:"hosts_lines,omitempty"`
	Problems   []string `json:"problems,omitempty"`
	// Notes are differences that do not fail verify.
	Notes []string `json:"notes,omitempty"`
}

// TableCheck is one table on both hosts.
type TableCheck struct {
	DB    string          `json:"db"`
	Table string          `json:"table"`
	Old   *model.TableSum `json:"old,omitempty"`
	New   *model.TableSum `json:"new,omitempty"`
	Equal bool            `json:"equal"`
	// ChangedSinceSync marks a table the site wrote to after the last
	// sync, which the new host holds as it was then; not a problem.
	ChangedSinceSync bool `json:"changed_since_sync,omitempty"`
}

// HTTPCheck is one server name fetched from both hosts.
type HTTPCheck struct {
	Name  string    `json:"name"`
	Old   HTTPFetch `json:"old"`
	New   HTTPFetch `json:"new"`
	Equal bool      `json:"equal"`
	// BodyDiffers marks pages whose status and title match but whose body
	// does not: shown, not a failure (dynamic pages differ between fetches).
	BodyDiffers bool `json:"body_differs,omitempty"`
}

// HTTPFetch is what one host answered for GET / with a Host header.
type HTTPFetch struct {
	URL    string `json:"url"`
	Status int    `json:"status,omitempty"`
	Title  string `json:"title,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	Error  string `json:"error,omitempty"`
}

// CutoverReport holds the cutover's timings.
type CutoverReport struct {
	FreezeStart *time.Time `json:"freeze_start,omitempty"`
	FreezeEnd   *time.Time `json:"freeze_end,omitempty"`
	// FreezeSeconds is how long the old site answered 503: from
	// maintenance mode to proxy mode.
	FreezeSeconds float64 `json:"freeze_seconds,omitempty"`
	// Switched lists the A/AAAA records pointed at the new host.
	Switched []string `json:"switched,omitempty"`
	// TTLsRestored lists the records whose TTL went back to what it was.
	TTLsRestored []string `json:"ttls_restored,omitempty"`
	// SwitchedAt is when the switch was made; DNSAppliedAt when the dns
	// host served it, from which cleanup's wait counts.
	SwitchedAt   *time.Time `json:"switched_at,omitempty"`
	DNSAppliedAt *time.Time `json:"dns_applied_at,omitempty"`
	Forced       string     `json:"forced,omitempty"`
}

// EndReport is what cleanup or abort did.
type EndReport struct {
	Deleted []string `json:"deleted,omitempty"`
	// Left lists what could not be removed and needs an admin.
	Left   []string `json:"left,omitempty"`
	Forced string   `json:"forced,omitempty"`
}

// Event is one phase run in the move's history.
type Event struct {
	Phase  model.MovePhase  `json:"phase"`
	Run    int              `json:"run"`
	By     string           `json:"by"`
	Force  bool             `json:"force,omitempty"`
	At     time.Time        `json:"at"`
	Status model.MoveStatus `json:"status"`
	Note   string           `json:"note,omitempty"`
}

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
