package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/dnsserve"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// dnsCheck is what one dns host answers for one name and type.
type dnsCheck struct {
	Host     string            `json:"host"`
	Server   string            `json:"server"`
	FQDN     string            `json:"fqdn"`
	Type     string            `json:"type"`
	Expected []dnsserve.Record `json:"expected"`
	Observed []dnsserve.Record `json:"observed"`
	Serial   uint32            `json:"serial"`
	Problems []string          `json:"problems,omitempty"`
}

// errDNSDiffers makes `ferry dns check` exit 1 when a server differs.
type errDNSDiffers int

func (e errDNSDiffers) Error() string {
	return fmt.Sprintf("%d answers differ from what the control plane holds", int(e))
}

func newDNSCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "dns", Short: "Look at the co-op's DNS"}
	var port string
	check := &cobra.Command{
		Use:   "check DOMAIN",
		Short: "Compare what every dns host answers with what the control plane holds; differences are marked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
				return runDNSCheck(ctx, g, c, args[0], port)
			})
		},
	}
	check.Flags().StringVar(&port, "port", "53", "the dns hosts' DNS port")
	g.addJSON(check)
	cmd.AddCommand(check)
	return cmd
}

func runDNSCheck(ctx context.Context, g *globals, c *client.Client, domain, port string) error {
	zone, err := model.NormalizeDomain(domain, 1)
	if err != nil {
		return usageError{fmt.Errorf("domain %q: %v", domain, err)}
	}
	items, err := c.ListItems(ctx, wire.ItemQuery{Kind: string(model.KindDNS)})
	if err != nil {
		return err
	}
	byHost := map[string][]dnsserve.Record{}
	for _, it := range items {
		if !model.InZone(it.Spec.FQDN, zone) && it.Spec.Zone != zone {
			continue
		}
		switch it.State {
		case model.StateDeleted, model.StatePendingDelete, model.StateDisabled, model.StatePendingDisable:
			continue
		}
		byHost[it.Host] = append(byHost[it.Host], dnsserve.RecordFromSpec(it.Spec))
	}
	hosts, err := c.ListHosts(ctx)
	if err != nil {
		return err
	}
	var checks []dnsCheck
	differ := 0
	for _, h := range hosts {
		if !h.HasRole(model.RoleDNS) || len(byHost[h.Name]) == 0 {
			continue
		}
		server := joinHostPort(h.Addresses[0], port)
		for _, d := range dnsserve.Check(ctx, server, byHost[h.Name]) {
			ch := dnsCheck{Host: h.Name, Server: server, FQDN: d.FQDN, Type: d.Type, Expected: d.Expected, Observed: d.Observed, Serial: d.Serial, Problems: d.Problems()}
			if len(ch.Problems) > 0 {
				differ++
			}
			checks = append(checks, ch)
		}
	}
	if len(checks) == 0 {
		return fmt.Errorf("the control plane holds no dns records in %s", zone)
	}
	if err := g.show(nil, checks, func() error { return printDNSChecks(g, checks) }); err != nil {
		return err
	}
	if differ > 0 {
		return errDNSDiffers(differ)
	}
	return nil
}

func printDNSChecks(g *globals, checks []dnsCheck) error {
	rows := make([][]string, 0, len(checks))
	for _, ch := range checks {
		mark := "ok"
		if len(ch.Problems) > 0 {
			mark = "DIFFERS: " + strings.Join(ch.Problems, "; ")
		}
		rows = append(rows, []string{ch.Host, ch.FQDN, ch.Type, records(ch.Expected), records(ch.Observed), fmt.Sprint(ch.Serial), mark})
	}
	return table(g.stdout, "HOST\tNAME\tTYPE\tCONTROL PLANE\tANSWERED\tSERIAL\t", rows)
}

func records(rs []dnsserve.Record) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = fmt.Sprintf("%d %s", r.TTL, r.Value)
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}
