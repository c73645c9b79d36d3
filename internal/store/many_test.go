package store_test

import (
	"context"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

// testMany checks that the many-row forms store what the one-row forms
// would, in the order given, and write nothing when one row fails.
func testMany(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	limbo := addOrder(t, h.s, model.Order{Identifier: "example.org", Member: "alice", Host: "web1", State: model.OrderTransferLimbo})
	made := []model.Item{
		item(t, f.order, model.KindUserAccount, model.StatePendingInsert, model.Spec{Login: "alice1"}),
		item(t, f.order, model.KindWebConf, model.StatePendingInsert, model.Spec{Login: "alice1", ServerNames: []string{"example.org", "www.example.org"}}),
		item(t, f.order, model.KindDNS, model.StateActive, model.Spec{FQDN: "www.example.org", Type: "A", Value: "192.0.2.1", TTL: 3600}),
		item(t, f.order, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "alice_wp"}),
	}
	made[2].Host = "web2"
	ptrs := func(items []model.Item) []*model.Item {
		out := make([]*model.Item, len(items))
		for i := range items {
			out[i] = &items[i]
		}
		return out
	}
	update(t, h.s, func(tx store.Tx) error { return tx.CreateItems(ctx, ptrs(made)) })
	for i, it := range made {
		if it.ID == 0 || (i > 0 && it.ID <= made[i-1].ID) {
			t.Fatalf("CreateItems gave ids %v, want them rising in the order given", ids(made, itemID))
		}
		diff(t, "GetItem after CreateItems", it, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Item, error) {
			return tx.GetItem(ctx, it.ID)
		}))
	}
	holders := func(identities ...string) map[string][]model.Holder {
		t.Helper()
		var got map[string][]model.Holder
		update(t, h.s, func(tx store.Tx) (err error) { got, err = tx.HoldersOfAny(ctx, identities); return err })
		return got
	}
	diff(t, "holders", map[string][]model.Holder{
		"server-name:www.example.org": {{ItemID: made[1].ID, State: model.StatePendingInsert}},
		"mysql-db:alice_wp":           {{ItemID: made[3].ID, State: model.StatePendingInsert}},
	}, holders("server-name:www.example.org", "mysql-db:alice_wp", "mysql-db:nobody"))
	named := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Item, error) {
		return tx.ItemsNamed(ctx, "www.example.org")
	})
	diff(t, "items named www.example.org", []int64{made[1].ID, made[2].ID}, ids(named, itemID))
	namedAny := read(t, h.s, func(ctx context.Context, tx store.Tx) (map[string][]model.Item, error) {
		return tx.ItemsNamedAny(ctx, []string{"www.example.org", "example.org", "nowhere.example.org"})
	})
	diff(t, "ItemsNamedAny", map[string][]model.Item{"www.example.org": named, "example.org": {made[1]}}, namedAny)

	// UpdateItems moves items, changes their states and rewrites their
	// identities, as UpdateItem does for one.
	moved := append([]model.Item(nil), made...)
	for i := range moved {
		moved[i].OrderID, moved[i].State, moved[i].Message = limbo.ID, model.StateTransferLimbo, "moving"
	}
	moved[1].Spec.ServerNames = []string{"example.org"}
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateItems(ctx, ptrs(moved)) })
	for _, it := range moved {
		diff(t, "GetItem after UpdateItems", it, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Item, error) {
			return tx.GetItem(ctx, it.ID)
		}))
	}
	diff(t, "holders after UpdateItems", map[string][]model.Holder{
		"server-name:example.org": {{ItemID: made[1].ID, State: model.StateTransferLimbo}},
	}, holders("server-name:www.example.org", "server-name:example.org"))

	// A missing item or order fails the whole call, and the transaction
	// goes on without any of it.
	lost := moved[0]
	lost.ID, lost.State = 999, model.StateActive
	kept := moved[3]
	kept.State = model.StateActive
	err := h.s.Update(ctx, func(tx store.Tx) error {
		err := tx.UpdateItems(ctx, []*model.Item{&kept, &lost})
		wantErr(t, err, store.ErrNotFound, "item 999")
		bad := item(t, model.Order{ID: 999, Identifier: "example.org", Host: "web1"}, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "lost"})
		good := item(t, f.order, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "kept"})
		err = tx.CreateItems(ctx, []*model.Item{&good, &bad})
		wantErr(t, err, store.ErrNotFound, "order")
		return tx.AppendAudits(ctx, []*model.AuditEntry{{Actor: "admin", Action: "check", Object: "item/1"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "item after a failed UpdateItems", moved[3], read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Item, error) {
		return tx.GetItem(ctx, moved[3].ID)
	}))
	all := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Item, error) {
		return tx.ListItems(ctx, store.ItemFilter{})
	})
	if len(all) != len(made) {
		t.Errorf("%d items after a failed CreateItems, want %d", len(all), len(made))
	}

	// AppendAudits keeps the order given.
	entries := []*model.AuditEntry{
		{Actor: "admin", Action: "a", Object: "item/1", OrderID: f.order.ID, After: `{"x":1}`},
		{Actor: "admin", Action: "b", Object: "member bob"},
		{Actor: "admin", Action: "c", Object: "item/2", OrderID: f.order.ID, Before: `{"x":1}`, After: `{"x":2}`},
	}
	update(t, h.s, func(tx store.Tx) error { return tx.AppendAudits(ctx, entries) })
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.AuditEntry, error) {
		return tx.ListAudit(ctx, store.AuditFilter{Limit: 3})
	})
	diff(t, "audit, newest first", []model.AuditEntry{*entries[2], *entries[1], *entries[0]}, got)
}

// testRead: Read sees what was committed, as View does, and refuses a
// write, which then leaves nothing behind.
func testRead(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	var got model.Order
	if err := h.s.Read(ctx, func(tx store.Tx) (err error) { got, err = tx.GetOrder(ctx, f.order.ID); return err }); err != nil {
		t.Fatal(err)
	}
	diff(t, "order read", f.order, got)
	err := h.s.Read(ctx, func(tx store.Tx) error {
		return tx.CreateMember(ctx, &model.Member{Name: "mallory", FriendlyName: "M"})
	})
	wantErr(t, err, store.ErrReadWrite, "create member mallory")
	err = h.s.Read(ctx, func(tx store.Tx) error {
		_, err := tx.RevokeTokensOf(ctx, model.RoleMember, "alice", time.Now())
		return err
	})
	wantErr(t, err, store.ErrReadWrite, "alice")
	members := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Member, error) { return tx.ListMembers(ctx) })
	for _, m := range members {
		if m.Name == "mallory" {
			t.Error("a member made inside Read was stored")
		}
	}
}
