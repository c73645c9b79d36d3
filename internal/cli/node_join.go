package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ferry/internal/client"
	"ferry/internal/metrics"
	"ferry/internal/pki"
	"ferry/internal/wire"
)

// Files `ferry node join` writes into the node's state directory.
const (
	enrolmentFile = "control.json"
	nodeTokenFile = "node.token"
	nodeCAFile    = "ca.crt"
)

// enrolment is what a node learnt when it joined: where its control plane
// is, which CA vouches for it, and where its token is. `ferry node` uses it
// for whatever flags, environment and config file leave unset.
type enrolment struct {
	Server        string    `json:"server"`
	Host          string    `json:"host"`
	TokenName     string    `json:"token_name"`
	TokenFile     string    `json:"token_file"`
	CAFile        string    `json:"ca_file,omitempty"`
	CAFingerprint string    `json:"ca_fingerprint,omitempty"`
	JoinedAt      time.Time `json:"joined_at"`
}

func readEnrolment(stateDir string) (enrolment, bool, error) {
	var e enrolment
	data, err := os.ReadFile(filepath.Join(stateDir, enrolmentFile))
	if errors.Is(err, os.ErrNotExist) {
		return e, false, nil
	}
	if err != nil {
		return e, false, err
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, false, fmt.Errorf("%s: %w", filepath.Join(stateDir, enrolmentFile), err)
	}
	return e, true, nil
}

// addNodeOpsFlags adds the node's flags for running on a real server.
func addNodeOpsFlags(f *pflag.FlagSet, o *nodeOptions) {
	f.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (env FERRY_NODE_METRICS_LISTEN)")
}

type nodeJoinOptions struct {
	joinToken   string
	fingerprint string
	stateDir    string
	bind        string
}

func newNodeJoinCmd(g *globals) *cobra.Command {
	var opts nodeJoinOptions
	cmd := &cobra.Command{
		Use:   "join --server https://CONTROL:7080 --join-token J [--ca-fingerprint SHA256]",
		Short: "Enrol this server as a node with a one-time join token",
		Long: `Enrol this server as the node of the host a join token was made for
(ferry token create --role node --host H --join, on the control plane). The
join token is traded, once, for a node token. Over https the control plane's
CA is pinned by its SHA-256 fingerprint, which the join token carries when
the control plane uses ferry's own CA (ferry ca init), or which
--ca-fingerprint gives; without one, the system's CAs are trusted.

The node token (mode 0600), the CA's certificate and the server's URL are
written to the state directory; ferry node reads them from there, so that
after joining it needs no flags: systemctl enable --now ferry-node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNodeJoin(cmd.Context(), g, opts) },
	}
	f := cmd.Flags()
	f.StringVar(&opts.joinToken, "join-token", os.Getenv("FERRY_JOIN_TOKEN"), "the one-time join token (env FERRY_JOIN_TOKEN)")
	f.StringVar(&opts.fingerprint, "ca-fingerprint", "", "SHA-256 fingerprint of the control plane's CA (or certificate) to pin")
	f.StringVar(&opts.stateDir, "state", envOr("FERRY_NODE_STATE", "/var/lib/ferry-node"), "node state directory (env FERRY_NODE_STATE)")
	f.StringVar(&opts.bind, "bind", os.Getenv("FERRY_BIND"), "local address for connections to the control plane (env FERRY_BIND)")
	return cmd
}

func runNodeJoin(ctx context.Context, g *globals, opts nodeJoinOptions) error {
	if opts.joinToken == "" {
		return usageError{errors.New("no join token: give --join-token or FERRY_JOIN_TOKEN (ferry token create --role node --host H --join makes one)")}
	}
	u, err := url.Parse(g.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("--server %q is not an http:// or https:// URL", g.server)}
	}
	_, tokenFP := wire.SplitJoinToken(opts.joinToken)
	fpText := opts.fingerprint
	if fpText == "" {
		fpText = tokenFP
	}
	var fp []byte
	if fpText != "" {
		if fp, err = pki.ParseFingerprint(fpText); err != nil {
			return usageError{err}
		}
		if tokenFP != "" && opts.fingerprint != "" {
			if tfp, err := pki.ParseFingerprint(tokenFP); err != nil || string(tfp) != string(fp) {
				return usageError{errors.New("--ca-fingerprint differs from the fingerprint the join token carries")}
			}
		}
	}
	copts := client.Options{BindAddr: opts.bind, Insecure: g.ops.insecure}
	var pinned *x509.Certificate
	switch {
	case u.Scheme == "http" && fp != nil:
		return usageError{errors.New("a CA fingerprint pins an https:// server; this --server is plain http")}
	case fp != nil:
		copts.TLS = pki.PinnedConfig(fp, u.Hostname(), func(c *x509.Certificate) { pinned = c })
	case g.ops.caFile != "":
		if copts.TLS, err = pki.ClientConfig(g.ops.caFile); err != nil {
			return usageError{err}
		}
	}
	c, err := client.New(g.server, "", copts)
	if err != nil {
		return usageError{err}
	}
	res, err := c.Join(ctx, opts.joinToken)
	if err != nil {
		return fmt.Errorf("join %s: %w", g.server, err)
	}

	if err := os.MkdirAll(opts.stateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	e := enrolment{Server: g.server, Host: res.Host, TokenName: res.TokenName, TokenFile: filepath.Join(opts.stateDir, nodeTokenFile), JoinedAt: time.Now().UTC()}
	if err := writeSecret(e.TokenFile, res.Secret); err != nil {
		return err
	}
	var caPEM []byte
	switch {
	case pinned != nil:
		caPEM, e.CAFingerprint = pki.PEM(pinned), pki.Fingerprint(pinned)
	case g.ops.caFile != "":
		if caPEM, err = os.ReadFile(g.ops.caFile); err != nil {
			return err
		}
	}
	if caPEM != nil {
		e.CAFile = filepath.Join(opts.stateDir, nodeCAFile)
		if err := os.WriteFile(e.CAFile, caPEM, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", e.CAFile, err)
		}
	}
	data, _ := json.MarshalIndent(e, "", "  ")
	if err := writeSecret(filepath.Join(opts.stateDir, enrolmentFile), string(data)); err != nil {
		return err
	}

	// Check the new token over the connection ferry node will use.
	cl, err := enrolledClient(e, "", copts.BindAddr, g.ops.insecure, nil)
	if err != nil {
		return err
	}
	who, err := cl.WhoAmI(ctx)
	if err != nil {
		return fmt.Errorf("joined, but the new token does not work: %w", err)
	}
	fmt.Fprintf(g.stdout, "joined %s as the node of %s (token %q)\n", g.server, who.Host, res.TokenName)
	if e.CAFingerprint != "" {
		fmt.Fprintf(g.stdout, "pinned CA fingerprint (SHA-256): %s\n", e.CAFingerprint)
	}
	fmt.Fprintf(g.stdout, "wrote %s; start the agent: systemctl enable --now ferry-node\n", opts.stateDir)
	return nil
}

// enrolledClient is an API client of the enrolled control plane with the
// token the node was given, trusting only the pinned CA (or caFile).
func enrolledClient(e enrolment, caFile, bind string, insecure bool, m *metrics.Metrics) (*client.Client, error) {
	b, err := os.ReadFile(e.TokenFile)
	if err != nil {
		return nil, usageError{fmt.Errorf("node token: %w", err)}
	}
	copts := client.Options{BindAddr: bind, Insecure: insecure, Wrap: m.RoundTripper}
	if caFile == "" {
		caFile = e.CAFile
	}
	if caFile != "" {
		if copts.TLS, err = pki.ClientConfig(caFile); err != nil {
			return nil, usageError{err}
		}
	}
	return client.New(e.Server, strings.TrimSpace(string(b)), copts)
}

// nodeClient is the node agent's API client. What flags, environment and
// config file leave unset comes from the enrolment `ferry node join` wrote:
// the server, the token file and the pinned CA.
func (g *globals) nodeClient(opts nodeOptions, m *metrics.Metrics) (*client.Client, error) {
	e, enrolled, err := readEnrolment(opts.stateDir)
	if err != nil {
		return nil, err
	}
	if enrolled && g.fromDefault("server") {
		g.server = e.Server
	}
	tok := g.token
	if tok == "" && opts.tokenFile == "" && enrolled {
		opts.tokenFile = e.TokenFile
	}
	if tok == "" && opts.tokenFile != "" {
		b, err := os.ReadFile(opts.tokenFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--token-file: %w", err)}
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return nil, usageError{errors.New("no node token: give --token, --token-file or FERRY_TOKEN, or run ferry node join")}
	}
	copts := client.Options{BindAddr: opts.bind, Insecure: g.ops.insecure, Wrap: m.RoundTripper}
	caFile := g.ops.caFile
	if caFile == "" && enrolled && g.server == e.Server {
		caFile = e.CAFile
	}
	if caFile != "" {
		if copts.TLS, err = pki.ClientConfig(caFile); err != nil {
			return nil, usageError{err}
		}
	}
	c, err := client.New(g.server, tok, copts)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// serveMetricsAt serves metrics at http://addr/metrics until ctx ends:
// the node's, and the control plane's with --metrics-listen.
func serveMetricsAt(ctx context.Context, addr string, m *metrics.Metrics, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}
