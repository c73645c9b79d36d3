package panel_test

import (
	"testing"

	"ferry/internal/model"
	"ferry/internal/panel"
)

// Mail addresses and mailboxes stay within their order: an address at
// another order's domain, a mailbox of another order's account, an address
// another order holds and a forward that loops are refused, and nothing
// changes.
func TestRulesMail(t *testing.T) {
	c := newCoop(t)
	c.create(c.alice, "alice.example", model.KindUserAccount, model.Spec{Login: "alice", Password: "correct-horse-battery"})
	c.create(c.alice, "alice.example", model.KindMailbox, model.Spec{Login: "alice", QuotaMB: 100})
	info := c.create(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "Info@alice.example", Login: "alice"})
	if info.Spec.Address != "info@alice.example" {
		t.Errorf("address stored as %q", info.Spec.Address)
	}
	c.create(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "a@alice.example", Forward: []string{"b@alice.example"}})
	b := c.create(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "b@alice.example", Login: "alice", Forward: []string{"bob@bob.example"}})
	c.create(c.bob, "bob.example", model.KindUserAccount, model.Spec{Login: "bob", Password: "correct-horse-battery"})
	c.create(c.bob, "bob.example", model.KindMailbox, model.Spec{Login: "bob"})
	c.create(c.bob, "bob.example", model.KindEmailAddress, model.Spec{Address: "bob@bob.example", Forward: []string{"x@elsewhere.example"}})
	c.create(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "d@alice.example", Forward: []string{"e@alice.example", "new@bob.example"}})
	c.create(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "e@alice.example", Forward: []string{"c@alice.example"}})
	before := c.items()

	add := func(who panel.Caller, order string, k model.Kind, s model.Spec) func() error {
		return func() error {
			_, err := c.p.CreateItem(c.ctx, who, panel.ItemInput{Order: order, Kind: k, Spec: s})
			return err
		}
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want refusal
	}{
		{"bob takes an address at alice's domain", add(c.bob, "bob.example", model.KindEmailAddress, model.Spec{Address: "sales@alice.example", Login: "bob"}),
			refusal{field: "spec.address", msg: "another member's order"}},
		{"an address outside the order's domains", add(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "x@unheld.example", Login: "alice"}),
			refusal{field: "spec.address", msg: "not under any domain of order alice.example"}},
		{"bob delivers to alice's mailbox", add(c.bob, "bob.example", model.KindEmailAddress, model.Spec{Address: "x@bob.example", Login: "alice"}),
			refusal{field: "spec.login", msg: `order bob.example has no mailbox "alice"`}},
		{"bob makes a mailbox for alice's account", add(c.bob, "bob.example", model.KindMailbox, model.Spec{Login: "alice"}),
			refusal{field: "spec.login", msg: `order bob.example has no user-account "alice"`}},
		{"an address without a mailbox", add(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "y@alice.example", Login: "carol"}),
			refusal{field: "spec.login", msg: `has no mailbox "carol"`}},
		{"an address twice", add(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "INFO@alice.example", Forward: []string{"z@elsewhere.example"}}),
			refusal{is: model.ErrDuplicate, msg: "email:info@alice.example is held by item"}},
		{"a second mailbox for one account", add(c.alice, "alice.example", model.KindMailbox, model.Spec{Login: "alice"}),
			refusal{is: model.ErrDuplicate, msg: "mailbox:alice is held by item"}},
		{"a forward that loops through another address", add(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "c@alice.example", Forward: []string{"c2@elsewhere.example", "d@alice.example"}}),
			refusal{field: "spec.forward", msg: "makes a mail loop: mail forwarded to d@alice.example comes back to c@alice.example"}},
		{"an update that closes a loop", func() error {
			_, err := c.p.UpdateItem(c.ctx, c.alice, b.ID, model.Spec{Address: "b@alice.example", Login: "alice", Forward: []string{"a@alice.example"}})
			return err
		}, refusal{field: "spec.forward", msg: "makes a mail loop: mail forwarded to a@alice.example comes back to b@alice.example"}},
		{"a loop across members", add(c.bob, "bob.example", model.KindEmailAddress, model.Spec{Address: "new@bob.example", Forward: []string{"d@alice.example"}}),
			refusal{field: "spec.forward", msg: "mail forwarded to d@alice.example comes back to new@bob.example"}},
		{"an address with a bad local part", add(c.alice, "alice.example", model.KindEmailAddress, model.Spec{Address: "a..b@alice.example", Login: "alice"}),
			refusal{field: "spec.address", msg: "two in a row"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.check(t, tc.do())
			c.unchanged(before)
		})
	}
}
