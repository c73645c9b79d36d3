package movetask

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"ferry/internal/model"
	"ferry/internal/node/apply"
	"ferry/internal/node/hostexec"
)

// moveTestHostKey is an ed25519 public key in authorized_keys form.
const moveTestHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDAAUO7Ny0Tp24J4AGw+p7kTbVqWDbaO2rw5PyzATUE9 root@web2"

// moveTestEnv is a mover whose files all live in a temporary directory.
type moveTestEnv struct {
	m        *mover
	dir      string
	authKeys string
}

func newMoveTestEnv(t *testing.T) moveTestEnv {
	t.Helper()
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key.pub")
	if err := os.WriteFile(hostKey, []byte(moveTestHostKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	authKeys := filepath.Join(dir, "root", ".ssh", "authorized_keys")
	m, err := newMover(Config{
		Node:           apply.Config{MembersRoot: "/home/members", ApacheSitesAvailable: filepath.Join(dir, "sites-available"), ApacheSitesEnabled: filepath.Join(dir, "sites-enabled"), Mail: apply.MailConfig{StateDir: filepath.Join(dir, "mail"), PostfixDir: filepath.Join(dir, "postfix"), DovecotUsers: filepath.Join(dir, "ferry-users")}},
		StateDir:       filepath.Join(dir, "state"),
		Ferry:          "/usr/local/bin/ferry",
		AuthorizedKeys: authKeys,
		HostKeyFile:    hostKey,
		Log:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return moveTestEnv{m: m, dir: dir, authKeys: authKeys}
}

// useRunner makes the environment's mover run its commands through r.
func (e moveTestEnv) useRunner(r hostexec.Runner) {
	e.m.cfg.Node.Runner = r
	e.m.a = apply.New(e.m.cfg.Node)
}

// moveTestDir is the order directory of the tests' move.
const moveTestDir = "/home/members/coop/sites/example.org"

func moveTestPayload() model.MoveTaskPayload {
	return model.MoveTaskPayload{
		MoveID:   7,
		Order:    model.Order{ID: 3, Identifier: "example.org", Member: "coop", Host: "web1"},
		OrderDir: moveTestDir,
		FromAddr: "127.0.1.11",
		ToAddr:   "127.0.1.12",
		Databases: []model.MoveDB{
			{Engine: "mysql", Name: "shop"},
			{Engine: "pgsql", Name: "blog", Owner: "blogger"},
		},
		Logins: []string{"shopper"},
	}
}

func TestMoveKeygenIsIdempotent(t *testing.T) {
	env := newMoveTestEnv(t)
	ctx := context.Background()
	p := moveTestPayload()
	r1, err := env.m.keygen(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := r1.(model.MoveKeygenResult).PublicKey
	if !strings.HasPrefix(pub, "ssh-ed25519 ") || !strings.HasSuffix(pub, " ferry-move-7") {
		t.Errorf("public key %q", pub)
	}
	if _, err := parseMovePublicKey(pub); err != nil {
		t.Errorf("the key does not parse back: %v", err)
	}
	key := filepath.Join(env.m.moveDir(7), moveKeyFile)
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(key)
	if _, err := ssh.ParsePrivateKey(data); err != nil {
		t.Errorf("private key: %v", err)
	}
	r2, err := env.m.keygen(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.(model.MoveKeygenResult).PublicKey; got != pub {
		t.Errorf("second keygen made another key:\n%s\n%s", got, pub)
	}
}

func TestMoveAuthorizeAndRevoke(t *testing.T) {
	env := newMoveTestEnv(t)
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Dir(env.authKeys), 0o700); err != nil {
		t.Fatal(err)
	}
	admin := `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFi+ZX4XAVS4MR4fvP3Vq9IQYKoCKhqHWiW/vMXeYCuS admin@laptop`
	other := `from="10.0.0.1",command="/usr/local/bin/ferry node receive --move 8",restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOlP5yPHI4v8ArB2t1wGNP+Qsh1YIF8G+cLaddDE9Hpw ferry-move-8`
	if err := os.WriteFile(env.authKeys, []byte(admin+"\n"+other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kg, err := env.m.keygen(ctx, moveTestPayload(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := moveTestPayload()
	p.PublicKey = kg.(model.MoveKeygenResult).PublicKey
	res, err := env.m.authorize(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hk := res.(model.MoveAuthorizeResult).HostKey; hk != strings.TrimSuffix(moveTestHostKey, " root@web2") {
		t.Errorf("host key %q", hk)
	}
	keyPart, _ := parseMovePublicKey(p.PublicKey)
	want := admin + "\n" + other + "\n" +
		`from="127.0.1.11",command="/usr/local/bin/ferry node receive --state ` + env.m.cfg.StateDir + ` --move 7",restrict ` + keyPart + " ferry-move-7\n"
	got, _ := os.ReadFile(env.authKeys)
	if string(got) != want {
		t.Errorf("authorized_keys:\n%s\nwant:\n%s", got, want)
	}
	if _, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(strings.Split(string(got), "\n")[2])); err != nil || len(opts) != 3 {
		t.Errorf("the move's line does not parse as authorized_keys with 3 options: %v %q", err, opts)
	}
	// Again: the same file, not a second line.
	if _, err := env.m.authorize(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(env.authKeys); string(again) != want {
		t.Errorf("authorize twice:\n%s", again)
	}
	pol, err := readMovePolicy(env.m.cfg.StateDir, 7)
	if err != nil {
		t.Fatal(err)
	}
	if pol.OrderDir != moveTestDir || pol.FromAddr != "127.0.1.11" || len(pol.Databases) != 2 || pol.Logins[0] != "shopper" {
		t.Errorf("policy %+v", pol)
	}
	fi, _ := os.Stat(filepath.Join(env.m.moveDir(7), movePolicyFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("policy mode %v", fi.Mode().Perm())
	}

	// The policy names databases: revoke tries to drop leftover accounts
	// and, with no database server here, says so without failing.
	for range 2 {
		r, err := env.m.revoke(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		t.Logf("revoke: %s", b)
	}
	if after, _ := os.ReadFile(env.authKeys); string(after) != admin+"\n"+other+"\n" {
		t.Errorf("after revoke:\n%s", after)
	}
	if _, err := os.Stat(env.m.moveDir(7)); !os.IsNotExist(err) {
		t.Errorf("move directory left: %v", err)
	}
}

func TestMoveAuthorizeRefuses(t *testing.T) {
	env := newMoveTestEnv(t)
	ctx := context.Background()
	good := moveTestPayload()
	good.PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFi+ZX4XAVS4MR4fvP3Vq9IQYKoCKhqHWiW/vMXeYCuS ferry-move-7"
	tests := map[string]func(p *model.MoveTaskPayload){
		"key with options":        func(p *model.MoveTaskPayload) { p.PublicKey = `command="sh" ` + p.PublicKey },
		"two lines":               func(p *model.MoveTaskPayload) { p.PublicKey += "\nssh-ed25519 AAAA x" },
		"not a key":               func(p *model.MoveTaskPayload) { p.PublicKey = "hello" },
		"bad from address":        func(p *model.MoveTaskPayload) { p.FromAddr = `1.2.3.4",command="sh` },
		"order directory moved":   func(p *model.MoveTaskPayload) { p.OrderDir = "/" },
		"order directory outside": func(p *model.MoveTaskPayload) { p.OrderDir = moveTestDir + "/../../x" },
		"invalid order":           func(p *model.MoveTaskPayload) { p.Order.Member = "../root" },
		"reserved database":       func(p *model.MoveTaskPayload) { p.Databases = []model.MoveDB{{Engine: "mysql", Name: "mysql"}} },
		"pgsql without owner":     func(p *model.MoveTaskPayload) { p.Databases = []model.MoveDB{{Engine: "pgsql", Name: "blog"}} },
		"system login":            func(p *model.MoveTaskPayload) { p.Logins = []string{"root"} },
	}
	for name, mutate := range tests {
		p := good
		p.Databases = append([]model.MoveDB{}, good.Databases...)
		mutate(&p)
		if _, err := env.m.authorize(ctx, p, nil); err == nil {
			t.Errorf("%s: authorised", name)
		}
	}
	if _, err := os.Stat(env.authKeys); !os.IsNotExist(err) {
		t.Errorf("a refused authorize wrote authorized_keys: %v", err)
	}
}

func TestMoveConfigRefusesUnsafePaths(t *testing.T) {
	for _, c := range []Config{
		{Ferry: "/usr/local/bin/ferry; id", StateDir: "/var/lib/ferry-node"},
		{Ferry: "/usr/local/bin/ferry", StateDir: "/var/lib/ferry node"},
		{Ferry: "ferry", StateDir: "/var/lib/ferry-node"},
	} {
		if _, err := newMover(c); err == nil {
			t.Errorf("newMover(%+v) accepted it", c)
		}
	}
	fn := Tasks(Config{Ferry: `/bin/"x"`})[model.TaskMoveKeygen]
	if _, err := fn(context.Background(), model.Task{Kind: model.TaskMoveKeygen, Payload: []byte(`{"move_id":1}`)}, nil); err == nil {
		t.Error("a task ran with an unusable config")
	}
}

// A node whose TLS directory is not the default tells the forced command
// where it is, so that a carried certificate lands where its sites are.
func TestAuthorizedLineNamesTheTLSDir(t *testing.T) {
	for _, tt := range []struct{ dir, want string }{
		{"", "/usr/local/bin/ferry node receive --move 7"},
		{apply.DefaultConfig().HTTPS.TLSDir, "/usr/local/bin/ferry node receive --move 7"},
		{"/srv/ferry/tls", "/usr/local/bin/ferry node receive --tls-dir /srv/ferry/tls --move 7"},
	} {
		cfg := Config{Ferry: "/usr/local/bin/ferry"}
		cfg.Node.HTTPS.TLSDir = tt.dir
		m, err := newMover(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.authorizedLine(7, "127.0.1.11", "ssh-ed25519 AAAA"); !strings.Contains(got, `command="`+tt.want+`"`) {
			t.Errorf("tls dir %q: %s, want the command %q", tt.dir, got, tt.want)
		}
	}
	cfg := Config{Ferry: "/usr/local/bin/ferry"}
	cfg.Node.HTTPS.TLSDir = "/srv/tls dir"
	if _, err := newMover(cfg); err == nil {
		t.Error("a TLS directory with a blank was accepted into the forced command")
	}
}
