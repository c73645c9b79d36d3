package cli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

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
	// metricsListen serves /metrics on an address of its own (plain
	// http, no token); empty serves it on the API's address behind the
	// metrics token.
	metricsListen string
}

// metricsTokenFile holds, in the data directory, the bearer token a
// scraper sends for /metrics on the API's address (made on first start).
const metricsTokenFile = "metrics.token"

func addServeOpsFlags(f *pflag.FlagSet, o *serveOps) {
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve https with this PEM certificate chain (default: DIR/pki/server.crt when ferry ca init made one) (env FERRY_TLS_CERT)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the PEM private key of --tls-cert (env FERRY_TLS_KEY)")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics without a token, and not on the API's address; empty: on the API's address, for the bearer token in DIR/metrics.token (env FERRY_METRICS_LISTEN)")
}

// serveMetrics is the control plane's metrics registry; it reads the
// hosts' last-seen times from the panel at each scrape.
func serveMetrics(p *panel.Panel) *metrics.Metrics {
	return metrics.New(metrics.Options{Version: Version, Role: "serve", Hosts: func(ctx context.Context) ([]model.Host, error) {
		return p.ListHosts(ctx, panel.System)
	}})
}

// setupServeOps serves the metrics (on their own address until ctx ends,
// or at /metrics of srv behind the metrics token) and returns the handler
// to serve (counted by the metrics) and the TLS configuration to serve
// with (nil for plain http).
func setupServeOps(ctx context.Context, o serveOps, dataDir, listen string, m *metrics.Metrics, srv *api.Server, log *slog.Logger) (http.Handler, *tls.Config, error) {
	if o.metricsListen != "" {
		if err := serveMetricsAt(ctx, o.metricsListen, m, log); err != nil {
			return nil, nil, err
		}
		srv.HandleRaw("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "metrics are served on their own address (serve.metrics_listen), not here", http.StatusNotFound)
		}))
	} else {
		secret, err := metricsToken(filepath.Join(dataDir, metricsTokenFile))
		if err != nil {
			return nil, nil, err
		}
		srv.HandleRaw("GET /metrics", bearerOnly(secret, m.Handler()))
	}
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

// metricsToken reads the metrics token from path, making it (mode 0600)
// when the file does not exist yet.
func metricsToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		secret := strings.TrimSpace(string(data))
		if len(secret) < 32 {
			return "", fmt.Errorf("%s: the metrics token is %d characters, want at least 32 (delete the file to make a new one)", path, len(secret))
		}
		return secret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("metrics token: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := "fym_" + base64.RawURLEncoding.EncodeToString(b)
	return secret, writeSecret(path, secret)
}

// bearerOnly serves h only to requests that carry secret as their bearer
// token; others get 401, compared in constant time.
func bearerOnly(secret string, h http.Handler) http.Handler {
	want := []byte("Bearer " + secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ferry metrics"`)
			http.Error(w, "metrics need the bearer token in the control plane's "+metricsTokenFile+" (or serve them on --metrics-listen)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
