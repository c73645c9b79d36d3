package model

// Node task kinds a move hands out, and their payloads and results. The
// move engine (control plane) creates them; the node agents run them. Every
// task is idempotent: run twice, it ends as if run once.
const (
	// TaskMoveKeygen (old host): make this move's ssh key pair, kept under
	// the node's state directory; result MoveKeygenResult.
	TaskMoveKeygen = "move-keygen"
	// TaskMoveAuthorize (new host): authorise the move's public key for the
	// forced command `ferry node receive` from the old host's address only,
	// and write the move's receive policy; result MoveAuthorizeResult.
	TaskMoveAuthorize = "move-authorize"
	// TaskMoveSyncFiles (old host): rsync the order's directory to the new
	// host; progress and result MoveSyncFilesResult.
	TaskMoveSyncFiles = "move-sync-files"
	// TaskMoveSyncDB (old host): copy databases to the new host, only the
	// tables whose checksum differs; progress and result MoveSyncDBResult.
	TaskMoveSyncDB = "move-sync-db"
	// TaskMoveVerify (old host): compare files (rsync dry run) and every
	// table (row count and checksum) with the new host; result
	// MoveVerifyResult.
	TaskMoveVerify = "move-verify"
	// TaskMoveSiteMode (old host): put the old site's vhost in a mode:
	// "maintenance" (503, the freeze), "proxy" (reverse proxy to the new
	// host) or "normal" (its own vhost again, for abort).
	TaskMoveSiteMode = "move-site-mode"
	// TaskMoveFreeze (old host): the cutover's freeze as one critical
	// section, with no control-plane round trip inside it: maintenance
	// mode (503), the final sync of files and databases side by side,
	// proxy mode. Run again, it finishes what an interrupted run left and
	// never syncs once the site is in proxy mode; result MoveFreezeResult.
	TaskMoveFreeze = "move-freeze"
	// TaskMoveRevoke (old or new host): remove the move's key pair, the
	// authorised key and the receive policy.
	TaskMoveRevoke = "move-revoke"
)

// MoveDB names one database a move copies.
type MoveDB struct {
	// Engine is "mysql" or "pgsql".
	Engine string `json:"engine"`
	Name   string `json:"name"`
	// Owner is the PostgreSQL role that owns the database on both hosts.
	Owner string `json:"owner,omitempty"`
	// Users (mysql) are the order's MariaDB users granted the database:
	// the accounts its views, triggers, routines and events may run as
	// on the new host.
	Users []string `json:"users,omitempty"`
}

// MoveTaskPayload is the payload of every move task; each kind uses the
// fields it needs.
type MoveTaskPayload struct {
	MoveID int64 `json:"move_id"`
	Order  Order `json:"order"`
	// OrderDir is the order's directory, the same path on both hosts.
	OrderDir string `json:"order_dir"`
	// FromAddr and ToAddr are the hosts' addresses (ssh goes ToAddr:22).
	FromAddr string `json:"from_addr"`
	ToAddr   string `json:"to_addr"`
	// PublicKey (authorize) is the move's key; HostKey (sync, verify) is the
	// new host's ssh host key line for known_hosts.
	PublicKey string `json:"public_key,omitempty"`
	HostKey   string `json:"host_key,omitempty"`
	// Databases the move copies and the receive policy allows.
	Databases []MoveDB `json:"databases,omitempty"`
	// Logins are the order's Unix users, whose hand-written crontab lines
	// are copied too.
	Logins []string `json:"logins,omitempty"`
	// ServerNames are the order's web names (site mode).
	ServerNames []string `json:"server_names,omitempty"`
	// Mode is the site mode for TaskMoveSiteMode.
	Mode string `json:"mode,omitempty"`
	// BWLimit caps rsync's bandwidth (KiB/s); 0 means none.
	BWLimit int `json:"bwlimit,omitempty"`
	// Full copies every table, not only the changed ones.
	Full bool `json:"full,omitempty"`
	// Final marks the sync under the cutover freeze: events arrive on
	// the new host enabled as they are on the old one (before it, they
	// are kept disabled there, so nothing runs twice).
	Final bool `json:"final,omitempty"`
}

// MoveKeygenResult is the public half of the move's key.
type MoveKeygenResult struct {
	PublicKey string `json:"public_key"`
}

// MoveAuthorizeResult carries the new host's ssh host key.
type MoveAuthorizeResult struct {
	HostKey string `json:"host_key"`
}

// MoveSyncFilesResult reports a file sync.
type MoveSyncFilesResult struct {
	Bytes      int64   `json:"bytes"`       // bytes sent over the wire
	TotalBytes int64   `json:"total_bytes"` // size of the tree
	Files      int64   `json:"files"`       // files transferred
	TotalFiles int64   `json:"total_files"`
	Percent    int     `json:"percent"`
	Seconds    float64 `json:"seconds"`
	// NotCarried names the files copied differently on purpose (set-user-ID
	// and set-group-ID bits dropped) or not at all (device files), each
	// with what happens to it.
	NotCarried []string `json:"not_carried,omitempty"`
	// TrackedPaths (a final sync) is how many paths changed since the
	// last sync as the old host tracked them: rsync got only those. It is
	// 0 when rsync compared the whole tree, and FullReason says why
	// (tracking lost or never started).
	TrackedPaths int    `json:"tracked_paths,omitempty"`
	FullReason   string `json:"full_reason,omitempty"`
	// TrackerSeconds (a sync but the final one) is how long the old host
	// took to start tracking the tree's changes (an inotify watch on each
	// directory) before rsync ran; it is part of Seconds.
	TrackerSeconds float64 `json:"tracker_seconds,omitempty"`
}

// TableSum is one table's row count and checksum on one host, or one
// other object of the database (a view, trigger, routine, event, type, …)
// with a checksum of its normalised definition.
type TableSum struct {
	DB string `json:"db"`
	// Kind is "" for a table (or a MariaDB sequence), else the object's
	// kind: "view", "trigger", "procedure", "function", "event",
	// "database" (its default character set and collation), and on
	// PostgreSQL also "schema", "type", "sequence", "extension", ….
	Kind     string `json:"kind,omitempty"`
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
	Copied   bool   `json:"copied,omitempty"`
	// NewRows and NewChecksum (sync only) are the new host's sums right
	// after the sync. A live site writes on while a table is dumped, so
	// they can differ from the old host's sums taken before; verify uses
	// them to tell writes since the sync from a bad copy.
	NewRows     int64  `json:"new_rows,omitempty"`
	NewChecksum string `json:"new_checksum,omitempty"`
	// ByRows (sync only, a copied MariaDB table) says the table was
	// brought level row by row rather than copied whole.
	ByRows *RowChanges `json:"by_rows,omitempty"`
}

// RowChanges is what a copy row by row changed on the new host.
type RowChanges struct {
	// Changed rows were replaced, Added ones inserted and Removed ones
	// deleted.
	Changed int64 `json:"changed"`
	Added   int64 `json:"added"`
	Removed int64 `json:"removed"`
}

// Rows is every row a copy row by row touched.
func (c RowChanges) Rows() int64 { return c.Changed + c.Added + c.Removed }

// Object names the table or object for people: "db.table", or
// "view db.name".
func (s TableSum) Object() string { return ObjectName(s.DB, s.Kind, s.Table) }

// ObjectName names a table (kind "") or another object of database db.
func ObjectName(db, kind, name string) string {
	if kind == "" {
		return db + "." + name
	}
	return kind + " " + db + "." + name
}

// Key is what pairs a table or object on both hosts.
func (s TableSum) Key() string { return s.DB + "\x00" + s.Kind + "\x00" + s.Table }

// MoveSyncDBResult reports a database sync.
type MoveSyncDBResult struct {
	// Tables are every table and other object of the databases.
	Tables       []TableSum `json:"tables"`
	TablesCopied int        `json:"tables_copied"`
	// TablesByRows counts the copied tables that were brought level row
	// by row (TableSum.ByRows), RowsByRows the rows those copies touched.
	TablesByRows int   `json:"tables_by_rows,omitempty"`
	RowsByRows   int64 `json:"rows_by_rows,omitempty"`
	// TablesListed counts the tables the old host listed row by row on
	// both hosts instead of summing them (MariaDB tables it wrote to
	// since the last sync); they are counted in TablesSummed too.
	TablesListed int `json:"tables_listed,omitempty"`
	// TablesSummed counts the tables whose rows the sync read on the old
	// host to compare them before copying; the others were copied
	// without (the new host held none yet) or known unchanged on both
	// hosts since the last sync.
	TablesSummed int `json:"tables_summed"`
	// ObjectsCopied counts the other objects made again on the new host.
	ObjectsCopied int `json:"objects_copied,omitempty"`
	// Dropped are the new host's tables ("db.table") that are gone on the
	// old host, dropped on the new one.
	Dropped []string `json:"dropped,omitempty"`
	Bytes   int64    `json:"bytes"`
	Seconds float64  `json:"seconds"`
	// Unregistered lists databases the order's app configs name that no
	// item registers (found by scanning them); they are not copied.
	Unregistered []UnregisteredDB `json:"unregistered,omitempty"`
	// Notes say what the sync changed on the way: a definer mapped to one
	// of the order's accounts, events kept disabled until cutover.
	Notes []string `json:"notes,omitempty"`
	// Steps are the seconds of the sync's finer steps ("db.stamps",
	// "db.sums", "db.copy.rows", …; a sync inside the cutover's freeze
	// reports them in the freeze's steps instead).
	Steps map[string]float64 `json:"steps,omitempty"`
}

// TableCount is how many of Tables are tables (the rest are other objects).
func (r MoveSyncDBResult) TableCount() int {
	n := 0
	for _, t := range r.Tables {
		if t.Kind == "" {
			n++
		}
	}
	return n
}

// UnregisteredDB is a database an app config names that no item of the
// order registers.
type UnregisteredDB struct {
	// Engine is "mysql" or "pgsql".
	Engine string `json:"engine"`
	Name   string `json:"name"`
	// Config is the file that names it, relative to the order directory.
	Config string `json:"config"`
}

// MoveFreezeResult reports a freeze as the old host measured it.
type MoveFreezeResult struct {
	// FreezeSeconds is how long the site answered 503: from the moment
	// maintenance mode was live to the moment proxy mode was, on the old
	// host's clock, across every run of the task.
	FreezeSeconds float64 `json:"freeze_seconds"`
	// Steps are the seconds of each step of the last run: "maintenance",
	// "files", "db" (the two ran side by side), "proxy".
	Steps map[string]float64 `json:"steps"`
	// Files and DB are the final sync's results.
	Files MoveSyncFilesResult `json:"files"`
	DB    MoveSyncDBResult    `json:"db"`
	// Mailboxes compares the order's mailboxes on both hosts after the
	// final sync, with its mail held: every folder the same, message for
	// message and UID for UID, or the freeze fails before the proxy.
	Mailboxes []MailboxCheck `json:"mailboxes,omitempty"`
	// Runs counts the runs of the task that reached maintenance mode: more
	// than one after a crash or a failure inside the freeze.
	Runs int `json:"runs"`
}

// MoveVerifyResult compares the two hosts.
type MoveVerifyResult struct {
	// FilesDiffering lists paths an rsync dry run would still change.
	FilesDiffering []string `json:"files_differing"`
	// MailboxFiles lists the paths in the order's mailboxes (Maildirs)
	// that differ: mail still arrives on the old host until the cutover's
	// freeze holds it, and the final sync carries it, so they are not
	// counted as differences.
	MailboxFiles []string `json:"mailbox_files,omitempty"`
	// Mailboxes compares each folder of the order's mailboxes on both
	// hosts: UIDVALIDITY, messages and their UIDs. Mail that arrived
	// since the last sync is counted, not a problem; MailboxProblems are
	// what would make a mail client download a folder again.
	Mailboxes       []MailboxCheck `json:"mailboxes,omitempty"`
	MailboxProblems []string       `json:"mailbox_problems,omitempty"`
	// Old and New are every table's sums on each host.
	Old []TableSum `json:"old"`
	New []TableSum `json:"new"`
}
