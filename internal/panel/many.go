package panel

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"ferry/internal/model"
	"ferry/internal/store"
)

// The many-item forms of the panel's Tx operations, for a move's prepare
// (and its cutover and abort), which changes every item of an order in one
// transaction. Each applies the rules its one-item form does, in the same
// order and with the same outcome as calling that form for each item in
// turn, and then writes the items and their audit entries in a few
// statements (store.Tx's CreateItems, UpdateItems, AppendAudits) rather
// than a few for every item.

// ItemsError is the error of a many-item operation that one of its items
// failed: Index is that item's place among the items given, so that the
// caller can name it as it names items.
type ItemsError struct {
	Index int
	Err   error
}

func (e *ItemsError) Error() string { return e.Err.Error() }
func (e *ItemsError) Unwrap() error { return e.Err }

// SetStatesTx is SetStateTx for several items: every transition is
// checked, then all are stored, or none.
func (p *Panel) SetStatesTx(ctx context.Context, tx store.Tx, c Caller, items []*model.Item, to model.State) error {
	if !to.Valid() {
		return &model.FieldError{Field: "state", Message: fmt.Sprintf("unknown state %q", to)}
	}
	next := make([]model.Item, len(items))
	entries := make([]*model.AuditEntry, len(items))
	for i, it := range items {
		if err := model.CheckTransition(it.State, to, model.ByControlPlane); err != nil {
			return &ItemsError{i, err}
		}
		next[i] = *it
		next[i].State, next[i].UpdatedAt, next[i].Message = to, p.Now(), ""
		entries[i] = p.auditEntry(c, AuditItemState, fmt.Sprintf("item/%d", it.ID), it.OrderID, it.State, to)
	}
	if err := tx.UpdateItems(ctx, pointers(next)); err != nil {
		return err
	}
	if err := tx.AppendAudits(ctx, entries); err != nil {
		return err
	}
	for i := range items {
		*items[i] = next[i]
	}
	return nil
}

// InsertItems is InsertItem for several items: the rules are checked for
// each, a later item seeing the earlier ones as InsertItem would, then all
// are stored, or none.
func (p *Panel) InsertItems(ctx context.Context, tx store.Tx, c Caller, items []*model.Item) error {
	for _, it := range items {
		if err := model.CheckTransition(model.StateNone, model.StatePendingInsert, model.ByControlPlane); err != nil {
			return err
		}
		it.State, it.CreatedAt, it.UpdatedAt = model.StatePendingInsert, p.Now(), p.Now()
	}
	if err := checkUniqueMany(ctx, tx, items); err != nil {
		return err
	}
	if err := tx.CreateItems(ctx, items); err != nil {
		return err
	}
	entries := make([]*model.AuditEntry, len(items))
	for i, it := range items {
		entries[i] = p.auditEntry(c, AuditItemCreate, fmt.Sprintf("item/%d", it.ID), it.OrderID, nil, it)
	}
	return tx.AppendAudits(ctx, entries)
}

// UpdateSpecsTx is UpdateSpecTx for several dns items, items[i] getting
// specs[i]: every rule is checked for each, then all are stored, or none.
// It takes dns items only: the rules a dns record is checked by (its
// zone, the domains of its order, a CNAME alone at its name, its identity)
// never depend on another record's TTL or value, so checking every record
// before any is written gives what updating them one by one would. Other
// kinds' rules read their order's other items (references, owners, mail
// forwards), which a batch would write only at its end.
func (p *Panel) UpdateSpecsTx(ctx context.Context, tx store.Tx, c Caller, items []*model.Item, specs []model.Spec) error {
	if len(items) != len(specs) {
		return fmt.Errorf("update specs: %d items, %d specs", len(items), len(specs))
	}
	orders := map[int64]model.Order{}
	reads := &batchReads{Tx: tx, zones: map[string]error{}}
	var names, fqdns []string
	for i, it := range items {
		if it.Kind != model.KindDNS {
			return &ItemsError{i, fmt.Errorf("a %s item: only dns items are updated together", it.Kind)}
		}
		if _, ok := orders[it.OrderID]; !ok {
			o, err := tx.GetOrder(ctx, it.OrderID)
			if err != nil {
				return fmt.Errorf("order of item %d: %w", it.ID, err)
			}
			orders[it.OrderID] = o
		}
		spec := specs[i]
		if err := spec.Normalize(it.Kind, orders[it.OrderID].Identifier); err == nil {
			for _, n := range spec.Names(it.Kind) {
				names = append(names, model.Suffixes(n)...)
			}
			fqdns = append(fqdns, spec.FQDN)
		}
	}
	if err := reads.readAhead(ctx, names, fqdns); err != nil {
		return err
	}
	next := make([]model.Item, len(items))
	for i, it := range items {
		n, err := p.checkSpec(ctx, reads, orders[it.OrderID], *it, specs[i])
		if err != nil {
			return &ItemsError{i, err}
		}
		next[i] = n
	}
	if err := checkUniqueMany(ctx, tx, pointers(next)); err != nil {
		return err
	}
	if err := tx.UpdateItems(ctx, pointers(next)); err != nil {
		return err
	}
	entries := make([]*model.AuditEntry, len(items))
	for i, it := range items {
		entries[i] = p.auditEntry(c, AuditItemUpdate, fmt.Sprintf("item/%d", it.ID), it.OrderID, *it, next[i])
	}
	if err := tx.AppendAudits(ctx, entries); err != nil {
		return err
	}
	for i := range items {
		*items[i] = next[i]
	}
	return nil
}

// batchReads answers the reads of UpdateSpecsTx's rules that its own
// writes cannot change from what it read once: the co-op's zones, the
// orders' domain claims, and the items at the records' names (the CNAME
// rule looks at their kind, name, type and whether they are being
// deleted, none of which a dns update changes). Every other read goes to
// the transaction.
type batchReads struct {
	store.Tx
	zones  map[string]error
	claims map[string][]model.DomainClaim
	named  map[string][]model.Item
}

// readAhead reads the claims on every one of domains and the items at
// every one of names at once.
func (b *batchReads) readAhead(ctx context.Context, domains, names []string) error {
	slices.Sort(domains)
	domains = slices.Compact(domains)
	all, err := b.Tx.DomainClaims(ctx, domains)
	if err != nil {
		return err
	}
	b.claims = map[string][]model.DomainClaim{}
	for _, d := range domains {
		b.claims[d] = []model.DomainClaim{}
	}
	for _, c := range all {
		b.claims[c.Domain] = append(b.claims[c.Domain], c)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	named, err := b.Tx.ItemsNamedAny(ctx, names)
	if err != nil {
		return err
	}
	b.named = map[string][]model.Item{}
	for _, n := range names {
		b.named[n] = append([]model.Item{}, named[n]...)
	}
	return nil
}

func (b *batchReads) ItemsNamed(ctx context.Context, name string) ([]model.Item, error) {
	if items, ok := b.named[name]; ok {
		return slices.Clone(items), nil
	}
	return b.Tx.ItemsNamed(ctx, name) // not read ahead
}

func (b *batchReads) DomainClaims(ctx context.Context, domains []string) ([]model.DomainClaim, error) {
	var out []model.DomainClaim
	for _, d := range domains {
		cs, ok := b.claims[d]
		if !ok {
			return b.Tx.DomainClaims(ctx, domains) // not read ahead
		}
		out = append(out, cs...)
	}
	slices.SortFunc(out, func(a, b model.DomainClaim) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.OrderID, b.OrderID))
	})
	return out, nil
}

func (b *batchReads) GetZone(ctx context.Context, name string) (model.Zone, error) {
	if err, ok := b.zones[name]; ok {
		return model.Zone{Name: name}, err
	}
	z, err := b.Tx.GetZone(ctx, name)
	b.zones[name] = err
	return z, err
}

// checkUniqueMany is checkUnique for several items, as if each were
// written before the next is checked: the holders of all their identities
// are read (and locked) at once, and each item, once checked, holds its
// identities in place of those it held before.
func checkUniqueMany(ctx context.Context, tx store.Tx, items []*model.Item) error {
	var all []string
	for _, it := range items {
		all = append(all, it.Spec.Identities(it.Kind)...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	holders, err := tx.HoldersOfAny(ctx, all)
	if err != nil {
		return err
	}
	held := map[int64][]string{} // the identities each holder holds
	for id, hs := range holders {
		for _, h := range hs {
			held[h.ItemID] = append(held[h.ItemID], id)
		}
	}
	for k, it := range items {
		// An item not stored yet holds its identities as -(k+1) until
		// the end of the check.
		self := it.ID
		if self == 0 {
			self = -int64(k + 1)
		}
		mine := func(h model.Holder) bool { return h.ItemID == self }
		ids := it.Spec.Identities(it.Kind)
		for _, id := range ids {
			others := slices.DeleteFunc(slices.Clone(holders[id]), mine)
			if err := model.CheckUnique(id, it.State, others); err != nil {
				if slices.ContainsFunc(others, func(h model.Holder) bool { return h.ItemID < 0 }) {
					err = fmt.Errorf("%w: %s is claimed by two of the items given", model.ErrDuplicate, id)
				}
				return &ItemsError{k, err}
			}
		}
		for _, id := range held[self] {
			holders[id] = slices.DeleteFunc(holders[id], mine)
		}
		held[self] = nil
		if it.State == model.StateDeleted {
			continue // a deleted item holds nothing
		}
		for _, id := range ids {
			if !slices.ContainsFunc(holders[id], mine) {
				holders[id] = append(holders[id], model.Holder{ItemID: self, State: it.State})
				held[self] = append(held[self], id)
			}
		}
	}
	return nil
}

// pointers returns a pointer to each of items.
func pointers(items []model.Item) []*model.Item {
	out := make([]*model.Item, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
