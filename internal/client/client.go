// Package client is the typed Go client of the API. It links only the wire
// shapes and the model, nothing of the control plane.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/wire"
)

// Client is the one typed Go client of the API, used by the CLI, the node
// agent and the tests.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Options configure a Client.
type Options struct {
	// BindAddr, when set, is the local address outgoing connections use (a
	// lab node binds to its own host's address).
	BindAddr string
	// HTTP replaces the default http.Client.
	HTTP *http.Client
	// TLS, when set, configures https connections (a node trusts only its
	// control plane's CA this way).
	TLS *tls.Config
	// Insecure allows plain http to an address off the loopback, where
	// the token would cross the network in clear text.
	Insecure bool
	// Wrap, when set, wraps the transport (a node's metrics).
	Wrap func(http.RoundTripper) http.RoundTripper
}

// New returns a client of the control plane at server (a URL such as
// http://127.0.0.1:7080) that sends token.
func New(server, token string, opts Options) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q is not an http:// or https:// URL", server)
	}
	if err := CheckPlainHTTP(u, opts.Insecure); err != nil {
		return nil, err
	}
	hc := opts.HTTP
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.BindAddr != "" {
			d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(opts.BindAddr)}}
			tr.DialContext = d.DialContext
		}
		if opts.TLS != nil {
			tr.TLSClientConfig = opts.TLS
		}
		var rt http.RoundTripper = tr
		if opts.Wrap != nil {
			rt = opts.Wrap(rt)
		}
		// No request outlives requestTimeout: a connection that hangs
		// (a host cut off mid-request) must not stall an agent forever.
		hc = &http.Client{Transport: rt, Timeout: requestTimeout}
	}
	return &Client{base: strings.TrimSuffix(server, "/"), token: token, http: hc}, nil
}

// requestTimeout bounds one API request, long-polls included (the server
// holds a poll for at most a minute).
const requestTimeout = 2 * time.Minute

// Do sends a request with an optional JSON body and decodes the JSON answer
// into out (when not nil). API errors come back as *wire.Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var ae wire.Error
		if json.Unmarshal(data, &ae) != nil || ae.Code == "" {
			return &wire.Error{Status: resp.StatusCode, Code: wire.CodeInternal, Message: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))}
		}
		return &ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func get[T any](ctx context.Context, c *Client, path string) (T, error) {
	var v T
	err := c.Do(ctx, http.MethodGet, path, nil, &v)
	return v, err
}

func send[T any](ctx context.Context, c *Client, method, path string, body any) (T, error) {
	var v T
	err := c.Do(ctx, method, path, body, &v)
	return v, err
}

func esc(s string) string { return url.PathEscape(s) }

// WhoAmI returns the token's identity.
func (c *Client) WhoAmI(ctx context.Context) (wire.WhoAmI, error) {
	return get[wire.WhoAmI](ctx, c, "/api/v1/whoami")
}

// ListMembers lists members.
func (c *Client) ListMembers(ctx context.Context) ([]model.Member, error) {
	return get[[]model.Member](ctx, c, "/api/v1/members")
}

// GetMember returns one member.
func (c *Client) GetMember(ctx context.Context, name string) (model.Member, error) {
	return get[model.Member](ctx, c, "/api/v1/members/"+esc(name))
}

// CreateMember adds a member.
func (c *Client) CreateMember(ctx context.Context, m model.Member) (model.Member, error) {
	return send[model.Member](ctx, c, http.MethodPost, "/api/v1/members", m)
}

// UpdateMember changes a member's friendly name.
func (c *Client) UpdateMember(ctx context.Context, name string, p wire.MemberPatch) (model.Member, error) {
	return send[model.Member](ctx, c, http.MethodPatch, "/api/v1/members/"+esc(name), p)
}

// DeleteMember removes a member and revokes its tokens.
func (c *Client) DeleteMember(ctx context.Context, name string) (wire.Deleted, error) {
	return send[wire.Deleted](ctx, c, http.MethodDelete, "/api/v1/members/"+esc(name), nil)
}

// ListHosts lists hosts.
func (c *Client) ListHosts(ctx context.Context) ([]model.Host, error) {
	return get[[]model.Host](ctx, c, "/api/v1/hosts")
}

// GetHost returns one host.
func (c *Client) GetHost(ctx context.Context, name string) (model.Host, error) {
	return get[model.Host](ctx, c, "/api/v1/hosts/"+esc(name))
}

// CreateHost adds a host.
func (c *Client) CreateHost(ctx context.Context, h model.Host) (model.Host, error) {
	return send[model.Host](ctx, c, http.MethodPost, "/api/v1/hosts", h)
}

// UpdateHost changes a host.
func (c *Client) UpdateHost(ctx context.Context, name string, p wire.HostPatch) (model.Host, error) {
	return send[model.Host](ctx, c, http.MethodPatch, "/api/v1/hosts/"+esc(name), p)
}

// DeleteHost removes a host and revokes its node tokens.
func (c *Client) DeleteHost(ctx context.Context, name string) (wire.Deleted, error) {
	return send[wire.Deleted](ctx, c, http.MethodDelete, "/api/v1/hosts/"+esc(name), nil)
}

// ListOrderDomains lists the domains an order holds.
func (c *Client) ListOrderDomains(ctx context.Context, ref string) (wire.OrderDomains, error) {
	return get[wire.OrderDomains](ctx, c, "/api/v1/orders/"+esc(ref)+"/domains")
}

// AddOrderDomain lets an order hold another domain.
func (c *Client) AddOrderDomain(ctx context.Context, ref, domain string) (wire.OrderDomains, error) {
	return send[wire.OrderDomains](ctx, c, http.MethodPost, "/api/v1/orders/"+esc(ref)+"/domains", wire.DomainInput{Domain: domain})
}

// AdoptDatabases makes mysql-db items of the databases the order's app
// configs name that no item registers.
func (c *Client) AdoptDatabases(ctx context.Context, ref string) (wire.AdoptResult, error) {
	return send[wire.AdoptResult](ctx, c, http.MethodPost, "/api/v1/orders/"+esc(ref)+"/adopt-databases", nil)
}

// RemoveOrderDomain drops a domain from an order.
func (c *Client) RemoveOrderDomain(ctx context.Context, ref, domain string) (wire.OrderDomains, error) {
	return send[wire.OrderDomains](ctx, c, http.MethodDelete, "/api/v1/orders/"+esc(ref)+"/domains/"+esc(domain), nil)
}

// ListZones lists the zones the co-op serves.
func (c *Client) ListZones(ctx context.Context) ([]model.Zone, error) {
	return get[[]model.Zone](ctx, c, "/api/v1/zones")
}

// CreateZone adds a served zone.
func (c *Client) CreateZone(ctx context.Context, name string) (model.Zone, error) {
	return send[model.Zone](ctx, c, http.MethodPost, "/api/v1/zones", model.Zone{Name: name})
}

// DeleteZone stops serving a zone.
func (c *Client) DeleteZone(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/zones/"+esc(name), nil, nil)
}

// ForgetItem ends an item's record without its node (admins).
func (c *Client) ForgetItem(ctx context.Context, id int64) (model.Item, error) {
	return send[model.Item](ctx, c, http.MethodPost, "/api/v1/items/"+strconv.FormatInt(id, 10)+"/forget", nil)
}

// ListOrders lists orders matching q.
func (c *Client) ListOrders(ctx context.Context, q wire.OrderQuery) ([]model.Order, error) {
	v := url.Values{}
	for k, s := range map[string]string{"member": q.Member, "host": q.Host, "identifier": q.Identifier, "state": q.State, "q": q.Text} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return get[[]model.Order](ctx, c, "/api/v1/orders?"+v.Encode())
}

// GetOrder returns an order by id or identifier.
func (c *Client) GetOrder(ctx context.Context, ref string) (model.Order, error) {
	return get[model.Order](ctx, c, "/api/v1/orders/"+esc(ref))
}

// CreateOrder adds an order.
func (c *Client) CreateOrder(ctx context.Context, o model.Order) (model.Order, error) {
	return send[model.Order](ctx, c, http.MethodPost, "/api/v1/orders", o)
}

// UpdateOrder changes an order (its member).
func (c *Client) UpdateOrder(ctx context.Context, ref string, p wire.OrderPatch) (model.Order, error) {
	return send[model.Order](ctx, c, http.MethodPatch, "/api/v1/orders/"+esc(ref), p)
}

// DeleteOrder deletes an order and all its items.
func (c *Client) DeleteOrder(ctx context.Context, ref string) (model.Order, error) {
	return send[model.Order](ctx, c, http.MethodDelete, "/api/v1/orders/"+esc(ref), nil)
}

// ListItems lists items matching q.
func (c *Client) ListItems(ctx context.Context, q wire.ItemQuery) ([]model.Item, error) {
	v := url.Values{}
	for k, s := range map[string]string{"order": q.Order, "host": q.Host, "kind": q.Kind} {
		if s != "" {
			v.Set(k, s)
		}
	}
	for _, s := range q.States {
		v.Add("state", string(s))
	}
	return get[[]model.Item](ctx, c, "/api/v1/items?"+v.Encode())
}

// GetItem returns one item.
func (c *Client) GetItem(ctx context.Context, id int64) (model.Item, error) {
	return get[model.Item](ctx, c, "/api/v1/items/"+strconv.FormatInt(id, 10))
}

// CreateItem adds an item.
func (c *Client) CreateItem(ctx context.Context, in wire.ItemInput) (model.Item, error) {
	return send[model.Item](ctx, c, http.MethodPost, "/api/v1/items", in)
}

// UpdateItem replaces an item's spec.
func (c *Client) UpdateItem(ctx context.Context, id int64, spec model.Spec) (model.Item, error) {
	return send[model.Item](ctx, c, http.MethodPatch, "/api/v1/items/"+strconv.FormatInt(id, 10), wire.SpecInput{Spec: spec})
}

// DeleteItem asks for an item's removal (pending-delete).
func (c *Client) DeleteItem(ctx context.Context, id int64) (model.Item, error) {
	return send[model.Item](ctx, c, http.MethodDelete, "/api/v1/items/"+strconv.FormatInt(id, 10), nil)
}

// SetItemState asks for a state change.
func (c *Client) SetItemState(ctx context.Context, id int64, st model.State) (model.Item, error) {
	return send[model.Item](ctx, c, http.MethodPost, "/api/v1/items/"+strconv.FormatInt(id, 10)+"/state", wire.StateInput{State: st})
}

// ListTokens lists tokens.
func (c *Client) ListTokens(ctx context.Context) ([]model.Token, error) {
	return get[[]model.Token](ctx, c, "/api/v1/tokens")
}

// CreateToken makes a token; its secret is in the answer only.
func (c *Client) CreateToken(ctx context.Context, in wire.TokenInput) (wire.NewToken, error) {
	return send[wire.NewToken](ctx, c, http.MethodPost, "/api/v1/tokens", in)
}

// SetLoginPassword makes the web login name, or sets its password.
func (c *Client) SetLoginPassword(ctx context.Context, name string, in wire.LoginInput) (wire.Login, error) {
	return send[wire.Login](ctx, c, http.MethodPut, "/api/v1/logins/"+esc(name), in)
}

// ListLogins lists the web logins (admins).
func (c *Client) ListLogins(ctx context.Context) ([]wire.Login, error) {
	return send[[]wire.Login](ctx, c, http.MethodGet, "/api/v1/logins", nil)
}

// RevokeToken revokes a token by id or name.
func (c *Client) RevokeToken(ctx context.Context, ref string) (model.Token, error) {
	return send[model.Token](ctx, c, http.MethodDelete, "/api/v1/tokens/"+esc(ref), nil)
}

// ListAudit lists audit entries, of one order when order is set.
func (c *Client) ListAudit(ctx context.Context, order string, limit int) ([]model.AuditEntry, error) {
	v := url.Values{}
	if order != "" {
		v.Set("order", order)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	return get[[]model.AuditEntry](ctx, c, "/api/v1/audit?"+v.Encode())
}

// NodeWork long-polls for the node's work, waiting up to wait.
func (c *Client) NodeWork(ctx context.Context, wait time.Duration) (wire.Work, error) {
	return get[wire.Work](ctx, c, "/api/v1/node/work?wait="+wait.String())
}

// NodeDNS returns every dns item of the node's host.
func (c *Client) NodeDNS(ctx context.Context) ([]model.Item, error) {
	return get[[]model.Item](ctx, c, "/api/v1/node/dns")
}

// ReportItem sends a node's result for an item.
func (c *Client) ReportItem(ctx context.Context, id int64, r wire.Report) (model.Item, error) {
	return send[model.Item](ctx, c, http.MethodPost, "/api/v1/node/items/"+strconv.FormatInt(id, 10)+"/report", r)
}

// ReportTask sends a node's result or progress for a task.
func (c *Client) ReportTask(ctx context.Context, id int64, r wire.TaskReport) (model.Task, error) {
	return send[model.Task](ctx, c, http.MethodPost, "/api/v1/node/tasks/"+strconv.FormatInt(id, 10)+"/report", r)
}

// ReleaseTasks hands back the tasks leased to the node's host (an agent
// that starts holds none) and returns how many there were.
func (c *Client) ReleaseTasks(ctx context.Context) (int, error) {
	var out struct {
		Released int `json:"released"`
	}
	err := c.Do(ctx, http.MethodPost, "/api/v1/node/tasks/release", nil, &out)
	return out.Released, err
}

// Heartbeat sends a node's heartbeat.
func (c *Client) Heartbeat(ctx context.Context, hb model.Heartbeat) error {
	return c.Do(ctx, http.MethodPost, "/api/v1/node/heartbeat", hb, nil)
}
