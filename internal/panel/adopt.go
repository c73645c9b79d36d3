package panel

import (
	"context"
	"fmt"
	"slices"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// AdoptResult says what AdoptDatabases made and what it left.
type AdoptResult = wire.AdoptResult

// AdoptDatabases turns the MariaDB databases that order ref's app configs
// name (wp-config.php, settings.php, configuration.php, .env, as the
// host's node last measured), that exist on the order's host and that no
// item registers, into mysql-db items of the order, so that a move copies
// them and cleanup and later moves know them. The node's apply of such an
// item finds the database there and keeps it as it is. Admins only: the
// names come from the member's files. What it cannot adopt it says, each
// with why: PostgreSQL databases (their owner's login is not ferry's to
// set), databases not on the host, and names the ownership rules refuse.
func (p *Panel) AdoptDatabases(ctx context.Context, c Caller, ref string) (AdoptResult, error) {
	if !c.IsAdmin() {
		return AdoptResult{}, forbidden("only admins adopt databases (a %s token cannot)", c.Role)
	}
	var o model.Order
	var items []model.Item
	var usage *model.HostUsage
	err := p.view(ctx, func(tx store.Tx) error {
		var err error
		if o, err = ResolveOrder(ctx, tx, ref); err != nil {
			return err
		}
		if items, err = tx.ListItems(ctx, store.ItemFilter{OrderID: o.ID}); err != nil {
			return err
		}
		usage, err = tx.HostUsage(ctx, o.Host)
		return err
	})
	if err != nil {
		return AdoptResult{}, err
	}
	ou, ok := usage.Order(model.OrderDir(o.Member, o.Identifier))
	if !ok {
		return AdoptResult{}, refused("the node of %s has not measured order %s yet; wait a few minutes (ferry node --usage-every) and try again", o.Host, o.Identifier)
	}
	res := AdoptResult{Adopted: []model.Item{}}
	seen := map[string]bool{}
	for _, d := range ou.AppDatabases {
		key := d.Engine + "/" + d.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		registered := slices.ContainsFunc(items, func(it model.Item) bool { return it.IsDatabase(d.Engine, d.Name) })
		switch _, onHost := usage.Database(d.Engine, d.Name); {
		case registered:
			continue
		case d.Engine != "mysql":
			res.Left = append(res.Left, fmt.Sprintf("%s database %s (named by %s): not adopted; add a pgsql-db item for it by hand (its owner's login is not ferry's to set)", d.Engine, d.Name, d.Config))
			continue
		case !onHost:
			res.Left = append(res.Left, fmt.Sprintf("mysql database %s (named by %s): not on %s", d.Name, d.Config, o.Host))
			continue
		}
		it, err := p.CreateItem(ctx, c, ItemInput{Order: o.Identifier, Kind: model.KindMySQLDB, Spec: model.Spec{Name: d.Name}})
		if err != nil {
			res.Left = append(res.Left, fmt.Sprintf("mysql database %s (named by %s): %v", d.Name, d.Config, err))
			continue
		}
		res.Adopted = append(res.Adopted, it)
	}
	return res, nil
}
