package api

import (
	"context"
	"net/http"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// The API's request and answer shapes; see package wire.
type (
	WhoAmI      = wire.WhoAmI
	TokenInput  = wire.TokenInput
	NewToken    = wire.NewToken
	StateInput  = wire.StateInput
	SpecInput   = wire.SpecInput
	Deleted     = wire.Deleted
	DomainInput = wire.DomainInput
	MemberPatch = wire.MemberPatch
)

func (s *Server) routes() {
	p := s.panel
	s.Handle("GET /api/v1/whoami", func(_ context.Context, c panel.Caller, _ *http.Request) (any, error) {
		return WhoAmI{Name: c.Name, Role: c.Role, Member: c.Member, Host: c.Host}, nil
	})

	s.Handle("GET /api/v1/members", func(ctx context.Context, c panel.Caller, _ *http.Request) (any, error) {
		return p.ListMembers(ctx, c)
	})
	s.Handle("POST /api/v1/members", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var m model.Member
		if err := Decode(r, &m); err != nil {
			return nil, err
		}
		return p.CreateMember(ctx, c, m)
	})
	s.Handle("GET /api/v1/members/{name}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return p.GetMember(ctx, c, r.PathValue("name"))
	})
	s.Handle("PATCH /api/v1/members/{name}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in MemberPatch
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return p.UpdateMember(ctx, c, model.Member{Name: r.PathValue("name"), FriendlyName: in.FriendlyName})
	})
	s.Handle("DELETE /api/v1/members/{name}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		n, err := p.DeleteMember(ctx, c, r.PathValue("name"))
		return Deleted{Deleted: r.PathValue("name"), TokensRevoked: n}, err
	})

	s.Handle("GET /api/v1/hosts", func(ctx context.Context, c panel.Caller, _ *http.Request) (any, error) {
		return p.ListHosts(ctx, c)
	})
	s.Handle("POST /api/v1/hosts", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var h model.Host
		if err := Decode(r, &h); err != nil {
			return nil, err
		}
		return p.CreateHost(ctx, c, h)
	})
	s.Handle("GET /api/v1/hosts/{name}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return p.GetHost(ctx, c, r.PathValue("name"))
	})
	s.Handle("PATCH /api/v1/hosts/{name}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in panel.HostPatch
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return p.UpdateHost(ctx, c, r.PathValue("name"), in)
	})
	s.Handle("DELETE /api/v1/hosts/{name}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		n, err := p.DeleteHost(ctx, c, r.PathValue("name"))
		return Deleted{Deleted: r.PathValue("name"), TokensRevoked: n}, err
	})

	s.Handle("GET /api/v1/orders", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		q := r.URL.Query()
		return p.ListOrders(ctx, c, store.OrderFilter{
			Member: q.Get("member"), Host: q.Get("host"), Identifier: q.Get("identifier"),
			State: model.OrderState(q.Get("state")), Text: q.Get("q"),
		})
	})
	s.Handle("POST /api/v1/orders", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var o model.Order
		if err := Decode(r, &o); err != nil {
			return nil, err
		}
		return p.CreateOrder(ctx, c, o)
	})
	s.Handle("GET /api/v1/orders/{ref}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return p.GetOrder(ctx, c, r.PathValue("ref"))
	})
	s.Handle("PATCH /api/v1/orders/{ref}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in panel.OrderPatch
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return p.UpdateOrder(ctx, c, r.PathValue("ref"), in)
	})
	s.Handle("DELETE /api/v1/orders/{ref}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return p.DeleteOrder(ctx, c, r.PathValue("ref"))
	})
	s.Handle("GET /api/v1/orders/{ref}/domains", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return p.ListOrderDomains(ctx, c, r.PathValue("ref"))
	})
	s.Handle("POST /api/v1/orders/{ref}/domains", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in DomainInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return p.AddOrderDomain(ctx, c, r.PathValue("ref"), in.Domain)
	})
	s.Handle("POST /api/v1/orders/{ref}/adopt-databases", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return p.AdoptDatabases(ctx, c, r.PathValue("ref"))
	})
	s.Handle("DELETE /api/v1/orders/{ref}/domains/{domain}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return p.RemoveOrderDomain(ctx, c, r.PathValue("ref"), r.PathValue("domain"))
	})
	s.Handle("GET /api/v1/zones", func(ctx context.Context, c panel.Caller, _ *http.Request) (any, error) {
		return p.ListZones(ctx, c)
	})
	s.Handle("POST /api/v1/zones", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var z model.Zone
		if err := Decode(r, &z); err != nil {
			return nil, err
		}
		return p.CreateZone(ctx, c, z.Name)
	})
	s.Handle("DELETE /api/v1/zones/{name}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return Deleted{Deleted: r.PathValue("name")}, p.DeleteZone(ctx, c, r.PathValue("name"))
	})
	s.Handle("GET /api/v1/orders/{ref}/items", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		o, err := p.GetOrder(ctx, c, r.PathValue("ref"))
		if err != nil {
			return nil, err
		}
		return p.ListItems(ctx, c, store.ItemFilter{OrderID: o.ID})
	})

	s.Handle("GET /api/v1/items", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		states, err := queryStates(r)
		if err != nil {
			return nil, err
		}
		f := store.ItemFilter{Host: r.URL.Query().Get("host"), Kind: model.Kind(r.URL.Query().Get("kind")), States: states}
		if ref := r.URL.Query().Get("order"); ref != "" {
			o, err := p.GetOrder(ctx, c, ref)
			if err != nil {
				return nil, err
			}
			f.OrderID = o.ID
		}
		if f.Kind != "" && !f.Kind.Valid() {
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: "kind", Message: "unknown item kind " + string(f.Kind)}
		}
		return p.ListItems(ctx, c, f)
	})
	s.Handle("POST /api/v1/items", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in panel.ItemInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return p.CreateItem(ctx, c, in)
	})
	s.Handle("GET /api/v1/items/{id}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		return p.GetItem(ctx, c, id)
	})
	s.Handle("PATCH /api/v1/items/{id}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		var in SpecInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return p.UpdateItem(ctx, c, id, in.Spec)
	})
	s.Handle("DELETE /api/v1/items/{id}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		return p.SetItemState(ctx, c, id, model.StatePendingDelete)
	})
	s.Handle("POST /api/v1/items/{id}/forget", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		return p.ForgetItem(ctx, c, id)
	})
	s.Handle("POST /api/v1/items/{id}/state", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		var in StateInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return p.SetItemState(ctx, c, id, in.State)
	})

	s.Handle("GET /api/v1/logins", func(ctx context.Context, c panel.Caller, _ *http.Request) (any, error) {
		ls, err := p.ListLogins(ctx, c)
		out := make([]wire.Login, len(ls))
		for i, l := range ls {
			out[i] = wire.Login{Name: l.Name, Role: l.Token.Role, Member: l.Token.Member, Token: l.Token.Name, Revoked: l.Token.RevokedAt != nil, TOTP: l.TOTP, UpdatedAt: l.UpdatedAt}
		}
		return out, err
	})
	s.Handle("PUT /api/v1/logins/{name}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in wire.LoginInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		l, err := p.SetLoginPassword(ctx, c, panel.LoginInput{Name: r.PathValue("name"), Role: in.Role, Member: in.Member, Password: in.Password})
		return wire.Login{Name: l.Name, Role: in.Role, Member: in.Member, Token: model.LoginTokenName(l.Name), UpdatedAt: l.UpdatedAt}, err
	})
	s.Handle("GET /api/v1/tokens", func(ctx context.Context, c panel.Caller, _ *http.Request) (any, error) {
		return p.ListTokens(ctx, c)
	})
	s.Handle("POST /api/v1/tokens", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in TokenInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		t, secret, err := p.CreateToken(ctx, c, model.Token{Name: in.Name, Role: in.Role, Member: in.Member, Host: in.Host})
		if err != nil {
			return nil, err
		}
		return NewToken{Token: t, Secret: secret}, nil
	})
	s.Handle("DELETE /api/v1/tokens/{ref}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		return p.RevokeToken(ctx, c, r.PathValue("ref"))
	})

	s.Handle("GET /api/v1/audit", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		limit, err := queryInt(r, "limit")
		if err != nil {
			return nil, err
		}
		return p.ListAudit(ctx, c, r.URL.Query().Get("order"), int(limit))
	})

	s.Handle("GET /api/v1/node/work", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		wait, err := queryDuration(r, "wait", 0, 60*time.Second)
		if err != nil {
			return nil, err
		}
		return p.NodeWork(ctx, c, wait)
	})
	s.Handle("GET /api/v1/node/dns", func(ctx context.Context, c panel.Caller, _ *http.Request) (any, error) {
		return p.DNSRecords(ctx, c)
	})
	s.Handle("POST /api/v1/node/items/{id}/report", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		var in panel.Report
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		it, err := p.ReportItem(ctx, c, id, in)
		if err == nil && s.ops.Metrics != nil {
			s.ops.Metrics.ItemReported(it.Kind, it.State)
		}
		return it, err
	})
	s.Handle("POST /api/v1/node/tasks/{id}/report", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		var in panel.TaskReport
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return p.ReportTask(ctx, c, id, in)
	})
	s.Handle("POST /api/v1/node/tasks/release", func(ctx context.Context, c panel.Caller, _ *http.Request) (any, error) {
		n, err := p.ReleaseTasks(ctx, c)
		return map[string]int{"released": n}, err
	})
	s.Handle("POST /api/v1/node/heartbeat", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var hb model.Heartbeat
		if err := Decode(r, &hb); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, p.Heartbeat(ctx, c, hb)
	})

	s.joinRoutes()

	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such API endpoint: " + r.Method + " " + r.URL.Path})
	})
}
