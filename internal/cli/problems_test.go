package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/controlplane/cptest/cpserver"
	"ferry/internal/model"
	"ferry/internal/rebalance"
	"ferry/internal/wire"
)

func TestListProblems(t *testing.T) {
	two := []string{"web1's node is offline; its orders cannot be copied off", "order a.example fits on no other active host"}
	refusal := func(msg string, problems []string) error {
		return fmt.Errorf("apply: %w", &wire.Error{Status: 409, Code: wire.CodeRefused, Message: msg, Problems: problems})
	}
	err := listProblems(refusal("refused: cannot drain web1: "+strings.Join(two, "; "), two))
	want := "apply: refused: cannot drain web1:\n  - " + two[0] + "\n  - " + two[1]
	if err.Error() != want || exitCode(err) != ExitRefused {
		t.Errorf("a refusal of two problems:\n%s\n(exit %d), want\n%s\n(exit %d)", err, exitCode(err), want, ExitRefused)
	}
	for name, err := range map[string]error{
		"one problem":             refusal("refused: cannot drain web1: "+two[0], two[:1]),
		"no problems field":       refusal("refused: cannot drain web1: "+strings.Join(two, "; "), nil),
		"text without these":      refusal("refused: cannot drain web1: something else; and more", two),
		"not a refusal":           &wire.Error{Status: 404, Code: wire.CodeNotFound, Message: "x: " + strings.Join(two, "; "), Problems: two},
		"not from the API at all": errors.New("x: " + strings.Join(two, "; ")),
	} {
		if got := listProblems(err); got != err {
			t.Errorf("%s: %q became %q", name, err, got)
		}
	}
}

// A refusal of several problems prints them one a line, whichever
// command met it: applying a plan that has problems, draining a host
// that cannot be drained.
func TestManyProblemRefusalPrintsAList(t *testing.T) {
	s := cpserver.Start(t, cpserver.Options{Rebalance: true})
	ctx := context.Background()
	ferry := func(args ...string) result {
		var out, errb bytes.Buffer
		code := Run(ctx, append([]string{"--server", s.URL, "--token", s.AdminToken}, args...), strings.NewReader(""), &out, &errb)
		return result{out.String(), errb.String(), code}
	}

	plan := rebalance.Plan{Problems: []string{"web1's node is offline; its orders cannot be copied off until it reports again", "order a.example fits on no other active host"}}
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := ferry("rebalance", "apply", file)
	want := "ferry: refused: the plan has problems:\n  - " + plan.Problems[0] + "\n  - " + plan.Problems[1] + "\n"
	if r.code != ExitRefused || r.stderr != want {
		t.Errorf("apply: exit %d\n%s\nwant exit %d\n%s", r.code, r.stderr, ExitRefused, want)
	}

	// web1 has never reported and is the only web host: neither of its
	// orders can go anywhere.
	if _, err := s.Admin.CreateHost(ctx, model.Host{Name: "web1", Addresses: []string{"127.0.1.11"}, Roles: []model.Role{model.RoleWeb}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CreateMember(ctx, model.Member{Name: "coop"}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"a.example", "b.example"} {
		if _, err := s.Admin.CreateOrder(ctx, model.Order{Identifier: o, Member: "coop", Host: "web1"}); err != nil {
			t.Fatal(err)
		}
	}
	r = ferry("host", "drain", "web1")
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if r.code != ExitRefused || len(lines) != 4 || lines[0] != "ferry: refused: cannot drain web1:" ||
		lines[1] != "  - web1's node is offline; its orders cannot be copied off until it reports again" ||
		!strings.Contains(r.stderr, "\n  - order a.example fits on no other active host (") || !strings.Contains(r.stderr, "\n  - order b.example fits on no other active host (") {
		t.Errorf("drain: exit %d\n%s", r.code, r.stderr)
	}
}
