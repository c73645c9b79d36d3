package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// tokenOptions are the flags of `ferry token create`.
type tokenOptions struct {
	in   wire.TokenInput
	role string
	join joinFlags
	// joinTokens makes list and revoke act on join tokens.
	joinTokens bool
}

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens"}
	var opts tokenOptions
	create := &cobra.Command{
		Use:   "create --role admin|member|node [--member M] [--host H] [--name N] [--join [--ttl D]]",
		Short: "Create a token and print its secret (shown this once)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runTokenCreate(cmd.Context(), g, opts, args) },
	}
	create.Flags().StringVar(&opts.role, "role", "", "admin (everything), member (its own orders) or node (its host's work)")
	create.Flags().StringVar(&opts.in.Member, "member", "", "the member a member token acts for")
	create.Flags().StringVar(&opts.in.Host, "host", "", "the host a node token acts for")
	create.Flags().StringVar(&opts.in.Name, "name", "", "a name the audit log shows (default from role and scope)")
	addJoinFlags(create, &opts.join)
	list := &cobra.Command{
		Use: "list [--join]", Short: "List tokens, or with --join the join tokens (never their secrets)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runTokenList(cmd.Context(), g, opts, args) },
	}
	list.Flags().BoolVar(&opts.joinTokens, "join", false, "list the join tokens that enrol servers: their host, who made them, and whether used, expired or usable")
	revoke := &cobra.Command{
		Use: "revoke ID|NAME | --join ID", Short: "Revoke a token, or with --join an unused join token, at once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runTokenRevoke(cmd.Context(), g, opts, args) },
	}
	revoke.Flags().BoolVar(&opts.joinTokens, "join", false, "revoke the join token with this id (ferry token list --join)")
	g.addJSON(create, list, revoke)
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// runTokenCreate is `ferry token create`: it prints the new token's secret.
func runTokenCreate(ctx context.Context, g *globals, opts tokenOptions, _ []string) error {
	in := opts.in
	in.Role = model.TokenRole(opts.role)
	if opts.join.join {
		return runJoinTokenCreate(ctx, g, in, opts.join)
	}
	if in.Name == "" {
		in.Name = defaultTokenName(in)
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		t, err := c.CreateToken(ctx, in)
		return g.show(err, t, func() error {
			fmt.Fprintln(g.stdout, t.Secret)
			return nil
		})
	})
}

// runTokenList is `ferry token list`.
func runTokenList(ctx context.Context, g *globals, opts tokenOptions, _ []string) error {
	if opts.joinTokens {
		return runJoinTokenList(ctx, g)
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		ts, err := c.ListTokens(ctx)
		return g.show(err, ts, func() error {
			rows := make([][]string, len(ts))
			for i, t := range ts {
				revoked := ""
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format("2006-01-02 15:04")
				}
				rows[i] = []string{fmt.Sprint(t.ID), t.Name, string(t.Role), t.Member + t.Host, t.CreatedAt.Format("2006-01-02 15:04"), revoked}
			}
			return table(g.stdout, "ID\tNAME\tROLE\tSCOPE\tCREATED\tREVOKED", rows)
		})
	})
}

// runTokenRevoke is `ferry token revoke ID|NAME`.
func runTokenRevoke(ctx context.Context, g *globals, opts tokenOptions, args []string) error {
	if opts.joinTokens {
		return runJoinTokenRevoke(ctx, g, args[0])
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		t, err := c.RevokeToken(ctx, args[0])
		return g.show(err, t, func() error {
			fmt.Fprintf(g.stdout, "revoked token %d (%s)\n", t.ID, t.Name)
			return nil
		})
	})
}

func defaultTokenName(in wire.TokenInput) string {
	switch {
	case in.Member != "":
		return "member-" + in.Member
	case in.Host != "":
		return "node-" + in.Host
	}
	return string(in.Role)
}

// auditOptions are the flags of `ferry audit`.
type auditOptions struct {
	order string
	limit int
}

func newAuditCmd(g *globals) *cobra.Command {
	var opts auditOptions
	cmd := &cobra.Command{
		Use: "audit [--order ORDER]", Short: "Show the audit log: who changed what, when, before and after", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runAudit(cmd.Context(), g, opts, args) },
	}
	cmd.Flags().StringVar(&opts.order, "order", "", "only this order's entries (identifier or id)")
	cmd.Flags().IntVar(&opts.limit, "limit", 100, "at most this many entries, newest first")
	g.addJSON(cmd)
	return cmd
}

// runAudit is `ferry audit`: the newest entries first.
func runAudit(ctx context.Context, g *globals, opts auditOptions, _ []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		es, err := c.ListAudit(ctx, opts.order, opts.limit)
		return g.show(err, es, func() error {
			rows := make([][]string, len(es))
			for i, e := range es {
				rows[i] = []string{e.At.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Action, e.Object, clip(e.Before, 60), clip(e.After, 60)}
			}
			return table(g.stdout, "WHEN\tWHO\tACTION\tOBJECT\tBEFORE\tAFTER", rows)
		})
	})
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
