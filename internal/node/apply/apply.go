package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"ferry/internal/acme"
	"ferry/internal/model"
	"ferry/internal/node/dbengine"
	"ferry/internal/node/hostexec"
)

// Result is what applying an item came to: the state the node reports and
// a message an admin can act on.
type Result struct {
	State   model.State `json:"state"`
	Message string      `json:"message"`
}

// Applier makes items real on the host it runs on. Its methods are safe for
// concurrent use; they run one at a time on a host, even across processes,
// since they reload shared services and edit shared files.
type Applier struct {
	cfg    Config
	log    *slog.Logger
	runner hostexec.Runner
	mu     *hostLock
	// accountDir holds passwd, shadow, group and gshadow, whose backups a
	// user's deletion refreshes; "" leaves them alone (tests on a fake host).
	accountDir string
	// obtain asks an ACME CA for a certificate (acme.Obtain; tests fake it).
	obtain func(ctx context.Context, cfg acme.Config) (certPEM, keyPEM []byte, err error)
}

// New returns an Applier for the host described by cfg; zero fields of cfg
// take Debian's defaults.
func New(cfg Config) *Applier {
	cfg = cfg.WithDefaults()
	return &Applier{cfg: cfg, log: cfg.Logger, runner: cfg.Runner, mu: &hostLock{path: cfg.LockFile, log: cfg.Logger}, accountDir: "/etc", obtain: acme.Obtain}
}

// op is what a pending state asks of an item.
type op int

const (
	opEnsure  op = iota // make it so: insert, update, restore
	opDisable           // keep it, but out of use
	opDelete            // remove it and what it left behind
)

// goal is the state an op ends in when it succeeds.
var goal = map[op]model.State{opEnsure: model.StateActive, opDisable: model.StateDisabled, opDelete: model.StateDeleted}

// Apply makes it real on this host for order o, according to it.State
// (pending-insert, pending-update and pending-restore make it so,
// pending-disable disables it, pending-delete removes it), and returns the
// resulting state (active, disabled, deleted, soft-error or hard-error) with
// a readable message.
func (a *Applier) Apply(ctx context.Context, o model.Order, it model.Item) Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	res := a.apply(ctx, o, it)
	level := slog.LevelInfo
	if res.State == model.StateSoftError || res.State == model.StateHardError {
		level = slog.LevelWarn
	}
	a.log.Log(ctx, level, "apply item", "item", it.ID, "kind", it.Kind, "order", o.Identifier,
		"from", it.State, "to", res.State, "message", res.Message, "took", time.Since(start).Round(time.Millisecond))
	return res
}

// applier makes one kind of item real on this host (or disables or
// deletes it) and says what it did.
type applier func(a *Applier, ctx context.Context, o model.Order, it model.Item, what op) (string, error)

// appliers are the node's half of the kind registry: one entry for every
// host-bound kind of model.Kinds (a test checks none is missing).
var appliers = map[model.Kind]applier{
	model.KindUserAccount:  (*Applier).applyUserAccount,
	model.KindWebConf:      (*Applier).applyWebConf,
	model.KindMySQLDB:      withoutOrder((*Applier).applyDatabase),
	model.KindMySQLUser:    withoutOrder((*Applier).applyDatabase),
	model.KindPgSQLDB:      withoutOrder((*Applier).applyDatabase),
	model.KindScheduledJob: withoutOrder((*Applier).applyScheduledJob),
	model.KindMailbox:      (*Applier).applyMailbox,
	model.KindEmailAddress: (*Applier).applyEmailAddress,
}

// withoutOrder adapts an applier that does not need the item's order.
func withoutOrder(f func(a *Applier, ctx context.Context, it model.Item, what op) (string, error)) applier {
	return func(a *Applier, ctx context.Context, _ model.Order, it model.Item, what op) (string, error) {
		return f(a, ctx, it, what)
	}
}

func (a *Applier) apply(ctx context.Context, o model.Order, it model.Item) Result {
	var what op
	switch it.State {
	case model.StatePendingInsert, model.StatePendingUpdate, model.StatePendingRestore:
		what = opEnsure
	case model.StatePendingDisable:
		what = opDisable
	case model.StatePendingDelete:
		what = opDelete
	default:
		return Result{model.StateHardError, fmt.Sprintf("item %d is %q, which is no work for a node", it.ID, it.State)}
	}
	if it.Kind == model.KindDNS {
		return Result{model.StateHardError, "dns items are applied by dns hosts"}
	}
	if err := o.Validate(); err != nil {
		return Result{model.StateHardError, fmt.Sprintf("order %d is invalid: %v", o.ID, err)}
	}
	spec, err := normalizedSpec(it, o.Identifier)
	if err != nil {
		return Result{model.StateHardError, fmt.Sprintf("item %d is invalid: %v", it.ID, err)}
	}
	it.Spec = spec
	if (it.Kind == model.KindWebConf || it.Kind == model.KindScheduledJob || it.Kind == model.KindMailbox || it.Kind == model.KindEmailAddress) && it.ID <= 0 {
		return Result{model.StateHardError, fmt.Sprintf("a %s item needs an id: what ferry writes for it is named by the id", it.Kind)}
	}

	if what == opEnsure {
		if err := a.ensureOrderDir(o); err != nil {
			return errorResult(err)
		}
	}
	applyKind := appliers[it.Kind]
	if applyKind == nil {
		return Result{model.StateHardError, fmt.Sprintf("unknown item kind %q", it.Kind)}
	}
	msg, err := applyKind(a, ctx, o, it, what)
	if err != nil {
		return errorResult(err)
	}
	return Result{goal[what], msg}
}

// normalizedSpec validates the item's spec again, on a copy, and returns it in
// canonical form. The control plane validated it already; a node checks
// anyway, since what it writes reaches config files and commands run as root.
func normalizedSpec(it model.Item, orderDomain string) (model.Spec, error) {
	s := it.Spec
	s.ServerNames = slices.Clone(s.ServerNames)
	s.Databases = slices.Clone(s.Databases)
	s.Forward = slices.Clone(s.Forward)
	if s.PHP != nil {
		php := *s.PHP
		s.PHP = &php
	}
	if err := s.Normalize(it.Kind, orderDomain); err != nil {
		return model.Spec{}, err
	}
	return s, nil
}

// hardError marks a failure that no retry can mend.
type hardError struct{ err error }

func (e *hardError) Error() string { return e.err.Error() }
func (e *hardError) Unwrap() error { return e.err }

// hardf returns a hard error: an impossible request or a bug.
func hardf(format string, args ...any) error {
	return &hardError{fmt.Errorf(format, args...)}
}

// errorResult turns err into a result. Errors are soft unless marked hard
// (or a name that cannot be quoted for SQL): most failures on a host (a
// service down, a full disk, a config test) are mended by a retry or by an
// admin, and only a soft error can be retried.
func errorResult(err error) Result {
	var h *hardError
	var q *dbengine.QuoteError
	if errors.As(err, &h) || errors.As(err, &q) {
		return Result{model.StateHardError, err.Error()}
	}
	return Result{model.StateSoftError, err.Error()}
}

// FromFiles applies one item given as JSON, with its order as JSON, on this
// host: the debugging entry point behind `ferry node apply --order FILE
// --item FILE`. An error means the files could not be read as an order and
// an item; everything after that is in the Result.
func FromFiles(ctx context.Context, cfg Config, orderJSON, itemJSON []byte) (Result, error) {
	var o model.Order
	if err := DecodeStrict(orderJSON, &o); err != nil {
		return Result{}, fmt.Errorf("read order: %w", err)
	}
	var it model.Item
	if err := DecodeStrict(itemJSON, &it); err != nil {
		return Result{}, fmt.Errorf("read item: %w", err)
	}
	return New(cfg).Apply(ctx, o, it), nil
}

// DecodeStrict decodes one JSON value into v, refusing unknown fields and
// anything after the value: what a node reads from a file is exactly what
// it expects, or an error.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}
