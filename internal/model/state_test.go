package model_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

// designStates are the item states DESIGN.md names, apart from "none" (an
// item that does not exist yet).
var designStates = []string{
	"pending-insert", "pending-update", "pending-delete", "pending-disable",
	"pending-restore", "active", "disabled", "deleted", "soft-error",
	"hard-error", "transfer-limbo",
}

// designTransitions is DESIGN.md's "Item states" table, written out here
// apart from the model's: one line per allowed transition, "from to actor",
// with "none" for an item that does not exist yet. The last six lines are
// ferry's addition, so that every state has a way out (docs/item-states.md).
const designTransitions = `
none            pending-insert  control-plane
active          pending-update  control-plane
active          pending-delete  control-plane
active          pending-disable control-plane
active          transfer-limbo  control-plane
disabled        pending-update  control-plane
disabled        pending-delete  control-plane
soft-error      pending-restore control-plane
transfer-limbo  pending-delete  control-plane
transfer-limbo  active          control-plane
pending-insert  active          node
pending-insert  soft-error      node
pending-insert  hard-error      node
pending-update  active          node
pending-update  soft-error      node
pending-update  hard-error      node
pending-restore active          node
pending-restore soft-error      node
pending-restore hard-error      node
pending-delete  deleted         node
pending-delete  soft-error      node
pending-delete  hard-error      node
pending-disable disabled        node
pending-disable soft-error      node
pending-disable hard-error      node
soft-error      pending-delete  control-plane
hard-error      pending-delete  control-plane
pending-insert  pending-delete  control-plane
pending-update  pending-delete  control-plane
pending-restore pending-delete  control-plane
pending-disable pending-delete  control-plane
`

type transition struct {
	from, to model.State
	by       model.Actor
}

func (tr transition) String() string {
	return fmt.Sprintf("%s→%s by %s", stateName(tr.from), stateName(tr.to), tr.by)
}

func stateName(s model.State) string {
	if s == "" {
		return "none"
	}
	return string(s)
}

// allowedTransitions parses designTransitions.
func allowedTransitions(t *testing.T) map[transition]bool {
	t.Helper()
	allowed := map[transition]bool{}
	for line := range strings.Lines(strings.TrimSpace(designTransitions)) {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("bad table line %q", line)
		}
		tr := transition{from: model.State(f[0]), to: model.State(f[1]), by: model.ByNode}
		if f[0] == "none" {
			tr.from = ""
		}
		if f[2] == "control-plane" {
			tr.by = model.ByControlPlane
		}
		allowed[tr] = true
	}
	return allowed
}

func TestStatesAreTheDesignsStates(t *testing.T) {
	var got []string
	for _, s := range model.States {
		got = append(got, string(s))
		if !s.Valid() {
			t.Errorf("state %q is not Valid", s)
		}
	}
	if !slices.Equal(got, designStates) {
		t.Errorf("model.States = %q, want %q", got, designStates)
	}
	for _, s := range []model.State{"", "none", "Active", "pending"} {
		if s.Valid() {
			t.Errorf("state %q is Valid", s)
		}
	}
}

// Every (from, to, actor) is allowed exactly when the design's table says
// so; every refusal names both states and, where the other actor may make
// the transition, says so.
func TestCheckTransition(t *testing.T) {
	allowed := allowedTransitions(t)
	if len(allowed) != 31 {
		t.Fatalf("the design's table has %d transitions, want 31", len(allowed))
	}
	from := append([]model.State{model.StateNone}, model.States...)
	to := append([]model.State{model.StateNone}, model.States...)
	seen := 0
	for _, f := range from {
		for _, tt := range to {
			for _, by := range []model.Actor{model.ByControlPlane, model.ByNode} {
				tr := transition{f, tt, by}
				err := model.CheckTransition(f, tt, by)
				if allowed[tr] {
					seen++
					if err != nil {
						t.Errorf("%s refused: %v", tr, err)
					}
					continue
				}
				if err == nil {
					t.Errorf("%s allowed, the design refuses it", tr)
					continue
				}
				checkTransitionError(t, tr, err, allowed[transition{f, tt, 1 - by}])
			}
		}
	}
	if seen != len(allowed) {
		t.Errorf("checked %d allowed transitions, the table has %d", seen, len(allowed))
	}
}

func checkTransitionError(t *testing.T, tr transition, err error, otherActorMay bool) {
	t.Helper()
	if !errors.Is(err, model.ErrTransition) {
		t.Errorf("%s: error %q does not wrap ErrTransition", tr, err)
	}
	var te *model.TransitionError
	if !errors.As(err, &te) || te.From != tr.from || te.To != tr.to {
		t.Errorf("%s: error %#v does not carry both states", tr, err)
	}
	msg := err.Error()
	for _, st := range []model.State{tr.from, tr.to} {
		if !strings.Contains(msg, `"`+stateName(st)+`"`) {
			t.Errorf("%s: error %q does not name the state %s", tr, msg, stateName(st))
		}
	}
	other := model.ByNode
	if tr.by == model.ByNode {
		other = model.ByControlPlane
	}
	if says := strings.Contains(msg, "only the "+other.String()); says != otherActorMay {
		t.Errorf("%s: error %q says only the %s may make it: %v, want %v", tr, msg, other, says, otherActorMay)
	}
}

func TestStatePredicates(t *testing.T) {
	pending := []model.State{"pending-insert", "pending-update", "pending-delete", "pending-disable", "pending-restore"}
	for _, s := range model.States {
		if got, want := s.Pending(), slices.Contains(pending, s); got != want {
			t.Errorf("%s.Pending() = %v, want %v", s, got, want)
		}
		if got, want := s.Live(), s != "deleted"; got != want {
			t.Errorf("%s.Live() = %v, want %v", s, got, want)
		}
	}
}

func TestCheckUnique(t *testing.T) {
	const id = "login:alice"
	h := func(id int64, st model.State) model.Holder { return model.Holder{ItemID: id, State: st} }
	for _, c := range []struct {
		name   string
		st     model.State
		others []model.Holder
		ok     bool
	}{
		{"alone", "pending-insert", nil, true},
		{"alone among deleted", "pending-insert", []model.Holder{h(1, "deleted"), h(2, "deleted")}, true},
		{"copy beside its limbo twin", "pending-insert", []model.Holder{h(1, "transfer-limbo")}, true},
		{"active beside limbo", "active", []model.Holder{h(1, "transfer-limbo")}, true},
		{"limbo beside the new copy", "transfer-limbo", []model.Holder{h(1, "pending-insert")}, true},
		{"limbo beside active", "transfer-limbo", []model.Holder{h(1, "active")}, true},
		{"pair plus deleted", "active", []model.Holder{h(1, "deleted"), h(2, "transfer-limbo"), h(3, "deleted")}, true},
		{"two active", "active", []model.Holder{h(1, "active")}, false},
		{"new beside active", "pending-insert", []model.Holder{h(1, "active")}, false},
		{"new beside an error", "pending-insert", []model.Holder{h(1, "hard-error")}, false},
		{"new beside disabled", "pending-insert", []model.Holder{h(1, "disabled")}, false},
		{"new beside a pending delete", "pending-insert", []model.Holder{h(1, "pending-delete")}, false},
		{"two limbo", "transfer-limbo", []model.Holder{h(1, "transfer-limbo")}, false},
		{"three: limbo and active", "active", []model.Holder{h(1, "transfer-limbo"), h(2, "active")}, false},
		{"three: active and limbo", "active", []model.Holder{h(1, "active"), h(2, "transfer-limbo")}, false},
		{"three: two limbo", "active", []model.Holder{h(1, "transfer-limbo"), h(2, "transfer-limbo")}, false},
		{"three, limbo new", "transfer-limbo", []model.Holder{h(1, "active"), h(2, "pending-insert")}, false},
		{"deleted does not hide a clash", "active", []model.Holder{h(1, "deleted"), h(2, "active")}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := model.CheckUnique(id, c.st, c.others)
			if c.ok {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, model.ErrDuplicate) {
				t.Fatalf("error %v, want one wrapping ErrDuplicate", err)
			}
			if !strings.Contains(err.Error(), id) {
				t.Errorf("error %q does not name the identity %s", err, id)
			}
		})
	}
}
