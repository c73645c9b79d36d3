package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// memberOptions are the flags of `ferry member add` and `member update`.
type memberOptions struct {
	friendlyName string
}

func newMemberCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "member", Short: "Add, list, show, update and delete co-op members"}
	var addOpts, updateOpts memberOptions
	add := &cobra.Command{
		Use: "add NAME", Short: "Add a member (short name [a-z0-9-])", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runMemberAdd(cmd.Context(), g, addOpts, args) },
	}
	add.Flags().StringVar(&addOpts.friendlyName, "friendly-name", "", "the member's full name")
	list := &cobra.Command{
		Use: "list", Short: "List members", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runMemberList(cmd.Context(), g, args) },
	}
	show := &cobra.Command{
		Use: "show NAME", Short: "Show a member", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runMemberShow(cmd.Context(), g, args) },
	}
	update := &cobra.Command{
		Use: "update NAME --friendly-name TEXT", Short: "Change a member's friendly name", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMemberUpdate(cmd.Context(), g, updateOpts, args)
		},
	}
	update.Flags().StringVar(&updateOpts.friendlyName, "friendly-name", "", "the member's full name")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a member that has no live orders, revoking its tokens", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runMemberDelete(cmd.Context(), g, args) },
	}
	g.addJSON(list, show)
	cmd.AddCommand(add, list, show, update, del, newMemberPasswdCmd(g))
	return cmd
}

// runMemberAdd is `ferry member add NAME`.
func runMemberAdd(ctx context.Context, g *globals, opts memberOptions, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		m, err := c.CreateMember(ctx, model.Member{Name: args[0], FriendlyName: opts.friendlyName})
		return g.show(err, m, func() error { return g.printMembers([]model.Member{m}) })
	})
}

// runMemberList is `ferry member list`.
func runMemberList(ctx context.Context, g *globals, _ []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		ms, err := c.ListMembers(ctx)
		return g.show(err, ms, func() error { return g.printMembers(ms) })
	})
}

// runMemberShow is `ferry member show NAME`.
func runMemberShow(ctx context.Context, g *globals, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		m, err := c.GetMember(ctx, args[0])
		return g.show(err, m, func() error { return g.printMembers([]model.Member{m}) })
	})
}

// runMemberUpdate is `ferry member update NAME`.
func runMemberUpdate(ctx context.Context, g *globals, opts memberOptions, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		m, err := c.UpdateMember(ctx, args[0], wire.MemberPatch{FriendlyName: opts.friendlyName})
		return g.show(err, m, func() error { return g.printMembers([]model.Member{m}) })
	})
}

// runMemberDelete is `ferry member delete NAME`.
func runMemberDelete(ctx context.Context, g *globals, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		d, err := c.DeleteMember(ctx, args[0])
		return g.done(err, fmt.Sprintf("deleted member %s (revoked %d tokens)", args[0], d.TokensRevoked))
	})
}

func (g *globals) printMembers(ms []model.Member) error {
	rows := make([][]string, len(ms))
	for i, m := range ms {
		rows[i] = []string{m.Name, m.FriendlyName, m.CreatedAt.Format("2006-01-02")}
	}
	return table(g.stdout, "NAME\tFRIENDLY NAME\tSINCE", rows)
}
