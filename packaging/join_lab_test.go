//go:build lab

package packaging

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/cli"
	"ferry/internal/client"
	"ferry/internal/lab"
	"ferry/internal/model"
	"ferry/internal/pki"
	"ferry/internal/wire"
)

// ferry runs the CLI in-process.
func ferry(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Run(context.Background(), args, strings.NewReader(stdin), &out, &errb); code != 0 {
		t.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// A control plane serving https on the lab's control address with ferry's
// own CA; web1 joins with a one-time token carrying the CA's fingerprint,
// its agent runs with no flags but the address to bind, over the pinned
// CA, and makes a user account real.
func TestLabNodeJoinsOverTLSAndAppliesAnItem(t *testing.T) {
	l := lab.ForTest(t)
	bin := labFerry(t, l)
	web1, err := l.Host("web1")
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP(web1.Address).To4()
	ctlAddr := net.IPv4(ip[0], ip[1], ip[2], 10).String()
	listen := net.JoinHostPort(ctlAddr, "7443")
	server := "https://" + listen

	data := t.TempDir()
	out := ferry(t, "", "ca", "init", "--data", data, "--address", ctlAddr)
	fp := strings.TrimSpace(out[strings.LastIndex(out, ": ")+2:])

	ctx, stopServe := context.WithCancel(context.Background())
	served := make(chan int, 1)
	var serveLog bytes.Buffer
	go func() {
		served <- cli.Run(ctx, []string{"serve", "--data", data, "--listen", listen}, strings.NewReader(""), &bytes.Buffer{}, &serveLog)
	}()
	t.Cleanup(func() { stopServe(); <-served })
	caFile := filepath.Join(data, "pki", pki.CACertFile)
	tlsCfg, err := pki.ClientConfig(caFile)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := tls.Dial("tcp", listen, tlsCfg.Clone())
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the control plane does not answer https on %s: %v\n%s", listen, err, serveLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	tokenData, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	adminToken := strings.TrimSpace(string(tokenData))
	as := []string{"--server", server, "--token", adminToken, "--ca-file", caFile}

	ferry(t, "", append(as, "host", "add", "web1", "--address", web1.Address, "--role", "web")...)
	joinToken := strings.TrimSpace(ferry(t, "", append(as, "token", "create", "--role", "node", "--host", "web1", "--join")...))
	if _, carried := wire.SplitJoinToken(joinToken); carried != fp {
		t.Fatalf("join token %q does not carry the CA fingerprint %s", joinToken, fp)
	}

	jctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err = l.Run(jctx, "web1", bin, "node", "join", "--server", server, "--join-token", joinToken, "--bind", web1.Address)
	if err != nil || !strings.Contains(out, "node of web1") {
		t.Fatalf("ferry node join on web1: %v\n%s", err, out)
	}
	stateFile, err := l.Path("web1", "/var/lib/ferry-node/control.json")
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(stateFile); err != nil || !strings.Contains(string(data), server) || !strings.Contains(string(data), fp) {
		t.Fatalf("web1's enrolment %s: %v\n%s", stateFile, err, data)
	}
	if _, err := l.Run(jctx, "web1", bin, "node", "join", "--server", server, "--join-token", joinToken, "--state", "/tmp/again"); err == nil || !strings.Contains(err.Error(), "was used") {
		t.Errorf("a second join with the token: %v", err)
	}

	work, err := l.Scratch()
	if err != nil {
		t.Fatal(err)
	}
	agent := startIn(t, l, "web1", work, "tls-agent", nil, bin, "node", "--bind", web1.Address)

	ferry(t, "", append(as, "member", "add", "tlscoop")...)
	ferry(t, "", append(as, "order", "add", "tls.example", "--member", "tlscoop", "--host", "web1")...)
	ferry(t, "tls-pass-123\n", append(as, "item", "add", "tls.example", "user-account", "--login", "tlsuser", "--password-file", "-")...)
	admin, err := client.New(server, adminToken, client.Options{TLS: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, agent, func() error {
		items, err := admin.ListItems(context.Background(), wire.ItemQuery{Order: "tls.example"})
		if err != nil {
			return err
		}
		if len(items) != 1 || items[0].State != model.StateActive {
			return &pending{items}
		}
		return nil
	})
	if out, err := l.Run(jctx, "web1", "getent", "passwd", "tlsuser"); err != nil || !strings.Contains(out, model.OrderDir("tlscoop", "tls.example")) {
		t.Errorf("tlsuser on web1: %v %q", err, out)
	}
	if !strings.Contains(agent.log(), server) {
		t.Errorf("the agent's log does not name the enrolled server %s:\n%s", server, agent.log())
	}
}

type pending struct{ items []model.Item }

func (p *pending) Error() string {
	var b strings.Builder
	b.WriteString("items not active yet:")
	for _, it := range p.items {
		b.WriteString(" " + string(it.Kind) + "=" + string(it.State) + " " + it.Message)
	}
	return b.String()
}
