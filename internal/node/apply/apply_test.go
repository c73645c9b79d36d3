package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
)

var testOrder = model.Order{ID: 7, Identifier: "example.org", Member: "rosa", Host: "web1"}

const testHash = "$2b$10$abcdefghijklmnopqrstuu7Jm9a8bBv0bq3JdJZ7z8Jm1bqfIYyGO"

func testItem(id int64, kind model.Kind, state model.State, spec model.Spec) model.Item {
	return model.Item{ID: id, OrderID: testOrder.ID, Host: "web1", Kind: kind, State: state, Spec: spec}
}

// applyOK applies it and fails the test unless it reached want.
func applyOK(t *testing.T, e *testEnv, it model.Item, want model.State) Result {
	t.Helper()
	res := e.a.Apply(context.Background(), testOrder, it)
	if res.State != want {
		t.Fatalf("apply %s %s: got %s %q, want %s", it.Kind, it.State, res.State, res.Message, want)
	}
	return res
}

func TestApplyRefusesImpossibleWork(t *testing.T) {
	tests := []struct {
		name  string
		order model.Order
		item  model.Item
		want  string
	}{
		{"dns item", testOrder, testItem(1, model.KindDNS, model.StatePendingInsert, model.Spec{FQDN: "example.org", Type: "A", Value: "192.0.2.1"}),
			"dns items are applied by dns hosts"},
		{"state that is no work", testOrder, testItem(1, model.KindUserAccount, model.StateActive, model.Spec{Login: "rosa"}),
			`item 1 is "active", which is no work for a node`},
		{"system login", testOrder, testItem(1, model.KindUserAccount, model.StatePendingInsert, model.Spec{Login: "root"}),
			`item 1 is invalid: spec.login: "root" is a system account`},
		{"docroot outside web", testOrder, testItem(1, model.KindWebConf, model.StatePendingInsert, model.Spec{Login: "rosa", ServerNames: []string{"example.org"}, Docroot: "users/rosa"}),
			"item 1 is invalid: spec.docroot"},
		{"field of another kind", testOrder, testItem(1, model.KindMySQLDB, model.StatePendingInsert, model.Spec{Name: "shop", Login: "rosa"}),
			"item 1 is invalid: spec.login: does not apply"},
		{"web-conf without id", testOrder, testItem(0, model.KindWebConf, model.StatePendingInsert, model.Spec{Login: "rosa", ServerNames: []string{"example.org"}}),
			"a web-conf item needs an id"},
		{"invalid order", model.Order{ID: 3, Identifier: "example.org", Member: "Rosa!", Host: "web1"}, testItem(1, model.KindUserAccount, model.StatePendingInsert, model.Spec{Login: "rosa"}),
			"order 3 is invalid: member"},
		{"unknown kind", testOrder, testItem(1, "ftp-account", model.StatePendingInsert, model.Spec{}),
			"item 1 is invalid: kind: unknown item kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			res := e.a.Apply(context.Background(), tt.order, tt.item)
			if res.State != model.StateHardError || !strings.Contains(res.Message, tt.want) {
				t.Errorf("got %s %q, want hard-error containing %q", res.State, res.Message, tt.want)
			}
			if ran := e.host.Ran(); len(ran) > 0 {
				t.Errorf("ran commands for impossible work: %q", ran)
			}
			if _, err := os.Stat(e.path("members", "rosa")); err == nil {
				t.Error("made the order directory for impossible work")
			}
		})
	}
}

func TestApplyDoesNotChangeTheCallersSpec(t *testing.T) {
	e := newTestEnv(t)
	e.host.AddUser("rosa", e.path("members/rosa/sites/example.org/users/rosa"))
	names := []string{"WWW.Example.org", "example.org"}
	it := testItem(42, model.KindWebConf, model.StatePendingInsert, model.Spec{Login: "rosa", ServerNames: names})
	applyOK(t, e, it, model.StateActive)
	if names[0] != "WWW.Example.org" || it.Spec.PHP != nil || it.Spec.Docroot != "" {
		t.Errorf("Apply changed the item it was given: %q php=%v docroot=%q", names, it.Spec.PHP, it.Spec.Docroot)
	}
}

func TestOrderDir(t *testing.T) {
	e := newTestEnv(t)
	account := testItem(1, model.KindUserAccount, model.StatePendingInsert, model.Spec{Login: "rosa"})
	applyOK(t, e, account, model.StateActive)
	applyOK(t, e, account, model.StateActive) // a second time changes nothing

	dir := e.path("members", "rosa", "sites", "example.org")
	for sub, mode := range map[string]os.FileMode{"web": 0o755, "users": 0o755, "logs": 0o750} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, want a directory with mode %v", sub, fi.Mode(), mode)
		}
	}

	other := model.Order{ID: 8, Identifier: "rosa.example", Member: "rosa", Host: "web1"}
	if err := e.a.ensureOrderDir(other); err != nil {
		t.Fatal(err)
	}

	// While a user has its home there, or a vhost logs there, it stays.
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingInsert, model.Spec{Login: "rosa", ServerNames: []string{"example.org"}}), model.StateActive)
	err := e.a.RemoveOrderDir(context.Background(), testOrder)
	if err == nil || !strings.Contains(err.Error(), "is still used by vhost "+e.path("sites-available", "ferry-example.org-42.conf")) ||
		!strings.Contains(err.Error(), ", user rosa; delete those items first") {
		t.Errorf("remove an order directory in use: %v", err)
	}
	applyOK(t, e, testItem(42, model.KindWebConf, model.StatePendingDelete, model.Spec{Login: "rosa", ServerNames: []string{"example.org"}}), model.StateDeleted)
	applyOK(t, e, testItem(1, model.KindUserAccount, model.StatePendingDelete, model.Spec{Login: "rosa"}), model.StateDeleted)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("order directory gone before RemoveOrderDir: %v", err)
	}

	if err := e.a.RemoveOrderDir(context.Background(), testOrder); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("order directory still there: %v", err)
	}
	if _, err := os.Stat(e.path("members", "rosa", "sites", "rosa.example", "web")); err != nil {
		t.Errorf("the member's other order lost its directory: %v", err)
	}
	if err := e.a.RemoveOrderDir(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.path("members", "rosa")); !os.IsNotExist(err) {
		t.Errorf("empty member directory left behind: %v", err)
	}
	if err := e.a.RemoveOrderDir(context.Background(), other); err != nil {
		t.Errorf("removing a removed order directory: %v", err)
	}
}

// Two Appliers on one host (the agent and a `ferry node apply` by hand) take
// turns.
func TestHostLockIsSharedAcrossAppliers(t *testing.T) {
	e := newTestEnv(t)
	other := New(Config{LockFile: e.a.cfg.LockFile, Logger: e.a.log})
	e.a.mu.Lock()
	got := make(chan struct{})
	go func() {
		other.mu.Lock()
		close(got)
		other.mu.Unlock()
	}()
	select {
	case <-got:
		t.Fatal("a second Applier got the host lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	e.a.mu.Unlock()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the second Applier never got the host lock")
	}
}

func TestApplyFiles(t *testing.T) {
	order := `{"id": 7, "identifier": "example.org", "member": "rosa", "host": "web1"}`
	if _, err := FromFiles(context.Background(), Config{}, []byte(order), []byte(`{"id": 1, "kind": "dns", "colour": "red"}`)); err == nil || !strings.Contains(err.Error(), "read item") {
		t.Errorf("an unknown field: got %v, want an error about the item", err)
	}
	if _, err := FromFiles(context.Background(), Config{}, []byte(`{"id": 7}{}`), []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "read order") {
		t.Errorf("two values: got %v, want an error about the order", err)
	}
	res, err := FromFiles(context.Background(), Config{}, []byte(order),
		[]byte(`{"id": 1, "kind": "dns", "state": "pending-insert", "spec": {"fqdn": "example.org", "type": "A", "value": "192.0.2.1"}}`))
	if err != nil || res.State != model.StateHardError || res.Message != "dns items are applied by dns hosts" {
		t.Errorf("dns item: got %+v, %v", res, err)
	}
}

// TestEveryHostBoundKindHasAnApplier keeps the node's appliers and the kind
// registry in step: a kind added to the registry without an applier would
// reach every host as "unknown item kind".
func TestEveryHostBoundKindHasAnApplier(t *testing.T) {
	for _, k := range model.Kinds {
		if _, ok := appliers[k]; ok != k.HostBound() {
			t.Errorf("kind %s: host-bound %v, has an applier %v", k, k.HostBound(), ok)
		}
	}
}
