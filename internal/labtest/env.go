package labtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/cli"
	"ferry/internal/client"
	"ferry/internal/lab"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// Env is a test's handle on the shared lab: the lab, an admin client and
// the CLI.
type Env struct {
	T     testing.TB
	Lab   *lab.Lab
	Admin *client.Client
	URL   string
	Token string
}

// New returns an Env on the test binary's lab (see lab.ForTest); the lab
// must run a control plane.
func New(t testing.TB) *Env {
	t.Helper()
	l := lab.ForTest(t)
	st := l.State()
	if st.Control == nil {
		t.Fatal("the lab runs no control plane")
	}
	tok, err := os.ReadFile(st.Control.AdminTokenPath)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Lab: l, URL: st.Control.URL, Token: strings.TrimSpace(string(tok))}
	e.Admin, err = client.New(e.URL, e.Token, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// With returns a copy of e that reports to t (a subtest).
func (e *Env) With(t testing.TB) *Env {
	c := *e
	c.T = t
	return &c
}

// Ferry runs the CLI in-process as the admin and fails the test on a
// non-zero exit.
func (e *Env) Ferry(stdin string, args ...string) string {
	e.T.Helper()
	out, errOut, code := e.FerryCode(stdin, args...)
	if code != 0 {
		e.T.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// FerryCode runs the CLI in-process as the admin and returns its standard
// output, standard error and exit code.
func (e *Env) FerryCode(stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	full := append([]string{"--server", e.URL, "--token", e.Token}, args...)
	code = cli.Run(context.Background(), full, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// On runs argv inside a lab host and returns its output.
func (e *Env) On(host string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return e.Lab.Run(ctx, host, argv...)
}

// MustOn is On that fails the test when the command fails.
func (e *Env) MustOn(host string, argv ...string) string {
	e.T.Helper()
	out, err := e.On(host, argv...)
	if err != nil {
		e.T.Fatalf("on %s: %s: %v\n%s", host, strings.Join(argv, " "), err, out)
	}
	return out
}

// Addr is a lab host's address.
func (e *Env) Addr(host string) string {
	e.T.Helper()
	h, err := e.Lab.Host(host)
	if err != nil {
		e.T.Fatal(err)
	}
	return h.Address
}

// WaitItems waits until every item of the order is in a settled state
// (not pending) and returns them.
func (e *Env) WaitItems(order string, within time.Duration) []model.Item {
	e.T.Helper()
	deadline := time.Now().Add(within)
	for {
		items, err := e.Admin.ListItems(context.Background(), wire.ItemQuery{Order: order})
		if err != nil {
			e.T.Fatal(err)
		}
		settled := true
		for _, it := range items {
			if it.State.Pending() {
				settled = false
			}
		}
		if settled {
			return items
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("items of %s still pending after %s: %s", order, within, Describe(items))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Describe lists items one a line, for failure messages.
func Describe(items []model.Item) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "\n  %d %s %s on %s %s", it.ID, it.Kind, it.State, it.Host, it.Message)
	}
	return b.String()
}

// Item returns the order's first item of kind k.
func (e *Env) Item(order string, k model.Kind) model.Item {
	e.T.Helper()
	items, err := e.Admin.ListItems(context.Background(), wire.ItemQuery{Order: order, Kind: string(k)})
	if err != nil || len(items) == 0 {
		e.T.Fatalf("no %s item in %s: %v", k, order, err)
	}
	return items[0]
}

// ItemStates lists an order's live items as kind, host, state and what,
// one a line: two orders in the same state give the same text.
func (e *Env) ItemStates(domain string) string {
	e.T.Helper()
	var lines []string
	for _, it := range e.WaitItems(domain, 30*time.Second) {
		if it.State == model.StateDeleted {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %v %s %d", it.Kind, it.Host, it.State, it.Spec.ServerNames, it.Spec.Name+it.Spec.Login+it.Spec.FQDN, it.Spec.TTL))
	}
	return strings.Join(lines, "\n")
}

// Curl fetches path from addr inside host with a Host header.
func (e *Env) Curl(host, addr, name, path string) (string, error) {
	return e.On(host, "curl", "-sS", "--max-time", "10", "-H", "Host: "+name, "http://"+addr+path)
}

// WriteFile writes a file inside a lab host, owned by login.
func (e *Env) WriteFile(host, path, content, login string) {
	e.T.Helper()
	p, err := e.Lab.Path(host, path)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.T.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.T.Fatal(err)
	}
	if login != "" {
		e.MustOn(host, "chown", login+":"+login, path)
	}
}
