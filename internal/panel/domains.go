package panel

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// OrderDomains is what an order holds; see wire.OrderDomains.
type OrderDomains = wire.OrderDomains

// ListOrderDomains returns the domains order ref holds, its identifier
// first, if c may see the order.
func (p *Panel) ListOrderDomains(ctx context.Context, c Caller, ref string) (OrderDomains, error) {
	var out OrderDomains
	err := p.view(ctx, func(tx store.Tx) error {
		o, err := p.readableOrder(ctx, tx, c, ref)
		if err != nil {
			return err
		}
		added, err := tx.ListOrderDomains(ctx, o.ID)
		if err != nil {
			return err
		}
		out = OrderDomains{Order: o.Identifier, Domains: append([]string{o.Identifier}, added...)}
		return nil
	})
	return out, err
}

// AddOrderDomain lets order ref hold another domain, so that its items may
// claim names under it. The admin or the order's member may; a public
// suffix, or a domain at or under one another member holds, is refused.
func (p *Panel) AddOrderDomain(ctx context.Context, c Caller, ref, domain string) (OrderDomains, error) {
	err := p.store.Update(ctx, func(tx store.Tx) error {
		o, err := p.ownOrder(ctx, tx, c, ref)
		if err != nil {
			return err
		}
		d, err := claimableDomain(ctx, tx, o, "domain", domain)
		if err != nil {
			return err
		}
		if d == o.Identifier {
			return refused("%s is the order's identifier, which it holds already", d)
		}
		if err := tx.AddOrderDomain(ctx, o.ID, d); errors.Is(err, store.ErrConflict) {
			return refused("order %s holds %s already", o.Identifier, d)
		} else if err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditDomainAdd, fmt.Sprintf("order/%d", o.ID), o.ID, nil, map[string]string{"domain": d})
	})
	if err != nil {
		return OrderDomains{}, err
	}
	return p.ListOrderDomains(ctx, c, ref)
}

// RemoveOrderDomain drops a domain from order ref, unless one of its live
// items still claims a name under it.
func (p *Panel) RemoveOrderDomain(ctx context.Context, c Caller, ref, domain string) (OrderDomains, error) {
	err := p.store.Update(ctx, func(tx store.Tx) error {
		o, err := p.ownOrder(ctx, tx, c, ref)
		if err != nil {
			return err
		}
		d, err := model.NormalizeDomain(domain, 2)
		if err != nil {
			return &model.FieldError{Field: "domain", Message: err.Error()}
		}
		if d == o.Identifier {
			return refused("%s is the order's identifier; it cannot be removed from the order", d)
		}
		have, err := tx.ListOrderDomains(ctx, o.ID)
		if err != nil {
			return err
		}
		if !slices.Contains(have, d) {
			return fmt.Errorf("domain %s of order %s: %w", d, o.Identifier, store.ErrNotFound)
		}
		if err := tx.RemoveOrderDomain(ctx, o.ID, d); err != nil {
			return err
		}
		items, err := tx.ListItems(ctx, store.ItemFilter{OrderID: o.ID})
		if err != nil {
			return err
		}
		var using []model.Item
		for _, it := range items {
			if !it.State.Live() || it.State == model.StatePendingDelete {
				continue
			}
			for _, n := range it.Spec.Names(it.Kind) {
				if holdName(ctx, tx, o, "", n) != nil {
					using = append(using, it)
					break
				}
			}
		}
		if len(using) > 0 {
			return refused("order %s's items still claim names under %s:%s", o.Identifier, d,
				blockers(using, func(it model.Item) string { return fmt.Sprintf("delete it first (ferry item delete %d)", it.ID) }))
		}
		return p.audit(ctx, tx, c, AuditDomainRemove, fmt.Sprintf("order/%d", o.ID), o.ID, map[string]string{"domain": d}, nil)
	})
	if err != nil {
		return OrderDomains{}, err
	}
	return p.ListOrderDomains(ctx, c, ref)
}

// ownOrder resolves an active order that c may change the items of.
func (p *Panel) ownOrder(ctx context.Context, tx store.Tx, c Caller, ref string) (model.Order, error) {
	o, err := ResolveOrder(ctx, tx, ref)
	if err != nil {
		return o, err
	}
	if err := mayWriteOrder(c, o, ref); err != nil {
		return model.Order{}, err
	}
	if o.State != model.OrderActive {
		return model.Order{}, refused("order %s (id %d) is %s and cannot be changed", o.Identifier, o.ID, o.State)
	}
	return o, nil
}

// ListZones lists the zones the co-op serves.
func (p *Panel) ListZones(ctx context.Context, c Caller) ([]model.Zone, error) {
	if c.Role == model.RoleNode {
		return nil, forbidden("a node token cannot list zones")
	}
	var zs []model.Zone
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		zs, err = tx.ListZones(ctx)
		return err
	})
	return zs, err
}

// CreateZone adds a zone the co-op's dns hosts serve. Admins only; a
// public suffix is refused.
func (p *Panel) CreateZone(ctx context.Context, c Caller, name string) (model.Zone, error) {
	if !c.IsAdmin() {
		return model.Zone{}, forbidden("only admins add zones")
	}
	d, err := model.ValidateClaimableDomain(name)
	if err != nil {
		return model.Zone{}, &model.FieldError{Field: "name", Message: err.Error()}
	}
	var z model.Zone
	err = p.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.GetZone(ctx, d); err == nil {
			return fmt.Errorf("zone %s: %w", d, store.ErrConflict)
		}
		if err := p.serveZoneTx(ctx, tx, c, d); err != nil {
			return err
		}
		z, err = tx.GetZone(ctx, d)
		return err
	})
	return z, err
}

// serveZoneTx adds zone d to the served ones unless it is there already.
func (p *Panel) serveZoneTx(ctx context.Context, tx store.Tx, c Caller, d string) error {
	if _, err := tx.GetZone(ctx, d); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	z := model.Zone{Name: d}
	if err := tx.CreateZone(ctx, &z); err != nil {
		return err
	}
	return p.audit(ctx, tx, c, AuditZoneCreate, "zone/"+d, 0, nil, z)
}

// DeleteZone stops serving a zone, unless a live dns item is in it.
// Admins only.
func (p *Panel) DeleteZone(ctx context.Context, c Caller, name string) error {
	if !c.IsAdmin() {
		return forbidden("only admins remove zones")
	}
	d, err := model.NormalizeDomain(name, 2)
	if err != nil {
		return &model.FieldError{Field: "name", Message: err.Error()}
	}
	return p.store.Update(ctx, func(tx store.Tx) error {
		z, err := tx.GetZone(ctx, d)
		if err != nil {
			return err
		}
		recs, err := tx.ListItems(ctx, store.ItemFilter{Kind: model.KindDNS})
		if err != nil {
			return err
		}
		recs = slices.DeleteFunc(recs, func(it model.Item) bool { return it.State == model.StateDeleted || it.Spec.Zone != d })
		if len(recs) > 0 {
			return refused("zone %s still has records:%s", d, blockers(recs, itemTodo))
		}
		if err := tx.DeleteZone(ctx, d); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditZoneDelete, "zone/"+d, 0, z, nil)
	})
}
