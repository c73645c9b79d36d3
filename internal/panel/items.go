package panel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/wire"
)

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// forCaller returns the item as c may see it: secrets redacted for all but
// the node that applies it.
func forCaller(c Caller, it model.Item) model.Item {
	if c.Role != model.RoleNode {
		it.Spec = it.Spec.Redacted()
	}
	return it
}

// mayWriteOrder says whether c may change items of order o, which c named
// ref. Another member's order answers as one that does not exist.
func mayWriteOrder(c Caller, o model.Order, ref string) error {
	switch {
	case c.IsAdmin():
		return nil
	case c.Role == model.RoleMember && o.Member == c.Member:
		return nil
	case c.Role == model.RoleMember:
		return fmt.Errorf("order %q: %w", ref, store.ErrNotFound)
	}
	return forbidden("a %s token cannot change items", c.Role)
}

// ItemInput is what a caller gives to create an item; see wire.ItemInput.
type ItemInput = wire.ItemInput

// CreateItem adds an item to an order, in pending-insert, and wakes the
// host that will apply it. Host-bound items go to the order's host; dns
// items to the given dns host, or the first active one.
func (p *Panel) CreateItem(ctx context.Context, c Caller, in ItemInput) (model.Item, error) {
	var it model.Item
	err := p.store.Update(ctx, func(tx store.Tx) error {
		o, err := ResolveOrder(ctx, tx, in.Order)
		if err != nil {
			return err // not found, as order show says, and as a member is told of another member's order
		}
		if err := mayManageItems(ctx, tx, c, o, in.Order, in.Kind); err != nil {
			return err
		}
		if o.State != model.OrderActive {
			return refused("order %s (id %d) is %s: items cannot be added to it", o.Identifier, o.ID, o.State)
		}
		it = model.Item{OrderID: o.ID, Kind: in.Kind, Spec: in.Spec, CreatedAt: p.Now(), UpdatedAt: p.Now()}
		if err := it.Spec.Normalize(in.Kind, o.Identifier); err != nil {
			return err
		}
		if err := checkHTTPS(it, p.Now()); err != nil {
			return err
		}
		if it.Host, err = itemHost(ctx, tx, o, in.Kind, in.Host); err != nil {
			return err
		}
		if err := p.checkReferences(ctx, tx, o, it); err != nil {
			return err
		}
		if err := p.checkOwnership(ctx, tx, o, it); err != nil {
			return err
		}
		if err := settlePHP(ctx, tx, &it); err != nil {
			return err
		}
		if it.Kind == model.KindOrderAccess {
			if err := checkAccessGrant(ctx, tx, o, it); err != nil {
				return err
			}
		}
		if err := p.insertItemTx(ctx, tx, c, &it); err != nil {
			return err
		}
		return p.settleTx(ctx, tx, c, &it)
	})
	if err != nil {
		return model.Item{}, err
	}
	p.notify(it.Host)
	return forCaller(c, it), nil
}

// insertItemTx stores a new item in pending-insert after the uniqueness rule.
func (p *Panel) insertItemTx(ctx context.Context, tx store.Tx, c Caller, it *model.Item) error {
	if err := model.CheckTransition(model.StateNone, model.StatePendingInsert, model.ByControlPlane); err != nil {
		return err
	}
	it.State = model.StatePendingInsert
	if err := checkUnique(ctx, tx, *it); err != nil {
		return err
	}
	if err := tx.CreateItem(ctx, it); err != nil {
		return err
	}
	return p.audit(ctx, tx, c, AuditItemCreate, fmt.Sprintf("item/%d", it.ID), it.OrderID, nil, it)
}

// InsertItem stores a new item in tx (the move engine's copies), applying
// the same rules as CreateItem except order ownership.
func (p *Panel) InsertItem(ctx context.Context, tx store.Tx, c Caller, it *model.Item) error {
	it.CreatedAt, it.UpdatedAt = p.Now(), p.Now()
	return p.insertItemTx(ctx, tx, c, it)
}

func itemHost(ctx context.Context, tx store.Tx, o model.Order, k model.Kind, want string) (string, error) {
	if model.KindInfoOf(k).ControlPlane {
		if want != "" {
			return "", &model.FieldError{Field: "host", Message: fmt.Sprintf("a %s item lives on no host", k)}
		}
		return "", nil
	}
	if k.HostBound() {
		if want != "" && want != o.Host {
			return "", &model.FieldError{Field: "host", Message: fmt.Sprintf("a %s item lives on its order's host %q", k, o.Host)}
		}
		return o.Host, nil
	}
	hosts, err := tx.ListHosts(ctx)
	if err != nil {
		return "", err
	}
	for _, h := range hosts {
		if h.HasRole(model.RoleDNS) && h.State == model.HostActive && (want == "" || h.Name == want) {
			return h.Name, nil
		}
	}
	if want != "" {
		return "", &model.FieldError{Field: "host", Message: fmt.Sprintf("%q is not an active dns host", want)}
	}
	return "", &model.FieldError{Field: "host", Message: "there is no active host with the dns role to serve this record"}
}

// checkReferences makes sure the logins and databases an item names belong
// to the same order: a site, a job or a grant cannot use another member's
// account or database.
func (p *Panel) checkReferences(ctx context.Context, tx store.Tx, o model.Order, it model.Item) error {
	refs := it.Spec.Requires(it.Kind)
	if len(refs) == 0 {
		return nil
	}
	items, err := tx.ListItems(ctx, store.ItemFilter{OrderID: o.ID})
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for _, x := range items {
		if !x.State.Live() || x.State == model.StatePendingDelete {
			continue
		}
		for _, id := range x.Spec.Identities(x.Kind) {
			held[id] = true
		}
	}
	for _, r := range refs {
		if !held[r.Identity] {
			return &model.FieldError{Field: r.Field, Message: fmt.Sprintf("order %s has no %s %q; add it first", o.Identifier, r.Kind, r.Name)}
		}
	}
	return nil
}

func checkUnique(ctx context.Context, tx store.Tx, it model.Item) error {
	return checkUniqueMany(ctx, tx, []*model.Item{&it})
}

// GetItem returns an item if c may see it.
func (p *Panel) GetItem(ctx context.Context, c Caller, id int64) (model.Item, error) {
	var it model.Item
	// An admin's or a node's read is one statement (the node's check is
	// the item's own host), which needs no transaction; a member's also
	// reads the item's order, and perhaps the access given to its login,
	// which must all be of one snapshot.
	read := p.view
	if c.Role == model.RoleAdmin || c.Role == model.RoleNode {
		read = p.store.Read
	}
	err := read(ctx, func(tx store.Tx) error {
		var err error
		it, err = p.readableItem(ctx, tx, c, id)
		return err
	})
	return forCaller(c, it), err
}

func (p *Panel) readableItem(ctx context.Context, tx store.Tx, c Caller, id int64) (model.Item, error) {
	it, err := tx.GetItem(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// The same words as for another member's item below.
		return it, fmt.Errorf("item %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return it, err
	}
	switch c.Role {
	case model.RoleAdmin:
		return it, nil
	case model.RoleNode:
		if it.Host == c.Host {
			return it, nil
		}
		return model.Item{}, forbidden("item %d is not on host %q", id, c.Host)
	case model.RoleMember:
		o, err := tx.GetOrder(ctx, it.OrderID)
		if err != nil {
			return model.Item{}, err
		}
		if o.Member == c.Member {
			return it, nil
		}
		if ok, err := hasAccess(ctx, tx, c, o.ID); err != nil || ok {
			return it, err
		}
	}
	return model.Item{}, fmt.Errorf("item %d: %w", id, store.ErrNotFound)
}

// ListItems lists items matching f; members see only their orders' items,
// nodes only their host's.
func (p *Panel) ListItems(ctx context.Context, c Caller, f store.ItemFilter) ([]model.Item, error) {
	switch c.Role {
	case model.RoleAdmin:
	case model.RoleMember:
		if f.OrderID != 0 {
			// An order shared with c's login lists all its items.
			var shared bool
			if err := p.view(ctx, func(tx store.Tx) (err error) { shared, err = hasAccess(ctx, tx, c, f.OrderID); return err }); err != nil {
				return nil, err
			}
			if shared {
				break
			}
		}
		f.Member = c.Member
	case model.RoleNode:
		if f.Host != "" && f.Host != c.Host {
			return nil, forbidden("a node token lists only its own host's items")
		}
		f.Host = c.Host
	}
	var items []model.Item
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		items, err = tx.ListItems(ctx, f)
		return err
	})
	for i := range items {
		items[i] = forCaller(c, items[i])
	}
	return items, err
}

// UpdateItem changes an item's spec: an active or disabled item goes to
// pending-update, a soft-error one to pending-restore. A password left out
// keeps the stored hash. Limbo items cannot be modified.
func (p *Panel) UpdateItem(ctx context.Context, c Caller, id int64, spec model.Spec) (model.Item, error) {
	var it model.Item
	err := p.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if it, err = p.writableItem(ctx, tx, c, id); err != nil {
			return err
		}
		o, err := tx.GetOrder(ctx, it.OrderID)
		if err != nil {
			return err
		}
		if spec.Password == "" && spec.PasswordHash == "" {
			spec.PasswordHash = it.Spec.PasswordHash
		}
		spec.KeepKey(it.Spec)
		if err := p.updateSpecTx(ctx, tx, c, o, &it, spec); err != nil {
			return err
		}
		return p.settleTx(ctx, tx, c, &it)
	})
	if err != nil {
		return model.Item{}, err
	}
	p.notify(it.Host)
	return forCaller(c, it), nil
}

// UpdateSpecTx changes an item's spec in tx, for the move engine (the TTLs
// prepare lowers, the A/AAAA records cutover switches, the TTLs cutover and
// abort restore). The spec is checked as UpdateItem checks it (normalized,
// identity kept, references, ownership, uniqueness); the item goes to
// pending-update (pending-restore from soft-error) and the change is
// audited. A refused spec leaves it and the store as they were.
func (p *Panel) UpdateSpecTx(ctx context.Context, tx store.Tx, c Caller, it *model.Item, spec model.Spec) error {
	o, err := tx.GetOrder(ctx, it.OrderID)
	if err != nil {
		return fmt.Errorf("order of item %d: %w", it.ID, err)
	}
	return p.updateSpecTx(ctx, tx, c, o, it, spec)
}

// updateSpecTx gives *it spec after every rule of an update, in tx; *it is
// changed only when the update is stored.
func (p *Panel) updateSpecTx(ctx context.Context, tx store.Tx, c Caller, o model.Order, it *model.Item, spec model.Spec) error {
	next, err := p.checkSpec(ctx, tx, o, *it, spec)
	if err != nil {
		return err
	}
	if err := checkUnique(ctx, tx, next); err != nil {
		return err
	}
	if err := tx.UpdateItem(ctx, &next); err != nil {
		return err
	}
	if err := p.audit(ctx, tx, c, AuditItemUpdate, fmt.Sprintf("item/%d", next.ID), next.OrderID, *it, next); err != nil {
		return err
	}
	*it = next
	return nil
}

// checkSpec returns the item as an update to spec makes it, after every
// rule of an update but uniqueness, which the caller checks.
func (p *Panel) checkSpec(ctx context.Context, tx store.Tx, o model.Order, it model.Item, spec model.Spec) (model.Item, error) {
	next := it
	if err := spec.Normalize(next.Kind, o.Identifier); err != nil {
		return next, err
	}
	if err := checkHTTPS(model.Item{Kind: next.Kind, Spec: spec}, p.Now()); err != nil {
		return it, err
	}
	if err := spec.CheckIdentityKept(next.Kind, it.Spec); err != nil {
		return it, err
	}
	next.Spec = spec
	if err := p.checkReferences(ctx, tx, o, next); err != nil {
		return it, err
	}
	if err := p.checkOwnership(ctx, tx, o, next); err != nil {
		return it, err
	}
	if err := settlePHP(ctx, tx, &next); err != nil {
		return it, err
	}
	to := model.StatePendingUpdate
	if next.State == model.StateSoftError {
		to = model.StatePendingRestore
	}
	if err := model.CheckTransition(next.State, to, model.ByControlPlane); err != nil {
		return it, err
	}
	next.State, next.Message, next.UpdatedAt = to, "", p.Now()
	return next, nil
}

func (p *Panel) writableItem(ctx context.Context, tx store.Tx, c Caller, id int64) (model.Item, error) {
	if c.Role == model.RoleNode {
		return model.Item{}, forbidden("a node token cannot change items; it reports results")
	}
	it, err := p.readableItem(ctx, tx, c, id)
	if err != nil {
		return it, err
	}
	if it.Kind == model.KindOrderAccess && c.Role == model.RoleMember {
		o, err := tx.GetOrder(ctx, it.OrderID)
		if err != nil {
			return it, err
		}
		if o.Member != c.Member {
			return it, forbidden("access to order %s is given and revoked by its member or an admin", o.Identifier)
		}
	}
	if it.State == model.StateTransferLimbo {
		return it, refused("item %d is in transfer-limbo (its order is being moved): it cannot be modified, only deleted by the move's cleanup", id)
	}
	return it, nil
}

// SetItemState makes a control-plane transition (pending-delete,
// pending-disable, pending-update to re-enable, pending-restore to retry).
func (p *Panel) SetItemState(ctx context.Context, c Caller, id int64, to model.State) (model.Item, error) {
	var it model.Item
	err := p.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if it, err = p.writableItem(ctx, tx, c, id); err != nil {
			return err
		}
		if to == model.StatePendingDelete {
			if err := checkNotGranted(ctx, tx, it); err != nil {
				return err
			}
		}
		if err := p.setStateTx(ctx, tx, c, &it, to, model.ByControlPlane); err != nil {
			return err
		}
		return p.settleTx(ctx, tx, c, &it)
	})
	if err != nil {
		return model.Item{}, err
	}
	p.notify(it.Host)
	return forCaller(c, it), nil
}

// SetStateTx makes a transition in tx, for the move engine.
func (p *Panel) SetStateTx(ctx context.Context, tx store.Tx, c Caller, it *model.Item, to model.State) error {
	return p.setStateTx(ctx, tx, c, it, to, model.ByControlPlane)
}

func (p *Panel) setStateTx(ctx context.Context, tx store.Tx, c Caller, it *model.Item, to model.State, by model.Actor) error {
	if !to.Valid() {
		return &model.FieldError{Field: "state", Message: fmt.Sprintf("unknown state %q", to)}
	}
	if err := model.CheckTransition(it.State, to, by); err != nil {
		return err
	}
	before := *it
	it.State, it.UpdatedAt = to, p.Now()
	if by == model.ByControlPlane {
		it.Message = ""
	}
	if err := tx.UpdateItem(ctx, it); err != nil {
		return err
	}
	return p.audit(ctx, tx, c, AuditItemState, fmt.Sprintf("item/%d", it.ID), it.OrderID, before.State, it.State)
}

// checkNotGranted refuses to delete a mysql-db that a live
// mysql-user of its order is still granted on: MariaDB keeps
// database-level grants after DROP DATABASE, so a database of the same
// name made later, by anyone, would be that user's.
func checkNotGranted(ctx context.Context, tx store.Tx, it model.Item) error {
	if it.Kind != model.KindMySQLDB {
		return nil
	}
	users, err := grantsOn(ctx, tx, it.OrderID, it.Spec.Name)
	if err != nil || len(users) == 0 {
		return err
	}
	return refused("mysql-db %s cannot be deleted while users are granted on it:%s", it.Spec.Name,
		blockers(users, func(u model.Item) string {
			return fmt.Sprintf("remove %s from its databases (ferry item update %d --database …) or delete it (ferry item delete %d)", it.Spec.Name, u.ID, u.ID)
		}))
}

// ForgetItem ends the control plane's record of an item without its node:
// for an item whose host is gone or broken, so that its order or host can
// be deleted. Nothing is undone on the host; the item's message says what
// may be left there. Admins only; audited.
func (p *Panel) ForgetItem(ctx context.Context, c Caller, id int64) (model.Item, error) {
	if !c.IsAdmin() {
		return model.Item{}, forbidden("only admins forget items")
	}
	var it model.Item
	err := p.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if it, err = tx.GetItem(ctx, id); err != nil {
			return fmt.Errorf("item %d: %w", id, err)
		}
		if err := model.CheckForget(it.State); err != nil {
			return refused("item %d %v", id, err)
		}
		before := it
		it.State, it.UpdatedAt = model.StateDeleted, p.Now()
		it.Message = fmt.Sprintf("forgotten by %s while %s; may be left on host %s: %s", c.Name, before.State, it.Host, it.LeftBehind())
		if err := tx.UpdateItem(ctx, &it); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditItemForget, fmt.Sprintf("item/%d", it.ID), it.OrderID, before, it)
	})
	if err != nil {
		return model.Item{}, err
	}
	return forCaller(c, it), nil
}
