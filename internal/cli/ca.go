package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"ferry/internal/pki"
)

type caOptions struct {
	dataDir   string
	names     []string
	addresses []string
}

func newCACmd(g *globals) *cobra.Command {
	var opts caOptions
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "The control plane's own certificate authority, for https between nodes and the control plane",
	}
	initCmd := &cobra.Command{
		Use:   "init [--name NAME]... [--address IP]...",
		Short: "Make a CA and a server certificate for the control plane in DIR/pki",
		Long: `Make a CA (once) and a server certificate signed by it in DIR/pki, which
ferry serve then presents (it picks a new one up without a restart). Run it
again to re-issue the server certificate for other names; the CA stays, so
joined nodes keep trusting it. The CA's SHA-256 fingerprint is printed: join
tokens carry it, and ferry node join --ca-fingerprint takes it.

The certificate is made for localhost, 127.0.0.1 and ::1, and for the names
and addresses given, by default this machine's host name and addresses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCAInit(cmd.Context(), g, opts) },
	}
	initCmd.Flags().StringVar(&opts.dataDir, "data", envOr("FERRY_DATA", "/var/lib/ferry"), "the control plane's state directory (env FERRY_DATA)")
	listVar(initCmd.Flags(), &opts.names, "name", nil, "DNS name nodes reach the control plane by (repeat; default: this host's name)")
	listVar(initCmd.Flags(), &opts.addresses, "address", nil, "IP address nodes reach the control plane at (repeat; default: this host's addresses)")
	show := &cobra.Command{
		Use: "show", Short: "Print the CA's fingerprint and the server certificate's names and expiry", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCAShow(g, opts) },
	}
	show.Flags().StringVar(&opts.dataDir, "data", envOr("FERRY_DATA", "/var/lib/ferry"), "the control plane's state directory (env FERRY_DATA)")
	cmd.AddCommand(initCmd, show)
	return cmd
}

func runCAInit(_ context.Context, g *globals, opts caOptions) error {
	popts := pki.Options{Names: []string{"localhost"}, Addresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	names, addrs := opts.names, opts.addresses
	if len(names) == 0 && len(addrs) == 0 {
		names, addrs = machineNames()
	}
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if n != "" && !slices.Contains(popts.Names, n) {
			popts.Names = append(popts.Names, n)
		}
	}
	for _, a := range addrs {
		ip := net.ParseIP(strings.TrimSpace(a))
		if ip == nil {
			return usageError{fmt.Errorf("--address %q is not an IP address", a)}
		}
		if !slices.ContainsFunc(popts.Addresses, ip.Equal) {
			popts.Addresses = append(popts.Addresses, ip)
		}
	}
	dir := filepath.Join(opts.dataDir, "pki")
	res, err := pki.Init(dir, popts)
	if err != nil {
		return err
	}
	if err := chownLikeParent(opts.dataDir, dir, pki.CACertFile, pki.ServerCertFile, pki.ServerKeyFile); err != nil {
		return err
	}
	if res.CreatedCA {
		fmt.Fprintf(g.stdout, "made a CA in %s\n", dir)
	} else {
		fmt.Fprintf(g.stdout, "kept the CA in %s\n", dir)
	}
	fmt.Fprintf(g.stdout, "server certificate for %s, valid until %s\n", strings.Join(certNames(popts), ", "), res.Server.NotAfter.Format("2006-01-02"))
	fmt.Fprintf(g.stdout, "CA fingerprint (SHA-256): %s\n", res.Fingerprint)
	return nil
}

func certNames(o pki.Options) []string {
	out := slices.Clone(o.Names)
	for _, a := range o.Addresses {
		out = append(out, a.String())
	}
	return out
}

// machineNames are this machine's host name and its addresses, except
// link-local ones.
func machineNames() (names, addrs []string) {
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	ias, _ := net.InterfaceAddrs()
	for _, ia := range ias {
		ipn, ok := ia.(*net.IPNet)
		if !ok || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsLoopback() {
			continue
		}
		addrs = append(addrs, ipn.IP.String())
	}
	return names, addrs
}

// chownLikeParent gives dir and the named files in it the owner of parent,
// so that a CA made by root serves `ferry serve` running as the ferry
// user. The CA's key stays root's.
func chownLikeParent(parent, dir string, files ...string) error {
	fi, err := os.Stat(parent)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	for _, p := range append([]string{dir}, files...) {
		if p != dir {
			p = filepath.Join(dir, p)
		}
		if err := os.Chown(p, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
	}
	return nil
}

func runCAShow(g *globals, opts caOptions) error {
	dir := filepath.Join(opts.dataDir, "pki")
	data, err := os.ReadFile(filepath.Join(dir, pki.CACertFile))
	if errors.Is(err, os.ErrNotExist) {
		return usageError{fmt.Errorf("%s: %w", dir, pki.ErrNoCA)}
	}
	if err != nil {
		return err
	}
	cas, err := pki.ParseCerts(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "CA %q valid until %s\n", cas[0].Subject.CommonName, cas[0].NotAfter.Format("2006-01-02"))
	fmt.Fprintf(g.stdout, "CA fingerprint (SHA-256): %s\n", pki.Fingerprint(cas[0]))
	if data, err := os.ReadFile(filepath.Join(dir, pki.ServerCertFile)); err == nil {
		if certs, err := pki.ParseCerts(data); err == nil {
			leaf := certs[0]
			names := slices.Clone(leaf.DNSNames)
			for _, ip := range leaf.IPAddresses {
				names = append(names, ip.String())
			}
			fmt.Fprintf(g.stdout, "server certificate for %s, valid until %s\n", strings.Join(names, ", "), leaf.NotAfter.Format("2006-01-02"))
		}
	}
	return nil
}
