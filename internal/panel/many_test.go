package panel_test

import (
	"errors"
	"reflect"
	"testing"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// TestManyFormsCheckEveryItem: the many-item forms the move's prepare
// uses refuse what the one-item forms refuse, name the item that failed,
// and then store nothing of any item and audit nothing.
func TestManyFormsCheckEveryItem(t *testing.T) {
	ctx, w := newWorld(t)
	node := panel.Caller{Name: "dns1-node", Role: model.RoleNode, Host: "dns1"}
	var recs []model.Item
	for _, fqdn := range []string{"www.ada.example", "ftp.ada.example"} {
		rec, err := w.p.CreateItem(ctx, admin, panel.ItemInput{Order: w.ada.Identifier, Kind: model.KindDNS,
			Spec: model.Spec{FQDN: fqdn, Type: model.RRA, Value: "127.0.1.1", TTL: 3600}})
		if err != nil {
			t.Fatal(err)
		}
		if rec, err = w.p.ReportItem(ctx, node, rec.ID, panel.Report{State: model.StateActive}); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	audit := func() int {
		t.Helper()
		entries, err := w.p.ListAudit(ctx, admin, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	stored := func() []model.Item {
		t.Helper()
		var out []model.Item
		for _, r := range recs {
			got, err := w.p.GetItem(ctx, admin, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got)
		}
		return out
	}
	updateAll := func(items []model.Item, change func(i int, s *model.Spec)) error {
		ptrs := []*model.Item{}
		specs := []model.Spec{}
		for i := range items {
			ptrs = append(ptrs, &items[i])
			s := items[i].Spec
			change(i, &s)
			specs = append(specs, s)
		}
		return w.p.Update(ctx, func(tx store.Tx) error { return w.p.UpdateSpecsTx(ctx, tx, admin, ptrs, specs) })
	}

	entries, before := audit(), stored()
	items := append([]model.Item(nil), recs...)
	err := updateAll(items, func(i int, s *model.Spec) {
		s.TTL = 300
		if i == 1 {
			s.FQDN = "ftp.bob.example" // another member's domain
		}
	})
	var ie *panel.ItemsError
	if !errors.As(err, &ie) || ie.Index != 1 {
		t.Fatalf("a refused second record: got %v, want an ItemsError naming the second item", err)
	}
	if !reflect.DeepEqual(items, recs) {
		t.Errorf("the items handed in changed on a refusal")
	}
	if got := stored(); !reflect.DeepEqual(got, before) {
		t.Errorf("stored items changed on a refusal:\n got %+v\nwant %+v", got, before)
	}
	if n := audit(); n != entries {
		t.Errorf("%d audit entries written for a refused change", n-entries)
	}

	// A kind whose rules read the order's other items is refused.
	db := w.items["ada/"+string(model.KindMySQLDB)]
	if db.ID == 0 {
		t.Fatal("no mysql-db item in the world")
	}
	err = w.p.Update(ctx, func(tx store.Tx) error {
		return w.p.UpdateSpecsTx(ctx, tx, admin, []*model.Item{&db}, []model.Spec{db.Spec})
	})
	if err == nil {
		t.Error("UpdateSpecsTx took a mysql-db item")
	}

	// Two new items claiming one identity: the second is refused, and
	// neither is stored.
	a := model.Item{OrderID: w.ada.ID, Host: "web1", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "ada_twice"}}
	b := a
	err = w.p.Update(ctx, func(tx store.Tx) error { return w.p.InsertItems(ctx, tx, admin, []*model.Item{&a, &b}) })
	if !errors.Is(err, model.ErrDuplicate) || !errors.As(err, &ie) || ie.Index != 1 {
		t.Errorf("two items of one identity: got %v, want ErrDuplicate naming the second", err)
	}
	list, err := w.p.ListItems(ctx, admin, store.ItemFilter{OrderID: w.ada.ID, Kind: model.KindMySQLDB})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range list {
		if it.Spec.Name == "ada_twice" {
			t.Errorf("item %d stored from a refused InsertItems", it.ID)
		}
	}

	// What passes is stored for every item, with one audit entry each.
	items = append([]model.Item(nil), recs...)
	if err := updateAll(items, func(_ int, s *model.Spec) { s.TTL = 300 }); err != nil {
		t.Fatal(err)
	}
	for i, got := range stored() {
		if got.State != model.StatePendingUpdate || got.Spec.TTL != 300 || items[i].State != got.State {
			t.Errorf("record %d after the change: stored %s ttl %d, handed back %s", got.ID, got.State, got.Spec.TTL, items[i].State)
		}
	}
	if n := audit(); n != entries+2 {
		t.Errorf("%d audit entries for two changes, want 2", n-entries)
	}
}
