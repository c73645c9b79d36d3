// Package panel is the control plane's logic: who may do what, the rules a
// change must pass (validation, state transitions, uniqueness, limbo), one
// transaction and one audit entry per change, and waking the nodes whose
// work changed. The HTTP API and the web UI both stand on it.
package panel

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

// Errors the API maps to its codes.
var (
	// ErrUnauthenticated: no token, or an unknown or revoked one.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the caller's role does not allow this.
	ErrForbidden = errors.New("not allowed")
	// ErrRefused: a rule or a guard refused the change.
	ErrRefused = errors.New("refused")
)

// Caller is who makes a request: the token's name, role and scope.
type Caller struct {
	TokenID int64
	Name    string
	Role    model.TokenRole
	Member  string
	Host    string
}

// System is the caller for changes ferry makes itself (first start, moves
// started by an admin are audited under the admin's name instead).
var System = Caller{Name: "ferry", Role: model.RoleAdmin}

// IsAdmin reports whether c has the admin role.
func (c Caller) IsAdmin() bool { return c.Role == model.RoleAdmin }

// Panel holds the control plane's state through a store.
type Panel struct {
	store  store.Store
	now    func() time.Time
	log    *slog.Logger
	wakeup *notifier
}

// Options configure a Panel.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
}

// New returns a Panel over s.
func New(s store.Store, opts Options) *Panel {
	p := &Panel{store: s, now: opts.Now, log: opts.Log, wakeup: newNotifier()}
	go dummyHash() // ready before the first login with an unknown name
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p
}

// View runs fn in one read-only transaction of the panel's store. It is
// for readers beside the panel (the move engine, the rebalance planner)
// that read many records at once; every write goes through Update and the
// panel's Tx methods.
func (p *Panel) View(ctx context.Context, fn func(store.Tx) error) error {
	return p.store.View(ctx, fn)
}

// Update runs fn in one read-write transaction of the panel's store, so
// that a caller beside the panel (the move engine) can make several of the
// panel's Tx changes, and its own checkpoint, all or none. The changes to
// orders and items go through the panel's Tx methods, which check and
// audit them.
func (p *Panel) Update(ctx context.Context, fn func(store.Tx) error) error {
	return p.store.Update(ctx, fn)
}

// ErrNoJobDB: the panel's store does not expose a database a job queue
// can share.
var ErrNoJobDB = errors.New("store has no database for a job queue")

// JobDB returns what a job queue needs to keep its tables in the panel's
// own database, so that a move's checkpoint and its next job commit
// together: the store's driver name ("sqlite", "postgres") and its
// database handle.
func (p *Panel) JobDB() (string, *sql.DB, error) {
	h, ok := p.store.(interface{ DB() *sql.DB })
	if !ok {
		return p.store.Driver(), nil, fmt.Errorf("%w: %s", ErrNoJobDB, p.store.Driver())
	}
	return p.store.Driver(), h.DB(), nil
}

// Ready says whether the store answers and holds the schema this ferry
// makes (store.Store.Ready).
func (p *Panel) Ready(ctx context.Context) error { return p.store.Ready(ctx) }

// Driver names the store's driver: "sqlite" or "postgres".
func (p *Panel) Driver() string { return p.store.Driver() }

// Now returns the panel's clock reading in UTC.
func (p *Panel) Now() time.Time { return p.now().UTC() }

// Refusal is an ErrRefused of several problems at once: the API carries
// them as a list, so every client can show one a line.
type Refusal struct {
	Head     string   // what was refused: "cannot move a.example to web2"
	Problems []string // why, one problem each
}

// Error reads "refused: HEAD: P1; P2".
func (r *Refusal) Error() string {
	return ErrRefused.Error() + ": " + r.Head + ": " + strings.Join(r.Problems, "; ")
}

// Is makes a Refusal an ErrRefused.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// RefusedList returns a refusal of problems, a Refusal when there are
// several, headed by what was refused.
func RefusedList(head string, problems []string) error {
	if len(problems) == 1 {
		return refused("%s: %s", head, problems[0])
	}
	return &Refusal{Head: head, Problems: problems}
}

// refused returns an ErrRefused error with a message.
func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

func forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrForbidden, fmt.Sprintf(format, args...))
}

// audit appends one audit entry in tx.
func (p *Panel) audit(ctx context.Context, tx store.Tx, c Caller, action AuditAction, object string, orderID int64, before, after any) error {
	return tx.AppendAudit(ctx, p.auditEntry(c, action, object, orderID, before, after))
}

// auditEntry is the entry audit appends.
func (p *Panel) auditEntry(c Caller, action AuditAction, object string, orderID int64, before, after any) *model.AuditEntry {
	return &model.AuditEntry{
		At: p.Now(), Actor: c.Name, Action: string(action), Object: object, OrderID: orderID,
		Before: auditJSON(before), After: auditJSON(after),
	}
}

// Audit records an entry for a change made outside the panel's own methods
// (the move engine's phases), in tx.
func (p *Panel) Audit(ctx context.Context, tx store.Tx, c Caller, action AuditAction, object string, orderID int64, before, after any) error {
	return p.audit(ctx, tx, c, action, object, orderID, before, after)
}

func auditJSON(v any) string {
	if v == nil {
		return ""
	}
	if it, ok := v.(model.Item); ok {
		it.Spec = it.Spec.Redacted()
		v = it
	}
	if it, ok := v.(*model.Item); ok {
		c := *it
		c.Spec = c.Spec.Redacted()
		v = c
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", err.Error())
	}
	return string(b)
}
