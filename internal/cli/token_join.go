package cli

import (
	"context"
	"errors"
	"fmt"
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
