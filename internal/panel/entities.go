package panel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/wire"
)

func (p *Panel) view(ctx context.Context, fn func(store.Tx) error) error {
	return p.store.View(ctx, fn)
}

// CreateMember adds a member. Admins only.
func (p *Panel) CreateMember(ctx context.Context, c Caller, m model.Member) (model.Member, error) {
	if !c.IsAdmin() {
		return m, forbidden("only admins add members")
	}
	if err := m.Validate(); err != nil {
		return m, err
	}
	m.CreatedAt = p.Now()
	err := p.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateMember(ctx, &m); err != nil {
			return fmt.Errorf("member %q: %w", m.Name, err)
		}
		return p.audit(ctx, tx, c, AuditMemberCreate, "member/"+m.Name, 0, nil, m)
	})
	return m, err
}

// GetMember returns a member; members see only themselves.
func (p *Panel) GetMember(ctx context.Context, c Caller, name string) (model.Member, error) {
	if !c.IsAdmin() && !(c.Role == model.RoleMember && c.Member == name) {
		return model.Member{}, forbidden("a %s token cannot read member %q", c.Role, name)
	}
	var m model.Member
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		m, err = tx.GetMember(ctx, name)
		return err
	})
	return m, err
}

// ListMembers lists members; a member token sees only its own.
func (p *Panel) ListMembers(ctx context.Context, c Caller) ([]model.Member, error) {
	if c.Role == model.RoleMember {
		m, err := p.GetMember(ctx, c, c.Member)
		return []model.Member{m}, err
	}
	if !c.IsAdmin() {
		return nil, forbidden("a %s token cannot list members", c.Role)
	}
	var ms []model.Member
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		ms, err = tx.ListMembers(ctx)
		return err
	})
	return ms, err
}

// UpdateMember changes a member's friendly name. Admins only.
func (p *Panel) UpdateMember(ctx context.Context, c Caller, m model.Member) (model.Member, error) {
	if !c.IsAdmin() {
		return m, forbidden("only admins change members")
	}
	if err := m.Validate(); err != nil {
		return m, err
	}
	err := p.store.Update(ctx, func(tx store.Tx) error {
		old, err := tx.GetMember(ctx, m.Name)
		if err != nil {
			return err
		}
		m.CreatedAt = old.CreatedAt
		if err := tx.UpdateMember(ctx, &m); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditMemberUpdate, "member/"+m.Name, 0, old, m)
	})
	return m, err
}

// DeleteMember removes a member that has no live orders, and revokes its
// tokens, returning how many. Admins only.
func (p *Panel) DeleteMember(ctx context.Context, c Caller, name string) (int, error) {
	if !c.IsAdmin() {
		return 0, forbidden("only admins delete members")
	}
	revoked := 0
	err := p.store.Update(ctx, func(tx store.Tx) error {
		old, err := tx.GetMember(ctx, name)
		if err != nil {
			return err
		}
		orders, err := tx.ListOrders(ctx, store.OrderFilter{Member: name})
		if err != nil {
			return err
		}
		var lines []string
		for _, o := range orders {
			if o.State != model.OrderDeleted {
				lines = append(lines, fmt.Sprintf("\n  - order %s (id %d, %s): delete it (ferry order delete %d) or hand it to another member (ferry order update %d --member NAME)", o.Identifier, o.ID, o.State, o.ID, o.ID))
			}
		}
		if len(lines) > 0 {
			return refused("member %q still has orders:%s", name, strings.Join(lines, ""))
		}
		if revoked, err = p.revokeTokensOf(ctx, tx, c, model.RoleMember, name); err != nil {
			return err
		}
		if err := tx.DeleteMember(ctx, name); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditMemberDelete, "member/"+name, 0, old, nil)
	})
	return revoked, err
}

// revokeTokensOf revokes the live tokens of the member or host being
// deleted, with an audit entry when there were any: a token belongs to
// what it was made for, not to a name that may be given again.
func (p *Panel) revokeTokensOf(ctx context.Context, tx store.Tx, c Caller, role model.TokenRole, name string) (int, error) {
	n, err := tx.RevokeTokensOf(ctx, role, name, p.Now())
	if err != nil || n == 0 {
		return n, err
	}
	return n, p.audit(ctx, tx, c, AuditTokenRevoke, fmt.Sprintf("%s/%s/tokens", map[model.TokenRole]string{model.RoleMember: "member", model.RoleNode: "host"}[role], name), 0, nil, map[string]int{"revoked": n})
}

// CreateHost adds a host. Admins only.
func (p *Panel) CreateHost(ctx context.Context, c Caller, h model.Host) (model.Host, error) {
	if !c.IsAdmin() {
		return h, forbidden("only admins add hosts")
	}
	if err := h.Validate(); err != nil {
		return h, err
	}
	h.CreatedAt = p.Now()
	h.Heartbeat = model.Heartbeat{}
	err := p.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateHost(ctx, &h); err != nil {
			return fmt.Errorf("host %q: %w", h.Name, err)
		}
		return p.audit(ctx, tx, c, AuditHostCreate, "host/"+h.Name, 0, nil, h)
	})
	return h, err
}

// GetHost returns a host; a node token sees only its own host.
func (p *Panel) GetHost(ctx context.Context, c Caller, name string) (model.Host, error) {
	if !c.IsAdmin() && !(c.Role == model.RoleNode && c.Host == name) {
		return model.Host{}, forbidden("a %s token cannot read hosts", c.Role)
	}
	var h model.Host
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		h, err = tx.GetHost(ctx, name)
		return err
	})
	return h, err
}

// ListHosts lists hosts. Admins only.
func (p *Panel) ListHosts(ctx context.Context, c Caller) ([]model.Host, error) {
	if !c.IsAdmin() {
		return nil, forbidden("a %s token cannot list hosts", c.Role)
	}
	var hs []model.Host
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		hs, err = tx.ListHosts(ctx)
		return err
	})
	return hs, err
}

// HostPatch holds the host fields an update may change; see wire.HostPatch.
type HostPatch = wire.HostPatch

// UpdateHost changes a host's addresses, roles, state or capacity. A host is
// retired only when no live order or item remains on it. Admins only.
func (p *Panel) UpdateHost(ctx context.Context, c Caller, name string, patch HostPatch) (model.Host, error) {
	if !c.IsAdmin() {
		return model.Host{}, forbidden("only admins change hosts")
	}
	var h model.Host
	err := p.store.Update(ctx, func(tx store.Tx) error {
		old, err := tx.GetHost(ctx, name)
		if err != nil {
			return err
		}
		h = old
		if patch.Addresses != nil {
			h.Addresses = patch.Addresses
		}
		if patch.Roles != nil {
			h.Roles = patch.Roles
		}
		if patch.State != nil {
			h.State = *patch.State
		}
		if patch.DiskCapacity != nil {
			h.DiskCapacity = *patch.DiskCapacity
		}
		if err := h.Validate(); err != nil {
			return err
		}
		if h.State == model.HostRetired && old.State != model.HostRetired {
			if err := hostEmpty(ctx, tx, name, "retire"); err != nil {
				return err
			}
		}
		if err := tx.UpdateHost(ctx, &h); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditHostUpdate, "host/"+name, 0, old, h)
	})
	return h, err
}

func hostEmpty(ctx context.Context, tx store.Tx, name, verb string) error {
	orders, err := tx.ListOrders(ctx, store.OrderFilter{Host: name})
	if err != nil {
		return err
	}
	var lines []string
	for _, o := range orders {
		if o.State != model.OrderDeleted {
			lines = append(lines, fmt.Sprintf("\n  - order %s (id %d, %s): move it away (ferry move start %s --to HOST) or delete it (ferry order delete %d)", o.Identifier, o.ID, o.State, o.Identifier, o.ID))
		}
	}
	items, err := tx.ListItems(ctx, store.ItemFilter{Host: name})
	if err != nil {
		return err
	}
	items = slices.DeleteFunc(items, func(it model.Item) bool { return it.State == model.StateDeleted })
	if len(lines) == 0 && len(items) == 0 {
		return nil
	}
	return refused("cannot %s host %q, it still holds:%s%s", verb, name, strings.Join(lines, ""), blockers(items, itemTodo))
}

// itemTodo says how to get an item out of the way.
func itemTodo(it model.Item) string {
	switch it.State {
	case model.StatePendingDelete:
		return fmt.Sprintf("its node is deleting it; wait, or if the host is gone or broken, forget it (ferry item forget %d)", it.ID)
	case model.StateTransferLimbo:
		return "it belongs to a move; finish the move (cleanup) or abort it"
	}
	return fmt.Sprintf("delete it (ferry item delete %d), or if its host is gone or broken, forget it (ferry item forget %d)", it.ID, it.ID)
}

// DeleteHost removes a host that holds nothing, and revokes its node
// tokens, returning how many. Admins only.
func (p *Panel) DeleteHost(ctx context.Context, c Caller, name string) (int, error) {
	if !c.IsAdmin() {
		return 0, forbidden("only admins delete hosts")
	}
	revoked := 0
	err := p.store.Update(ctx, func(tx store.Tx) error {
		old, err := tx.GetHost(ctx, name)
		if err != nil {
			return err
		}
		if err := hostEmpty(ctx, tx, name, "delete"); err != nil {
			return err
		}
		if revoked, err = p.revokeTokensOf(ctx, tx, c, model.RoleNode, name); err != nil {
			return err
		}
		if err := tx.DeleteHost(ctx, name); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditHostDelete, "host/"+name, 0, old, nil)
	})
	return revoked, err
}

// ResolveOrder finds an order by id or by identifier. An identifier names
// the order that is not in transfer-limbo (the one a member sees), or the
// limbo one when it is the only live one.
func ResolveOrder(ctx context.Context, tx store.Tx, ref string) (model.Order, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		o, err := tx.GetOrder(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			// The words a member gets for another member's order too.
			return o, fmt.Errorf("order %q: %w", ref, store.ErrNotFound)
		}
		return o, err
	}
	d, err := model.NormalizeDomain(ref, 1)
	if err != nil {
		return model.Order{}, fmt.Errorf("order %q: %w", ref, store.ErrNotFound)
	}
	os, err := tx.ListOrders(ctx, store.OrderFilter{Identifier: d})
	if err != nil {
		return model.Order{}, err
	}
	var limbo *model.Order
	for i, o := range os {
		switch o.State {
		case model.OrderActive:
			return o, nil
		case model.OrderTransferLimbo:
			limbo = &os[i]
		}
	}
	if limbo != nil {
		return *limbo, nil
	}
	return model.Order{}, fmt.Errorf("order %q: %w", ref, store.ErrNotFound)
}

// mayReadOrder says whether c may see order o.
func mayReadOrder(c Caller, o model.Order) bool {
	switch c.Role {
	case model.RoleAdmin:
		return true
	case model.RoleMember:
		return o.Member == c.Member
	case model.RoleNode:
		return o.Host == c.Host
	}
	return false
}

// GetOrder returns an order by id or identifier, if c may see it. Members
// get not-found for other members' orders, so ids don't leak what exists.
func (p *Panel) GetOrder(ctx context.Context, c Caller, ref string) (model.Order, error) {
	var o model.Order
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		o, err = p.readableOrder(ctx, tx, c, ref)
		return err
	})
	return o, err
}

func (p *Panel) readableOrder(ctx context.Context, tx store.Tx, c Caller, ref string) (model.Order, error) {
	o, err := ResolveOrder(ctx, tx, ref)
	if err != nil {
		return o, err
	}
	if !mayReadOrder(c, o) {
		if ok, err := hasAccess(ctx, tx, c, o.ID); err != nil || ok {
			return o, err
		}
		if c.Role == model.RoleMember {
			return model.Order{}, fmt.Errorf("order %q: %w", ref, store.ErrNotFound)
		}
		return model.Order{}, forbidden("a %s token cannot read order %s", c.Role, o.Identifier)
	}
	return o, nil
}

// ListOrders lists orders matching f; members see only their own.
func (p *Panel) ListOrders(ctx context.Context, c Caller, f store.OrderFilter) ([]model.Order, error) {
	switch c.Role {
	case model.RoleAdmin:
	case model.RoleMember:
		if f.Member != "" && f.Member != c.Member {
			return nil, forbidden("a member token lists only its own orders")
		}
		f.Member = c.Member
	default:
		return nil, forbidden("a %s token cannot list orders", c.Role)
	}
	var os []model.Order
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		if os, err = tx.ListOrders(ctx, f); err != nil {
			return err
		}
		// Orders shared with a member's login, that the filter matches.
		shared, err := sharedOrders(ctx, tx, c)
		for _, o := range shared {
			if (f.State == "" || f.State == o.State) && (f.Identifier == "" || f.Identifier == o.Identifier) &&
				(f.Text == "" || strings.Contains(o.Identifier, strings.ToLower(f.Text))) && f.Host == "" {
				os = append(os, o)
			}
		}
		return err
	})
	return os, err
}

// CreateOrder adds a hosting order for a member on a host. Admins only.
func (p *Panel) CreateOrder(ctx context.Context, c Caller, o model.Order) (model.Order, error) {
	if !c.IsAdmin() {
		return o, forbidden("only admins add orders")
	}
	o.State = model.OrderActive
	if err := o.Validate(); err != nil {
		return o, err
	}
	o.CreatedAt, o.UpdatedAt = p.Now(), p.Now()
	err := p.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.GetMember(ctx, o.Member); err != nil {
			return fieldNotFound("member", "member %q", o.Member, err)
		}
		h, err := tx.GetHost(ctx, o.Host)
		if err != nil {
			return fieldNotFound("host", "host %q", o.Host, err)
		}
		if !h.HasRole(model.RoleWeb) {
			return &model.FieldError{Field: "host", Message: fmt.Sprintf("host %q has no web role", h.Name)}
		}
		if h.State != model.HostActive {
			return &model.FieldError{Field: "host", Message: fmt.Sprintf("host %q is %s and takes no new orders", h.Name, h.State)}
		}
		others, err := tx.ListOrders(ctx, store.OrderFilter{Identifier: o.Identifier})
		if err != nil {
			return err
		}
		for _, x := range others {
			if x.State != model.OrderDeleted {
				return &model.FieldError{Field: "identifier", Message: fmt.Sprintf("order %s already exists (id %d, %s)", x.Identifier, x.ID, x.State)}
			}
		}
		if _, err := claimableDomain(ctx, tx, o, "identifier", o.Identifier); err != nil {
			return err
		}
		if err := tx.CreateOrder(ctx, &o); err != nil {
			return err
		}
		if err := p.audit(ctx, tx, c, AuditOrderCreate, fmt.Sprintf("order/%d", o.ID), o.ID, nil, o); err != nil {
			return err
		}
		return p.serveZoneTx(ctx, tx, c, o.Identifier)
	})
	return o, err
}

func fieldNotFound(field, format string, arg any, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &model.FieldError{Field: field, Message: fmt.Sprintf(format+" does not exist", arg)}
	}
	return err
}

// OrderPatch holds the order fields an update may change; see
// wire.OrderPatch.
type OrderPatch = wire.OrderPatch

// UpdateOrder hands an order to another member. Admins only; an order in a
// move or deleted is refused.
func (p *Panel) UpdateOrder(ctx context.Context, c Caller, ref string, patch OrderPatch) (model.Order, error) {
	if !c.IsAdmin() {
		return model.Order{}, forbidden("only admins change orders")
	}
	var o model.Order
	err := p.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if o, err = ResolveOrder(ctx, tx, ref); err != nil {
			return err
		}
		if o.State != model.OrderActive {
			return refused("order %s (id %d) is %s and cannot be changed", o.Identifier, o.ID, o.State)
		}
		if moves, err := tx.ListMoves(ctx, store.MoveFilter{OrderID: o.ID, ActiveOnly: true}); err != nil {
			return err
		} else if len(moves) > 0 {
			return refused("order %s is being moved (move %d); change it when the move has ended", o.Identifier, moves[0].ID)
		}
		before := o
		if patch.Member != nil {
			o.Member = *patch.Member
			if err := o.Validate(); err != nil {
				return err
			}
			if _, err := tx.GetMember(ctx, o.Member); err != nil {
				return fieldNotFound("member", "member %q", o.Member, err)
			}
		}
		if o == before {
			return nil
		}
		o.UpdatedAt = p.Now()
		if err := tx.UpdateOrder(ctx, &o); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditOrderUpdate, fmt.Sprintf("order/%d", o.ID), o.ID, before, o)
	})
	return o, err
}

// DeleteOrder deletes an order: every live item goes to pending-delete (limbo
// ones too), the order to deleted, and its host's node is asked to remove
// the order's directory once the items are gone. Admins only.
func (p *Panel) DeleteOrder(ctx context.Context, c Caller, ref string) (model.Order, error) {
	if !c.IsAdmin() {
		return model.Order{}, forbidden("only admins delete orders")
	}
	var o model.Order
	var hosts []string
	err := p.store.Update(ctx, func(tx store.Tx) error {
		var err error
		o, err = ResolveOrder(ctx, tx, ref)
		if err != nil {
			return err
		}
		if o.State == model.OrderDeleted {
			return refused("order %s (id %d) is already deleted", o.Identifier, o.ID)
		}
		if o.State == model.OrderTransferLimbo {
			return refused("order %s (id %d) is the transfer-limbo half of a move, still serving on %s; the move's cleanup or abort removes it", o.Identifier, o.ID, o.Host)
		}
		if moves, err := tx.ListMoves(ctx, store.MoveFilter{OrderID: o.ID, ActiveOnly: true}); err != nil {
			return err
		} else if len(moves) > 0 {
			return refused("order %s is being moved (move %d, %s); abort or finish the move first", o.Identifier, moves[0].ID, moves[0].Phase)
		}
		hosts, err = p.deleteOrderTx(ctx, tx, c, o)
		return err
	})
	p.notify(hosts...)
	return o, err
}

// DeleteOrderTx deletes an order in tx as DeleteOrder does, without its
// checks, for the move engine's cleanup of a limbo order; it returns the
// hosts to wake once tx is committed.
func (p *Panel) DeleteOrderTx(ctx context.Context, tx store.Tx, c Caller, o model.Order) ([]string, error) {
	return p.deleteOrderTx(ctx, tx, c, o)
}

// deleteOrderTx marks an order deleted, its live items pending-delete, and
// queues the removal of its directory; it returns the hosts to wake.
func (p *Panel) deleteOrderTx(ctx context.Context, tx store.Tx, c Caller, o model.Order) ([]string, error) {
	items, err := tx.ListItems(ctx, store.ItemFilter{OrderID: o.ID})
	if err != nil {
		return nil, err
	}
	hosts := []string{o.Host}
	var blocked []model.Item
	for _, it := range items {
		if it.State == model.StateDeleted || it.State == model.StatePendingDelete {
			continue
		}
		if model.CheckTransition(it.State, model.StatePendingDelete, model.ByControlPlane) != nil {
			blocked = append(blocked, it)
			continue
		}
		if err := p.setStateTx(ctx, tx, c, &it, model.StatePendingDelete, model.ByControlPlane); err != nil {
			return nil, fmt.Errorf("order %s: item %d: %w", o.Identifier, it.ID, err)
		}
		if err := p.settleTx(ctx, tx, c, &it); err != nil {
			return nil, fmt.Errorf("order %s: item %d: %w", o.Identifier, it.ID, err)
		}
		if it.Host != "" {
			hosts = append(hosts, it.Host)
		}
	}
	if len(blocked) > 0 {
		return nil, refused("order %s cannot be deleted yet:%s", o.Identifier, blockers(blocked, itemTodo))
	}
	before := o
	o.State = model.OrderDeleted
	o.UpdatedAt = p.Now()
	if err := tx.UpdateOrder(ctx, &o); err != nil {
		return nil, err
	}
	task := &model.Task{Host: o.Host, Kind: TaskRemoveOrderDir, Payload: mustJSON(o), State: model.TaskQueued, CreatedAt: p.Now(), UpdatedAt: p.Now()}
	if err := tx.CreateTask(ctx, task); err != nil {
		return nil, err
	}
	return hosts, p.audit(ctx, tx, c, AuditOrderDelete, fmt.Sprintf("order/%d", o.ID), o.ID, before, o)
}

// TaskRemoveOrderDir is the node task that removes a deleted order's
// directory; see wire.TaskRemoveOrderDir.
const TaskRemoveOrderDir = wire.TaskRemoveOrderDir
