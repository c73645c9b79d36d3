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

// A name that an item claims on a shared host or in a shared zone (a
// server name, a DNS record) belongs to the member whose order holds the
// most specific domain above it: an order holds its identifier and the
// domains added to it, and no domain is held by two members.

// holdName refuses name unless order o holds the most specific claimed
// domain at or above it. field names the input for the error.
func holdName(ctx context.Context, tx store.Tx, o model.Order, field, name string) error {
	claims, err := tx.DomainClaims(ctx, model.Suffixes(name))
	if err != nil {
		return err
	}
	for _, d := range model.Suffixes(name) {
		var holders []model.DomainClaim
		for _, c := range claims {
			if c.Domain == d {
				holders = append(holders, c)
			}
		}
		if len(holders) == 0 {
			continue
		}
		if slices.ContainsFunc(holders, func(c model.DomainClaim) bool { return c.OrderID == o.ID }) {
			return nil
		}
		if slices.ContainsFunc(holders, func(c model.DomainClaim) bool { return c.Member == o.Member }) {
			return &model.FieldError{Field: field, Message: fmt.Sprintf("%q lies under %s, which another order of this member holds (%s); add the item to that order", name, d, holders[0].Order)}
		}
		return &model.FieldError{Field: field, Message: fmt.Sprintf("%q lies under %s, which another member's order holds: it is not %s's to claim", name, d, o.Identifier)}
	}
	return &model.FieldError{Field: field, Message: fmt.Sprintf("%q is not under any domain of order %s; add the domain to the order first (ferry order domain add %s DOMAIN)", name, o.Identifier, o.Identifier)}
}

// claimableDomain refuses a domain that order o may not take: a public
// suffix, or one at or under a domain another member holds.
func claimableDomain(ctx context.Context, tx store.Tx, o model.Order, field, raw string) (string, error) {
	d, err := model.ValidateClaimableDomain(raw)
	if err != nil {
		return "", &model.FieldError{Field: field, Message: err.Error()}
	}
	claims, err := tx.DomainClaims(ctx, model.Suffixes(d))
	if err != nil {
		return "", err
	}
	for _, c := range claims {
		if c.Member != o.Member {
			if c.Domain == d {
				return "", &model.FieldError{Field: field, Message: fmt.Sprintf("%s is held by another member's order", d)}
			}
			return "", &model.FieldError{Field: field, Message: fmt.Sprintf("%s lies under %s, which another member's order holds", d, c.Domain)}
		}
	}
	return d, nil
}

// checkOwnership applies the rules that keep one member's item off what is
// another member's: names within the order's domains, DNS only in the
// co-op's zones and as the DNS node will serve it, a pgsql owner role of
// the same order only, no system login of the host.
func (p *Panel) checkOwnership(ctx context.Context, tx store.Tx, o model.Order, it model.Item) error {
	if it.Kind == model.KindDNS {
		// A record outside the co-op's zones is refused before its name
		// is looked at.
		if err := checkZone(ctx, tx, it.Spec.Zone); err != nil {
			return err
		}
	}
	for _, n := range it.Spec.Names(it.Kind) {
		if err := holdName(ctx, tx, o, model.KindInfoOf(it.Kind).NamesField, n); err != nil {
			return err
		}
	}
	if rule := ownershipRules[it.Kind]; rule != nil {
		return rule(ctx, tx, o, it)
	}
	return nil
}

// ownershipRules are the rules of checkOwnership that only one kind has,
// checked after the item's names are known to be the order's.
var ownershipRules = map[model.Kind]func(ctx context.Context, tx store.Tx, o model.Order, it model.Item) error{
	model.KindDNS: func(ctx context.Context, tx store.Tx, _ model.Order, it model.Item) error {
		return checkCNAME(ctx, tx, it)
	},
	model.KindPgSQLDB:      checkPgSQLOwner,
	model.KindUserAccount:  checkSystemLogin,
	model.KindEmailAddress: checkMailLoop,
}

// checkZone refuses a DNS record in a zone the co-op does not serve.
func checkZone(ctx context.Context, tx store.Tx, zone string) error {
	if _, err := tx.GetZone(ctx, zone); errors.Is(err, store.ErrNotFound) {
		return &model.FieldError{Field: "spec.zone", Message: fmt.Sprintf("%s is not a zone the co-op serves (an admin adds it with ferry zone add)", zone)}
	} else if err != nil {
		return err
	}
	return nil
}

// checkPgSQLOwner keeps a pgsql-db's owner role to roles of its own order.
func checkPgSQLOwner(ctx context.Context, tx store.Tx, o model.Order, it model.Item) error {
	dbs, err := tx.ListItems(ctx, store.ItemFilter{Kind: model.KindPgSQLDB})
	if err != nil {
		return err
	}
	for _, x := range dbs {
		if x.ID == it.ID || x.State == model.StateDeleted || x.OrderID == o.ID {
			continue
		}
		if x.Spec.Owner == it.Spec.Owner || x.Spec.Name == it.Spec.Owner {
			return &model.FieldError{Field: "spec.owner", Message: fmt.Sprintf("role %q belongs to another order's database; a pgsql-db may be owned only by a role of its own order", it.Spec.Owner)}
		}
	}
	return nil
}

// checkSystemLogin refuses a user-account named as a system user or group
// of its host.
func checkSystemLogin(ctx context.Context, tx store.Tx, _ model.Order, it model.Item) error {
	names, err := tx.SystemNames(ctx, it.Host)
	if err != nil {
		return err
	}
	if slices.Contains(names, it.Spec.Login) {
		return &model.FieldError{Field: "spec.login", Message: fmt.Sprintf("%q is a system user or group of host %s", it.Spec.Login, it.Host)}
	}
	return nil
}

// checkCNAME enforces RFC 1034 §3.6.2 as the DNS node does: a name with a
// CNAME holds nothing else.
func checkCNAME(ctx context.Context, tx store.Tx, it model.Item) error {
	others, err := tx.ItemsNamed(ctx, it.Spec.FQDN)
	if err != nil {
		return err
	}
	for _, x := range others {
		if x.ID == it.ID || x.Kind != model.KindDNS || x.State == model.StatePendingDelete || x.Spec.FQDN != it.Spec.FQDN {
			continue
		}
		if it.Spec.Type == model.RRCNAME || x.Spec.Type == model.RRCNAME {
			return &model.FieldError{Field: "spec.type", Message: fmt.Sprintf("%s already has a %s record (item %d); a CNAME must be the only record of its name (RFC 1034 3.6.2)", it.Spec.FQDN, x.Spec.Type, x.ID)}
		}
	}
	return nil
}

// grantsOn lists the live mysql-users of order o granted on database db.
func grantsOn(ctx context.Context, tx store.Tx, o int64, db string) ([]model.Item, error) {
	users, err := tx.ListItems(ctx, store.ItemFilter{OrderID: o, Kind: model.KindMySQLUser})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(users, func(u model.Item) bool {
		return !u.State.Live() || u.State == model.StatePendingDelete || !slices.Contains(u.Spec.Databases, db)
	}), nil
}

// blockers formats the items that stand in the way of a change, one line
// each, with what to do about them.
func blockers(items []model.Item, todo func(model.Item) string) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "\n  - item %d (%s %s, %s): %s", it.ID, it.Kind, itemLabel(it), it.State, todo(it))
	}
	return b.String()
}

// itemLabel is the name an item is known by, for messages.
func itemLabel(it model.Item) string {
	ids := it.Spec.Identities(it.Kind)
	if len(ids) == 0 {
		return ""
	}
	_, name, _ := strings.Cut(ids[0], ":")
	return name
}

// checkMailLoop refuses an email-address whose forwards lead back to it
// through the co-op's other addresses: the mail servers would pass each
// message round until its hop count ran out, then bounce it. The message
// names only the forward given and the address, both the caller's own
// words: the addresses in between may be another member's.
func checkMailLoop(ctx context.Context, tx store.Tx, _ model.Order, it model.Item) error {
	if len(it.Spec.Forward) == 0 {
		return nil
	}
	all, err := tx.ListItems(ctx, store.ItemFilter{Kind: model.KindEmailAddress})
	if err != nil {
		return err
	}
	forwards := map[string][]string{}
	for _, x := range all {
		if x.ID == it.ID || !x.State.Live() || x.State == model.StatePendingDelete {
			continue
		}
		forwards[x.Spec.Address] = append(forwards[x.Spec.Address], x.Spec.Forward...)
	}
	for _, first := range it.Spec.Forward {
		seen := map[string]bool{first: true}
		queue := []string{first}
		for len(queue) > 0 {
			a := queue[0]
			queue = queue[1:]
			if a == it.Spec.Address {
				return &model.FieldError{Field: "spec.forward", Message: fmt.Sprintf("makes a mail loop: mail forwarded to %s comes back to %s", first, it.Spec.Address)}
			}
			for _, next := range forwards[a] {
				if !seen[next] {
					seen[next] = true
					queue = append(queue, next)
				}
			}
		}
	}
	return nil
}
