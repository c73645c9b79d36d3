package receive

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ferry/internal/model"
)

// fakeHost records what Run asks of the new host.
type fakeHost struct {
	pol    Policy
	polErr error
	calls  []string
	argv   []string
	only   []string
	chain  []byte
	key    []byte
}

func (h *fakeHost) Policy(int64) (Policy, error) { return h.pol, h.polErr }
func (*fakeHost) Engine(e string) bool           { return isEngine(e) }
func (h *fakeHost) Rsync(_ context.Context, argv []string, _ Options) error {
	h.calls, h.argv = append(h.calls, "rsync"), argv
	return nil
}
func (h *fakeHost) Load(_ context.Context, db model.MoveDB, o Options) error {
	h.calls = append(h.calls, "load "+db.Name)
	return nil
}
func (h *fakeHost) Sums(_ context.Context, db model.MoveDB, only []string) ([]model.TableSum, error) {
	h.calls, h.only = append(h.calls, "sums "+db.Name), only
	return nil, nil
}
func (h *fakeHost) Stamps(_ context.Context, db model.MoveDB) (any, error) {
	h.calls = append(h.calls, "stamps "+db.Name)
	return map[string]int{"now": 5}, nil
}
func (h *fakeHost) Objects(_ context.Context, db model.MoveDB, _ io.Reader, _ io.Writer) error {
	h.calls = append(h.calls, "objects "+db.Name)
	return nil
}
func (h *fakeHost) Rows(_ context.Context, db model.MoveDB, _ io.Reader, _ io.Writer) error {
	h.calls = append(h.calls, "rows "+db.Name)
	return nil
}
func (h *fakeHost) Crontab(_ context.Context, login string, _ io.Reader) error {
	h.calls = append(h.calls, "crontab "+login)
	return nil
}
func (h *fakeHost) TLS(_ context.Context, order, site string, chain, key []byte) error {
	h.calls, h.chain, h.key = append(h.calls, "tls "+order+" "+site), chain, key
	return nil
}
func (h *fakeHost) Mailboxes(dir string) (any, error) {
	h.calls = append(h.calls, "mailboxes "+dir)
	return []map[string]any{{"account": "post", "name": "INBOX", "uidvalidity": 9, "messages": []map[string]any{{"uid": 1, "base": "a"}}}}, nil
}
func (h *fakeHost) SparseFiles(dir string) map[string][2]int64 {
	h.calls = append(h.calls, "sparse "+dir)
	return map[string][2]int64{"web/big": {10, 4096}}
}

// Run hands a command that passed to the host, rsync's argv exactly as
// the server is to run, and refuses before the host is asked otherwise.
func TestRunHandsTheCheckedCommandToTheHost(t *testing.T) {
	order := filepath.Join(t.TempDir(), "order")
	if err := os.MkdirAll(filepath.Join(order, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	pol := moveTestPolicy()
	pol.OrderDir = order
	h := &fakeHost{pol: pol}
	run := func(command, stdin string) (string, error) {
		var out strings.Builder
		err := Run(context.Background(), h, Options{MoveID: 7, Command: command, Client: "127.0.1.11 50022 22",
			Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: io.Discard})
		return out.String(), err
	}

	if _, err := run("rsync --server -lHogtpAXre.LsfxCIvu --delete . "+order+"/web/", ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"rsync", "--server", "-lHogtpAXre.LsfxCIvu", "--delete", rsyncServerChmod, ".", order + "/web/"}
	if !reflect.DeepEqual(h.argv, want) {
		t.Errorf("rsync argv %q, want %q", h.argv, want)
	}
	out, err := run("ferry-sums mysql shop", `["orders"]`)
	if err != nil || out != "[]\n" || !reflect.DeepEqual(h.only, []string{"orders"}) {
		t.Errorf("sums: %q, %v, only %q", out, err, h.only)
	}
	if out, err := run("ferry-stamps mysql shop", ""); err != nil || out != `{"now":5}`+"\n" {
		t.Errorf("stamps: %q, %v", out, err)
	}
	if out, err := run("ferry-sparse", ""); err != nil || out != `{"web/big":[10,4096]}`+"\n" {
		t.Errorf("sparse: %q, %v", out, err)
	}
	if out, err := run("ferry-mailboxes", ""); err != nil || out != `[{"account":"post","messages":[{"base":"a","uid":1}],"name":"INBOX","uidvalidity":9}]`+"\n" {
		t.Errorf("mailboxes: %q, %v", out, err)
	}
	for _, c := range []string{"ferry-load pgsql blog", "ferry-objects mysql shop", "ferry-rows mysql shop", "ferry-crontab shopper"} {
		if _, err := run(c, ""); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	if _, err := run("ferry-tls www.example.org", testChain+testKey); err != nil {
		t.Errorf("ferry-tls: %v", err)
	}
	if string(h.chain) != testChain || string(h.key) != testKey {
		t.Errorf("ferry-tls handed the host chain %q and key %q", h.chain, h.key)
	}
	wantCalls := []string{"rsync", "sums shop", "stamps shop", "sparse " + order, "mailboxes " + order, "load blog", "objects shop", "rows shop", "crontab shopper",
		"tls example.org www.example.org"}
	if !reflect.DeepEqual(h.calls, wantCalls) {
		t.Errorf("the host was asked %q, want %q", h.calls, wantCalls)
	}

	h.calls = nil
	if err := os.Symlink("/etc", filepath.Join(order, "web", "evil")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"rsync --server -r . " + order + "/web/evil/", "ferry-load mysql other", "id",
		"ferry-tls ../x", "ferry-tls www.example.org", "ferry-mailboxes post"} {
		if _, err := run(c, testChain); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want a refusal", c, err)
		}
	}
	h.polErr = errors.New("move 7 is not authorised on this host")
	if _, err := run("ferry-sparse", ""); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not authorised") {
		t.Errorf("no policy: %v, want a refusal that says so", err)
	}
	if h.calls != nil {
		t.Errorf("refused commands reached the host: %q", h.calls)
	}
}
