package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"ferry/internal/model"
)

// AddOrderDomain records that order orderID holds domain; holding it twice
// is ErrConflict.
func (t *tx) AddOrderDomain(ctx context.Context, orderID int64, domain string) error {
	return t.step(ctx, fmt.Sprintf("add domain %s to order %d", domain, orderID), missing("order"), func() error {
		_, err := t.exec(ctx, "INSERT INTO order_domains (order_id, domain, created_at) VALUES (?, ?, ?)", orderID, domain, now())
		return err
	})
}

// RemoveOrderDomain drops a domain the order holds.
func (t *tx) RemoveOrderDomain(ctx context.Context, orderID int64, domain string) error {
	return t.change(ctx, fmt.Sprintf("remove domain %s from order %d", domain, orderID), nil,
		"DELETE FROM order_domains WHERE order_id = ? AND domain = ?", orderID, domain)
}

// ListOrderDomains lists the domains added to an order (not its
// identifier), by name.
func (t *tx) ListOrderDomains(ctx context.Context, orderID int64) ([]string, error) {
	return list(ctx, t, scanString, fmt.Sprintf("list domains of order %d", orderID),
		"SELECT domain FROM order_domains WHERE order_id = ? ORDER BY domain", orderID)
}

// DomainClaims lists the claims of live (not deleted) orders on any of
// domains, identifiers and added domains alike, by domain and order id.
func (t *tx) DomainClaims(ctx context.Context, domains []string) ([]model.DomainClaim, error) {
	if len(domains) == 0 {
		return []model.DomainClaim{}, nil
	}
	marks := strings.Repeat("?, ", len(domains)-1) + "?"
	args := make([]any, 0, 2*len(domains)+2)
	for _, d := range domains {
		args = append(args, d)
	}
	args = append(args, model.OrderDeleted)
	for _, d := range domains {
		args = append(args, d)
	}
	args = append(args, model.OrderDeleted)
	return list(ctx, t, scanClaim, "domain claims",
		`SELECT o.identifier, o.id, o.identifier, o.member, o.state FROM orders o
		WHERE o.identifier IN (`+marks+`) AND o.state <> ?
		UNION
		SELECT d.domain, o.id, o.identifier, o.member, o.state FROM order_domains d JOIN orders o ON o.id = d.order_id
		WHERE d.domain IN (`+marks+`) AND o.state <> ?
		ORDER BY 1, 2`, args...)
}

// DomainsUnder lists the claims of live orders on domain and on every
// domain below it.
func (t *tx) DomainsUnder(ctx context.Context, domain string) ([]model.DomainClaim, error) {
	like := "%." + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(domain)
	return list(ctx, t, scanClaim, "domains under "+domain,
		`SELECT o.identifier, o.id, o.identifier, o.member, o.state FROM orders o
		WHERE (o.identifier = ? OR o.identifier LIKE ? ESCAPE '\') AND o.state <> ?
		UNION
		SELECT d.domain, o.id, o.identifier, o.member, o.state FROM order_domains d JOIN orders o ON o.id = d.order_id
		WHERE (d.domain = ? OR d.domain LIKE ? ESCAPE '\') AND o.state <> ?
		ORDER BY 1, 2`, domain, like, model.OrderDeleted, domain, like, model.OrderDeleted)
}

func scanClaim(s scanner) (model.DomainClaim, error) {
	var c model.DomainClaim
	err := s.Scan(&c.Domain, &c.OrderID, &c.Order, &c.Member, &c.State)
	return c, err
}

func scanString(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}

// CreateZone adds a zone the co-op serves; ErrConflict if it is there.
func (t *tx) CreateZone(ctx context.Context, z *model.Zone) error {
	at := now()
	err := t.step(ctx, "create zone "+z.Name, nil, func() error {
		_, err := t.exec(ctx, "INSERT INTO zones (name, created_at) VALUES (?, ?)", z.Name, at)
		return err
	})
	if err != nil {
		return err
	}
	z.CreatedAt = at
	return nil
}

// GetZone returns a served zone.
func (t *tx) GetZone(ctx context.Context, name string) (model.Zone, error) {
	return get(ctx, t, scanZone, "get zone "+name, "SELECT name, created_at FROM zones WHERE name = ?", name)
}

// ListZones lists the served zones by name.
func (t *tx) ListZones(ctx context.Context) ([]model.Zone, error) {
	return list(ctx, t, scanZone, "list zones", "SELECT name, created_at FROM zones ORDER BY name")
}

// DeleteZone removes a served zone. The panel checks that no live dns
// item is in it.
func (t *tx) DeleteZone(ctx context.Context, name string) error {
	return t.change(ctx, "delete zone "+name, nil, "DELETE FROM zones WHERE name = ?", name)
}

func scanZone(s scanner) (model.Zone, error) {
	var z model.Zone
	err := s.Scan(&z.Name, timeCol{&z.CreatedAt})
	return z, err
}

// ItemsNamed lists the items (any state but deleted) with a server name or
// DNS record at name, by id.
func (t *tx) ItemsNamed(ctx context.Context, name string) ([]model.Item, error) {
	return list(ctx, t, scanItem, "items named "+name,
		"SELECT "+itemCols+" FROM items WHERE state <> ? AND id IN (SELECT item_id FROM item_identities WHERE name = ?) ORDER BY id",
		model.StateDeleted, name)
}

// RevokeTokensOf revokes every live token of a member (role member) or a
// host (role node) at at, and returns how many it revoked.
func (t *tx) RevokeTokensOf(ctx context.Context, role model.TokenRole, name string, at time.Time) (int, error) {
	col := "member"
	if role == model.RoleNode {
		col = "host"
	}
	res, err := t.exec(ctx, "UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND role = ? AND "+col+" = ?", at, role, name)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of %s %s: %w", col, name, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// SystemNames returns the system users and groups the host's node last
// reported.
func (t *tx) SystemNames(ctx context.Context, host string) ([]string, error) {
	var raw string
	if err := t.queryRow(ctx, "SELECT system_names FROM hosts WHERE name = ?", host).Scan(&raw); err != nil {
		return nil, failed(err, "system names of host "+host, nil)
	}
	var names []string
	if err := json.Unmarshal([]byte(raw), &names); err != nil {
		return nil, fmt.Errorf("system names of host %s: %w", host, err)
	}
	return names, nil
}
