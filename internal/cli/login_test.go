package cli

import (
	"strings"
	"testing"

	"ferry/internal/wire"
)

// An admin sets a member's web password from stdin; a member's token
// cannot; a short password is refused with the reason; the list shows
// the login but never its password.
func TestMemberPasswd(t *testing.T) {
	s := startServer(t)
	if r := s.ferry(t, s.adminToken, "", "member", "add", "garden"); r.code != 0 {
		t.Fatalf("member add: %d %s", r.code, r.stderr)
	}
	r := s.ferry(t, s.adminToken, "a long passphrase\n", "member", "passwd", "garden")
	if r.code != 0 || !strings.Contains(r.stdout, "web login garden (member garden)") {
		t.Fatalf("member passwd: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if r := s.ferry(t, s.adminToken, "short\n", "member", "passwd", "garden"); r.code != 3 || !strings.Contains(r.stderr, "at least 10") {
		t.Errorf("short password: exit %d: %s", r.code, r.stderr)
	}
	if r := s.ferry(t, s.adminToken, "a long passphrase\n", "login", "passwd", "root"); r.code != 2 {
		t.Errorf("login passwd without --admin or --member: exit %d, want 2", r.code)
	}
	if r := s.ferry(t, s.adminToken, "another passphrase\n", "login", "passwd", "root", "--admin"); r.code != 0 {
		t.Errorf("admin login: exit %d: %s", r.code, r.stderr)
	}
	r = s.ferry(t, s.adminToken, "", "login", "list", "--json")
	ls := decode[[]wire.Login](t, r.stdout)
	if len(ls) != 2 || ls[0].Name != "garden" || ls[0].Member != "garden" || ls[1].Name != "root" || ls[1].Role != "admin" {
		t.Errorf("login list: %+v", ls)
	}
	if strings.Contains(r.stdout, "passphrase") || strings.Contains(r.stdout, "$2a$") {
		t.Error("login list shows a password or its hash")
	}
}
