package move_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ferry/internal/controlplane"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/store/storetest"
)

var admin = panel.Caller{Name: "alice", Role: model.RoleAdmin}

// env is a control plane on a SQLite file, with fake nodes for web1, web2
// and dns1.
type env struct {
	t     *testing.T
	ctx   context.Context
	path  string
	clock *cptest.Clock // real time, advanced to let TTLs run out
	st    store.Store
	p     *panel.Panel
	eng   *move.Engine
	nodes map[string]*cptest.Node
	order model.Order
	log   *slog.Logger
	// httpPort is where the sites of web1 and web2 answer; newSite
	// differs makes web2's page differ; oldDown (newDown) makes web1
	// (web2) hang up without an answer, as a dead web server does.
	httpPort  int
	newDiffer atomic.Bool
	oldDown   atomic.Bool
	newDown   atomic.Bool
}

// drivers runs test on a SQLite file and, when FERRY_TEST_PG_URL names a
// PostgreSQL server (scripts/test-postgres.sh), on a new schema there.
func drivers(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newEnv(t, filepath.Join(t.TempDir(), "ferry.db"))) })
	t.Run("postgres", func(t *testing.T) { test(t, newEnv(t, storetest.PostgresURL(t))) })
}

func newEnv(t *testing.T, dbURL string) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, path: dbURL, clock: &cptest.Clock{}, nodes: map[string]*cptest.Node{}, log: cptest.Quiet()}
	e.startSites()
	e.use(e.controlPlane())
	for _, h := range []model.Host{
		{Name: "web1", Addresses: []string{"127.0.1.1"}, Roles: []model.Role{model.RoleWeb}},
		{Name: "web2", Addresses: []string{"127.0.1.2"}, Roles: []model.Role{model.RoleWeb}},
		{Name: "dns1", Addresses: []string{"127.0.1.3"}, Roles: []model.Role{model.RoleDNS}},
		{Name: "web3", Addresses: []string{"127.0.1.4"}, Roles: []model.Role{model.RoleWeb}},
	} {
		if _, err := e.p.CreateHost(ctx, admin, h); err != nil {
			t.Fatal(err)
		}
	}
	// web3 has no node: it never reports.
	for _, h := range []string{"web1", "web2", "dns1"} {
		e.nodes[h] = cptest.StartPanelNode(t, e.p, h, cptest.NodeOptions{Results: moveResults(), Wait: 100 * time.Millisecond})
	}
	if _, err := e.p.CreateMember(ctx, admin, model.Member{Name: "ada", FriendlyName: "Ada"}); err != nil {
		t.Fatal(err)
	}
	o, err := e.p.CreateOrder(ctx, admin, model.Order{Identifier: "example.org", Member: "ada", Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	e.order = o
	for _, in := range []panel.ItemInput{
		{Kind: model.KindUserAccount, Spec: model.Spec{Login: "ada", Password: "correct horse battery"}},
		{Kind: model.KindWebConf, Spec: model.Spec{Login: "ada", ServerNames: []string{"example.org", "www.example.org"}}},
		{Kind: model.KindMySQLDB, Spec: model.Spec{Name: "ada_wp"}},
		{Kind: model.KindMySQLUser, Spec: model.Spec{Name: "ada_wp", Password: "another secret!", Databases: []string{"ada_wp"}}},
		{Kind: model.KindScheduledJob, Spec: model.Spec{Login: "ada", Schedule: "*/5 * * * *", Command: "php web/cron.php"}},
		{Kind: model.KindDNS, Spec: model.Spec{FQDN: "example.org", Type: "A", Value: "127.0.1.1", TTL: 3600}},
		{Kind: model.KindDNS, Spec: model.Spec{FQDN: "www.example.org", Type: "A", Value: "127.0.1.1", TTL: 7200}},
		{Kind: model.KindDNS, Spec: model.Spec{FQDN: "example.org", Type: "MX", Value: "10 mail.example.net", TTL: 3600}},
	} {
		in.Order = o.Identifier
		if _, err := e.p.CreateItem(ctx, admin, in); err != nil {
			t.Fatalf("item %s: %v", in.Kind, err)
		}
	}
	e.eventually("the order's items active", func() bool { return e.allActive(o.ID) })
	return e
}

// controlPlane starts a control plane on the env's store as `ferry serve` does
// (controlplane.Start), with the panel on the env's clock and the engine
// tuned for tests; it stops when the test ends. Each start is a process
// of its own: a test starts another to restart or replace one.
func (e *env) controlPlane() *controlplane.ControlPlane {
	e.t.Helper()
	cp, err := controlplane.Start(e.ctx, controlplane.Config{StoreURL: e.path, Log: e.log, Now: e.clock.Now,
		Move: move.Options{HTTPPort: e.httpPort, Poll: 30 * time.Millisecond, Hold: 2 * time.Second, Reconcile: 500 * time.Millisecond}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cp.Close() })
	return cp
}

// use makes cp's store, panel and engine the env's.
func (e *env) use(cp *controlplane.ControlPlane) {
	e.st, e.p, e.eng = cp.Store, cp.Panel, cp.Engine
}

// startSites serves the order's site on web1's and web2's addresses, on
// one port.
func (e *env) startSites() {
	e.t.Helper()
	page := func(isNew bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isNew && e.oldDown.Load() || isNew && e.newDown.Load() {
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
				}
				return
			}
			if r.Host != "example.org" && r.Host != "www.example.org" {
				http.NotFound(w, r)
				return
			}
			body := "<html><head><title>Ada's site</title></head><body>hello</body></html>"
			if isNew && e.newDiffer.Load() {
				body = "<html><head><title>Index of /</title></head><body>empty</body></html>"
			}
			io.WriteString(w, body)
		})
	}
	for range 20 {
		l1, err := net.Listen("tcp", "127.0.1.1:0")
		if err != nil {
			e.t.Fatalf("cannot listen on 127.0.1.1: %v", err)
		}
		port := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.1.2", strconv.Itoa(port)))
		if err != nil {
			l1.Close()
			continue
		}
		s1, s2 := &http.Server{Handler: page(false)}, &http.Server{Handler: page(true)}
		go s1.Serve(l1)
		go s2.Serve(l2)
		e.t.Cleanup(func() { s1.Close(); s2.Close() })
		e.httpPort = port
		return
	}
	e.t.Fatal("no port free on both 127.0.1.1 and 127.0.1.2")
}

func (e *env) allActive(orderID int64) bool {
	items := e.items(store.ItemFilter{OrderID: orderID})
	for _, it := range items {
		if it.State != model.StateActive {
			return false
		}
	}
	return len(items) > 0
}

func (e *env) allActiveOn(orderID int64, host string) bool {
	for _, it := range e.items(store.ItemFilter{OrderID: orderID, Host: host}) {
		if it.State != model.StateActive {
			return false
		}
	}
	return true
}

func (e *env) items(f store.ItemFilter) []model.Item {
	e.t.Helper()
	var items []model.Item
	if err := e.st.View(e.ctx, func(tx store.Tx) error {
		var err error
		items, err = tx.ListItems(e.ctx, f)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return items
}

func (e *env) getOrder(id int64) model.Order {
	e.t.Helper()
	var o model.Order
	if err := e.st.View(e.ctx, func(tx store.Tx) error {
		var err error
		o, err = tx.GetOrder(e.ctx, id)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) tasks(moveID int64) []model.Task {
	e.t.Helper()
	var ts []model.Task
	if err := e.st.View(e.ctx, func(tx store.Tx) error {
		var err error
		ts, err = tx.ListTasks(e.ctx, store.TaskFilter{MoveID: moveID})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return ts
}

func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPhase waits until the move's phase run ends and returns the move.
func (e *env) waitPhase(id int64) move.View {
	e.t.Helper()
	var v move.View
	e.eventually("the phase to end", func() bool {
		var err error
		v, err = e.eng.Get(e.ctx, admin, id)
		if err != nil {
			e.t.Fatal(err)
		}
		return v.Status != model.MoveRunning
	})
	return v
}

func (e *env) mustSucceed(v move.View, phase model.MovePhase) move.Data {
	e.t.Helper()
	if v.Phase != phase || v.Status != model.MoveSucceeded {
		e.t.Fatalf("move %d: phase %s %s (%s), want %s succeeded", v.ID, v.Phase, v.Status, v.Error, phase)
	}
	d, err := v.Info()
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// snapshot is everything a refused command must leave alone.
type snapshot struct {
	Orders []model.Order
	Items  []model.Item
	Moves  []model.Move
	Tasks  []model.Task
	Audit  []model.AuditEntry
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	var s snapshot
	err := e.st.View(e.ctx, func(tx store.Tx) error {
		var err error
		if s.Orders, err = tx.ListOrders(e.ctx, store.OrderFilter{}); err != nil {
			return err
		}
		if s.Items, err = tx.ListItems(e.ctx, store.ItemFilter{}); err != nil {
			return err
		}
		if s.Moves, err = tx.ListMoves(e.ctx, store.MoveFilter{}); err != nil {
			return err
		}
		if s.Tasks, err = tx.ListTasks(e.ctx, store.TaskFilter{}); err != nil {
			return err
		}
		s.Audit, err = tx.ListAudit(e.ctx, store.AuditFilter{Limit: 10000})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// refused runs fn and checks that it is refused with want in its message
// and leaves the store as it was.
func (e *env) refused(fn func() error, sentinel error, want string) {
	e.t.Helper()
	before := e.snapshot()
	err := fn()
	if !errors.Is(err, sentinel) {
		e.t.Fatalf("got %v, want an error wrapping %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), want) {
		e.t.Fatalf("error %q does not say %q", err, want)
	}
	if d := cmp.Diff(before, e.snapshot()); d != "" {
		e.t.Fatalf("refused command changed the store (-before +after):\n%s", d)
	}
}

var sums = []model.TableSum{
	{DB: "ada_wp", Table: "wp_posts", Rows: 120, Checksum: "1234"},
	{DB: "ada_wp", Table: "wp_users", Rows: 2, Checksum: "99"},
}

// moveResults are the canned results of the move tasks the fake nodes
// report.
func moveResults() map[string]any {
	return map[string]any{
		model.TaskMoveKeygen:    model.MoveKeygenResult{PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAtest move"},
		model.TaskMoveAuthorize: model.MoveAuthorizeResult{HostKey: "127.0.1.2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAhost"},
		model.TaskMoveSyncFiles: model.MoveSyncFilesResult{Bytes: 4096, TotalBytes: 1 << 20, Files: 7, TotalFiles: 40, Percent: 100, Seconds: 0.5},
		model.TaskMoveSyncDB: model.MoveSyncDBResult{Tables: sums, TablesCopied: 2, Bytes: 2048, Seconds: 0.2,
			Unregistered: []model.UnregisteredDB{{Engine: "mysql", Name: "old_drupal", Config: "web/old/sites/default/settings.php"}}},
		model.TaskMoveVerify: model.MoveVerifyResult{FilesDiffering: []string{}, Old: sums, New: sums},
		model.TaskMoveFreeze: model.MoveFreezeResult{FreezeSeconds: 0.25, Runs: 1,
			Steps: map[string]float64{"maintenance": 0.05, "files": 0.1, "db": 0.15, "proxy": 0.05},
			Files: model.MoveSyncFilesResult{Bytes: 512, Files: 2, TrackedPaths: 3, Percent: 100, Seconds: 0.1},
			DB:    model.MoveSyncDBResult{Tables: sums, TablesCopied: 1, Seconds: 0.15}},
	}
}

// advance moves the control plane's clock on by d and waits until every
// node has been heard from since, as a running node's next heartbeat
// would be: a leap of the clock alone makes every host look silent.
func (e *env) advance(d time.Duration) {
	e.t.Helper()
	e.clock.Advance(d)
	now := e.clock.Now()
	e.eventually("the nodes heard from after the clock moved", func() bool {
		for name := range e.nodes {
			var h model.Host
			if err := e.st.View(e.ctx, func(tx store.Tx) error {
				var err error
				h, err = tx.GetHost(e.ctx, name)
				return err
			}); err != nil {
				e.t.Fatal(err)
			}
			if h.LastSeen == nil || h.LastSeen.Before(now) {
				return false
			}
		}
		return true
	})
}
