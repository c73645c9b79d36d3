package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// joinFlags are `ferry token create`'s flags for join tokens.
type joinFlags struct {
	join bool
	ttl  time.Duration
}

func addJoinFlags(cmd *cobra.Command, j *joinFlags) {
	cmd.Flags().BoolVar(&j.join, "join", false, "with --role node: make a one-time join token for ferry node join instead of a node token")
	cmd.Flags().DurationVar(&j.ttl, "ttl", 0, "with --join: how long the join token is good for (default 30m, at most 24h)")
}

func runJoinTokenCreate(ctx context.Context, g *globals, in wire.TokenInput, j joinFlags) error {
	if in.Role != model.RoleNode || in.Host == "" {
		return usageError{errors.New("--join makes node join tokens: give --role node --host H")}
	}
	in2 := wire.JoinTokenInput{Host: in.Host}
	if j.ttl != 0 {
		in2.TTL = j.ttl.String()
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		jt, err := c.CreateJoinToken(ctx, in2)
		return g.show(err, jt, func() error {
			fmt.Fprintln(g.stdout, jt.Token)
			fmt.Fprintf(g.stderr, "one-time join token for %s, good until %s; on %s run:\n  ferry node join --server URL --join-token TOKEN\n",
				jt.Host, jt.ExpiresAt.Local().Format("2006-01-02 15:04 MST"), jt.Host)
			return nil
		})
	})
}

// runJoinTokenList is `ferry token list --join`.
func runJoinTokenList(ctx context.Context, g *globals) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		js, err := c.ListJoinTokens(ctx)
		return g.show(err, js, func() error {
			now := time.Now()
			rows := make([][]string, len(js))
			for i, j := range js {
				state := "usable until " + j.ExpiresAt.Local().Format("2006-01-02 15:04")
				switch {
				case j.UsedAt != nil:
					state = "used " + j.UsedAt.Local().Format("2006-01-02 15:04")
				case !j.Usable(now):
					state = "expired " + j.ExpiresAt.Local().Format("2006-01-02 15:04")
				}
				rows[i] = []string{fmt.Sprint(j.ID), j.Host, j.CreatedBy, j.CreatedAt.Local().Format("2006-01-02 15:04"), state}
			}
			return table(g.stdout, "ID\tHOST\tBY\tCREATED\tSTATE", rows)
		})
	})
}

// runJoinTokenRevoke is `ferry token revoke --join ID`.
func runJoinTokenRevoke(ctx context.Context, g *globals, ref string) error {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil || id <= 0 {
		return usageError{fmt.Errorf("join token %q: want its id, a positive number (ferry token list --join)", ref)}
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		j, err := c.RevokeJoinToken(ctx, id)
		return g.show(err, j, func() error {
			fmt.Fprintf(g.stdout, "revoked join token %d for %s: it can no longer enrol a server\n", j.ID, j.Host)
			return nil
		})
	})
}
