// Package cpserver starts a whole control plane inside a test's process:
// controlplane.Start on a store of the test's own (cptest.StoreURL, so
// SQLite or the tests' PostgreSQL), served by an httptest server, with
// tokens for an admin, members and nodes and fake nodes (cptest.Node) on
// the typed client. It is apart from cptest because the control plane
// links api and web, whose own tests use cptest.
package cpserver

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"ferry/internal/client"
	"ferry/internal/controlplane"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// Options say what to start.
type Options struct {
	// StoreURL is the store to open; a new one of the test's own
	// (cptest.StoreURL) when empty.
	StoreURL string
	// Now is the control plane's clock (a cptest.Clock's Now); time.Now
	// when nil.
	Now func() time.Time
	// Web serves the web UI beside the API.
	Web bool
	// Rebalance runs a rebalance runner over a temporary directory.
	Rebalance bool
}

// Server is a started control plane and its address. It stops when the
// test ends.
type Server struct {
	*controlplane.ControlPlane
	// URL is where the API (and with Options.Web the web UI) answers.
	URL string
	// AdminToken is the first admin token's secret; Admin a client
	// that uses it.
	AdminToken string
	Admin      *client.Client
}

// Start starts a control plane as Options say.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	cfg := controlplane.Config{StoreURL: o.StoreURL, Log: cptest.Quiet(), Now: o.Now, Web: o.Web}
	if cfg.StoreURL == "" {
		cfg.StoreURL = cptest.StoreURL(t)
	}
	if o.Rebalance {
		cfg.Rebalance = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	cp, err := controlplane.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := httptest.NewServer(cp.API)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := cp.Close(); err != nil {
			t.Errorf("close the control plane: %v", err)
		}
	})
	admin, err := client.New(srv.URL, cp.AdminSecret, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &Server{ControlPlane: cp, URL: srv.URL, AdminToken: cp.AdminSecret, Admin: admin}
}

// Token makes a token of the role (for member's member or host's node)
// and returns its secret.
func (s *Server) Token(t testing.TB, in wire.TokenInput) string {
	t.Helper()
	if in.Name == "" {
		in.Name = string(in.Role) + "-" + in.Member + in.Host
	}
	tok, err := s.Admin.CreateToken(context.Background(), in)
	if err != nil {
		t.Fatalf("token %+v: %v", in, err)
	}
	return tok.Secret
}

// MemberToken makes a member token of member.
func (s *Server) MemberToken(t testing.TB, member string) string {
	t.Helper()
	return s.Token(t, wire.TokenInput{Role: model.RoleMember, Member: member})
}

// NodeToken makes a node token of host.
func (s *Server) NodeToken(t testing.TB, host string) string {
	t.Helper()
	return s.Token(t, wire.TokenInput{Role: model.RoleNode, Host: host})
}

// Client is a client of the API with token.
func (s *Server) Client(t testing.TB, token string) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, token, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Node starts a fake node for host with a node token of its own.
func (s *Server) Node(t testing.TB, host string, o cptest.NodeOptions) *cptest.Node {
	t.Helper()
	return cptest.StartNode(t, s.URL, s.NodeToken(t, host), o)
}
