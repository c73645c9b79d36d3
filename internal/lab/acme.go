package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"ferry/internal/atomicfile"
	"ferry/internal/pki"
)

// The lab's ACME CA, Pebble, runs beside the control plane on the control
// address and validates through dns1.
const (
	acmeDirName    = "acme" // in the lab directory
	acmePort       = "14000"
	acmeMgmtPort   = "15000"
	acmeRootFile   = "root.pem" // the root Pebble issues under
	acmeConfigFile = "pebble.json"
)

// ErrAcmeCA means the lab's ACME CA did not start.
var ErrAcmeCA = errors.New("the lab's ACME CA (pebble) did not start")

// RenderPebble renders Pebble's configuration: its listeners on addr, its
// own TLS certificate and key, and HTTP-01 and TLS-ALPN-01 validation on
// the standard ports of the sites' hosts.
func RenderPebble(addr, certFile, keyFile string) string {
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           net.JoinHostPort(addr, acmePort),
		"managementListenAddress": net.JoinHostPort(addr, acmeMgmtPort),
		"certificate":             certFile,
		"privateKey":              keyFile,
		"httpPort":                80,
		"tlsPort":                 443,
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
	}}
	data, _ := json.MarshalIndent(cfg, "", "  ") // strings and numbers always marshal
	return string(data) + "\n"
}

// startAcmeCA starts Pebble for the lab, waits for its management endpoint
// and writes its root to the lab directory. The lab needs a dns host.
func (l *Lab) startAcmeCA(ctx context.Context) error {
	dnsAddr := ""
	for _, h := range l.State().Hosts {
		if hasRole(h.Roles, RoleDNS) {
			dnsAddr = h.Address
		}
	}
	if dnsAddr == "" {
		return nil
	}
	bin, err := exec.LookPath("pebble")
	if err != nil {
		return fmt.Errorf("%w: no pebble program on PATH (scripts/lab-deps.sh installs it)", ErrAcmeCA)
	}
	addr := controlAddrOf(l.st)
	dir := filepath.Join(l.dir, acmeDirName)
	listener := filepath.Join(dir, "listener")
	if _, err := pki.Init(listener, pki.Options{Addresses: []net.IP{net.ParseIP(addr)}}); err != nil {
		return fmt.Errorf("%w: its listener certificate: %v", ErrAcmeCA, err)
	}
	cfg := RenderPebble(addr, filepath.Join(listener, pki.ServerCertFile), filepath.Join(listener, pki.ServerKeyFile))
	cfgFile := filepath.Join(dir, acmeConfigFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("%w: %v", ErrAcmeCA, err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "pebble.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAcmeCA, err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", net.JoinHostPort(dnsAddr, "53"))
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if l.dieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: %v", ErrAcmeCA, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	l.mu.Lock()
	l.exited["acme"] = exited
	l.st.AcmePID = cmd.Process.Pid
	l.mu.Unlock()

	client, err := trustingClient(filepath.Join(listener, pki.CACertFile))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAcmeCA, err)
	}
	var root []byte
	err = waitFor(ctx, readyTimeout, exited, func() error {
		root, err = fetch(ctx, client, "https://"+net.JoinHostPort(addr, acmeMgmtPort)+"/roots/0")
		return err
	})
	if err != nil {
		logText, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("%w: %v; its log (%s) ends:\n%s", ErrAcmeCA, err, logf.Name(), excerpt(string(logText), 2000))
	}
	rootFile := filepath.Join(dir, acmeRootFile)
	if err := atomicfile.Write(rootFile, root, 0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrAcmeCA, err)
	}
	l.mu.Lock()
	l.st.AcmeCAFile = rootFile
	l.st.AcmeDirectory = "https://" + net.JoinHostPort(addr, acmePort) + "/dir"
	l.mu.Unlock()
	return nil
}

func trustingClient(caFile string) (*http.Client, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no certificate", caFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, nil
}

func fetch(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return body, nil
}

// isAcmeCA reports whether pid is the Pebble of the lab in dir.
func isAcmeCA(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	args := cmdline(pid)
	i := slices.Index(args, "-config")
	return i > 0 && i+1 < len(args) && args[i+1] == filepath.Join(dir, acmeDirName, acmeConfigFile)
}
