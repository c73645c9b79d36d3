package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ferry/internal/client"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
)

func newTestAPI(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	ctx := context.Background()
	p := cptest.Panel(cptest.SQLite(t), nil)
	secret, err := p.EnsureAdminToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(p, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return srv, secret
}

func rawCall(t *testing.T, srv *httptest.Server, token, method, path, body string) (int, Error) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e Error
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(data, &e); err != nil || e.Code == "" || e.Status != resp.StatusCode || e.Message == "" {
			t.Fatalf("%s %s: error body %q is not the API's error shape", method, path, data)
		}
	}
	return resp.StatusCode, e
}

func TestErrorsHaveOneShapeAndNameTheField(t *testing.T) {
	srv, tok := newTestAPI(t)
	cases := []struct {
		name, token, method, path, body string
		status                          int
		code, field                     string
	}{
		{"no token", "", "GET", "/api/v1/members", "", 401, CodeUnauthenticated, ""},
		{"forged token", "fy_forged", "GET", "/api/v1/members", "", 401, CodeUnauthenticated, ""},
		{"wrong type", tok, "POST", "/api/v1/members", `{"name": 42}`, 400, CodeBadRequest, "name"},
		{"unknown field", tok, "POST", "/api/v1/members", `{"name": "a", "rank": "boss"}`, 400, CodeBadRequest, "rank"},
		{"malformed json", tok, "POST", "/api/v1/members", `{"name": `, 400, CodeBadRequest, ""},
		{"empty body", tok, "POST", "/api/v1/members", ``, 400, CodeBadRequest, ""},
		{"two values", tok, "POST", "/api/v1/members", `{"name":"a"}{"name":"b"}`, 400, CodeBadRequest, ""},
		{"invalid name", tok, "POST", "/api/v1/members", `{"name": "Bad Name"}`, 422, CodeInvalid, "name"},
		{"oversized field", tok, "POST", "/api/v1/members", `{"name": "a", "friendly_name": "` + strings.Repeat("x", 300) + `"}`, 422, CodeInvalid, "friendly_name"},
		{"bad id", tok, "GET", "/api/v1/items/abc", "", 400, CodeBadRequest, "id"},
		{"missing item", tok, "GET", "/api/v1/items/99", "", 404, CodeNotFound, ""},
		{"unknown endpoint", tok, "GET", "/api/v1/nothing", "", 404, CodeNotFound, ""},
		{"unknown state filter", tok, "GET", "/api/v1/items?state=limbo", "", 400, CodeBadRequest, "state"},
		{"bad host address", tok, "POST", "/api/v1/hosts", `{"name": "web1", "addresses": ["300.1.1.1"]}`, 422, CodeInvalid, "addresses"},
		{"unknown role", tok, "POST", "/api/v1/tokens", `{"name": "x", "role": "root"}`, 422, CodeInvalid, "role"},
		{"admin does node work", tok, "GET", "/api/v1/node/work", "", 403, CodeForbidden, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, e := rawCall(t, srv, c.token, c.method, c.path, c.body)
			if status != c.status || e.Code != c.code || e.Field != c.field {
				t.Errorf("got %d %s field %q (%s), want %d %s field %q", status, e.Code, e.Field, e.Message, c.status, c.code, c.field)
			}
		})
	}
}

// itemAndNode makes hosts web1 and web2, an order on orderHost with a
// mysql-db item, and web1's node token; it returns the admin's client,
// web1's node's client and the item.
func itemAndNode(t *testing.T, orderHost string) (admin, node1 *client.Client, it model.Item) {
	t.Helper()
	srv, tok := newTestAPI(t)
	ctx := context.Background()
	admin, _ = client.New(srv.URL, tok, client.Options{})
	for _, h := range []model.Host{{Name: "web1", Addresses: []string{"127.0.1.11"}}, {Name: "web2", Addresses: []string{"127.0.1.12"}}} {
		if _, err := admin.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CreateMember(ctx, model.Member{Name: "coop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateOrder(ctx, model.Order{Identifier: "example.org", Member: "coop", Host: orderHost}); err != nil {
		t.Fatal(err)
	}
	it, err := admin.CreateItem(ctx, panel.ItemInput{Order: "example.org", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "exa"}})
	if err != nil {
		t.Fatal(err)
	}
	nt, err := admin.CreateToken(ctx, TokenInput{Name: "node-web1", Role: model.RoleNode, Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	node1, _ = client.New(srv.URL, nt.Secret, client.Options{})
	return admin, node1, it
}

func TestNodeSeesOnlyItsOwnHost(t *testing.T) {
	ctx := context.Background()
	_, node1, it := itemAndNode(t, "web2")
	w, err := node1.NodeWork(ctx, 0)
	if err != nil || len(w.Items) != 0 {
		t.Fatalf("web1's work = %+v, %v; want nothing (the item is on web2)", w, err)
	}
	if _, err := node1.ReportItem(ctx, it.ID, panel.Report{State: model.StateActive}); err == nil || err.(*Error).Status != 403 {
		t.Errorf("web1 reported web2's item: %v", err)
	}
	if _, err := node1.GetHost(ctx, "web2"); err == nil {
		t.Error("web1's node token read host web2")
	}
	if _, err := node1.CreateItem(ctx, panel.ItemInput{Order: "example.org", Kind: model.KindMySQLDB, Spec: model.Spec{Name: "evil"}}); err == nil {
		t.Error("a node token created an item")
	}
}

// A node reports an active item active again to change its message (a
// renewed certificate); the state stays, and other transitions are still
// checked.
func TestNodeRefreshesAnActiveItemsMessage(t *testing.T) {
	ctx := context.Background()
	admin, node1, it := itemAndNode(t, "web1")
	if _, err := node1.ReportItem(ctx, it.ID, panel.Report{State: model.StateActive, Message: "made"}); err != nil {
		t.Fatal(err)
	}
	if _, err := node1.ReportItem(ctx, it.ID, panel.Report{State: model.StateActive, Message: "renewed"}); err != nil {
		t.Fatalf("refreshing an active item's message: %v", err)
	}
	got, err := admin.GetItem(ctx, it.ID)
	if err != nil || got.State != model.StateActive || got.Message != "renewed" {
		t.Errorf("after the refresh: %s %q, %v; want active, renewed", got.State, got.Message, err)
	}
	if _, err := node1.ReportItem(ctx, it.ID, panel.Report{State: model.StateDeleted}); err == nil {
		t.Error("a node deleted an active item that was not pending-delete")
	}
}

// A load balancer's checks need no token: /healthz answers while the
// process serves, /readyz only while the store answers, and its refusal
// names the store without the driver's words.
func TestHealthAndReadiness(t *testing.T) {
	st := cptest.SQLite(t)
	p := cptest.Panel(st, nil)
	srv := httptest.NewServer(NewServer(p, cptest.Quiet()))
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q, want 200 ready", code, body)
	}
	st.Close()
	if code, body := get("/readyz"); code != 503 || body != "not ready: the sqlite store does not answer (the control plane's log says why)\n" {
		t.Errorf("/readyz with the store closed = %d %q, want 503 naming the store", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz with the store closed = %d, want 200 (the process still serves)", code)
	}
}
