package cli

import (
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
	"ferry/internal/wire"
)

// The move commands' refusals reach the user with the documented exit
// codes: a guard is 3, no move to act on is 4, a member token is 5.
func TestMoveCommandsExitCodes(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	s.admin(t, "host", "add", "web2", "--address", "127.0.1.12", "--role", "web")
	s.seed(t, "coop", "example.org")

	r := s.ferry(t, s.adminToken, "", "move", "plan", "example.org", "--to", "web2")
	if r.code != ExitRefused || !strings.Contains(r.stdout, "refused: host web2's node has never reported") || !strings.Contains(r.stdout, "steps:") {
		t.Errorf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = s.ferry(t, s.adminToken, "", "move", "start", "example.org", "--to", "web2")
	if r.code != ExitRefused || !strings.Contains(r.stderr, "never reported") {
		t.Errorf("start: exit %d: %s", r.code, r.stderr)
	}
	r = s.ferry(t, s.adminToken, "", "move", "start", "example.org", "--to", "web9")
	if r.code != ExitNotFound || !strings.Contains(r.stderr, `host "web9" does not exist`) {
		t.Errorf("start to an unknown host: exit %d: %s", r.code, r.stderr)
	}
	r = s.ferry(t, s.adminToken, "", "move", "sync", "example.org")
	if r.code != ExitNotFound || !strings.Contains(r.stderr, "has no move in progress") {
		t.Errorf("sync without a move: exit %d: %s", r.code, r.stderr)
	}
	if out := s.admin(t, "move", "status"); !strings.Contains(out, "no move in progress") {
		t.Errorf("status: %q", out)
	}
	tok := decode[struct {
		Secret string `json:"secret"`
	}](t, s.admin(t, "token", "create", "--role", "member", "--member", "coop", "--json"))
	r = s.ferry(t, tok.Secret, "", "move", "plan", "example.org", "--to", "web2")
	if r.code != ExitNotAllowed {
		t.Errorf("member plans a move: exit %d: %s", r.code, r.stderr)
	}
}

// A whole move through the CLI, each command waiting for its phase. Verify
// finds that nothing answers HTTP on the lab addresses, so cutover is
// forced, and so is cleanup.
func TestMoveThroughTheCLI(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	s.admin(t, "host", "add", "web2", "--address", "127.0.1.12", "--role", "web")
	s.seed(t, "coop", "example.org")
	s.nodes(t, "web1", "web2", "dns1")
	s.admin(t, "item", "add", "example.org", "user-account", "--login", "coop")
	s.admin(t, "item", "add", "example.org", "mysql-db", "--name", "coop_db")
	s.admin(t, "item", "add", "example.org", "web-conf", "--login", "coop", "--server-name", "example.org")
	s.admin(t, "item", "add", "example.org", "dns", "--type", "A", "--value", "127.0.1.11", "--ttl", "600")
	deadline := time.Now().Add(10 * time.Second)
	for r := s.ferry(t, s.adminToken, "", "move", "plan", "example.org", "--to", "web2"); r.code != 0; r = s.ferry(t, s.adminToken, "", "move", "plan", "example.org", "--to", "web2") {
		if time.Now().After(deadline) {
			t.Fatalf("the plan still refuses:\n%s", r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}

	out := s.admin(t, "move", "start", "example.org", "--to", "web2")
	if !strings.Contains(out, "prepared; next: ferry move sync example.org") {
		t.Errorf("start:\n%s", out)
	}
	out = s.admin(t, "move", "sync", "example.org")
	if !strings.Contains(out, "synced: 5.0M sent of 8.0M, 12 of 30 files; 1 of 1 tables copied") {
		t.Errorf("sync:\n%s", out)
	}
	// --json prints only the move as the phase left it, with the same exit
	// code as without.
	r := s.ferry(t, s.adminToken, "", "move", "sync", "example.org", "--json")
	if v := decode[wire.MoveView](t, r.stdout); r.code != 0 || v.Phase != model.PhaseSync || v.Status != model.MoveSucceeded {
		t.Errorf("sync --json: exit %d, phase %s, status %s\n%s", r.code, v.Phase, v.Status, r.stderr)
	}
	r = s.ferry(t, s.adminToken, "", "move", "verify", "example.org", "--json")
	if v := decode[wire.MoveView](t, r.stdout); r.code != ExitError || v.Status != model.MoveFailed {
		t.Errorf("verify --json: exit %d, status %s", r.code, v.Status)
	}
	r = s.ferry(t, s.adminToken, "", "move", "verify", "example.org")
	if r.code != ExitError || !strings.Contains(r.stdout, "verify FAILED") || !strings.Contains(r.stdout, "127.0.1.12 example.org") ||
		!strings.Contains(r.stderr, "Apache on web1 does not answer HTTP") {
		t.Errorf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = s.ferry(t, s.adminToken, "", "move", "cutover", "example.org")
	if r.code != ExitRefused || !strings.Contains(r.stderr, "--accept-verify-differences overrides") || !strings.Contains(r.stderr, "--skip-ttl-wait overrides") {
		t.Errorf("cutover: exit %d: %s", r.code, r.stderr)
	}
	// Each guard has its own override: skipping the TTL wait does not
	// push past the failed verify, and the old --force is a usage error
	// naming both.
	r = s.ferry(t, s.adminToken, "", "move", "cutover", "example.org", "--skip-ttl-wait")
	if r.code != ExitRefused || !strings.Contains(r.stderr, "--accept-verify-differences overrides") || strings.Contains(r.stderr, "--skip-ttl-wait overrides") {
		t.Errorf("cutover --skip-ttl-wait: exit %d: %s", r.code, r.stderr)
	}
	r = s.ferry(t, s.adminToken, "", "move", "cutover", "example.org", "--force")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--skip-ttl-wait") || !strings.Contains(r.stderr, "--accept-verify-differences") {
		t.Errorf("cutover --force: exit %d: %s", r.code, r.stderr)
	}
	out = s.admin(t, "move", "cutover", "example.org", "--skip-ttl-wait", "--accept-verify-differences")
	if !strings.Contains(out, "overrode the failed verify (--accept-verify-differences)") || !strings.Contains(out, "overrode the TTL wait (--skip-ttl-wait)") ||
		!strings.Contains(out, "the site was frozen for") || !strings.Contains(out, "switched example.org A 127.0.1.11 → 127.0.1.12") ||
		!strings.Contains(out, "maintenance 0.03 s, final sync of files 0.08 s and databases 0.12 s side by side, proxy 0.04 s") {
		t.Errorf("cutover with both overrides:\n%s", out)
	}
	out = s.admin(t, "move", "cleanup", "example.org", "--skip-ttl-wait")
	if !strings.Contains(out, "cleaned up; the move is done") {
		t.Errorf("cleanup --skip-ttl-wait:\n%s", out)
	}
	out = s.admin(t, "move", "status", "example.org", "--watch")
	for _, want := range []string{"phase done  succeeded", "prepare  by", "cutover  by admin --skip-ttl-wait --accept-verify-differences"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not say %q:\n%s", want, out)
		}
	}
}

func TestSyncLineSaysWhatWentRowByRow(t *testing.T) {
	s := wire.SyncReport{}
	s.DB.Tables = []model.TableSum{{DB: "shop", Table: "a", Copied: true, ByRows: &model.RowChanges{Changed: 700, Added: 3}}, {DB: "shop", Table: "b"}}
	s.DB.TablesCopied, s.DB.TablesByRows, s.DB.RowsByRows, s.DB.Bytes = 1, 1, 703, 2<<20
	if got, want := syncLine(s), "1 of 2 tables copied (2.0M, 1 of them row by row: 703 rows)"; !strings.Contains(got, want) {
		t.Errorf("sync line %q does not say %q", got, want)
	}
	s.DB.TablesByRows, s.DB.RowsByRows = 0, 0
	if got := syncLine(s); strings.Contains(got, "row by row") {
		t.Errorf("sync line %q speaks of rows copied row by row", got)
	}
}
