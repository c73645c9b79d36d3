package internal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// controlPlane are the packages only the control plane may link.
var controlPlane = []string{
	"ferry/internal/store",
	"ferry/internal/panel",
	"ferry/internal/move",
	"ferry/internal/rebalance",
	"ferry/internal/api",
}

// deps lists the packages pkg links, itself included.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestNodeLinksNoControlPlane keeps the node's packages (the agent loop,
// the appliers, the move tasks, the runner), the client and the wire types
// apart from the control plane's packages, its database and its queue.
func TestNodeLinksNoControlPlane(t *testing.T) {
	for _, pkg := range []string{"./node/...", "./client", "./wire", "./model"} {
		for _, d := range deps(t, pkg) {
			bad := strings.Contains(d, "riverqueue") || strings.Contains(d, "modernc.org/sqlite")
			for _, c := range controlPlane {
				bad = bad || d == c
			}
			if bad {
				t.Errorf("%s links %s", pkg, d)
			}
		}
	}
}

// TestReceiveLinksLittle keeps `ferry node receive`, the forced command a
// move's key is confined to, apart from the control plane, its database
// and its queue, and from the node agent's item appliers: of ours it
// links only the model.
func TestReceiveLinksLittle(t *testing.T) {
	const pkg = "ferry/internal/node/receive"
	for _, d := range deps(t, "./node/receive") {
		bad := strings.Contains(d, "riverqueue") || strings.Contains(d, "modernc.org/sqlite")
		bad = bad || strings.HasPrefix(d, "ferry/") && d != pkg && d != "ferry/internal/model"
		if bad {
			t.Errorf("%s links %s", pkg, d)
		}
	}
}

// TestNodeRooms keeps the node's packages in their rooms
// (docs/architecture.md): each may link, of ours, only what is listed.
// The runner links nothing of ours. The database engines link the runner
// and the model only, so the appliers and the move tasks can share them.
// The appliers link neither the agent
// loop nor the move tasks. The agent loop does not link the move tasks
// (`ferry node` hands it their table). The move tasks do link the
// appliers, for a real reason: they work on what the appliers made (the
// order directory, the users' crontabs, the vhost a site mode swaps, the
// database servers) and take the appliers' host lock so that a move's
// change never crosses an apply; an apply.Applier gives them all of it
// without a second copy of that code. They read mailboxes' UIDs with
// maildir, which links only the model. The appliers link the certificate
// checks and the ACME client, which HTTPS sites need (and so do the
// packages that link the appliers).
func TestNodeRooms(t *testing.T) {
	const node = "ferry/internal/node"
	tls := []string{"ferry/internal/acme", "ferry/internal/certs"}
	for _, c := range []struct {
		pkg   string
		links []string
	}{
		{"./node/hostexec", nil},
		{"./node/dbengine", []string{node + "/hostexec", "ferry/internal/model"}},
		{"./node/apply", append([]string{node + "/dbengine", node + "/hostexec", "ferry/internal/model", "ferry/internal/atomicfile"}, tls...)},
		{"./node/movetask", append([]string{node + "/apply", node + "/dbengine", node + "/receive", node + "/hostexec", "ferry/internal/model", "ferry/internal/atomicfile", "ferry/internal/maildir"}, tls...)},
		{"./node", append([]string{node + "/apply", node + "/dbengine", node + "/hostexec", "ferry/internal/client", "ferry/internal/wire", "ferry/internal/model", "ferry/internal/dnsserve", "ferry/internal/atomicfile"}, tls...)},
	} {
		self := "ferry/internal/" + strings.TrimPrefix(c.pkg, "./")
		for _, d := range deps(t, c.pkg) {
			if strings.HasPrefix(d, "ferry/") && d != self && !slices.Contains(c.links, d) {
				t.Errorf("%s links %s", self, d)
			}
		}
	}
}

// TestModelIsALeaf keeps the model free of every other package of ours.
func TestModelIsALeaf(t *testing.T) {
	for _, d := range deps(t, "./model") {
		if strings.HasPrefix(d, "ferry/") && d != "ferry/internal/model" {
			t.Errorf("ferry/internal/model links %s", d)
		}
	}
}

// TestProductionBinaryHasNoLab keeps the lab (namespaces, test servers)
// out of the ferry that is built without the lab tag, as the Debian
// package's is.
func TestProductionBinaryHasNoLab(t *testing.T) {
	for _, d := range deps(t, "../cmd/ferry") {
		if d == "ferry/internal/lab" || strings.HasPrefix(d, "ferry/internal/lab/") {
			t.Errorf("ferry built without -tags lab links %s", d)
		}
	}
}
