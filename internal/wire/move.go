package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"ferry/internal/model"
)

// MoveView is a move as the API shows it: the move, its order's identifier
// and the node tasks of its current phase run with their progress.
type MoveView struct {
	model.Move
	Identifier string         `json:"identifier"`
	Tasks      []MoveTaskView `json:"tasks,omitempty"`
	// Unseen are the hosts the running phase waits on whose node agent
	// has not been seen for a while (see MoveHostUnseen).
	Unseen []MoveHostUnseen `json:"unseen,omitempty"`
}

// MoveHostUnseen is a host the running phase waits on (a task of the
// phase run not ended, an item of the order not applied) whose node agent
// has sent no heartbeat for longer than three heartbeat periods. Both
// times are the control plane's: a node's own clock plays no part.
type MoveHostUnseen struct {
	Host string `json:"host"`
	// LastSeen is the host's last heartbeat; nil when it never sent one.
	LastSeen *time.Time `json:"last_seen,omitempty"`
	// Seconds is how long ago that was when the view was made (since the
	// host was added, when never seen).
	Seconds int64 `json:"seconds"`
	// Note, for a move that runs no phase after its dns switch, says what
	// state each host is in and what to run; the move does not wait.
	Note string `json:"note,omitempty"`
}

// String says what the move waits for (with a Note: what state each host
// is in) and what to do, as the CLI and
// the web UI show it.
func (u MoveHostUnseen) String() string {
	ago := (time.Duration(u.Seconds) * time.Second).String()
	seen := "has never been seen"
	if u.LastSeen != nil {
		at := u.LastSeen.Local()
		layout := time.TimeOnly
		if u.Seconds >= 20*3600 {
			layout = time.DateTime
		}
		seen = fmt.Sprintf("has not been seen since %s (%s)", at.Format(layout), ago)
	}
	if u.Note != "" {
		return fmt.Sprintf("%s's agent %s: %s", u.Host, seen, u.Note)
	}
	return fmt.Sprintf("waiting for %s: its agent %s; check `ferry node` on %s (service ferry-node), the move resumes by itself when it is back",
		u.Host, seen, u.Host)
}

// MoveTaskView is a task of the current phase run; Result holds its
// progress while it runs.
type MoveTaskView struct {
	Name string `json:"name"`
	model.Task
}

// Info decodes what the move reports from its data.
func (v MoveView) Info() (MoveInfo, error) {
	var i MoveInfo
	if len(v.Data) == 0 {
		return i, nil
	}
	if err := json.Unmarshal(v.Data, &i); err != nil {
		return i, fmt.Errorf("move %d data: %w", v.ID, err)
	}
	return i, nil
}

// MoveInfo is what a move reports of itself in its data (model.Move.Data):
// where it stands, what each phase found and did, and its history.
type MoveInfo struct {
	// Waiting says what the running phase waits for, for status.
	Waiting string `json:"waiting,omitempty"`

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
	Copies []MoveCopy `json:"copies,omitempty"`

	// SyncRuns counts sync phases started; Syncs holds the figures of each
	// one that finished (cutover's final sync included).
	SyncRuns int            `json:"sync_runs"`
	Syncs    []SyncReport   `json:"syncs,omitempty"`
	Verify   *VerifyReport  `json:"verify,omitempty"`
	Cutover  *CutoverReport `json:"cutover,omitempty"`
	Cleanup  *EndReport     `json:"cleanup,omitempty"`
	Abort    *EndReport     `json:"abort,omitempty"`

	// History lists every phase run: who, when, how it ended.
	History []MoveEvent `json:"history,omitempty"`
}

// MovePhaseInput asks for a phase of a move. Each guard an admin may
// override has its own override, named for what it lets through:
// SkipTTLWait lets cutover go before the old TTL ran out and cleanup before
// the lowered TTL ran out twice since the DNS switch; AcceptVerifyDifferences
// lets cutover go although the last verify found differences. Force is the
// old single override; it is refused, naming the two that replace it.
// BWLimit caps a sync's file
// transfer in KiB/s (0: no cap); cutover's final sync is never capped, so
// that the freeze stays short.
type MovePhaseInput struct {
	SkipTTLWait             bool `json:"skip_ttl_wait,omitempty"`
	AcceptVerifyDifferences bool `json:"accept_verify_differences,omitempty"`
	Force                   bool `json:"force,omitempty"`
	BWLimit                 int  `json:"bwlimit,omitempty"`
}

// MovePlan is what moving an order would do, and what stops it. Planning
// changes nothing; starting the move makes the same checks and refuses with
// Problems.
type MovePlan struct {
	Order    model.Order `json:"order"`
	From     string      `json:"from"`
	To       string      `json:"to"`
	FromAddr string      `json:"from_addr"`
	ToAddr   string      `json:"to_addr"`
	// Copies are the host-bound items the new host gets a copy of.
	Copies []MovePlanItem `json:"copies"`
	// DNS are the order's records: their TTL lowered now, A/AAAA values
	// switched at cutover.
	DNS []MovePlanDNS `json:"dns"`
	// OldTTL is the largest TTL of the order's A/AAAA records: cutover
	// waits that long after prepare.
	OldTTL int `json:"old_ttl"`
	// SizeEstimate is the order's size in bytes (0 when unknown) and
	// SizeSource where it comes from; DiskFree is the new host's free disk
	// from its last heartbeat.
	SizeEstimate int64  `json:"size_estimate"`
	SizeSource   string `json:"size_source"`
	DiskFree     int64  `json:"disk_free"`
	// PHP are the order's sites with PHP: the version each runs on the
	// old host and the one its copy gets on the new host.
	PHP      []MovePlanPHP `json:"php,omitempty"`
	Steps    []string      `json:"steps"`
	Warnings []string      `json:"warnings,omitempty"`
	// Problems are the guards that refuse the move, each saying what to do.
	Problems []string `json:"problems,omitempty"`
}

// MovePlanItem is an item the move copies.
type MovePlanItem struct {
	ID    int64       `json:"id"`
	Kind  model.Kind  `json:"kind"`
	Name  string      `json:"name"`
	State model.State `json:"state"`
}

// MovePlanPHP is one of the order's web-confs with PHP. From is the PHP
// version it runs on the old host, To the one its copy gets on the new
// host (the same, or the move's --php); either is empty when not known
// (a node that has not reported its versions: the new host's node then
// takes its newest). ToHas are the versions the new host reported.
type MovePlanPHP struct {
	ID    int64    `json:"id"`
	Name  string   `json:"name"`
	From  string   `json:"from,omitempty"`
	To    string   `json:"to,omitempty"`
	ToHas []string `json:"to_has,omitempty"`
}

// MovePlanDNS is a dns record of the order and what the move does to it.
type MovePlanDNS struct {
	ID       int64  `json:"id"`
	FQDN     string `json:"fqdn"`
	Type     string `json:"type"`
	Value    string `json:"value"`
	TTL      int    `json:"ttl"`
	NewTTL   int    `json:"new_ttl"`
	SwitchTo string `json:"switch_to,omitempty"`
}

// MoveStartInput starts (or plans) a move. PHP, when set, is the PHP
// version (X.Y) every site of the order with PHP gets on the new host, in
// place of the one it runs on the old: for a new host that lacks it.
type MoveStartInput struct {
	Order string `json:"order"`
	To    string `json:"to"`
	PHP   string `json:"php,omitempty"`
}

// TTLChange is one dns record whose TTL prepare lowered.
type TTLChange struct {
	ItemID int64  `json:"item_id"`
	FQDN   string `json:"fqdn"`
	Type   string `json:"type"`
	Value  string `json:"value"`
	Old    int    `json:"old"`
}

// MoveCopy pairs an item in the limbo order with its copy on the new host.
type MoveCopy struct {
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
	// Mailboxes are the order's mailbox folders on both hosts: messages,
	// UIDVALIDITY, and mail that arrived since the last sync.
	Mailboxes []model.MailboxCheck `json:"mailboxes,omitempty"`
	HTTP      []HTTPCheck          `json:"http,omitempty"`
	// HTTPS are the names of the HTTPS sites fetched over HTTPS from both
	// hosts, with the server name as SNI.
	HTTPS []HTTPCheck `json:"https,omitempty"`
	// HostsLines are /etc/hosts lines that point the order's names at the
	// new host, for testing in a browser.
	HostsLines []string `json:"hosts_lines,omitempty"`
	Problems   []string `json:"problems,omitempty"`
	// Notes are differences that do not fail verify.
	Notes []string `json:"notes,omitempty"`
}

// TableCheck is one table (or other object of a database) on both hosts.
type TableCheck struct {
	DB string `json:"db"`
	// Kind is "" for a table, else the object's kind (model.TableSum).
	Kind  string          `json:"kind,omitempty"`
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
	// CertNames and CertNotAfter describe the certificate an HTTPS fetch
	// was served: its DNS names and its expiry.
	CertNames    []string   `json:"cert_names,omitempty"`
	CertNotAfter *time.Time `json:"cert_not_after,omitempty"`
}

// CutoverReport holds the cutover's timings.
type CutoverReport struct {
	FreezeStart *time.Time `json:"freeze_start,omitempty"`
	FreezeEnd   *time.Time `json:"freeze_end,omitempty"`
	// FreezeSeconds is how long the old site answered 503: from
	// maintenance mode to proxy mode, as the old host measured it.
	FreezeSeconds float64 `json:"freeze_seconds,omitempty"`
	// FreezeSteps are the seconds of each step of the freeze on the old
	// host: "maintenance", "files" and "db" (side by side), "proxy".
	FreezeSteps map[string]float64 `json:"freeze_steps,omitempty"`
	// Mailboxes are the order's mailbox folders on both hosts after the
	// final sync: the freeze checked every one is the same.
	Mailboxes []model.MailboxCheck `json:"mailboxes,omitempty"`
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

// MoveEvent is one phase run in the move's history.
type MoveEvent struct {
	Phase model.MovePhase `json:"phase"`
	Run   int             `json:"run"`
	By    string          `json:"by"`
	Force bool            `json:"force,omitempty"`
	// Overrides name the guards the phase was started past
	// (skip-ttl-wait, accept-verify-differences).
	Overrides []string         `json:"overrides,omitempty"`
	At        time.Time        `json:"at"`
	Status    model.MoveStatus `json:"status"`
	Note      string           `json:"note,omitempty"`
}
