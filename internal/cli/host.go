package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/panel"
)

// hostOptions are the flags of `ferry host add` and `host update`.
type hostOptions struct {
	// add: the host to make (its name is the first argument).
	host model.Host
	// update: the fields to change.
	patch panel.HostPatch
	// roles, capacity and state are parsed into host or patch.
	roles    []string
	capacity string
	state    string
}

func newHostCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "host", Short: "Add, list, show, update, drain, retire and delete servers"}
	var addOpts, updateOpts hostOptions
	add := &cobra.Command{
		Use: "add NAME --address IP [--role web|dns]", Short: "Add a host", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runHostAdd(cmd.Context(), g, addOpts, args) },
	}
	listVar(add.Flags(), &addOpts.host.Addresses, "address", nil, "IPv4 or IPv6 address (repeat or comma-separate)")
	listVar(add.Flags(), &addOpts.roles, "role", []string{"web"}, "roles: web, dns")
	add.Flags().StringVar(&addOpts.capacity, "capacity", "0", "disk capacity for orders, like 500G (0: unknown)")
	list := &cobra.Command{
		Use: "list", Short: "List hosts with their last heartbeat", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runHostList(cmd.Context(), g, args) },
	}
	show := &cobra.Command{
		Use: "show NAME", Short: "Show a host", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runHostShow(cmd.Context(), g, args) },
	}
	update := &cobra.Command{
		Use: "update NAME [--address IP] [--role R] [--state active|draining|retired] [--capacity SIZE]", Short: "Change a host", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHostUpdate(cmd.Context(), g, updateOpts, args)
		},
	}
	listVar(update.Flags(), &updateOpts.patch.Addresses, "address", nil, "replace the addresses")
	listVar(update.Flags(), &updateOpts.roles, "role", nil, "replace the roles")
	update.Flags().StringVar(&updateOpts.state, "state", "", "active, draining or retired (retired only when empty)")
	update.Flags().StringVar(&updateOpts.capacity, "capacity", "", "disk capacity, like 500G")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a host that holds nothing", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runHostDelete(cmd.Context(), g, args) },
	}
	g.addJSON(add, list, show, update)
	cmd.AddCommand(add, list, show, update, del, newHostDrainCmd(g), newHostRetireCmd(g))
	return cmd
}

// runHostAdd is `ferry host add NAME`.
func runHostAdd(ctx context.Context, g *globals, opts hostOptions, args []string) error {
	h := opts.host
	h.Name = args[0]
	for _, r := range opts.roles {
		h.Roles = append(h.Roles, model.Role(r))
	}
	n, err := parseSize(opts.capacity)
	if err != nil {
		return usageError{fmt.Errorf("--capacity: %w", err)}
	}
	h.DiskCapacity = n
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		h, err := c.CreateHost(ctx, h)
		return g.show(err, h, func() error { return g.printHost(h) })
	})
}

// runHostList is `ferry host list`.
func runHostList(ctx context.Context, g *globals, _ []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		hs, err := c.ListHosts(ctx)
		return g.show(err, hs, func() error { return g.printHosts(hs) })
	})
}

// runHostShow is `ferry host show NAME`.
func runHostShow(ctx context.Context, g *globals, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		h, err := c.GetHost(ctx, args[0])
		return g.show(err, h, func() error { return g.printHost(h) })
	})
}

// runHostUpdate is `ferry host update NAME`: only the flags given change.
func runHostUpdate(ctx context.Context, g *globals, opts hostOptions, args []string) error {
	patch := opts.patch
	if opts.state != "" {
		s := model.HostState(opts.state)
		patch.State = &s
	}
	for _, r := range opts.roles {
		patch.Roles = append(patch.Roles, model.Role(r))
	}
	if opts.capacity != "" {
		n, err := parseSize(opts.capacity)
		if err != nil {
			return usageError{fmt.Errorf("--capacity: %w", err)}
		}
		patch.DiskCapacity = &n
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		h, err := c.UpdateHost(ctx, args[0], patch)
		return g.show(err, h, func() error { return g.printHost(h) })
	})
}

// runHostDelete is `ferry host delete NAME`.
func runHostDelete(ctx context.Context, g *globals, args []string) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		d, err := c.DeleteHost(ctx, args[0])
		return g.done(err, fmt.Sprintf("deleted host %s (revoked %d node tokens)", args[0], d.TokensRevoked))
	})
}

func (g *globals) printHosts(hs []model.Host) error {
	rows := make([][]string, len(hs))
	for i, h := range hs {
		rows[i] = []string{h.Name, strings.Join(h.Addresses, ","), joinRoles(h.Roles), string(h.State),
			lastSeen(h.LastSeen), humanBytes(h.DiskFree), fmt.Sprintf("%.2f", h.Load), h.Version}
	}
	return table(g.stdout, "NAME\tADDRESSES\tROLES\tSTATE\tLAST SEEN\tDISK FREE\tLOAD\tVERSION", rows)
}

func (g *globals) printHost(h model.Host) error {
	w := g.stdout
	fmt.Fprintf(w, "name:       %s\naddresses:  %s\nroles:      %s\nstate:      %s\n", h.Name, strings.Join(h.Addresses, ", "), joinRoles(h.Roles), h.State)
	fmt.Fprintf(w, "capacity:   %s\nlast seen:  %s\ndisk free:  %s\ndisk used:  %s\nload:       %.2f\nversion:    %s\n",
		humanBytes(h.DiskCapacity), lastSeen(h.LastSeen), humanBytes(h.DiskFree), humanBytes(h.DiskUsed), h.Load, h.Version)
	if len(h.PHPVersions) > 0 {
		fmt.Fprintf(w, "php:        %s\n", strings.Join(h.PHPVersions, ", "))
	}
	return nil
}

func joinRoles(rs []model.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func lastSeen(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}

// parseSize reads sizes like 500G, 1.5T or a plain number of bytes.
func parseSize(s string) (int64, error) {
	s = strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B")
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	var f float64
	if _, err := fmt.Sscanf(s, "%g", &f); err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size like 500G", s)
	}
	return int64(f * float64(mult)), nil
}

func humanBytes(n int64) string {
	for _, u := range sizeUnits {
		if n >= u.mult {
			return fmt.Sprintf("%.1f%s", float64(n)/float64(u.mult), u.suffix)
		}
	}
	return fmt.Sprintf("%dB", n)
}
