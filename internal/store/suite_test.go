package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ferry/internal/model"
	"ferry/internal/store"
)

// runSuite runs every conformance test, in parallel, each on its own empty
// database; fresh returns the url of one.
func runSuite(t *testing.T, fresh func(t *testing.T) string) {
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"Members", testMembers},
		{"Hosts", testHosts},
		{"DeleteKeepsHistory", testDeleteKeepsHistory},
		{"DeleteRace", testDeleteRace},
		{"Heartbeat", testHeartbeat},
		{"Orders", testOrders},
		{"OrderFilters", testOrderFilters},
		{"OrderText", testOrderText},
		{"Items", testItems},
		{"ItemFilters", testItemFilters},
		{"Identities", testIdentities},
		{"Many", testMany},
		{"Read", testRead},
		{"Tokens", testTokens},
		{"JoinTokens", testJoinTokens},
		{"WebSessions", testWebSessions},
		{"Logins", testLogins},
		{"Batches", testBatches},
		{"Audit", testAudit},
		{"Moves", testMoves},
		{"Tasks", testTasks},
		{"LeaseExpiry", testLeaseExpiry},
		{"LeaseConcurrent", testLeaseConcurrent},
		{"Rollback", testRollback},
		{"FailedMethodKeepsTx", testFailedMethodKeepsTx},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"Times", testTimes},
		{"ReadModifyWrite", testReadModifyWrite},
		{"ClaimRace", testClaimRace},
		{"Reopen", testReopen},
		{"Cluster", testCluster},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := fresh(t)
			tc.run(t, &harness{url: u, s: open(t, u)})
		})
	}
}

// harness is one test's store, and the url to open it again.
type harness struct {
	url string
	s   store.Store
}

func open(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// read returns what fn reads in a View.
func read[T any](t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) (T, error)) T {
	t.Helper()
	var v T
	view(t, s, func(tx store.Tx) (err error) {
		v, err = fn(t.Context(), tx)
		return err
	})
	return v
}

// wantErr fails unless err is target and its message names context.
func wantErr(t *testing.T, err, target error, context string) {
	t.Helper()
	switch {
	case !errors.Is(err, target):
		t.Errorf("got error %v, want %v", err, target)
	case !strings.Contains(err.Error(), context):
		t.Errorf("error %q does not name %q", err, context)
	}
}

// notFound checks that each of fns, run in an Update, fails with
// ErrNotFound naming what.
func notFound(t *testing.T, s store.Store, what string, fns ...func(context.Context, store.Tx) error) {
	t.Helper()
	for _, fn := range fns {
		err := s.Update(t.Context(), func(tx store.Tx) error { return fn(t.Context(), tx) })
		wantErr(t, err, store.ErrNotFound, what)
	}
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// fixture is a member with one order on web1, and a second host web2.
type fixture struct {
	alice      model.Member
	web1, web2 model.Host
	order      model.Order
}

func seed(t *testing.T, s store.Store) fixture {
	t.Helper()
	f := fixture{
		alice: model.Member{Name: "alice", FriendlyName: "Alice A."},
		web1:  model.Host{Name: "web1", Addresses: []string{"192.0.2.1", "2001:db8::1"}, Roles: []model.Role{model.RoleWeb, model.RoleDNS}, DiskCapacity: 1 << 40},
		web2:  model.Host{Name: "web2", Addresses: []string{"192.0.2.2"}},
		order: model.Order{Identifier: "example.org", Member: "alice", Host: "web1"},
	}
	for _, v := range []interface{ Validate() error }{&f.alice, &f.web1, &f.web2, &f.order} {
		if err := v.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	update(t, s, func(tx store.Tx) error {
		ctx := t.Context()
		return errors.Join(
			tx.CreateMember(ctx, &f.alice),
			tx.CreateHost(ctx, &f.web1),
			tx.CreateHost(ctx, &f.web2),
			tx.CreateOrder(ctx, &f.order),
		)
	})
	return f
}

func addMember(t *testing.T, s store.Store, name string) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		return tx.CreateMember(t.Context(), &model.Member{Name: name})
	})
}

func addOrder(t *testing.T, s store.Store, o model.Order) model.Order {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx store.Tx) error { return tx.CreateOrder(t.Context(), &o) })
	return o
}

// item returns a valid item of o in state st, its spec normalized.
func item(t *testing.T, o model.Order, kind model.Kind, st model.State, spec model.Spec) model.Item {
	t.Helper()
	if err := spec.Normalize(kind, o.Identifier); err != nil {
		t.Fatal(err)
	}
	return model.Item{OrderID: o.ID, Host: o.Host, Kind: kind, State: st, Spec: spec}
}

func addItem(t *testing.T, s store.Store, it model.Item) model.Item {
	t.Helper()
	update(t, s, func(tx store.Tx) error { return tx.CreateItem(t.Context(), &it) })
	return it
}

// ids lists the ids of what list returns, in its order.
func ids[T any](list []T, id func(T) int64) []int64 {
	out := []int64{}
	for _, v := range list {
		out = append(out, id(v))
	}
	return out
}

func orderID(o model.Order) int64   { return o.ID }
func itemID(it model.Item) int64    { return it.ID }
func moveID(m model.Move) int64     { return m.ID }
func taskID(tk model.Task) int64    { return tk.ID }
func holderID(h model.Holder) int64 { return h.ItemID }

// within fails unless got lies in [from, to], as the store keeps times.
func within(t *testing.T, what string, got, from, to time.Time) {
	t.Helper()
	from, to = from.Truncate(time.Microsecond), to.Truncate(time.Microsecond)
	if got.Before(from) || got.After(to) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want UTC within [%v, %v]", what, got, from, to)
	}
}

var errBoom = errors.New("boom")
