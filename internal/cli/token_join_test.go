package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"ferry/internal/controlplane/cptest/cpserver"
)

// A join token that leaked can be found and revoked before anyone uses
// it; the revoked token then enrols nothing, and what cannot be revoked
// says why.
func TestJoinTokensListedAndRevoked(t *testing.T) {
	clearEnv(t, "FERRY_CONFIG", "FERRY_TOKEN", "FERRY_TOKEN_FILE", "FERRY_JOIN_TOKEN")
	s := cpserver.Start(t, cpserver.Options{})
	ctx := context.Background()
	ferry := func(token string, args ...string) result {
		var out, errb bytes.Buffer
		code := Run(ctx, append([]string{"--server", s.URL, "--token", token}, args...), strings.NewReader(""), &out, &errb)
		return result{out.String(), errb.String(), code}
	}
	admin := func(args ...string) result { return ferry(s.AdminToken, args...) }
	if r := admin("host", "add", "web1", "--address", "127.0.0.1", "--role", "web"); r.code != 0 {
		t.Fatalf("host add: %+v", r)
	}
	if r := admin("member", "add", "coop"); r.code != 0 {
		t.Fatalf("member add: %+v", r)
	}
	member := s.MemberToken(t, "coop")
	leaked := strings.TrimSpace(admin("token", "create", "--role", "node", "--host", "web1", "--join").stdout)
	kept := strings.TrimSpace(admin("token", "create", "--role", "node", "--host", "web1", "--join").stdout)
	if !strings.HasPrefix(leaked, "fyj_") || !strings.HasPrefix(kept, "fyj_") {
		t.Fatalf("join tokens %q, %q", leaked, kept)
	}

	r := admin("token", "list", "--join")
	if r.code != 0 || strings.Count(r.stdout, "usable until") != 2 || strings.Contains(r.stdout, "fyj_") {
		t.Fatalf("token list --join (exit %d):\n%s%s\nwant two usable tokens and no secret", r.code, r.stdout, r.stderr)
	}
	if r := admin("token", "revoke", "--join", "1"); r.code != 0 || !strings.Contains(r.stdout, "revoked join token 1 for web1") {
		t.Fatalf("revoke --join 1: %+v", r)
	}
	if r := ferry("", "node", "join", "--join-token", leaked, "--state", t.TempDir()); r.code != ExitNotAllowed || !strings.Contains(r.stderr, "expired") {
		t.Errorf("join with the revoked token: exit %d, %s; want %d, expired", r.code, r.stderr, ExitNotAllowed)
	}
	if r := ferry("", "node", "join", "--join-token", kept, "--state", t.TempDir()); r.code != 0 {
		t.Errorf("join with the other token: exit %d, %s", r.code, r.stderr)
	}
	r = admin("token", "list", "--join")
	if !strings.Contains(r.stdout, "expired") || !strings.Contains(r.stdout, "used") {
		t.Errorf("token list --join after a revoke and a join:\n%s", r.stdout)
	}
	for _, tc := range []struct {
		name  string
		token string
		args  []string
		code  int
		says  string
	}{
		{"revoked twice", s.AdminToken, []string{"1"}, ExitRefused, "expired at"},
		{"used", s.AdminToken, []string{"2"}, ExitRefused, "revoke the node token it made"},
		{"unknown", s.AdminToken, []string{"99"}, ExitNotFound, "join token 99"},
		{"not an id", s.AdminToken, []string{"web1"}, ExitUsage, "positive number"},
		{"by a member", member, []string{"1"}, ExitNotAllowed, "only admins"},
	} {
		r := ferry(tc.token, append([]string{"token", "revoke", "--join"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("%s: exit %d, %q; want %d naming %q", tc.name, r.code, r.stderr, tc.code, tc.says)
		}
	}
	if r := ferry(member, "token", "list", "--join"); r.code != ExitNotAllowed {
		t.Errorf("a member listing join tokens: exit %d, want %d", r.code, ExitNotAllowed)
	}
}
