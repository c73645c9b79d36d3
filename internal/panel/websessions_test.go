package panel_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// A web session lasts while used, no longer than its lifetime, ends with
// its token or member, keeps a message for one page only, and is not kept
// alive by a progress stream that only peeks.
func TestWebSessions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := cptest.FixedClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	p := cptest.Panel(st, clk.Now)
	lim := panel.SessionLimits{Idle: time.Hour, Lifetime: 3 * time.Hour}
	if _, err := p.CreateMember(ctx, panel.System, model.Member{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	login := func() panel.WebSession {
		t.Helper()
		tok, secret, err := p.CreateToken(ctx, panel.System, model.Token{Name: "alice-" + clk.Now().Format("150405.000"), Role: model.RoleMember, Member: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.Authenticate(ctx, secret)
		if err != nil || c.TokenID != tok.ID {
			t.Fatalf("authenticate: %+v, %v", c, err)
		}
		w, err := p.OpenWebSession(ctx, c, lim)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	ended := func(what string, w panel.WebSession) {
		t.Helper()
		if _, err := p.UseWebSession(ctx, w.ID, lim); !errors.Is(err, panel.ErrNoSession) {
			t.Errorf("%s: the session answers (%v), want ErrNoSession", what, err)
		}
	}

	w := login()
	if err := p.SetWebSessionFlash(ctx, w.ID, "saved"); err != nil {
		t.Fatal(err)
	}
	got, err := p.PeekWebSession(ctx, w.ID, lim)
	if err != nil || got.Flash != "" || got.Caller.Member != "alice" {
		t.Errorf("peek = %+v, %v; want alice's session, flash left for the page", got, err)
	}
	if got, err := p.UseWebSession(ctx, w.ID, lim); err != nil || got.Flash != "saved" || got.CSRF != w.CSRF {
		t.Errorf("first use = %+v, %v; want the flash and the session's CSRF token", got, err)
	}
	if got, _ := p.UseWebSession(ctx, w.ID, lim); got.Flash != "" {
		t.Errorf("the flash showed twice: %q", got.Flash)
	}
	// Used every 50 minutes it lives on, until its lifetime.
	for range 3 {
		clk.Advance(50 * time.Minute)
		if _, err := p.UseWebSession(ctx, w.ID, lim); err != nil {
			t.Fatalf("a session in use ended at %s: %v", clk.Now(), err)
		}
	}
	clk.Advance(40 * time.Minute) // 3 h 10 min after login
	ended("past its lifetime", w)

	// Peeking does not keep it alive.
	w = login()
	for range 2 {
		clk.Advance(40 * time.Minute)
		if _, err := p.PeekWebSession(ctx, w.ID, lim); err != nil && clk.Now().Sub(w.CreatedAt) < lim.Idle {
			t.Fatalf("peek: %v", err)
		}
	}
	ended("idle for 80 minutes while only peeked at", w)

	w = login()
	if _, err := p.RevokeToken(ctx, panel.System, w.Caller.Name); err != nil {
		t.Fatal(err)
	}
	ended("its token revoked", w)

	w = login()
	if err := p.CloseWebSession(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	ended("logged out", w)
	if err := p.CloseWebSession(ctx, w.ID); err != nil {
		t.Errorf("a second logout: %v", err)
	}
	if n, err := p.CountWebSessions(ctx); err != nil || n != 0 {
		t.Errorf("%d sessions kept after they all ended (%v)", n, err)
	}
	if _, err := p.OpenWebSession(ctx, panel.Caller{Name: "no token"}, lim); !errors.Is(err, panel.ErrUnauthenticated) {
		t.Errorf("a session without a token: %v", err)
	}
}
