package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

func testMembers(t *testing.T, h *harness) {
	ctx := t.Context()
	before := time.Now()
	bob, alice := model.Member{Name: "bob"}, model.Member{Name: "alice", FriendlyName: "Alice A."}
	update(t, h.s, func(tx store.Tx) error {
		if err := tx.CreateMember(ctx, &bob); err != nil {
			return err
		}
		return tx.CreateMember(ctx, &alice)
	})
	within(t, "CreatedAt", alice.CreatedAt, before, time.Now())

	diff(t, "ListMembers", []model.Member{alice, bob}, read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Member, error) {
		return tx.ListMembers(ctx)
	}))
	diff(t, "GetMember", bob, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Member, error) {
		return tx.GetMember(ctx, "bob")
	}))

	err := h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateMember(ctx, &model.Member{Name: "alice"}) })
	wantErr(t, err, store.ErrConflict, "alice")

	bob.FriendlyName = "Bob B."
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateMember(ctx, &bob) })
	diff(t, "updated member", bob, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Member, error) {
		return tx.GetMember(ctx, "bob")
	}))
	err = h.s.Update(ctx, func(tx store.Tx) error { return tx.UpdateMember(ctx, &model.Member{Name: "carol"}) })
	wantErr(t, err, store.ErrNotFound, "carol")

	update(t, h.s, func(tx store.Tx) error { return tx.DeleteMember(ctx, "bob") })
	err = h.s.View(ctx, func(tx store.Tx) error { _, err := tx.GetMember(ctx, "bob"); return err })
	wantErr(t, err, store.ErrNotFound, "bob")
	err = h.s.Update(ctx, func(tx store.Tx) error { return tx.DeleteMember(ctx, "bob") })
	wantErr(t, err, store.ErrNotFound, "bob")

	err = h.s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateOrder(ctx, &model.Order{Identifier: "example.org", Member: "alice", Host: "web9", State: model.OrderActive})
	})
	wantErr(t, err, store.ErrNotFound, "example.org")
}

func testHosts(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	diff(t, "ListHosts", []model.Host{f.web1, f.web2}, read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Host, error) {
		return tx.ListHosts(ctx)
	}))
	if f.web1.CreatedAt.IsZero() {
		t.Error("CreateHost did not set CreatedAt")
	}

	// UpdateHost writes the admin fields and leaves the heartbeat alone.
	w2 := f.web2
	w2.Addresses = []string{"192.0.2.20", "2001:db8::20"}
	w2.Roles = []model.Role{model.RoleDNS}
	w2.State = model.HostDraining
	w2.DiskCapacity = 5 << 30
	seen := time.Now()
	w2.LastSeen, w2.DiskFree, w2.Version = &seen, 99, "bogus"
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateHost(ctx, &w2) })
	want := w2
	want.Heartbeat = model.Heartbeat{}
	diff(t, "updated host", want, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Host, error) {
		return tx.GetHost(ctx, "web2")
	}))

	err := h.s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateHost(ctx, &model.Host{Name: "web1", Addresses: []string{"192.0.2.9"}})
	})
	wantErr(t, err, store.ErrConflict, "web1")
	err = h.s.Update(ctx, func(tx store.Tx) error { return tx.UpdateHost(ctx, &model.Host{Name: "web9"}) })
	wantErr(t, err, store.ErrNotFound, "web9")
	err = h.s.View(ctx, func(tx store.Tx) error { _, err := tx.GetHost(ctx, "web9"); return err })
	wantErr(t, err, store.ErrNotFound, "web9")

	err = h.s.Update(ctx, func(tx store.Tx) error { return tx.DeleteHost(ctx, "web1") })
	wantErr(t, err, store.ErrInUse, "web1")
	err = h.s.Update(ctx, func(tx store.Tx) error { return tx.DeleteMember(ctx, "alice") })
	wantErr(t, err, store.ErrInUse, "alice")
	update(t, h.s, func(tx store.Tx) error { return tx.DeleteHost(ctx, "web2") })
	err = h.s.Update(ctx, func(tx store.Tx) error { return tx.DeleteHost(ctx, "web2") })
	wantErr(t, err, store.ErrNotFound, "web2")
}

// testDeleteKeepsHistory checks that a member or host goes once its orders
// and items are all deleted, while those stay, naming it, and that nothing
// new may name it then.
func testDeleteKeepsHistory(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	it := addItem(t, h.s, item(t, f.order, model.KindMySQLDB, model.StateActive, model.Spec{Name: "alice_wp"}))
	err := h.s.Update(ctx, func(tx store.Tx) error { return tx.DeleteHost(ctx, "web1") })
	wantErr(t, err, store.ErrInUse, "web1")

	o := f.order
	o.State = model.OrderDeleted
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateOrder(ctx, &o) })
	err = h.s.Update(ctx, func(tx store.Tx) error { return tx.DeleteHost(ctx, "web1") })
	wantErr(t, err, store.ErrInUse, "1 live orders or items")

	it.State = model.StateDeleted
	update(t, h.s, func(tx store.Tx) error {
		if err := tx.UpdateItem(ctx, &it); err != nil {
			return err
		}
		if err := tx.DeleteMember(ctx, "alice"); err != nil {
			return err
		}
		return tx.DeleteHost(ctx, "web1")
	})
	diff(t, "deleted order", o, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Order, error) {
		return tx.GetOrder(ctx, o.ID)
	}))
	err = h.s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateOrder(ctx, &model.Order{Identifier: "new.example", Member: "alice", Host: "web2", State: model.OrderActive})
	})
	wantErr(t, err, store.ErrNotFound, "member alice")
	err = h.s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateTask(ctx, &model.Task{Host: "web1", Kind: "dump"})
	})
	wantErr(t, err, store.ErrNotFound, "host web1")
}

func testHeartbeat(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	at := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	hb := model.Heartbeat{LastSeen: &at, DiskFree: 1 << 30, DiskUsed: 1 << 29, Load: 0.75, Version: "ferry 0.1", PHPVersions: []string{"8.2", "8.3"}}
	update(t, h.s, func(tx store.Tx) error { return tx.RecordHeartbeat(ctx, "web1", hb) })
	want := f.web1
	want.Heartbeat = hb
	stored := at.UTC().Truncate(time.Microsecond)
	want.LastSeen = &stored
	diff(t, "host after heartbeat", want, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Host, error) {
		return tx.GetHost(ctx, "web1")
	}))

	before := time.Now()
	update(t, h.s, func(tx store.Tx) error { return tx.RecordHeartbeat(ctx, "web2", model.Heartbeat{DiskFree: 7}) })
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Host, error) { return tx.GetHost(ctx, "web2") })
	if got.LastSeen == nil || got.DiskFree != 7 || got.PHPVersions != nil {
		t.Fatalf("heartbeat without a time or PHP: got %+v", got.Heartbeat)
	}
	// A heartbeat without PHP says the host has none (any more).
	update(t, h.s, func(tx store.Tx) error { return tx.RecordHeartbeat(ctx, "web1", model.Heartbeat{DiskFree: 7}) })
	if got := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Host, error) { return tx.GetHost(ctx, "web1") }); got.PHPVersions != nil {
		t.Errorf("PHP versions after a heartbeat without: %v", got.PHPVersions)
	}
	within(t, "LastSeen", *got.LastSeen, before, time.Now())

	err := h.s.Update(ctx, func(tx store.Tx) error { return tx.RecordHeartbeat(ctx, "web9", hb) })
	wantErr(t, err, store.ErrNotFound, "web9")
}

func testOrders(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	if f.order.ID == 0 || f.order.CreatedAt.IsZero() || !f.order.UpdatedAt.Equal(f.order.CreatedAt) {
		t.Fatalf("CreateOrder did not set the id and times: %+v", f.order)
	}
	diff(t, "GetOrder", f.order, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Order, error) {
		return tx.GetOrder(ctx, f.order.ID)
	}))

	// One active order per identifier; its twin in transfer-limbo is fine.
	twin := model.Order{Identifier: "example.org", Member: "alice", Host: "web1", State: model.OrderActive}
	err := h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateOrder(ctx, &twin) })
	wantErr(t, err, store.ErrConflict, "example.org")
	twin.State = model.OrderTransferLimbo
	update(t, h.s, func(tx store.Tx) error { return tx.CreateOrder(ctx, &twin) })
	if twin.ID == f.order.ID {
		t.Fatal("two orders have one id")
	}

	o := f.order
	o.Host = "web2"
	time.Sleep(time.Millisecond)
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateOrder(ctx, &o) })
	if !o.UpdatedAt.After(f.order.UpdatedAt) {
		t.Errorf("UpdateOrder did not move UpdatedAt: %v, was %v", o.UpdatedAt, f.order.UpdatedAt)
	}
	diff(t, "updated order", o, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Order, error) {
		return tx.GetOrder(ctx, o.ID)
	}))

	o.Host = "web9"
	err = h.s.Update(ctx, func(tx store.Tx) error { return tx.UpdateOrder(ctx, &o) })
	wantErr(t, err, store.ErrNotFound, "host web9")
	notFound(t, h.s, "order 999",
		func(ctx context.Context, tx store.Tx) error { return tx.UpdateOrder(ctx, &model.Order{ID: 999}) },
		func(ctx context.Context, tx store.Tx) error { _, err := tx.GetOrder(ctx, 999); return err })
}

func testOrderFilters(t *testing.T, h *harness) {
	f := seed(t, h.s)
	addMember(t, h.s, "bob")
	shop := addOrder(t, h.s, model.Order{Identifier: "shop.example.net", Member: "alice", Host: "web2"})
	blog := addOrder(t, h.s, model.Order{Identifier: "blog.example.com", Member: "bob", Host: "web1", State: model.OrderDeleted})
	for _, tc := range []struct {
		name   string
		filter store.OrderFilter
		want   []int64
	}{
		{"all", store.OrderFilter{}, []int64{f.order.ID, shop.ID, blog.ID}},
		{"member", store.OrderFilter{Member: "alice"}, []int64{f.order.ID, shop.ID}},
		{"host", store.OrderFilter{Host: "web1"}, []int64{f.order.ID, blog.ID}},
		{"identifier", store.OrderFilter{Identifier: "shop.example.net"}, []int64{shop.ID}},
		{"state", store.OrderFilter{State: model.OrderDeleted}, []int64{blog.ID}},
		{"member and host", store.OrderFilter{Member: "alice", Host: "web2"}, []int64{shop.ID}},
		{"none", store.OrderFilter{Member: "carol"}, []int64{}},
	} {
		got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Order, error) {
			return tx.ListOrders(ctx, tc.filter)
		})
		diff(t, tc.name, tc.want, ids(got, orderID))
	}
}

func testOrderText(t *testing.T, h *harness) {
	f := seed(t, h.s)
	addMember(t, h.s, "bob")
	blog := addOrder(t, h.s, model.Order{Identifier: "blog.example.com", Member: "bob", Host: "web2"})
	addItem(t, h.s, item(t, blog, model.KindWebConf, model.StateActive, model.Spec{Login: "bob", ServerNames: []string{"blog.example.com", "www.Bobs-Blog.org"}}))
	addItem(t, h.s, item(t, f.order, model.KindDNS, model.StateActive, model.Spec{FQDN: "mail.example.org", Type: "A", Value: "198.51.100.7"}))
	addItem(t, h.s, item(t, f.order, model.KindMySQLDB, model.StateActive, model.Spec{Name: "bobs_blog"}))
	for _, tc := range []struct {
		text string
		want []int64
	}{
		{"EXAMPLE", []int64{f.order.ID, blog.ID}},
		{"  blog.example ", []int64{blog.ID}},
		{"alic", []int64{f.order.ID}},   // member
		{"eb2", []int64{blog.ID}},       // host
		{"bobs-blog", []int64{blog.ID}}, // a server name
		{"MAIL.", []int64{f.order.ID}},  // a DNS name
		{"198.51", []int64{}},           // a DNS value is no name
		{"bobs_blog", []int64{}},        // nor a database
		{"example_org", []int64{}},      // _ is no wildcard
		{"%", []int64{}},
	} {
		got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Order, error) {
			return tx.ListOrders(ctx, store.OrderFilter{Text: tc.text})
		})
		diff(t, "text "+tc.text, tc.want, ids(got, orderID))
	}
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Order, error) {
		return tx.ListOrders(ctx, store.OrderFilter{Text: "example", Member: "bob"})
	})
	diff(t, "text and member", []int64{blog.ID}, ids(got, orderID))
}

func testItems(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	no := false
	items := []model.Item{
		item(t, f.order, model.KindUserAccount, model.StatePendingInsert, model.Spec{Login: "alice1"}),
		item(t, f.order, model.KindWebConf, model.StateActive, model.Spec{Login: "alice1", ServerNames: []string{"example.org", "www.example.org"}, PHP: &no, HTTPS: &model.HTTPSSpec{Source: "acme", HSTS: true}}),
		item(t, f.order, model.KindDNS, model.StateActive, model.Spec{FQDN: "www.example.org", Type: "CNAME", Value: "example.org"}),
		item(t, f.order, model.KindMySQLUser, model.StateActive, model.Spec{Name: "alice_wp", Password: "correct horse battery", Databases: []string{"alice_wp", "alice_old"}}),
		item(t, f.order, model.KindScheduledJob, model.StateDisabled, model.Spec{Login: "alice1", Schedule: "*/5 * * * *", Command: "php web/cron.php"}),
	}
	items[0].Message = "waiting for web1"
	before := time.Now()
	for i := range items {
		items[i] = addItem(t, h.s, items[i])
		if items[i].ID == 0 {
			t.Fatal("CreateItem did not set the id")
		}
	}
	within(t, "CreatedAt", items[0].CreatedAt, before, time.Now())
	for _, want := range items {
		diff(t, "GetItem", want, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Item, error) {
			return tx.GetItem(ctx, want.ID)
		}))
	}

	it := items[0]
	it.State, it.Message, it.Spec.Shell = model.StateActive, "", "/bin/sh"
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateItem(ctx, &it) })
	diff(t, "updated item", it, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Item, error) {
		return tx.GetItem(ctx, it.ID)
	}))

	err := h.s.Update(ctx, func(tx store.Tx) error {
		bad := item(t, model.Order{ID: 999, Identifier: "example.org", Host: "web1"}, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "lost"})
		return tx.CreateItem(ctx, &bad)
	})
	wantErr(t, err, store.ErrNotFound, "order 999")
	it.ID = 999
	notFound(t, h.s, "item 999",
		func(ctx context.Context, tx store.Tx) error { return tx.UpdateItem(ctx, &it) },
		func(ctx context.Context, tx store.Tx) error { _, err := tx.GetItem(ctx, 999); return err })
}

func testItemFilters(t *testing.T, h *harness) {
	f := seed(t, h.s)
	addMember(t, h.s, "bob")
	blog := addOrder(t, h.s, model.Order{Identifier: "blog.example.com", Member: "bob", Host: "web2"})
	a := addItem(t, h.s, item(t, f.order, model.KindMySQLDB, model.StateActive, model.Spec{Name: "a"}))
	b := addItem(t, h.s, item(t, f.order, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "b"}))
	c := addItem(t, h.s, item(t, f.order, model.KindUserAccount, model.StateSoftError, model.Spec{Login: "c"}))
	d := addItem(t, h.s, item(t, blog, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "d"}))
	for _, tc := range []struct {
		name   string
		filter store.ItemFilter
		want   []int64
	}{
		{"all", store.ItemFilter{}, []int64{a.ID, b.ID, c.ID, d.ID}},
		{"order", store.ItemFilter{OrderID: f.order.ID}, []int64{a.ID, b.ID, c.ID}},
		{"host", store.ItemFilter{Host: "web2"}, []int64{d.ID}},
		{"kind", store.ItemFilter{Kind: model.KindMySQLDB}, []int64{a.ID, b.ID, d.ID}},
		{"state", store.ItemFilter{States: []model.State{model.StatePendingInsert}}, []int64{b.ID, d.ID}},
		{"states", store.ItemFilter{States: []model.State{model.StateSoftError, model.StateActive}}, []int64{a.ID, c.ID}},
		{"member", store.ItemFilter{Member: "bob"}, []int64{d.ID}},
		{"member and state", store.ItemFilter{Member: "alice", States: []model.State{model.StatePendingInsert}}, []int64{b.ID}},
		{"none", store.ItemFilter{Member: "carol"}, []int64{}},
	} {
		got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Item, error) {
			return tx.ListItems(ctx, tc.filter)
		})
		diff(t, tc.name, tc.want, ids(got, itemID))
	}
}

func testIdentities(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	holders := func(identity string) []int64 {
		t.Helper()
		got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Holder, error) {
			return tx.HoldersOf(ctx, identity)
		})
		return ids(got, holderID)
	}
	a := addItem(t, h.s, item(t, f.order, model.KindWebConf, model.StateActive, model.Spec{Login: "alice1", ServerNames: []string{"example.org", "www.example.org"}}))
	limbo := addItem(t, h.s, item(t, f.order, model.KindWebConf, model.StateTransferLimbo, model.Spec{Login: "alice1", ServerNames: []string{"www.example.org"}}))
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Holder, error) {
		return tx.HoldersOf(ctx, "server-name:www.example.org")
	})
	diff(t, "holders", []model.Holder{{ItemID: a.ID, State: model.StateActive}, {ItemID: limbo.ID, State: model.StateTransferLimbo}}, got)
	diff(t, "holders of an unclaimed name", []int64{}, holders("server-name:example.net"))

	// UpdateItem rewrites the identities; deleted items hold none.
	a.Spec.ServerNames = []string{"example.org"}
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateItem(ctx, &a) })
	diff(t, "holders after the name was dropped", []int64{limbo.ID}, holders("server-name:www.example.org"))
	diff(t, "holders of the kept name", []int64{a.ID}, holders("server-name:example.org"))
	a.State = model.StateDeleted
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateItem(ctx, &a) })
	diff(t, "holders after delete", []int64{}, holders("server-name:example.org"))

	db := addItem(t, h.s, item(t, f.order, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "alice_wp"}))
	diff(t, "database holders", []int64{db.ID}, holders("mysql-db:alice_wp"))
}

func testTokens(t *testing.T, h *harness) {
	ctx := t.Context()
	seed(t, h.s)
	admin := model.Token{Name: "root", Role: model.RoleAdmin, Hash: strings.Repeat("a", 64)}
	node := model.Token{Name: "web1-node", Role: model.RoleNode, Host: "web1", Hash: strings.Repeat("b", 64)}
	update(t, h.s, func(tx store.Tx) error {
		if err := tx.CreateToken(ctx, &admin); err != nil {
			return err
		}
		return tx.CreateToken(ctx, &node)
	})
	if admin.ID == 0 || admin.CreatedAt.IsZero() || node.ID == admin.ID {
		t.Fatalf("CreateToken did not set the id and time: %+v, %+v", admin, node)
	}
	diff(t, "ListTokens", []model.Token{admin, node}, read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Token, error) {
		return tx.ListTokens(ctx)
	}))
	diff(t, "GetToken", node, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Token, error) {
		return tx.GetToken(ctx, node.ID)
	}))
	diff(t, "TokenByHash", node, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Token, error) {
		return tx.TokenByHash(ctx, node.Hash)
	}))

	dup := model.Token{Name: "again", Role: model.RoleAdmin, Hash: admin.Hash}
	err := h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateToken(ctx, &dup) })
	wantErr(t, err, store.ErrConflict, "again")
	secret := strings.Repeat("c", 64)
	err = h.s.View(ctx, func(tx store.Tx) error { _, err := tx.TokenByHash(ctx, secret); return err })
	wantErr(t, err, store.ErrNotFound, "token")
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q shows the hash", err)
	}

	first := time.Date(2031, 1, 2, 3, 4, 5, 6007008, time.UTC)
	update(t, h.s, func(tx store.Tx) error { return tx.RevokeToken(ctx, node.ID, first) })
	update(t, h.s, func(tx store.Tx) error { return tx.RevokeToken(ctx, node.ID, first.Add(time.Hour)) })
	got := read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Token, error) { return tx.TokenByHash(ctx, node.Hash) })
	if want := first.Truncate(time.Microsecond); got.RevokedAt == nil || !got.RevokedAt.Equal(want) {
		t.Errorf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, want)
	}
	notFound(t, h.s, "token 999",
		func(ctx context.Context, tx store.Tx) error { return tx.RevokeToken(ctx, 999, first) },
		func(ctx context.Context, tx store.Tx) error { _, err := tx.GetToken(ctx, 999); return err })
}

func testAudit(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	before := time.Now()
	entries := []model.AuditEntry{
		{Actor: "admin", Action: "create", Object: "order example.org", OrderID: f.order.ID, After: `{"host":"web1"}`},
		{Actor: "admin", Action: "create", Object: "member bob"},
		{Actor: "alice", Action: "update", Object: "order example.org", OrderID: f.order.ID, Before: `{"host":"web1"}`, After: `{"host":"web2"}`},
	}
	update(t, h.s, func(tx store.Tx) error {
		for i := range entries {
			if err := tx.AppendAudit(ctx, &entries[i]); err != nil {
				return err
			}
		}
		return nil
	})
	within(t, "At", entries[0].At, before, time.Now())
	list := func(f store.AuditFilter) []model.AuditEntry {
		t.Helper()
		return read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.AuditEntry, error) { return tx.ListAudit(ctx, f) })
	}
	diff(t, "all, newest first", []model.AuditEntry{entries[2], entries[1], entries[0]}, list(store.AuditFilter{}))
	diff(t, "of the order", []model.AuditEntry{entries[2], entries[0]}, list(store.AuditFilter{OrderID: f.order.ID}))
	diff(t, "limited", []model.AuditEntry{entries[2]}, list(store.AuditFilter{Limit: 1}))

	update(t, h.s, func(tx store.Tx) error {
		for range 105 {
			if err := tx.AppendAudit(ctx, &model.AuditEntry{Actor: "node web1", Action: "report", Object: "item 1"}); err != nil {
				return err
			}
		}
		return nil
	})
	if got := list(store.AuditFilter{}); len(got) != 100 || got[0].ID <= got[99].ID {
		t.Errorf("default limit: got %d entries, want the newest 100", len(got))
	}
}

func testMoves(t *testing.T, h *harness) {
	ctx := t.Context()
	f := seed(t, h.s)
	m := model.Move{OrderID: f.order.ID, From: "web1", To: "web2", Phase: model.PhasePrepare, Status: model.MoveRunning,
		Data: json.RawMessage(`{"ttls": {"example.org A": 3600}}`)}
	update(t, h.s, func(tx store.Tx) error { return tx.CreateMove(ctx, &m) })
	if m.ID == 0 || m.CreatedAt.IsZero() {
		t.Fatalf("CreateMove did not set the id and time: %+v", m)
	}
	diff(t, "GetMove", m, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Move, error) {
		return tx.GetMove(ctx, m.ID)
	}))

	second := model.Move{OrderID: f.order.ID, From: "web1", To: "web2", Phase: model.PhasePrepare, Status: model.MoveRunning}
	err := h.s.Update(ctx, func(tx store.Tx) error { return tx.CreateMove(ctx, &second) })
	wantErr(t, err, store.ErrConflict, "move")

	limbo := addOrder(t, h.s, model.Order{Identifier: "example.org", Member: "alice", Host: "web1", State: model.OrderTransferLimbo})
	m.LimboOrderID, m.Phase, m.Status, m.Error, m.Data = limbo.ID, model.PhaseAborted, model.MoveFailed, "web2 is full", nil
	update(t, h.s, func(tx store.Tx) error { return tx.UpdateMove(ctx, &m) })
	diff(t, "updated move", m, read(t, h.s, func(ctx context.Context, tx store.Tx) (model.Move, error) {
		return tx.GetMove(ctx, m.ID)
	}))

	// With the first move ended, the order may move again.
	update(t, h.s, func(tx store.Tx) error { return tx.CreateMove(ctx, &second) })
	list := func(f store.MoveFilter) []int64 {
		t.Helper()
		got := read(t, h.s, func(ctx context.Context, tx store.Tx) ([]model.Move, error) { return tx.ListMoves(ctx, f) })
		return ids(got, moveID)
	}
	diff(t, "all moves", []int64{m.ID, second.ID}, list(store.MoveFilter{}))
	diff(t, "active moves", []int64{second.ID}, list(store.MoveFilter{ActiveOnly: true}))
	diff(t, "moves of another order", []int64{}, list(store.MoveFilter{OrderID: limbo.ID}))
	diff(t, "moves of the order", []int64{m.ID, second.ID}, list(store.MoveFilter{OrderID: f.order.ID}))

	err = h.s.Update(ctx, func(tx store.Tx) error {
		return tx.CreateMove(ctx, &model.Move{OrderID: limbo.ID, From: "web1", To: "web9", Phase: model.PhasePrepare, Status: model.MoveRunning})
	})
	wantErr(t, err, store.ErrNotFound, "host web9")
	m.ID = 999
	notFound(t, h.s, "move 999",
		func(ctx context.Context, tx store.Tx) error { return tx.UpdateMove(ctx, &m) },
		func(ctx context.Context, tx store.Tx) error { _, err := tx.GetMove(ctx, 999); return err })
}
