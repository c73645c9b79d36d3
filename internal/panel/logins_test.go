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
	"ferry/internal/totp"
)

// A login's password lets its owner in as the member or admin it was made
// for, nobody else; a TOTP code is asked once turned on; revoking its token
// or deleting its member ends it; changing the password needs the old one.
func TestPasswordLogins(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := cptest.FixedClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	p := cptest.Panel(st, clk.Now)
	for _, m := range []string{"alice", "bob"} {
		if _, err := p.CreateMember(ctx, panel.System, model.Member{Name: m}); err != nil {
			t.Fatal(err)
		}
	}
	const pw = "correct horse battery"
	if _, err := p.SetLoginPassword(ctx, panel.System, panel.LoginInput{Name: "alice", Role: model.RoleMember, Member: "alice", Password: pw}); err != nil {
		t.Fatal(err)
	}
	c, err := p.PasswordLogin(ctx, "alice", pw, "")
	if err != nil || c.Member != "alice" || c.Role != model.RoleMember || c.Name != "login-alice" {
		t.Fatalf("login: %+v, %v", c, err)
	}
	for _, bad := range [][2]string{{"alice", "wrong password!"}, {"nobody", pw}, {"ALICE", pw}, {"", ""}} {
		if _, err := p.PasswordLogin(ctx, bad[0], bad[1], ""); !errors.Is(err, panel.ErrUnauthenticated) {
			t.Errorf("login %q/%q: %v, want unauthenticated", bad[0], bad[1], err)
		}
	}
	// Only admins set passwords; a member's login cannot be turned into bob's.
	if _, err := p.SetLoginPassword(ctx, c, panel.LoginInput{Name: "alice", Role: model.RoleMember, Member: "alice", Password: pw}); !errors.Is(err, panel.ErrForbidden) {
		t.Errorf("member sets a password: %v, want forbidden", err)
	}
	if _, err := p.SetLoginPassword(ctx, panel.System, panel.LoginInput{Name: "alice", Role: model.RoleMember, Member: "bob", Password: pw}); err == nil {
		t.Error("alice's login was given to bob")
	}
	if _, err := p.SetLoginPassword(ctx, panel.System, panel.LoginInput{Name: "short", Role: model.RoleAdmin, Password: "abc"}); err == nil {
		t.Error("a 3-character password was taken")
	}

	// Own password: the current one is needed; the new one works after.
	var fe *model.FieldError
	if err := p.ChangeOwnPassword(ctx, c, "not it at all", "a new password here"); !errors.As(err, &fe) || fe.Field != "current_password" {
		t.Errorf("change with a wrong current password: %v", err)
	}
	if err := p.ChangeOwnPassword(ctx, c, pw, "a new password here"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PasswordLogin(ctx, "alice", pw, ""); err == nil {
		t.Error("the old password still works")
	}
	if _, err := p.PasswordLogin(ctx, "alice", "a new password here", ""); err != nil {
		t.Errorf("the new password: %v", err)
	}

	// TOTP: refused with a wrong code; once on, the login needs a code.
	secret, _ := totp.NewSecret()
	code, _ := totp.Code(secret, clk.Now())
	wrong := "123456"
	if wrong == code {
		wrong = "654321"
	}
	if err := p.SetOwnTOTP(ctx, c, secret, wrong, ""); !errors.As(err, &fe) || fe.Field != "code" {
		t.Errorf("TOTP with a wrong code: %v", err)
	}
	if err := p.SetOwnTOTP(ctx, c, secret, code, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PasswordLogin(ctx, "alice", "a new password here", ""); !errors.Is(err, panel.ErrCodeNeeded) {
		t.Errorf("without a code: %v, want ErrCodeNeeded", err)
	}
	if _, err := p.PasswordLogin(ctx, "alice", "a new password here", wrong); !errors.Is(err, panel.ErrUnauthenticated) || errors.Is(err, panel.ErrCodeNeeded) {
		t.Errorf("with a wrong code: %v", err)
	}
	if _, err := p.PasswordLogin(ctx, "alice", "a new password here", code); err != nil {
		t.Errorf("with the code: %v", err)
	}

	// Deleting the member ends the login.
	if _, err := p.DeleteMember(ctx, panel.System, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PasswordLogin(ctx, "alice", "a new password here", code); !errors.Is(err, panel.ErrUnauthenticated) {
		t.Errorf("after the member was deleted: %v", err)
	}
	// An admin login, then its token revoked: it ends, and setting a
	// password again makes it work with a new token.
	if _, err := p.SetLoginPassword(ctx, panel.System, panel.LoginInput{Name: "root", Role: model.RoleAdmin, Password: pw}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RevokeToken(ctx, panel.System, "login-root"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PasswordLogin(ctx, "root", pw, ""); !errors.Is(err, panel.ErrUnauthenticated) {
		t.Errorf("revoked: %v", err)
	}
	if _, err := p.SetLoginPassword(ctx, panel.System, panel.LoginInput{Name: "root", Role: model.RoleAdmin, Password: pw}); err != nil {
		t.Fatal(err)
	}
	if c, err := p.PasswordLogin(ctx, "root", pw, ""); err != nil || !c.IsAdmin() {
		t.Errorf("after a new password: %+v, %v", c, err)
	}
}
