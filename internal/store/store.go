// Package store keeps ferry's state: members, hosts, orders, items, tokens,
// the audit log, moves and node tasks. It is the only package with SQL.
// Two drivers implement it, embedded SQLite (the default) and PostgreSQL,
// and one conformance suite runs against both.
package store

import (
	"context"
	"errors"
	"time"

	"ferry/internal/model"
)

// Errors every driver returns the same way.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	// ErrInUse is returned when deleting a row that others still refer
	// to, such as a host with orders.
	ErrInUse = errors.New("in use")
	// ErrSchema means the database holds another schema version than
	// this ferry's migrations make (not migrated yet, or by a newer ferry).
	ErrSchema = errors.New("schema version differs")
	// ErrFull is returned by an Update the database could not write for
	// want of disk space; nothing of it was kept.
	ErrFull = errors.New("the store's disk is full")
	// ErrReadWrite is the error of a write attempted inside Read.
	ErrReadWrite = errors.New("a Read cannot write (use Update)")
)

// Store opens transactions. Every change the control plane makes is one
// Update, so a refused request leaves nothing half-written.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Read runs fn as View does, but without a transaction where that
	// saves round trips (PostgreSQL): each statement sees the store as it
	// is when that statement starts, so it is for a reader of one
	// statement, or of statements that need not agree. A write in fn
	// fails with ErrReadWrite.
	Read(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed if fn returns nil.
	// A Get inside Update holds the row until the end, and HoldersOf the
	// identity, so that check-then-write in one Update is safe against
	// concurrent Updates on every driver. fn must not call Update.
	Update(ctx context.Context, fn func(Tx) error) error
	// Driver names the driver: "sqlite" or "postgres".
	Driver() string
	// Ready says whether the database answers and its schema is the one
	// this ferry's migrations make.
	Ready(ctx context.Context) error
	// TryLock takes a lock that lasts while this process and its
	// connection live, or returns nil when a live process holds it
	// (cluster.go); Held says whether one does.
	TryLock(ctx context.Context, name string) (Lock, error)
	Held(ctx context.Context, name string) (bool, error)
	// Wake tells every process listening on the store that keys changed;
	// Listen passes them on to fn until ctx ends.
	Wake(ctx context.Context, keys ...string) error
	Listen(ctx context.Context, ready func(), fn func(key string)) error
	Close() error
}

// Filters for list queries. Zero fields do not filter.
type (
	OrderFilter struct {
		Member     string
		Host       string
		Identifier string
		State      model.OrderState
		// Text matches a substring of the identifier, the member or the host,
		// or any server name or DNS name of the order's items.
		Text string
	}
	ItemFilter struct {
		OrderID int64
		Host    string
		Kind    model.Kind
		States  []model.State
		// Member limits to items of that member's orders.
		Member string
	}
	AuditFilter struct {
		OrderID int64
		Limit   int // newest first; 0 means 100
	}
	MoveFilter struct {
		OrderID    int64
		ActiveOnly bool
	}
	TaskFilter struct {
		MoveID int64
		Host   string
		States []model.TaskState
	}
)

// Tx is one transaction. Create methods set the ID and timestamps of what
// they are given. Get methods return ErrNotFound; Create methods return
// ErrConflict on a duplicate key, and ErrNotFound when what they refer to
// (an order's member or host, an item's order) does not exist; Update and
// Delete methods return ErrNotFound for a missing row, and Delete methods
// ErrInUse for one that others refer to. A method that fails writes nothing
// and leaves the transaction usable. Lists come sorted (by name or id, the
// audit log newest first) and are empty, not nil, when nothing matches.
// Times come back in UTC, to the microsecond.
type Tx interface {
	CreateMember(ctx context.Context, m *model.Member) error
	GetMember(ctx context.Context, name string) (model.Member, error)
	ListMembers(ctx context.Context) ([]model.Member, error)
	UpdateMember(ctx context.Context, m *model.Member) error
	DeleteMember(ctx context.Context, name string) error

	CreateHost(ctx context.Context, h *model.Host) error
	GetHost(ctx context.Context, name string) (model.Host, error)
	ListHosts(ctx context.Context) ([]model.Host, error)
	// UpdateHost writes the host's admin fields (addresses, roles, state,
	// capacity), not its heartbeat.
	UpdateHost(ctx context.Context, h *model.Host) error
	DeleteHost(ctx context.Context, name string) error
	RecordHeartbeat(ctx context.Context, host string, hb model.Heartbeat) error

	CreateOrder(ctx context.Context, o *model.Order) error
	GetOrder(ctx context.Context, id int64) (model.Order, error)
	ListOrders(ctx context.Context, f OrderFilter) ([]model.Order, error)
	UpdateOrder(ctx context.Context, o *model.Order) error

	// CreateItem stores the item and its identities (model.Spec.Identities).
	CreateItem(ctx context.Context, it *model.Item) error
	GetItem(ctx context.Context, id int64) (model.Item, error)
	ListItems(ctx context.Context, f ItemFilter) ([]model.Item, error)
	// UpdateItem writes every field of the item and rewrites its identities.
	UpdateItem(ctx context.Context, it *model.Item) error
	// HoldersOf lists the items (any state but deleted) claiming identity.
	HoldersOf(ctx context.Context, identity string) ([]model.Holder, error)
	// CreateItems, UpdateItems, HoldersOfAny and AppendAudits do what
	// CreateItem, UpdateItem, HoldersOf and AppendAudit do, for many rows in
	// a few round trips (a move's prepare): all rows are written, or none.
	// HoldersOfAny maps each identity with holders to them.
	CreateItems(ctx context.Context, items []*model.Item) error
	UpdateItems(ctx context.Context, items []*model.Item) error
	HoldersOfAny(ctx context.Context, identities []string) (map[string][]model.Holder, error)

	// AddOrderDomain, RemoveOrderDomain and ListOrderDomains keep the
	// domains an order holds besides its identifier.
	AddOrderDomain(ctx context.Context, orderID int64, domain string) error
	RemoveOrderDomain(ctx context.Context, orderID int64, domain string) error
	ListOrderDomains(ctx context.Context, orderID int64) ([]string, error)
	// DomainClaims lists live orders' claims (identifiers and added
	// domains) on any of domains; DomainsUnder those on domain or below.
	DomainClaims(ctx context.Context, domains []string) ([]model.DomainClaim, error)
	DomainsUnder(ctx context.Context, domain string) ([]model.DomainClaim, error)
	// ItemsNamed lists the items but deleted ones holding a server name or
	// a DNS record at name.
	ItemsNamed(ctx context.Context, name string) ([]model.Item, error)
	// ItemsNamedAny is ItemsNamed for several names in one query: the
	// items at each name with any, by id.
	ItemsNamedAny(ctx context.Context, names []string) (map[string][]model.Item, error)

	CreateZone(ctx context.Context, z *model.Zone) error
	GetZone(ctx context.Context, name string) (model.Zone, error)
	ListZones(ctx context.Context) ([]model.Zone, error)
	DeleteZone(ctx context.Context, name string) error

	// SystemNames returns the system users and groups a host's node last
	// reported in its heartbeat.
	SystemNames(ctx context.Context, host string) ([]string, error)
	// HostUsage returns what a host's node last measured (order and
	// database sizes), or nil before its first measurement.
	HostUsage(ctx context.Context, host string) (*model.HostUsage, error)

	CreateToken(ctx context.Context, t *model.Token) error
	// TokenByHash finds a token, revoked or not, by its secret's SHA-256.
	TokenByHash(ctx context.Context, hash string) (model.Token, error)
	GetToken(ctx context.Context, id int64) (model.Token, error)
	ListTokens(ctx context.Context) ([]model.Token, error)
	RevokeToken(ctx context.Context, id int64, at time.Time) error
	// RevokeTokensOf revokes the live tokens of a member (RoleMember) or
	// a host (RoleNode) and says how many.
	RevokeTokensOf(ctx context.Context, role model.TokenRole, name string, at time.Time) (int, error)

	// CreateJoinToken stores a one-time node enrolment token.
	CreateJoinToken(ctx context.Context, j *model.JoinToken) error
	// UseJoinToken claims the join token with hash at time at, once:
	// ErrNotFound for an unknown hash, ErrSpent for a used or expired one.
	UseJoinToken(ctx context.Context, hash string, at time.Time) (model.JoinToken, error)
	// ListJoinTokens lists join tokens, oldest first.
	ListJoinTokens(ctx context.Context) ([]model.JoinToken, error)
	// ExpireJoinToken ends an unused join token at time at (revocation):
	// ErrNotFound, or ErrSpent with the token when it was used or expired.
	ExpireJoinToken(ctx context.Context, id int64, at time.Time) (model.JoinToken, error)

	// CreateWebSession stores a web UI session as given.
	CreateWebSession(ctx context.Context, w *model.WebSession) error
	// GetWebSession finds a session by the SHA-256 of its id.
	GetWebSession(ctx context.Context, idHash string) (model.WebSession, error)
	// UpdateWebSession saves a session's last use and flash message.
	UpdateWebSession(ctx context.Context, w model.WebSession) error
	DeleteWebSession(ctx context.Context, idHash string) error
	// DeleteWebSessionsOfToken ends every session of a token (logout
	// everywhere) and returns how many it ended.
	DeleteWebSessionsOfToken(ctx context.Context, tokenID int64) (int, error)
	// DeleteStaleWebSessions ends the sessions last used before
	// seenBefore or opened before createdBefore, and counts them.
	DeleteStaleWebSessions(ctx context.Context, seenBefore, createdBefore time.Time) (int, error)
	CountWebSessions(ctx context.Context) (int, error)

	// CreateLogin stores a web login; GetLogin, ListLogins, UpdateLogin
	// and DeleteLogin read and change them (by name).
	CreateLogin(ctx context.Context, l *model.Login) error
	GetLogin(ctx context.Context, name string) (model.Login, error)
	ListLogins(ctx context.Context) ([]model.Login, error)
	UpdateLogin(ctx context.Context, l *model.Login) error
	DeleteLogin(ctx context.Context, name string) error

	// PutBatch adds a rebalance batch or replaces the one with its id.
	PutBatch(ctx context.Context, b model.BatchRecord) error
	// GetBatch returns a rebalance batch (held to the end of an Update).
	GetBatch(ctx context.Context, id string) (model.BatchRecord, error)
	// ListBatches lists the rebalance batches by id.
	ListBatches(ctx context.Context) ([]model.BatchRecord, error)

	AppendAudit(ctx context.Context, e *model.AuditEntry) error
	AppendAudits(ctx context.Context, entries []*model.AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) ([]model.AuditEntry, error)

	CreateMove(ctx context.Context, m *model.Move) error
	GetMove(ctx context.Context, id int64) (model.Move, error)
	ListMoves(ctx context.Context, f MoveFilter) ([]model.Move, error)
	UpdateMove(ctx context.Context, m *model.Move) error

	CreateTask(ctx context.Context, t *model.Task) error
	GetTask(ctx context.Context, id int64) (model.Task, error)
	ListTasks(ctx context.Context, f TaskFilter) ([]model.Task, error)
	// LeaseTasks hands up to max queued tasks of host, or leased ones whose
	// lease ran out before now, to the caller until now+lease, counting an
	// attempt for each.
	LeaseTasks(ctx context.Context, host string, now time.Time, lease time.Duration, max int) ([]model.Task, error)
	// UpdateTask writes the task's state, result, error and lease.
	UpdateTask(ctx context.Context, t *model.Task) error
}
