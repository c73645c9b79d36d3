package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/wire"
)

// orderOptions are the flags of the `ferry order` commands.
type orderOptions struct {
	// add: the order to make (its identifier is the first argument).
	order model.Order
	// list: the filters.
	query wire.OrderQuery
	// update: the new member, used when memberSet.
	newMember string
	memberSet bool
}

func newOrderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "order", Short: "Add, list, search, show and delete hosting orders"}
	var opts orderOptions
	run := func(fn func(context.Context, *globals, orderOptions, []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			opts.memberSet = cmd.Flags().Changed("member")
			return fn(cmd.Context(), g, opts, args)
		}
	}
	add := &cobra.Command{
		Use: "add DOMAIN --member M --host H", Short: "Add a hosting order (its identifier is its primary domain)", Args: cobra.ExactArgs(1),
		RunE: run(runOrderAdd),
	}
	add.Flags().StringVar(&opts.order.Member, "member", "", "the member who owns the order")
	add.Flags().StringVar(&opts.order.Host, "host", "", "the web host it lives on")
	list := &cobra.Command{
		Use: "list [--member M] [--host H] [--state S]", Short: "List hosting orders", Args: cobra.NoArgs,
		RunE: run(runOrderList),
	}
	list.Flags().StringVar(&opts.query.Member, "member", "", "only this member's orders")
	list.Flags().StringVar(&opts.query.Host, "host", "", "only orders on this host")
	list.Flags().StringVar(&opts.query.State, "state", "", "active, transfer-limbo or deleted")
	search := &cobra.Command{
		Use: "search TEXT", Short: "Find orders by domain (identifier, server names, DNS names), member or host", Args: cobra.ExactArgs(1),
		RunE: run(runOrderSearch),
	}
	show := &cobra.Command{
		Use: "show ORDER", Short: "Show an order (identifier or id) and its items", Args: cobra.ExactArgs(1),
		RunE: run(runOrderShow),
	}
	update := &cobra.Command{
		Use: "update ORDER --member M", Short: "Hand an order to another member (its host changes only by a move)", Args: cobra.ExactArgs(1),
		RunE: run(runOrderUpdate),
	}
	update.Flags().StringVar(&opts.newMember, "member", "", "the member who owns the order from now on")
	del := &cobra.Command{
		Use: "delete ORDER", Short: "Delete an order: all its items are removed from their hosts, then its directory", Args: cobra.ExactArgs(1),
		RunE: run(runOrderDelete),
	}
	adopt := &cobra.Command{
		Use:   "adopt-databases ORDER",
		Short: "Make mysql-db items of the databases the order's app configs name that no item registers (they exist on its host)",
		Args:  cobra.ExactArgs(1),
		RunE:  run(runOrderAdoptDatabases),
	}
	g.addJSON(add, list, search, show, update, del, adopt)
	cmd.AddCommand(add, list, search, show, update, del, adopt, newOrderDomainCmd(g))
	return cmd
}

// runOrderAdd is `ferry order add DOMAIN`.
func runOrderAdd(ctx context.Context, g *globals, opts orderOptions, args []string) error {
	in := opts.order
	in.Identifier = args[0]
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		o, err := c.CreateOrder(ctx, in)
		return g.show(err, o, func() error { return g.printOrders([]model.Order{o}) })
	})
}

// runOrderList is `ferry order list`.
func runOrderList(ctx context.Context, g *globals, opts orderOptions, _ []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		os, err := c.ListOrders(ctx, opts.query)
		return g.show(err, os, func() error { return g.printOrders(os) })
	})
}

// runOrderSearch is `ferry order search TEXT`.
func runOrderSearch(ctx context.Context, g *globals, _ orderOptions, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		os, err := c.ListOrders(ctx, wire.OrderQuery{Text: args[0]})
		return g.show(err, os, func() error { return g.printOrders(os) })
	})
}

// runOrderShow is `ferry order show ORDER`: the order and its items.
func runOrderShow(ctx context.Context, g *globals, _ orderOptions, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		o, err := c.GetOrder(ctx, args[0])
		if err != nil {
			return err
		}
		items, err := c.ListItems(ctx, wire.ItemQuery{Order: fmt.Sprint(o.ID)})
		view := struct {
			model.Order
			Items []model.Item `json:"items"`
		}{o, items}
		return g.show(err, view, func() error {
			fmt.Fprintf(g.stdout, "order %d  %s  member %s  host %s  %s\n\n", o.ID, o.Identifier, o.Member, o.Host, o.State)
			return g.printItems(items)
		})
	})
}

// runOrderUpdate is `ferry order update ORDER`.
func runOrderUpdate(ctx context.Context, g *globals, opts orderOptions, args []string) error {
	var patch panel.OrderPatch
	if opts.memberSet {
		patch.Member = &opts.newMember
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		o, err := c.UpdateOrder(ctx, args[0], patch)
		return g.show(err, o, func() error { return g.printOrders([]model.Order{o}) })
	})
}

// runOrderDelete is `ferry order delete ORDER`.
func runOrderDelete(ctx context.Context, g *globals, _ orderOptions, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		o, err := c.DeleteOrder(ctx, args[0])
		return g.show(err, o, func() error {
			fmt.Fprintf(g.stdout, "order %s (id %d) deleted; its items are being removed from their hosts\n", o.Identifier, o.ID)
			return nil
		})
	})
}

// runOrderAdoptDatabases is `ferry order adopt-databases ORDER`.
func runOrderAdoptDatabases(ctx context.Context, g *globals, _ orderOptions, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		res, err := c.AdoptDatabases(ctx, args[0])
		return g.show(err, res, func() error {
			for _, it := range res.Adopted {
				fmt.Fprintf(g.stdout, "adopted: item %d (mysql-db %s) on %s, %s\n", it.ID, it.Spec.Name, it.Host, it.State)
			}
			for _, l := range res.Left {
				fmt.Fprintf(g.stdout, "not adopted: %s\n", l)
			}
			if len(res.Adopted) == 0 && len(res.Left) == 0 {
				fmt.Fprintln(g.stdout, "every database the order's app configs name is registered")
			}
			return nil
		})
	})
}

// newOrderDomainCmd is `ferry order domain`: the domains an order holds,
// under which its items may claim server names and DNS records.
func newOrderDomainCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "List, add and remove the domains an order holds (its items' names lie under them)"}
	list := &cobra.Command{Use: "list ORDER", Short: "List the order's domains, its identifier first", Args: cobra.ExactArgs(1),
		RunE: clientRun(g, runOrderDomainList)}
	add := &cobra.Command{Use: "add ORDER DOMAIN", Short: "Let the order hold a domain (not a public suffix, nor one another member holds)", Args: cobra.ExactArgs(2),
		RunE: clientRun(g, runOrderDomainAdd)}
	remove := &cobra.Command{Use: "remove ORDER DOMAIN", Short: "Drop a domain the order's items no longer use", Args: cobra.ExactArgs(2),
		RunE: clientRun(g, runOrderDomainRemove)}
	g.addJSON(list, add, remove)
	cmd.AddCommand(list, add, remove)
	return cmd
}

func runOrderDomainList(ctx context.Context, g *globals, c *client.Client, args []string) error {
	d, err := c.ListOrderDomains(ctx, args[0])
	return g.showDomains(d, err)
}

func runOrderDomainAdd(ctx context.Context, g *globals, c *client.Client, args []string) error {
	d, err := c.AddOrderDomain(ctx, args[0], args[1])
	return g.showDomains(d, err)
}

func runOrderDomainRemove(ctx context.Context, g *globals, c *client.Client, args []string) error {
	d, err := c.RemoveOrderDomain(ctx, args[0], args[1])
	return g.showDomains(d, err)
}

// showDomains prints an order's domains, one a line.
func (g *globals) showDomains(d panel.OrderDomains, err error) error {
	return g.show(err, d, func() error {
		for _, name := range d.Domains {
			fmt.Fprintln(g.stdout, name)
		}
		return nil
	})
}

func (g *globals) printOrders(os []model.Order) error {
	rows := make([][]string, len(os))
	for i, o := range os {
		rows[i] = []string{fmt.Sprint(o.ID), o.Identifier, o.Member, o.Host, string(o.State)}
	}
	return table(g.stdout, "ID\tIDENTIFIER\tMEMBER\tHOST\tSTATE", rows)
}
