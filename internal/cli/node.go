package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/dnsserve"
	"ferry/internal/metrics"
	"ferry/internal/model"
	"ferry/internal/node"
	"ferry/internal/node/apply"
	"ferry/internal/node/movetask"
	"ferry/internal/wire"
)

// Version is ferry's version, set at build time with
// -ldflags "-X ferry/internal/cli.Version=…".
var Version = "0.1.0-dev"

type nodeOptions struct {
	tokenFile   string
	bind        string
	stateDir    string
	dnsListen   string
	dnsNS       []string
	dnsSecond   []string
	dnsProvider string
	rfcServer   string
	tsigName    string
	tsigFile    string
	// metricsListen: see node_join.go.
	metricsListen string
	// usageEvery is how often the node measures order and database sizes.
	usageEvery time.Duration
	// phpRoot and phpFPMDirs are where the node looks for the host's
	// PHP-FPM versions (node.Config.PHPRoot, FPMBinDirs).
	phpRoot    string
	phpFPMDirs []string
	// https: where site certificates live and where ACME ones come from.
	https nodeHTTPSOptions
}

// nodeHTTPSOptions are the node's HTTPS flags.
type nodeHTTPSOptions struct {
	tlsDir, acmeDirectory, acmeCAFile, acmeAccountDir, acmeEmail string
	renewEvery                                                   time.Duration
}

func newNodeCmd(g *globals) *cobra.Command {
	var opts nodeOptions
	cmd := &cobra.Command{
		Use:   "node --server URL --token T",
		Short: "Run the node agent: apply this host's items, run move tasks, serve DNS on dns hosts",
		Long: `Run the node agent, as root, on every server. It long-polls the control plane
for its host's work (the host is the one its node token was made for), makes
each item real on this host and reports the result. On a host with the dns
role it also serves the dns items: with the built-in authoritative server
(default), or by RFC 2136 updates to an existing server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNode(cmd.Context(), g, opts) },
	}
	f := cmd.Flags()
	f.StringVar(&opts.tokenFile, "token-file", os.Getenv("FERRY_TOKEN_FILE"), "read the node token from this file")
	f.StringVar(&opts.bind, "bind", os.Getenv("FERRY_BIND"), "local address for connections to the control plane")
	f.StringVar(&opts.stateDir, "state", envOr("FERRY_NODE_STATE", "/var/lib/ferry-node"), "node state directory (DNS data, move keys)")
	f.StringVar(&opts.dnsProvider, "dns-provider", "builtin", "dns hosts: builtin or rfc2136")
	f.StringVar(&opts.dnsListen, "dns-listen", "", "builtin DNS: address to answer on (default: the host's first address, port 53)")
	listVar(f, &opts.dnsNS, "dns-ns", nil, "builtin DNS: name server names for NS and SOA (set them to your real name servers)")
	listVar(f, &opts.dnsSecond, "dns-secondary", nil, "builtin DNS: secondaries allowed AXFR and sent NOTIFY (IP[:port])")
	f.StringVar(&opts.rfcServer, "rfc2136-server", "", "rfc2136: the primary server's IP:port")
	f.StringVar(&opts.tsigName, "tsig-name", "", "rfc2136: TSIG key name (hmac-sha256)")
	f.StringVar(&opts.tsigFile, "tsig-secret-file", "", "rfc2136: file holding the base64 TSIG secret")
	f.DurationVar(&opts.usageEvery, "usage-every", 5*time.Minute, "how often to measure the orders' and databases' sizes, for move plans")
	f.StringVar(&opts.phpRoot, "php-root", apply.DefaultConfig().PHPRoot, "directory holding one X.Y/fpm/pool.d per PHP-FPM version (Debian's layout)")
	listVar(f, &opts.phpFPMDirs, "php-fpm-dirs", apply.DefaultConfig().FPMBinDirs, "directories holding the php-fpmX.Y binaries")
	addNodeOpsFlags(f, &opts)
	f.StringVar(&opts.https.tlsDir, "tls-dir", apply.DefaultConfig().HTTPS.TLSDir, "where HTTPS sites' certificates and keys are kept, root only")
	f.StringVar(&opts.https.acmeDirectory, "acme-directory", "", "ACME directory URL that sites with --https acme get certificates from (none: they stay on http)")
	f.StringVar(&opts.https.acmeCAFile, "acme-ca-file", "", "PEM roots to trust for the ACME directory's https (default: the system's)")
	f.StringVar(&opts.https.acmeAccountDir, "acme-account-dir", "", "where the host's ACME account key is kept (default: STATE/acme)")
	f.StringVar(&opts.https.acmeEmail, "acme-email", "", "contact address of the host's ACME account")
	f.DurationVar(&opts.https.renewEvery, "acme-renew-every", 12*time.Hour, "how often to check ACME certificates for renewal")
	applyCmd := &cobra.Command{
		Use:    "apply --order FILE --item FILE",
		Short:  "Apply one item from JSON files on this host, without the control plane (debugging)",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	var orderFile, itemFile string
	applyCmd.Flags().StringVar(&orderFile, "order", "", "order JSON file")
	applyCmd.Flags().StringVar(&itemFile, "item", "", "item JSON file")
	applyCmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o, err := os.ReadFile(orderFile)
		if err != nil {
			return usageError{err}
		}
		it, err := os.ReadFile(itemFile)
		if err != nil {
			return usageError{err}
		}
		res, err := apply.FromFiles(cmd.Context(), apply.DefaultConfig(), o, it)
		if err != nil {
			return err
		}
		return g.printJSON(res)
	}
	cmd.AddCommand(applyCmd)
	cmd.AddCommand(newNodeReceiveCmd(g))
	cmd.AddCommand(newNodeTaskCmd(g))
	cmd.AddCommand(newNodeJoinCmd(g))
	return cmd
}

func runNode(ctx context.Context, g *globals, opts nodeOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	m := metrics.New(metrics.Options{Version: Version, Role: "node"})
	c, err := g.nodeClient(opts, m)
	if err != nil {
		return err
	}
	if opts.metricsListen != "" {
		if err := serveMetricsAt(ctx, opts.metricsListen, m, log); err != nil {
			return err
		}
	}
	// A dns host told where to answer serves the records it keeps at once,
	// before the control plane is asked anything: a node restarted while
	// the control plane is down still answers for the co-op's zones.
	var early dnsserve.Provider
	if opts.dnsListen != "" && opts.dnsProvider == "builtin" {
		p, closeDNS, err := dnsProvider(ctx, opts, model.Host{}, log)
		if err != nil {
			return err
		}
		defer closeDNS()
		early = p
	}
	who, err := waitWhoAmI(ctx, c, log)
	if err != nil {
		return err
	}
	if who.Role != model.RoleNode {
		return fmt.Errorf("the token is a %s token; ferry node needs a node token (ferry token create --role node --host H)", who.Role)
	}
	log = log.With("host", who.Host)
	cfg := apply.DefaultConfig()
	cfg.Logger = log
	cfg.PHPRoot, cfg.FPMBinDirs = opts.phpRoot, opts.phpFPMDirs
	if opts.usageEvery <= 0 {
		return fmt.Errorf("--usage-every %s: want a positive duration", opts.usageEvery)
	}
	if opts.https.renewEvery <= 0 {
		return fmt.Errorf("--acme-renew-every %s: want a positive duration", opts.https.renewEvery)
	}
	cfg.HTTPS.TLSDir = opts.https.tlsDir
	cfg.HTTPS.Directory, cfg.HTTPS.CAFile, cfg.HTTPS.Email = opts.https.acmeDirectory, opts.https.acmeCAFile, opts.https.acmeEmail
	cfg.HTTPS.AccountDir = opts.https.acmeAccountDir
	if cfg.HTTPS.AccountDir == "" {
		cfg.HTTPS.AccountDir = filepath.Join(opts.stateDir, "acme")
	}
	applier := apply.New(cfg)
	m.SiteCertificates(func() []metrics.SiteCertificate {
		var out []metrics.SiteCertificate
		for _, sc := range applier.SiteCertificates() {
			out = append(out, metrics.SiteCertificate{Site: sc.Site, Source: sc.Source, NotAfter: sc.NotAfter})
		}
		return out
	})
	agentOpts := node.AgentOptions{Client: c, Host: applier, Log: log, Version: Version, UsageEvery: opts.usageEvery, RenewEvery: opts.https.renewEvery}
	agentOpts.Tasks = movetask.Tasks(movetask.Config{Node: cfg, StateDir: opts.stateDir, Log: log})
	h, err := c.GetHost(ctx, who.Host)
	if err != nil {
		return fmt.Errorf("read host %s: %w", who.Host, err)
	}
	switch {
	case early != nil:
		agentOpts.DNS = early
	case h.HasRole(model.RoleDNS):
		p, closeDNS, err := dnsProvider(ctx, opts, h, log)
		if err != nil {
			return err
		}
		defer closeDNS()
		agentOpts.DNS = p
	}
	log.Info("ferry node started", "server", g.server, "version", Version)
	return node.NewAgent(agentOpts).Run(ctx)
}

// waitWhoAmI asks the control plane who the token is, retrying while it is
// unreachable (a node may start before the control plane does).
func waitWhoAmI(ctx context.Context, c *client.Client, log *slog.Logger) (wire.WhoAmI, error) {
	for {
		who, err := c.WhoAmI(ctx)
		var ae *wire.Error
		if err == nil || errors.As(err, &ae) || ctx.Err() != nil {
			return who, err
		}
		log.Warn("control plane unreachable; retrying", "err", err)
		select {
		case <-ctx.Done():
			return who, ctx.Err()
		case <-sleepChan(3):
		}
	}
}

func dnsProvider(ctx context.Context, opts nodeOptions, h model.Host, log *slog.Logger) (dnsserve.Provider, func(), error) {
	switch opts.dnsProvider {
	case "builtin":
		addr := opts.dnsListen
		if addr == "" {
			addr = joinHostPort(h.Addresses[0], "53")
		}
		ns := opts.dnsNS
		if len(ns) == 0 {
			ns = []string{"ns1.ferry.invalid"}
		}
		srv, err := dnsserve.New(dnsserve.Config{Addr: addr, StateDir: filepath.Join(opts.stateDir, "dns"), NS: ns, Secondaries: opts.dnsSecond, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		if err := srv.Start(ctx); err != nil {
			return nil, nil, fmt.Errorf("start dns server on %s: %w", addr, err)
		}
		log.Info("built-in dns server answering", "addr", srv.Addr())
		return srv, func() { srv.Close() }, nil
	case "rfc2136":
		return rfc2136Provider(opts)
	}
	return nil, nil, usageError{fmt.Errorf("--dns-provider %q: use builtin or rfc2136", opts.dnsProvider)}
}
