package model

import (
	"errors"
	"fmt"
)

// State is an item's life-cycle state, from the co-op's state-transition
// table. pending-* states are work for a node; the others are results.
type State string

// Item states.
const (
	StateNone           State = ""
	StatePendingInsert  State = "pending-insert"
	StatePendingUpdate  State = "pending-update"
	StatePendingDelete  State = "pending-delete"
	StatePendingDisable State = "pending-disable"
	StatePendingRestore State = "pending-restore"
	StateActive         State = "active"
	StateDisabled       State = "disabled"
	StateDeleted        State = "deleted"
	StateSoftError      State = "soft-error"
	StateHardError      State = "hard-error"
	StateTransferLimbo  State = "transfer-limbo"
)

// States lists every item state, in the order the docs show them.
var States = []State{
	StatePendingInsert, StatePendingUpdate, StatePendingDelete, StatePendingDisable,
	StatePendingRestore, StateActive, StateDisabled, StateDeleted, StateSoftError,
	StateHardError, StateTransferLimbo,
}

// Actor says who asks for a transition: the control plane (an admin, a
// member, the move engine) or the node that applies the item.
type Actor int

// Actors.
const (
	ByControlPlane Actor = iota
	ByNode
)

func (a Actor) String() string {
	if a == ByNode {
		return "node"
	}
	return "control plane"
}

var nodeResults = []State{StateSoftError, StateHardError}

// transitions is the co-op's table: from → to → who may make the move.
var transitions = map[State]map[State]Actor{
	StateNone:     {StatePendingInsert: ByControlPlane},
	StateActive:   {StatePendingUpdate: ByControlPlane, StatePendingDelete: ByControlPlane, StatePendingDisable: ByControlPlane, StateTransferLimbo: ByControlPlane},
	StateDisabled: {StatePendingUpdate: ByControlPlane, StatePendingDelete: ByControlPlane},
	// Every state has a way out: an item the node failed on, for good or
	// not, can be deleted, and so can one still waiting for its node (a
	// pending-insert is cancelled that way; a report the node sends for the
	// work it had is then refused, and it gets the delete instead).
	StateSoftError: {StatePendingRestore: ByControlPlane, StatePendingDelete: ByControlPlane},
	StateHardError: {StatePendingDelete: ByControlPlane},
	// A move's cleanup deletes limbo items; its abort returns them to
	// active (they never stopped serving on their host, so no node work).
	StateTransferLimbo:  {StatePendingDelete: ByControlPlane, StateActive: ByControlPlane},
	StatePendingInsert:  byNode(StateActive, true),
	StatePendingUpdate:  byNode(StateActive, true),
	StatePendingRestore: byNode(StateActive, true),
	StatePendingDelete:  byNode(StateDeleted, false),
	StatePendingDisable: byNode(StateDisabled, true),
}

// byNode lists a pending state's results: ok or an error, by the node, and
// when deletable, pending-delete by the control plane.
func byNode(ok State, deletable bool) map[State]Actor {
	m := map[State]Actor{ok: ByNode}
	for _, s := range nodeResults {
		m[s] = ByNode
	}
	if deletable {
		m[StatePendingDelete] = ByControlPlane
	}
	return m
}

// ErrNotForgettable is wrapped when an item cannot be forgotten.
var ErrNotForgettable = errors.New("cannot be forgotten")

// CheckForget says whether an admin may forget an item in state st: mark
// it deleted without its node, for an item whose host is gone or broken.
// Forgetting is not a transition of the table: nothing is undone on the
// host, only the control plane's record ends. A deleted item is already
// gone, and a transfer-limbo one belongs to a move (its cleanup or abort
// ends it).
func CheckForget(st State) error {
	switch st {
	case StateDeleted:
		return fmt.Errorf("%w: it is already deleted", ErrNotForgettable)
	case StateTransferLimbo:
		return fmt.Errorf("%w: it is in transfer-limbo; the move's cleanup or abort ends it", ErrNotForgettable)
	}
	return nil
}

// ErrTransition is wrapped by every refused state transition.
var ErrTransition = errors.New("illegal state transition")

// TransitionError names both states of a refused transition.
type TransitionError struct {
	From, To State
	By       Actor
	Allowed  bool // the transition exists, but for another actor
}

func (e *TransitionError) Error() string {
	if e.Allowed {
		return fmt.Sprintf("illegal state transition from %q to %q: only the %s may make it", stateName(e.From), stateName(e.To), otherActor(e.By))
	}
	return fmt.Sprintf("illegal state transition from %q to %q", stateName(e.From), stateName(e.To))
}

// stateName names StateNone "none", as the state table does.
func stateName(s State) string {
	if s == StateNone {
		return "none"
	}
	return string(s)
}

// Unwrap lets callers match ErrTransition.
func (e *TransitionError) Unwrap() error { return ErrTransition }

func otherActor(a Actor) Actor {
	if a == ByNode {
		return ByControlPlane
	}
	return ByNode
}

// CheckTransition refuses any transition the table does not list for by.
func CheckTransition(from, to State, by Actor) error {
	who, ok := transitions[from][to]
	if !ok {
		return &TransitionError{From: from, To: to, By: by}
	}
	if who != by {
		return &TransitionError{From: from, To: to, By: by, Allowed: true}
	}
	return nil
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}

// Pending reports whether s is work waiting for a node.
func (s State) Pending() bool {
	switch s {
	case StatePendingInsert, StatePendingUpdate, StatePendingDelete, StatePendingDisable, StatePendingRestore:
		return true
	}
	return false
}

// Live reports whether an item in s exists or will exist on its host: every
// state but deleted.
func (s State) Live() bool { return s != StateDeleted }
