package panel_test

import (
	"reflect"
	"testing"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// TestUpdateSpecTxChecksTheSpec: the spec changes the move engine makes in
// its own transaction (a DNS record's TTL at prepare, its address at
// cutover) pass the checks of any update. A spec that fails them is
// refused, and neither the item nor the audit log changes; one that passes
// sends the record to its dns host, audited.
func TestUpdateSpecTxChecksTheSpec(t *testing.T) {
	ctx, w := newWorld(t)
	rec, err := w.p.CreateItem(ctx, admin, panel.ItemInput{Order: w.ada.Identifier, Kind: model.KindDNS,
		Spec: model.Spec{FQDN: "www.ada.example", Type: model.RRA, Value: "127.0.1.1", TTL: 3600}})
	if err != nil {
		t.Fatal(err)
	}
	node := panel.Caller{Name: rec.Host + "-node", Role: model.RoleNode, Host: rec.Host}
	if rec, err = w.p.ReportItem(ctx, node, rec.ID, panel.Report{State: model.StateActive}); err != nil {
		t.Fatal(err)
	}
	audit := func() int {
		t.Helper()
		entries, err := w.p.ListAudit(ctx, admin, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	update := func(it *model.Item, spec model.Spec) error {
		return w.p.Update(ctx, func(tx store.Tx) error { return w.p.UpdateSpecTx(ctx, tx, admin, it, spec) })
	}

	for _, c := range []struct {
		name   string
		change func(*model.Spec)
	}{
		{"an A record that is no IPv4 address", func(s *model.Spec) { s.Value = "2001:db8::1" }},
		{"a TTL below zero", func(s *model.Spec) { s.TTL = -1 }},
		{"a name outside the order's domains", func(s *model.Spec) { s.FQDN = "www.bob.example" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			entries := audit()
			it := rec
			spec := rec.Spec
			c.change(&spec)
			err := update(&it, spec)
			t.Log(err)
			if err == nil {
				t.Fatalf("spec %+v accepted", spec)
			}
			if !reflect.DeepEqual(it, rec) {
				t.Errorf("the item handed in changed:\n got %+v\nwant %+v", it, rec)
			}
			got, err := w.p.GetItem(ctx, admin, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != model.StateActive || !reflect.DeepEqual(got.Spec, rec.Spec) {
				t.Errorf("stored item changed: %s %+v", got.State, got.Spec)
			}
			if n := audit(); n != entries {
				t.Errorf("%d audit entries written for a refused change", n-entries)
			}
		})
	}

	entries := audit()
	it := rec
	spec := rec.Spec
	spec.Value, spec.TTL = "127.0.1.2", 300
	if err := update(&it, spec); err != nil {
		t.Fatal(err)
	}
	got, err := w.p.GetItem(ctx, admin, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.StatePendingUpdate || got.Spec.Value != "127.0.1.2" || got.Spec.TTL != 300 || it.State != got.State {
		t.Errorf("after the switch: stored %s %s ttl %d, handed back %s", got.State, got.Spec.Value, got.Spec.TTL, it.State)
	}
	if n := audit(); n != entries+1 {
		t.Errorf("%d audit entries for one change, want 1", n-entries)
	}
}
