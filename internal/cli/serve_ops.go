package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"ferry/internal/api"
	"ferry/internal/metrics"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/pki"
)

// serveOps are serve's options for running on a real server.
type serveOps struct {
	tlsCert, tlsKey string
}

func addServeOpsFlags(f *pflag.FlagSet, o *serveOps) {
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve https with this PEM certificate chain (default: DIR/pki/server.crt when ferry ca init made one) (env FERRY_TLS_CERT)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the PEM private key of --tls-cert (env FERRY_TLS_KEY)")
}

// serveMetrics is the control plane's metrics registry; it reads the
// hosts' last-seen times from the panel at each scrape.
func serveMetrics(p *panel.Panel) *metrics.Metrics {
	return metrics.New(metrics.Options{Version: Version, Role: "serve", Hosts: func(ctx context.Context) ([]model.Host, error) {
		return p.ListHosts(ctx, panel.System)
	}})
}

// setupServeOps adds /metrics to srv and returns the handler to serve
// (counted by the metrics) and the TLS configuration to serve with (nil
// for plain http).
func setupServeOps(o serveOps, dataDir, listen string, m *metrics.Metrics, srv *api.Server, log *slog.Logger) (http.Handler, *tls.Config, error) {
	srv.HandleRaw("GET /metrics", m.Handler())
	ops := api.Ops{Metrics: m}
	cert, key := o.tlsCert, o.tlsKey
	if cert == "" && key == "" {
		c, k := filepath.Join(dataDir, "pki", pki.ServerCertFile), filepath.Join(dataDir, "pki", pki.ServerKeyFile)
		if exists(c) && exists(k) {
			cert, key = c, k
		}
	}
	var cfg *tls.Config
	switch {
	case cert == "" && key == "":
		if !loopbackListen(listen) {
			log.Warn("serving plain http off the loopback: tokens cross the network in clear text; run ferry ca init or give --tls-cert", "listen", listen)
		}
	case cert == "" || key == "":
		return nil, nil, usageError{errors.New("--tls-cert and --tls-key go together")}
	default:
		r, err := pki.NewReloader(cert, key)
		if err != nil {
			return nil, nil, err
		}
		cfg = pki.ServerConfig(r)
		ops.CAFingerprint = r.CAFingerprint
		log.Info("serving https", "cert", cert, "names", r.Leaf().DNSNames, "addresses", r.Leaf().IPAddresses, "not_after", r.Leaf().NotAfter, "ca_fingerprint", r.CAFingerprint())
	}
	srv.SetOps(ops)
	return m.Instrument(srv), cfg, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// loopbackListen reports whether a listen address is on the loopback only.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
