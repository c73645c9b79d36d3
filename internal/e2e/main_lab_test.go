//go:build lab

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"ferry/internal/api"
	"ferry/internal/cli"
	"ferry/internal/lab"
	"ferry/internal/model"
)

func TestMain(m *testing.M) {
	lab.Main(m, lab.Config{Web: 2, ControlPlane: true})
}

// env is a test's handle on the shared lab: the lab, an admin client and
// the CLI.
type env struct {
	t     *testing.T
	lab   *lab.Lab
	admin *api.Client
	url   string
	token string
}

func newEnv(t *testing.T) *env {
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
	e := &env{t: t, lab: l, url: st.Control.URL, token: strings.TrimSpace(string(tok))}
	e.admin, err = api.NewClient(e.url, e.token, api.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// ferry runs the CLI in-process as the admin and fails the test on a
// non-zero exit.
func (e *env) ferry(stdin string, args ...string) string {
	e.t.Helper()
	out, errOut, code := e.ferryCode(stdin, args...)
	if code != 0 {
		e.t.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func (e *env) ferryCode(stdin string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	full := append([]string{"--server", e.url, "--token", e.token}, args...)
	code := cli.Run(context.Background(), full, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// on runs argv inside a lab host and returns its output.
func (e *env) on(host string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return e.lab.Run(ctx, host, argv...)
}

func (e *env) mustOn(host string, argv ...string) string {
	e.t.Helper()
	out, err := e.on(host, argv...)
	if err != nil {
		e.t.Fatalf("on %s: %s: %v\n%s", host, strings.Join(argv, " "), err, out)
	}
	return out
}

func (e *env) addr(host string) string {
	e.t.Helper()
	h, err := e.lab.Host(host)
	if err != nil {
		e.t.Fatal(err)
	}
	return h.Address
}

// waitItems waits until every item of the order is in a settled state
// (not pending) and returns them.
func (e *env) waitItems(order string, within time.Duration) []model.Item {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		items, err := e.admin.ListItems(context.Background(), api.ItemQuery{Order: order})
		if err != nil {
			e.t.Fatal(err)
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
			e.t.Fatalf("items of %s still pending after %s: %s", order, within, describe(items))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func describe(items []model.Item) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "\n  %d %s %s on %s %s", it.ID, it.Kind, it.State, it.Host, it.Message)
	}
	return b.String()
}

// curl fetches url from inside host with a Host header.
func (e *env) curl(host, addr, name, path string) (string, error) {
	return e.on(host, "curl", "-sS", "--max-time", "10", "-H", "Host: "+name, "http://"+addr+path)
}

func itoa(n int64) string { return fmt.Sprint(n) }

func apiOrderQuery(identifier string) api.OrderQuery { return api.OrderQuery{Identifier: identifier} }
