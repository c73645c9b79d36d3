package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/client"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// joinAPI is an API over a panel whose clock the test moves.
type joinAPI struct {
	url   string
	admin *client.Client
	mu    sync.Mutex
	now   time.Time
}

func (j *joinAPI) advance(d time.Duration) {
	j.mu.Lock()
	j.now = j.now.Add(d)
	j.mu.Unlock()
}

func newJoinAPI(t *testing.T, fingerprint string) *joinAPI {
	t.Helper()
	ctx := context.Background()
	j := &joinAPI{now: time.Now()}
	log := cptest.Quiet()
	p := cptest.Panel(cptest.SQLite(t), func() time.Time { j.mu.Lock(); defer j.mu.Unlock(); return j.now })
	secret, err := p.EnsureAdminToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(p, log)
	s.SetOps(Ops{CAFingerprint: func() string { return fingerprint }})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	j.url = srv.URL
	j.admin, _ = client.New(srv.URL, secret, client.Options{})
	if _, err := j.admin.CreateHost(ctx, model.Host{Name: "web1", Addresses: []string{"192.0.2.1"}, Roles: []model.Role{model.RoleWeb}}); err != nil {
		t.Fatal(err)
	}
	return j
}

func wantStatus(t *testing.T, err error, status int, contains string) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != status || !strings.Contains(ae.Message, contains) {
		t.Errorf("got %v, want a %d error saying %q", err, status, contains)
	}
}

func TestJoinTokenIsSingleUse(t *testing.T) {
	ctx := context.Background()
	fp := strings.Repeat("0f", 32)
	j := newJoinAPI(t, fp)
	jt, err := j.admin.CreateJoinToken(ctx, JoinTokenInput{Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	secret, gotFP := wire.SplitJoinToken(jt.Token)
	if gotFP != fp || jt.CAFingerprint != fp || !strings.HasPrefix(secret, "fyj_") {
		t.Errorf("join token %q: want fyj_… carrying the CA fingerprint %s", jt.Token, fp)
	}
	if d := jt.ExpiresAt.Sub(jt.CreatedAt); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("default join token lifetime %s, want 30m", d)
	}

	anon, _ := client.New(j.url, "", client.Options{})
	res, err := anon.Join(ctx, jt.Token)
	if err != nil {
		t.Fatal(err)
	}
	if res.Host != "web1" || !strings.HasPrefix(res.Secret, "fy_") {
		t.Fatalf("join result %+v", res)
	}
	node, _ := client.New(j.url, res.Secret, client.Options{})
	who, err := node.WhoAmI(ctx)
	if err != nil || who.Role != model.RoleNode || who.Host != "web1" {
		t.Errorf("the joined node's token is %+v, %v; want a node token of web1", who, err)
	}

	_, err = anon.Join(ctx, jt.Token)
	wantStatus(t, err, 401, "was used")
	_, err = anon.Join(ctx, "fyj_"+strings.Repeat("A", 43))
	wantStatus(t, err, 401, "unknown join token")
	_, err = anon.Join(ctx, res.Secret)
	wantStatus(t, err, 401, "malformed join token")

	// The join token itself is no API token.
	asJoin, _ := client.New(j.url, secret, client.Options{})
	_, err = asJoin.WhoAmI(ctx)
	wantStatus(t, err, 401, "malformed token")
}

func TestJoinTokenExpires(t *testing.T) {
	ctx := context.Background()
	j := newJoinAPI(t, "")
	jt, err := j.admin.CreateJoinToken(ctx, JoinTokenInput{Host: "web1", TTL: "5m"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(jt.Token, ".") || jt.CAFingerprint != "" {
		t.Errorf("without a CA of its own, the token %q carries a fingerprint", jt.Token)
	}
	j.advance(6 * time.Minute)
	anon, _ := client.New(j.url, "", client.Options{})
	_, err = anon.Join(ctx, jt.Token)
	wantStatus(t, err, 401, "expired")

	_, err = j.admin.CreateJoinToken(ctx, JoinTokenInput{Host: "web1", TTL: "48h"})
	wantStatus(t, err, 409, "join token lives")
	_, err = j.admin.CreateJoinToken(ctx, JoinTokenInput{Host: "nohost"})
	wantStatus(t, err, 404, "nohost")

	nt, err := j.admin.CreateToken(ctx, TokenInput{Name: "n", Role: model.RoleNode, Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	node, _ := client.New(j.url, nt.Secret, client.Options{})
	_, err = node.CreateJoinToken(ctx, JoinTokenInput{Host: "web1"})
	wantStatus(t, err, 403, "only admins")
}

func TestPlainHTTPOffLoopbackRefused(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"http://127.0.0.1:7080", false, true},
		{"http://127.3.2.1:7080", false, true},
		{"http://[::1]:7080", false, true},
		{"http://localhost:7080", false, true},
		{"https://192.0.2.10:7080", false, true},
		{"https://ctl.example.org", false, true},
		{"http://192.0.2.10:7080", false, false},
		{"http://ctl.example.org:7080", false, false},
		{"http://[2001:db8::1]:7080", false, false},
		{"http://localhost.example.org", false, false},
		{"http://192.0.2.10:7080", true, true},
	} {
		_, err := client.New(tc.url, "fy_x", client.Options{Insecure: tc.insecure})
		if tc.ok && err != nil {
			t.Errorf("client.New(%s, insecure=%v): %v", tc.url, tc.insecure, err)
		}
		if !tc.ok && (!errors.Is(err, client.ErrPlainHTTP) || !strings.Contains(err.Error(), "--insecure")) {
			t.Errorf("client.New(%s): %v, want client.ErrPlainHTTP naming --insecure", tc.url, err)
		}
	}
	u, _ := url.Parse("http://user:secret@192.0.2.1/")
	if err := client.CheckPlainHTTP(u, false); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("client.CheckPlainHTTP error %v shows the URL's password", err)
	}
}
