package panel_test

import (
	"testing"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// One member's caller can neither see nor change nor claim what is
// another member's; another member's things answer as missing ones.
func TestRulesCrossMemberOwnership(t *testing.T) {
	c := newCoop(t)
	acct := c.create(c.alice, "alice.example", model.KindUserAccount, model.Spec{Login: "alice", Password: "correct-horse-battery"})
	site := c.create(c.alice, "alice.example", model.KindWebConf, model.Spec{Login: "alice", ServerNames: []string{"www.alice.example"}})
	db := c.create(c.alice, "alice.example", model.KindPgSQLDB, model.Spec{Name: "alicedb"})
	rec := c.create(c.alice, "alice.example", model.KindDNS, model.Spec{Zone: "alice.example", FQDN: "www.alice.example", Type: "A", Value: "192.0.2.1"})
	c.create(c.bob, "bob.example", model.KindUserAccount, model.Spec{Login: "bob", Password: "correct-horse-battery"})
	bobSite := c.create(c.bob, "bob.example", model.KindWebConf, model.Spec{Login: "bob", ServerNames: []string{"www.bob.example"}})
	before := c.items()

	for _, tc := range []struct {
		name string
		do   func() error
		want refusal
	}{
		{"bob reads alice's order", func() error { _, err := c.p.GetOrder(c.ctx, c.bob, "alice.example"); return err },
			refusal{is: store.ErrNotFound, msg: "alice.example"}},
		{"bob reads alice's item", func() error { _, err := c.p.GetItem(c.ctx, c.bob, acct.ID); return err },
			refusal{is: store.ErrNotFound, msg: "not found"}},
		{"bob updates alice's site", func() error {
			_, err := c.p.UpdateItem(c.ctx, c.bob, site.ID, model.Spec{Login: "alice", ServerNames: []string{"www.alice.example", "bob.alice.example"}})
			return err
		}, refusal{is: store.ErrNotFound, msg: "not found"}},
		{"bob deletes alice's account", func() error {
			_, err := c.p.SetItemState(c.ctx, c.bob, acct.ID, model.StatePendingDelete)
			return err
		}, refusal{is: store.ErrNotFound, msg: "not found"}},
		{"bob adds an item to alice's order", func() error {
			_, err := c.p.CreateItem(c.ctx, c.bob, panel.ItemInput{Order: "alice.example", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "bobdb"}})
			return err
		}, refusal{is: store.ErrNotFound, msg: "alice.example"}},
		{"bob claims alice's server name", func() error {
			_, err := c.p.CreateItem(c.ctx, c.bob, panel.ItemInput{Order: "bob.example", Kind: model.KindWebConf, Spec: model.Spec{Login: "bob", ServerNames: []string{"shop.alice.example"}}})
			return err
		}, refusal{field: "spec.server_names", msg: "another member's order"}},
		{"bob's site takes alice's name on update", func() error {
			_, err := c.p.UpdateItem(c.ctx, c.bob, bobSite.ID, model.Spec{Login: "bob", ServerNames: []string{"www.bob.example", "www.alice.example"}})
			return err
		}, refusal{field: "spec.server_names", msg: "it is not bob.example's to claim"}},
		{"bob claims a DNS name in alice's zone", func() error {
			_, err := c.p.CreateItem(c.ctx, c.bob, panel.ItemInput{Order: "bob.example", Kind: model.KindDNS, Spec: model.Spec{Zone: "alice.example", FQDN: "mail.alice.example", Type: "A", Value: "192.0.2.9"}})
			return err
		}, refusal{field: "spec.fqdn", msg: "another member's order"}},
		{"bob owns a database by alice's role", func() error {
			_, err := c.p.CreateItem(c.ctx, c.bob, panel.ItemInput{Order: "bob.example", Kind: model.KindPgSQLDB, Spec: model.Spec{Name: "bobdb", Owner: db.Spec.Name}})
			return err
		}, refusal{field: "spec.owner", msg: "another order's database"}},
		{"bob takes alice's login", func() error {
			_, err := c.p.CreateItem(c.ctx, c.bob, panel.ItemInput{Order: "bob.example", Kind: model.KindUserAccount, Spec: model.Spec{Login: "alice", Password: "correct-horse-battery"}})
			return err
		}, refusal{is: model.ErrDuplicate, msg: "login:alice is held by item"}},
		{"bob takes alice's domain", func() error {
			_, err := c.p.AddOrderDomain(c.ctx, c.bob, "bob.example", "shop.alice.example")
			return err
		},
			refusal{field: "domain", msg: "another member's order"}},
		{"bob deletes alice's DNS record", func() error {
			_, err := c.p.SetItemState(c.ctx, c.bob, rec.ID, model.StatePendingDelete)
			return err
		}, refusal{is: store.ErrNotFound, msg: "not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.check(t, tc.do())
			c.unchanged(before)
		})
	}

	// bob's listing holds none of alice's items.
	mine, err := c.p.ListItems(c.ctx, c.bob, store.ItemFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 2 || mine[0].Spec.Login != "bob" || mine[1].Spec.Login != "bob" {
		t.Errorf("bob lists %+v; want only his account and site", mine)
	}
}
