package store_test

import (
	"errors"
	"iter"
	"path/filepath"
	"testing"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/store/storetest"
)

// What BulkLoad writes reads back as the API's writes do: items by order
// and host, their identities claimed, and ids that later creates do not
// reuse.
func TestBulkLoad(t *testing.T) {
	s := open(t, storetest.PostgresURL(t))
	ctx := t.Context()
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateMember(ctx, &model.Member{Name: "m"}); err != nil {
			return err
		}
		return tx.CreateHost(ctx, &model.Host{Name: "web1"})
	})
	orders := []model.Order{
		{Identifier: "a.example", Member: "m", Host: "web1"},
		{Identifier: "b.example", Member: "m", Host: "web1"},
	}
	items := iter.Seq2[int, model.Item](func(yield func(int, model.Item) bool) {
		_ = yield(0, model.Item{Kind: model.KindMySQLDB, Spec: model.Spec{Name: "a_db"}}) &&
			yield(1, model.Item{Kind: model.KindMySQLDB, Spec: model.Spec{Name: "b_db"}}) &&
			yield(1, model.Item{Kind: model.KindUserAccount, Spec: model.Spec{Login: "bee"}})
	})
	n, err := store.BulkLoad(ctx, s, orders, items)
	if err != nil || n != 3 {
		t.Fatalf("BulkLoad = %d, %v; want 3 items", n, err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.ListItems(ctx, store.ItemFilter{OrderID: orders[1].ID})
		if err != nil {
			return err
		}
		if len(got) != 2 || got[0].Spec.Name != "b_db" || got[1].Spec.Login != "bee" || got[0].Host != "web1" || got[0].State != model.StateActive {
			t.Errorf("order b's items = %+v, want b_db and bee, active on web1", got)
		}
		for _, it := range []model.Item{{Kind: model.KindMySQLDB, Spec: model.Spec{Name: "a_db"}}, got[1]} {
			ids := it.Spec.Identities(it.Kind)
			h, err := tx.HoldersOf(ctx, ids[0])
			if err != nil {
				return err
			}
			if len(h) != 1 {
				t.Errorf("holders of %s = %v, want the loaded item", ids[0], h)
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		o := model.Order{Identifier: "c.example", Member: "m", Host: "web1", State: model.OrderActive}
		if err := tx.CreateOrder(ctx, &o); err != nil {
			return err
		}
		if o.ID <= orders[1].ID {
			t.Errorf("a new order got id %d, not after the loaded %d", o.ID, orders[1].ID)
		}
		it := model.Item{OrderID: o.ID, Host: "web1", Kind: model.KindMySQLDB, State: model.StatePendingInsert, Spec: model.Spec{Name: "c_db"}}
		return tx.CreateItem(ctx, &it)
	})
}

func TestBulkLoadNeedsPostgres(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "ferry.db"))
	_, err := store.BulkLoad(t.Context(), s, nil, func(func(int, model.Item) bool) {})
	if !errors.Is(err, store.ErrBulkDriver) {
		t.Fatalf("BulkLoad on SQLite: %v, want ErrBulkDriver", err)
	}
}
