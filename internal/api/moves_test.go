package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"ferry/internal/client"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/move"
)

// newMoveAPI serves the API with the move engine, with an order on web1
// and a web2 whose node has never reported.
func newMoveAPI(t *testing.T) (srv *httptest.Server, admin *client.Client, tokens map[model.TokenRole]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := cptest.Quiet()
	p := cptest.Panel(cptest.SQLite(t), nil)
	eng, err := move.New(ctx, p, move.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(p, log)
	RegisterMoves(s, eng)
	srv = httptest.NewServer(s)
	t.Cleanup(srv.Close)
	secret, err := p.EnsureAdminToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ = client.New(srv.URL, secret, client.Options{})
	for _, h := range []model.Host{{Name: "web1", Addresses: []string{"127.0.1.11"}}, {Name: "web2", Addresses: []string{"127.0.1.12"}}} {
		if _, err := admin.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CreateMember(ctx, model.Member{Name: "coop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateOrder(ctx, model.Order{Identifier: "example.org", Member: "coop", Host: "web1"}); err != nil {
		t.Fatal(err)
	}
	tokens = map[model.TokenRole]string{model.RoleAdmin: secret}
	for _, in := range []TokenInput{{Name: "m", Role: model.RoleMember, Member: "coop"}, {Name: "n", Role: model.RoleNode, Host: "web1"}} {
		nt, err := admin.CreateToken(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		tokens[in.Role] = nt.Secret
	}
	return srv, admin, tokens
}

func TestMovesAreForAdminsOnly(t *testing.T) {
	srv, _, tokens := newMoveAPI(t)
	calls := []struct{ method, path, body string }{
		{"POST", "/api/v1/moves", `{"order": "example.org", "to": "web2"}`},
		{"GET", "/api/v1/moves", ""},
		{"GET", "/api/v1/moves/plan?order=example.org&to=web2", ""},
		{"GET", "/api/v1/moves/1", ""},
		{"POST", "/api/v1/moves/1/abort", `{}`},
	}
	for _, role := range []model.TokenRole{model.RoleMember, model.RoleNode} {
		for _, c := range calls {
			status, e := rawCall(t, srv, tokens[role], c.method, c.path, c.body)
			if status != 403 || e.Code != CodeForbidden {
				t.Errorf("%s token: %s %s = %d %s, want 403", role, c.method, c.path, status, e.Code)
			}
		}
	}
}

func TestMoveErrors(t *testing.T) {
	srv, admin, tokens := newMoveAPI(t)
	ctx := context.Background()
	plan, err := admin.PlanMove(ctx, "example.org", "web2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan.Problems, "\n"), "web2's node has never reported") {
		t.Errorf("plan problems %q do not name web2's silent node", plan.Problems)
	}
	_, err = admin.StartMove(ctx, move.StartInput{Order: "example.org", To: "web2"})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != CodeRefused || !strings.Contains(ae.Message, "never reported") {
		t.Errorf("start = %v, want 409 refused naming the silent node", err)
	}
	if ae != nil && (len(plan.Problems) < 2 || !slices.Equal(ae.Problems, plan.Problems)) {
		t.Errorf("the refused start lists problems %q, want the plan's %q (two or more)", ae.Problems, plan.Problems)
	}
	if vs, err := admin.ListMoves(ctx, "example.org", false); err != nil || len(vs) != 0 {
		t.Errorf("a refused start left moves %v (%v)", vs, err)
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"unknown host", "POST", "/api/v1/moves", `{"order": "example.org", "to": "web9"}`, 404, CodeNotFound, ""},
		{"unknown order", "POST", "/api/v1/moves", `{"order": "nope.example", "to": "web2"}`, 404, CodeNotFound, ""},
		{"no host", "POST", "/api/v1/moves", `{"order": "example.org"}`, 422, CodeInvalid, "to"},
		{"plan without order", "GET", "/api/v1/moves/plan", "", 400, CodeBadRequest, "order"},
		{"unknown move", "GET", "/api/v1/moves/99", "", 404, CodeNotFound, ""},
		{"unknown phase", "POST", "/api/v1/moves/99/teleport", `{}`, 422, CodeInvalid, "phase"},
		{"forced sync", "POST", "/api/v1/moves/99/sync", `{"force": true}`, 422, CodeInvalid, "force"},
		{"phase of unknown move", "POST", "/api/v1/moves/99/sync", ``, 404, CodeNotFound, ""},
		{"bad active filter", "GET", "/api/v1/moves?active=maybe", "", 400, CodeBadRequest, "active"},
	}
	for _, c := range cases {
		status, e := rawCall(t, srv, tokens[model.RoleAdmin], c.method, c.path, c.body)
		if status != c.status || e.Code != c.code || e.Field != c.field {
			t.Errorf("%s: got %d %s field %q (%s), want %d %s field %q", c.name, status, e.Code, e.Field, e.Message, c.status, c.code, c.field)
		}
	}
}
