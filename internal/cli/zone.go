package cli

import (
	"context"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/model"
)

// newZoneCmd is `ferry zone`: the zones the co-op's dns hosts serve. A dns
// item's zone must be one of them; `order add` serves the order's
// identifier.
func newZoneCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "zone", Short: "List, add and remove the DNS zones the co-op serves"}
	list := &cobra.Command{Use: "list", Short: "List the served zones", Args: cobra.NoArgs, RunE: clientRun(g, runZoneList)}
	add := &cobra.Command{Use: "add ZONE", Short: "Admins: serve a zone (not a public suffix such as co.uk)", Args: cobra.ExactArgs(1), RunE: clientRun(g, runZoneAdd)}
	remove := &cobra.Command{Use: "remove ZONE", Short: "Admins: stop serving a zone that holds no records", Args: cobra.ExactArgs(1), RunE: clientRun(g, runZoneRemove)}
	g.addJSON(list, add)
	cmd.AddCommand(list, add, remove)
	return cmd
}

func runZoneList(ctx context.Context, g *globals, c *client.Client, _ []string) error {
	zs, err := c.ListZones(ctx)
	return g.show(err, zs, func() error { return g.printZones(zs) })
}

func runZoneAdd(ctx context.Context, g *globals, c *client.Client, args []string) error {
	z, err := c.CreateZone(ctx, args[0])
	return g.show(err, z, func() error { return g.printZones([]model.Zone{z}) })
}

func runZoneRemove(ctx context.Context, g *globals, c *client.Client, args []string) error {
	return g.done(c.DeleteZone(ctx, args[0]), "removed zone "+args[0])
}

func (g *globals) printZones(zs []model.Zone) error {
	rows := make([][]string, len(zs))
	for i, z := range zs {
		rows[i] = []string{z.Name, z.CreatedAt.Format("2006-01-02")}
	}
	return table(g.stdout, "ZONE\tSINCE", rows)
}
