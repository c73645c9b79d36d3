package panel_test

import (
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/panel"
)

// References, validation and uniqueness: what CreateItem, UpdateItem and
// SetItemState refuse, with the store left as it was.
func TestRulesItemRefusals(t *testing.T) {
	c := newCoop(t)
	acct := c.create(c.alice, "alice.example", model.KindUserAccount, model.Spec{Login: "alice", Password: "correct-horse-battery"})
	c.create(c.bob, "bob.example", model.KindUserAccount, model.Spec{Login: "bob", Password: "correct-horse-battery"})
	mdb := c.create(c.alice, "alice.example", model.KindMySQLDB, model.Spec{Name: "alice_shop"})
	c.create(c.bob, "bob.example", model.KindMySQLDB, model.Spec{Name: "bob_shop"})
	c.create(c.alice, "alice.example", model.KindMySQLUser, model.Spec{Name: "alice_app", Password: "correct-horse-battery", Databases: []string{"alice_shop"}})
	c.create(c.alice, "alice.example", model.KindDNS, model.Spec{Zone: "alice.example", FQDN: "www.alice.example", Type: "A", Value: "192.0.2.1"})
	if err := c.p.Heartbeat(c.ctx, panel.Caller{Name: "web1", Role: model.RoleNode, Host: "web1"}, model.Heartbeat{SystemNames: []string{"root", "deployer"}, PHPVersions: []string{"8.2", "8.3"}}); err != nil {
		t.Fatal(err)
	}
	before := c.items()

	create := func(k model.Kind, s model.Spec) func() error {
		return func() error {
			_, err := c.p.CreateItem(c.ctx, c.alice, panel.ItemInput{Order: "alice.example", Kind: k, Spec: s})
			return err
		}
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want refusal
	}{
		// References stay within the order.
		{"site runs as another order's account", create(model.KindWebConf, model.Spec{Login: "bob", ServerNames: []string{"blog.alice.example"}}),
			refusal{field: "spec.login", msg: `order alice.example has no user-account "bob"`}},
		{"site runs as no account", create(model.KindWebConf, model.Spec{Login: "nobody2", ServerNames: []string{"blog.alice.example"}}),
			refusal{field: "spec.login", msg: "add it first"}},
		{"job runs as another order's account", create(model.KindScheduledJob, model.Spec{Login: "bob", Schedule: "@daily", Command: "/bin/true"}),
			refusal{field: "spec.login", msg: `no user-account "bob"`}},
		{"grant on another order's database", create(model.KindMySQLUser, model.Spec{Name: "alice_ro", Password: "correct-horse-battery", Databases: []string{"bob_shop"}}),
			refusal{field: "spec.databases", msg: `no mysql-db "bob_shop"`}},
		{"grant on a database nobody has", create(model.KindMySQLUser, model.Spec{Name: "alice_ro", Password: "correct-horse-battery", Databases: []string{"alice_none"}}),
			refusal{field: "spec.databases", msg: "alice_none"}},

		// Validation.
		{"unknown kind", create("ftp-account", model.Spec{Login: "alice2"}),
			refusal{field: "kind", msg: `unknown item kind "ftp-account"`}},
		{"field not of the kind", create(model.KindMySQLDB, model.Spec{Name: "alice_x", Login: "alice"}),
			refusal{field: "spec.login", msg: "does not apply to a mysql-db item"}},
		{"identity changes on update", func() error {
			_, err := c.p.UpdateItem(c.ctx, c.alice, mdb.ID, model.Spec{Name: "alice_renamed"})
			return err
		}, refusal{field: "spec.name", msg: `cannot change from "alice_shop" to "alice_renamed"`}},
		{"login changes on update", func() error {
			_, err := c.p.UpdateItem(c.ctx, c.alice, acct.ID, model.Spec{Login: "alice3"})
			return err
		}, refusal{field: "spec.login", msg: `cannot change from "alice" to "alice3"`}},
		{"same database name in two orders", create(model.KindMySQLDB, model.Spec{Name: "bob_shop"}),
			refusal{is: model.ErrDuplicate, msg: "mysql-db:bob_shop is held by item"}},
		{"same login in two orders", create(model.KindUserAccount, model.Spec{Login: "bob", Password: "correct-horse-battery"}),
			refusal{is: model.ErrDuplicate, msg: "login:bob is held by item"}},
		{"PHP version the host lacks", create(model.KindWebConf, model.Spec{Login: "alice", ServerNames: []string{"blog.alice.example"}, PHPSettings: model.PHPSettings{PHPVersion: "8.4"}}),
			refusal{field: "spec.php_version", msg: "host web1 has no PHP 8.4 (it has PHP-FPM 8.2, 8.3)"}},
		{"post_max_size below upload_max_filesize", create(model.KindWebConf, model.Spec{Login: "alice", ServerNames: []string{"blog.alice.example"},
			PHPSettings: model.PHPSettings{UploadMaxFilesize: "64M", PostMaxSize: "16M"}}),
			refusal{field: "spec.post_max_size", msg: "16M is less than upload_max_filesize 64M"}},
		{"max_children unbounded", create(model.KindWebConf, model.Spec{Login: "alice", ServerNames: []string{"blog.alice.example"}, PHPSettings: model.PHPSettings{MaxChildren: 500}}),
			refusal{field: "spec.max_children", msg: "must be 1 to 50"}},
		{"system login of the host", create(model.KindUserAccount, model.Spec{Login: "deployer", Password: "correct-horse-battery"}),
			refusal{field: "spec.login", msg: "system user or group of host web1"}},
		{"DNS outside the co-op's zones", create(model.KindDNS, model.Spec{Zone: "elsewhere.example", FQDN: "www.elsewhere.example", Type: "A", Value: "192.0.2.2"}),
			refusal{field: "spec.zone", msg: "not a zone the co-op serves"}},
		{"CNAME beside an A record", create(model.KindDNS, model.Spec{Zone: "alice.example", FQDN: "www.alice.example", Type: "CNAME", Value: "alice.example."}),
			refusal{field: "spec.type", msg: "a CNAME must be the only record of its name"}},
		{"database deleted while granted", func() error {
			_, err := c.p.SetItemState(c.ctx, c.alice, mdb.ID, model.StatePendingDelete)
			return err
		}, refusal{is: panel.ErrRefused, msg: "mysql-db alice_shop cannot be deleted while users are granted on it"}},
		{"member forgets an item", func() error { _, err := c.p.ForgetItem(c.ctx, c.alice, acct.ID); return err },
			refusal{is: panel.ErrForbidden, msg: "only admins forget items"}},
		{"unknown state", func() error { _, err := c.p.SetItemState(c.ctx, c.alice, acct.ID, "gone"); return err },
			refusal{field: "state", msg: `unknown state "gone"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.check(t, tc.do())
			c.unchanged(before)
		})
	}
}

// What an admin or member may cause: a delete is pending-delete until the
// node reports, and forgetting an item says what may be left behind.
func TestRulesStateTransitions(t *testing.T) {
	c := newCoop(t)
	acct := c.create(c.alice, "alice.example", model.KindUserAccount, model.Spec{Login: "alice", Password: "correct-horse-battery"})
	mdb := c.create(c.alice, "alice.example", model.KindMySQLDB, model.Spec{Name: "alice_shop"})

	got, err := c.p.SetItemState(c.ctx, c.alice, acct.ID, model.StatePendingDelete)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.StatePendingDelete {
		t.Errorf("deleted account is %s, want %s", got.State, model.StatePendingDelete)
	}

	forgot, err := c.p.ForgetItem(c.ctx, c.admin, mdb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if forgot.State != model.StateDeleted {
		t.Errorf("forgotten database is %s, want %s", forgot.State, model.StateDeleted)
	}
	for _, want := range []string{"forgotten by ferry while pending-insert", "may be left on host web1", "alice_shop"} {
		if !strings.Contains(forgot.Message, want) {
			t.Errorf("forget message %q does not say %q", forgot.Message, want)
		}
	}

	// A forgotten item cannot be forgotten again, nor changed.
	before := c.items()
	_, err = c.p.ForgetItem(c.ctx, c.admin, mdb.ID)
	refusal{is: panel.ErrRefused, msg: "already deleted"}.check(t, err)
	c.unchanged(before)
}

// A web-conf without a PHP version gets its host's newest as reported, so
// that its spec says what it runs; before its host reports any, the node
// chooses.
func TestRulesWebConfPHPVersion(t *testing.T) {
	c := newCoop(t)
	c.create(c.alice, "alice.example", model.KindUserAccount, model.Spec{Login: "alice", Password: "correct-horse-battery"})
	unknown := c.create(c.alice, "alice.example", model.KindWebConf, model.Spec{Login: "alice", ServerNames: []string{"old.alice.example"}})
	if unknown.Spec.PHPVersion != "" {
		t.Errorf("before any report: php_version %q, want none", unknown.Spec.PHPVersion)
	}
	if err := c.p.Heartbeat(c.ctx, panel.Caller{Name: "web1", Role: model.RoleNode, Host: "web1"}, model.Heartbeat{PHPVersions: []string{"8.2", "8.10", "8.3"}}); err != nil {
		t.Fatal(err)
	}
	site := c.create(c.alice, "alice.example", model.KindWebConf, model.Spec{Login: "alice", ServerNames: []string{"alice.example"}})
	if site.Spec.PHPVersion != "8.10" {
		t.Errorf("php_version %q, want the host's newest, 8.10", site.Spec.PHPVersion)
	}
	chosen := c.create(c.alice, "alice.example", model.KindWebConf, model.Spec{Login: "alice", ServerNames: []string{"shop.alice.example"}, PHPSettings: model.PHPSettings{PHPVersion: "8.2"}})
	if chosen.Spec.PHPVersion != "8.2" {
		t.Errorf("php_version %q, want 8.2 as chosen", chosen.Spec.PHPVersion)
	}
	static := c.create(c.alice, "alice.example", model.KindWebConf, model.Spec{Login: "alice", ServerNames: []string{"static.alice.example"}, PHP: new(false)})
	if static.Spec.PHPVersion != "" {
		t.Errorf("a site without PHP got php_version %q", static.Spec.PHPVersion)
	}
	if _, err := c.p.ReportItem(c.ctx, panel.Caller{Name: "web1", Role: model.RoleNode, Host: "web1"}, unknown.ID, panel.Report{State: model.StateActive}); err != nil {
		t.Fatal(err)
	}
	up, err := c.p.UpdateItem(c.ctx, c.alice, unknown.ID, unknown.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if up.Spec.PHPVersion != "8.10" {
		t.Errorf("updated without a version: php_version %q, want 8.10", up.Spec.PHPVersion)
	}
}

// A node reports its PHP versions as X.Y; anything else is refused, since
// they reach messages and the sites' checks.
func TestHeartbeatPHPVersionsChecked(t *testing.T) {
	c := newCoop(t)
	node := panel.Caller{Name: "web1", Role: model.RoleNode, Host: "web1"}
	for _, bad := range [][]string{{"8.2", "../etc"}, {"8.2.1"}, {"8.2 "}} {
		if err := c.p.Heartbeat(c.ctx, node, model.Heartbeat{PHPVersions: bad}); err == nil || !strings.Contains(err.Error(), "php_versions") {
			t.Errorf("heartbeat with PHP %q: %v, want refused", bad, err)
		}
	}
	if err := c.p.Heartbeat(c.ctx, node, model.Heartbeat{PHPVersions: []string{"8.10", "7.4", "8.2"}}); err != nil {
		t.Fatal(err)
	}
	h, err := c.p.GetHost(c.ctx, c.admin, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(h.PHPVersions, " ") != "7.4 8.2 8.10" {
		t.Errorf("host's PHP %v, want 7.4 8.2 8.10", h.PHPVersions)
	}
}
