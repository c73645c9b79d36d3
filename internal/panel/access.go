package panel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"ferry/internal/model"
	"ferry/internal/store"
)

// A hosting-order-access item gives another member's web login access to
// one order: that login reads the order and reads and manages its items,
// as its own member would, but not the order itself (its domains, its
// deletion, its moves) and not who else has access. Deleting the item
// (revoking) ends the access at once. The control plane alone keeps these
// items: they are active when added and deleted when revoked.

// hasAccess says whether member caller c reaches order orderID through a
// live hosting-order-access item naming the web login c acts as.
func hasAccess(ctx context.Context, tx store.Tx, c Caller, orderID int64) (bool, error) {
	if c.Role != model.RoleMember {
		return false, nil
	}
	l, err := loginOfTx(ctx, tx, c)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	grants, err := tx.ListItems(ctx, store.ItemFilter{OrderID: orderID, Kind: model.KindOrderAccess, States: []model.State{model.StateActive}})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(grants, func(it model.Item) bool { return it.Spec.Login == l.Name }), nil
}

// sharedOrders lists the live orders c reaches through access items.
func sharedOrders(ctx context.Context, tx store.Tx, c Caller) ([]model.Order, error) {
	if c.Role != model.RoleMember {
		return nil, nil
	}
	l, err := loginOfTx(ctx, tx, c)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	grants, err := tx.ListItems(ctx, store.ItemFilter{Kind: model.KindOrderAccess, States: []model.State{model.StateActive}})
	if err != nil {
		return nil, err
	}
	var out []model.Order
	for _, it := range grants {
		if it.Spec.Login != l.Name || slices.ContainsFunc(out, func(o model.Order) bool { return o.ID == it.OrderID }) {
			continue
		}
		o, err := tx.GetOrder(ctx, it.OrderID)
		if err != nil {
			return nil, err
		}
		if o.Member != c.Member && o.State == model.OrderActive {
			out = append(out, o)
		}
	}
	return out, nil
}

// mayManageItems says whether c may change the items of order o, which c
// named ref: admins, the order's member, and a login given access to it
// (except the access items themselves, of kind). Another member's order
// answers as one that does not exist.
func mayManageItems(ctx context.Context, tx store.Tx, c Caller, o model.Order, ref string, kind model.Kind) error {
	err := mayWriteOrder(c, o, ref)
	if err == nil || c.Role != model.RoleMember || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok, aerr := hasAccess(ctx, tx, c, o.ID)
	if aerr != nil {
		return aerr
	}
	if !ok {
		return err
	}
	if kind == model.KindOrderAccess {
		return forbidden("access to order %s is given and revoked by its member or an admin", o.Identifier)
	}
	return nil
}

// CanManageItems says whether c may change order o's items (for the web
// UI, which offers the forms only then).
func (p *Panel) CanManageItems(ctx context.Context, c Caller, o model.Order) (bool, error) {
	var ok bool
	err := p.view(ctx, func(tx store.Tx) error {
		err := mayManageItems(ctx, tx, c, o, o.Identifier, "")
		ok = err == nil
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrForbidden) {
			return nil
		}
		return err
	})
	return ok && o.State == model.OrderActive, err
}

// checkAccessGrant refuses an access item unless its login is a live web
// login of another member than the order's.
func checkAccessGrant(ctx context.Context, tx store.Tx, o model.Order, it model.Item) error {
	l, err := tx.GetLogin(ctx, it.Spec.Login)
	if errors.Is(err, store.ErrNotFound) {
		return &model.FieldError{Field: "spec.login", Message: fmt.Sprintf("there is no web login %q", it.Spec.Login)}
	}
	if err != nil {
		return err
	}
	t, err := tx.GetToken(ctx, l.TokenID)
	if err != nil {
		return err
	}
	if _, err := callerOf(ctx, tx, t); err != nil {
		return &model.FieldError{Field: "spec.login", Message: fmt.Sprintf("web login %q no longer logs in (its token was revoked or its member is gone)", l.Name)}
	}
	live, err := tx.ListItems(ctx, store.ItemFilter{OrderID: o.ID, Kind: model.KindOrderAccess, States: []model.State{model.StateActive, model.StateDisabled}})
	if err != nil {
		return err
	}
	if slices.ContainsFunc(live, func(g model.Item) bool { return g.Spec.Login == l.Name }) {
		return &model.FieldError{Field: "spec.login", Message: fmt.Sprintf("web login %q has access to order %s already", l.Name, o.Identifier)}
	}
	switch {
	case t.Role != model.RoleMember:
		return &model.FieldError{Field: "spec.login", Message: fmt.Sprintf("web login %q is an admin's, who sees every order already", l.Name)}
	case t.Member == o.Member:
		return &model.FieldError{Field: "spec.login", Message: fmt.Sprintf("web login %q is %s's own; access is for another member's login", l.Name, o.Member)}
	}
	return nil
}

// settled is the state a control-plane kind's item takes at once from a
// pending state, as a node would report it.
func settled(s model.State) (model.State, bool) {
	switch s {
	case model.StatePendingInsert, model.StatePendingUpdate, model.StatePendingRestore:
		return model.StateActive, true
	case model.StatePendingDelete:
		return model.StateDeleted, true
	case model.StatePendingDisable:
		return model.StateDisabled, true
	}
	return s, false
}

// settleTx applies a control-plane kind's pending item at once; other
// kinds wait for their host.
func (p *Panel) settleTx(ctx context.Context, tx store.Tx, c Caller, it *model.Item) error {
	if !model.KindInfoOf(it.Kind).ControlPlane || !strings.HasPrefix(string(it.State), "pending-") {
		return nil
	}
	to, ok := settled(it.State)
	if !ok {
		return nil
	}
	return p.setStateTx(ctx, tx, c, it, to, model.ByNode)
}
