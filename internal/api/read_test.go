package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"ferry/internal/client"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/wire"
)

// TestGetItemReachesOnlyWhatATokenMay: GET item, whose token check and
// read run without a transaction for admins and nodes, on the test's
// store (PostgreSQL when FERRY_TEST_PG_URL is set): a member reads its own
// item and gets another member's as one that does not exist; a node reads
// its host's item and is refused another host's; a revoked token reads
// nothing.
func TestGetItemReachesOnlyWhatATokenMay(t *testing.T) {
	ctx := context.Background()
	p := cptest.Panel(cptest.Store(t), nil)
	secret, err := p.EnsureAdminToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(p, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	as := func(secret string) *client.Client {
		c, err := client.New(srv.URL, secret, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin := as(secret)
	for _, h := range []model.Host{{Name: "web1", Addresses: []string{"127.0.1.11"}}, {Name: "web2", Addresses: []string{"127.0.1.12"}}} {
		if _, err := admin.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	items := map[string]model.Item{}
	tokens := map[string]wire.NewToken{}
	for _, m := range []struct{ member, order, host string }{{"ada", "ada.example", "web1"}, {"bob", "bob.example", "web2"}} {
		if _, err := admin.CreateMember(ctx, model.Member{Name: m.member}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CreateOrder(ctx, model.Order{Identifier: m.order, Member: m.member, Host: m.host}); err != nil {
			t.Fatal(err)
		}
		it, err := admin.CreateItem(ctx, panel.ItemInput{Order: m.order, Kind: model.KindMySQLDB, Spec: model.Spec{Name: m.member + "_db"}})
		if err != nil {
			t.Fatal(err)
		}
		items[m.member] = it
		tok, err := admin.CreateToken(ctx, TokenInput{Name: m.member + "-cli", Role: model.RoleMember, Member: m.member})
		if err != nil {
			t.Fatal(err)
		}
		tokens[m.member] = tok
		nt, err := admin.CreateToken(ctx, TokenInput{Name: "node-" + m.host, Role: model.RoleNode, Host: m.host})
		if err != nil {
			t.Fatal(err)
		}
		tokens[m.host] = nt
	}
	status := func(err error) int {
		var e *Error
		if errors.As(err, &e) {
			return e.Status
		}
		if err != nil {
			t.Fatalf("not an API error: %v", err)
		}
		return 200
	}
	for _, c := range []struct {
		who, item string
		want      int
	}{
		{"ada", "ada", 200}, {"ada", "bob", 404}, {"bob", "ada", 404}, {"bob", "bob", 200},
		{"web1", "ada", 200}, {"web1", "bob", 403}, {"web2", "ada", 403},
	} {
		got, err := as(tokens[c.who].Secret).GetItem(ctx, items[c.item].ID)
		if s := status(err); s != c.want {
			t.Errorf("%s reading %s's item: status %d, want %d", c.who, c.item, s, c.want)
		} else if s == 200 && got.ID != items[c.item].ID {
			t.Errorf("%s reading %s's item got item %d", c.who, c.item, got.ID)
		}
	}

	if _, err := admin.RevokeToken(ctx, "ada-cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := as(tokens["ada"].Secret).GetItem(ctx, items["ada"].ID); status(err) != 401 {
		t.Errorf("a revoked token read its item: %v", err)
	}
}
