package panel_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// coop is a control plane over a real SQLite store with two members,
// alice (order alice.example) and bob (order bob.example), on host web1,
// a dns host ns1; each order's identifier is a zone the co-op serves.
type coop struct {
	t          *testing.T
	ctx        context.Context
	p          *panel.Panel
	admin      panel.Caller
	alice, bob panel.Caller
}

func newCoop(t *testing.T) *coop {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &coop{
		t: t, ctx: ctx,
		p:     panel.New(st, panel.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}),
		admin: panel.System,
		alice: panel.Caller{Name: "alice", Role: model.RoleMember, Member: "alice"},
		bob:   panel.Caller{Name: "bob", Role: model.RoleMember, Member: "bob"},
	}
	for _, h := range []model.Host{
		{Name: "web1", Addresses: []string{"192.0.2.1"}, Roles: []model.Role{model.RoleWeb}},
		{Name: "ns1", Addresses: []string{"192.0.2.53"}, Roles: []model.Role{model.RoleDNS}},
	} {
		if _, err := c.p.CreateHost(ctx, c.admin, h); err != nil {
			t.Fatalf("host %s: %v", h.Name, err)
		}
	}
	for _, m := range []string{"alice", "bob"} {
		if _, err := c.p.CreateMember(ctx, c.admin, model.Member{Name: m}); err != nil {
			t.Fatalf("member %s: %v", m, err)
		}
		if _, err := c.p.CreateOrder(ctx, c.admin, model.Order{Identifier: m + ".example", Member: m, Host: "web1"}); err != nil {
			t.Fatalf("order of %s: %v", m, err)
		}
	}
	return c
}

// create adds an item as caller who, failing the test on a refusal.
func (c *coop) create(who panel.Caller, order string, k model.Kind, s model.Spec) model.Item {
	c.t.Helper()
	it, err := c.p.CreateItem(c.ctx, who, panel.ItemInput{Order: order, Kind: k, Spec: s})
	if err != nil {
		c.t.Fatalf("create %s in %s: %v", k, order, err)
	}
	return it
}

// items lists every item as the admin sees it.
func (c *coop) items() []model.Item {
	c.t.Helper()
	its, err := c.p.ListItems(c.ctx, c.admin, store.ItemFilter{})
	if err != nil {
		c.t.Fatal(err)
	}
	return its
}

// unchanged fails the test if the store's items differ from before.
func (c *coop) unchanged(before []model.Item) {
	c.t.Helper()
	if after := c.items(); !reflect.DeepEqual(before, after) {
		c.t.Errorf("a refused change changed the items:\nbefore %+v\nafter  %+v", before, after)
	}
}

// refusal says what kind of refusal a caller must see: the sentinel the
// error wraps (nil for a field error), the field, and a message fragment.
type refusal struct {
	is    error
	field string
	msg   string
}

func (r refusal) check(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a refusal (%v %q %q)", r.is, r.field, r.msg)
	}
	if r.is != nil && !errors.Is(err, r.is) {
		t.Errorf("error %q is not %v", err, r.is)
	}
	if r.field != "" {
		var fe *model.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("error %q names no field; want %s", err, r.field)
		} else if fe.Field != r.field {
			t.Errorf("error %q names field %s; want %s", err, fe.Field, r.field)
		}
	}
	if !strings.Contains(err.Error(), r.msg) {
		t.Errorf("error %q does not say %q", err, r.msg)
	}
}
