package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"ferry/internal/cli"
	"ferry/internal/client"
	"ferry/internal/model"
)

// twoMembers is a control plane with alice's order a.example and bob's
// b.example on one shared web host, each with an account, databases, a
// site and DNS records, and a member token each.
type twoMembers struct {
	*controlPlane
	alice, bob string           // member tokens
	ids        map[string]int64 // item ids by "member kind"
}

func newTwoMembers(t *testing.T) *twoMembers {
	cp := newControlPlane(t)
	cp.must("host", "add", "web1", "--address", "192.0.2.11", "--role", "web")
	cp.must("host", "add", "dns1", "--address", "192.0.2.53", "--role", "dns")
	node := strings.TrimSpace(cp.must("token", "create", "--role", "node", "--host", "web1", "--name", "web1-node"))
	nc, err := client.New(cp.url, node, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// web1's node reports its own users and groups, ntpsec among them.
	if err := nc.Heartbeat(context.Background(), model.Heartbeat{SystemNames: []string{"ntpsec", "root", "www-data"}}); err != nil {
		t.Fatal(err)
	}
	tm := &twoMembers{controlPlane: cp, ids: map[string]int64{}}
	for _, m := range []string{"alice", "bob"} {
		cp.must("member", "add", m)
		d := m[:1] + ".example"
		cp.must("order", "add", d, "--member", m, "--host", "web1")
		tok := strings.TrimSpace(cp.must("token", "create", "--role", "member", "--member", m, "--name", m+"-member"))
		if m == "alice" {
			tm.alice = tok
		} else {
			tm.bob = tok
		}
		for _, args := range [][]string{
			{"user-account", "--login", m, "--password", "Secret-pass-" + m},
			{"mysql-db", "--name", m + "_db"},
			{"mysql-user", "--name", m + "_u", "--database", m + "_db", "--password", "Secret-pass-" + m},
			{"pgsql-db", "--name", m + "_pg", "--password", "Secret-pass-" + m},
			{"web-conf", "--login", m, "--server-name", d + ",www." + d},
			{"dns", "--fqdn", "www." + d, "--type", "A", "--value", "192.0.2.11"},
		} {
			out, errOut, code := cp.ferry(tok, "", append([]string{"item", "add", d}, append(args, "--json")...)...)
			if code != 0 {
				t.Fatalf("%s: item add %s: exit %d: %s", m, strings.Join(args, " "), code, errOut)
			}
			var it model.Item
			if err := json.Unmarshal([]byte(out), &it); err != nil {
				t.Fatal(err)
			}
			tm.ids[m+" "+args[0]] = it.ID
		}
	}
	return tm
}

// One member's token cannot claim, through any command, a name, role,
// grant or zone that is another member's (or nobody's to take), and every
// refusal leaves the store as it was.
func TestOneMemberCannotClaimAnothersNames(t *testing.T) {
	tm := newTwoMembers(t)
	id := func(key string) string { return fmt.Sprint(tm.ids[key]) }
	add := func(args ...string) []string { return append([]string{"item", "add", "a.example"}, args...) }
	cases := []struct {
		name string
		args []string
		want int
		says string
	}{
		// Roles and grants.
		{"a pgsql-db owned by bob's role", add("pgsql-db", "--name", "x", "--owner", "bob_pg"), cli.ExitRefused, "spec.owner"},
		{"a pgsql-db named as bob's role", add("pgsql-db", "--name", "bob_pg"), cli.ExitRefused, "bob_pg"},
		{"a mysql-user granted on bob's database", add("mysql-user", "--name", "a_spy", "--database", "bob_db", "--password", "Spy-pass-2024"), cli.ExitRefused, "spec.databases"},
		{"a grant added to her user on bob's database", []string{"item", "update", id("alice mysql-user"), "--database", "alice_db,bob_db"}, cli.ExitRefused, "spec.databases"},
		{"a mysql-user named as bob's", add("mysql-user", "--name", "bob_u", "--password", "Spy-pass-2024"), cli.ExitRefused, "already exists"},
		// DNS.
		{"a record in bob's zone", add("dns", "--zone", "b.example", "--fqdn", "mail.b.example", "--type", "A", "--value", "192.0.2.66"), cli.ExitRefused, "another member"},
		{"a record at bob's apex", add("dns", "--zone", "b.example", "--type", "MX", "--value", "10 mail.a.example"), cli.ExitRefused, "spec.fqdn"},
		{"a record in a zone nobody serves", add("dns", "--zone", "google.com", "--fqdn", "www.google.com", "--type", "A", "--value", "192.0.2.66"), cli.ExitRefused, "spec.zone"},
		{"a record in a public suffix", add("dns", "--zone", "co.uk", "--fqdn", "bank.co.uk", "--type", "A", "--value", "192.0.2.66"), cli.ExitRefused, "spec.zone"},
		{"a CNAME beside her own A", add("dns", "--fqdn", "www.a.example", "--type", "CNAME", "--value", "a.example"), cli.ExitRefused, "CNAME"},
		{"an AAAA beside her A, which DNS allows", add("dns", "--fqdn", "www.a.example", "--type", "AAAA", "--value", "2001:db8::1"), cli.ExitOK, ""},
		// Server names.
		{"a site for bob's domain", add("web-conf", "--login", "alice", "--server-name", "b.example"), cli.ExitRefused, "another member"},
		{"a site under bob's domain", add("web-conf", "--login", "alice", "--server-name", "shop.b.example"), cli.ExitRefused, "b.example"},
		{"a site for a domain nobody gave her", add("web-conf", "--login", "alice", "--server-name", "www.google.com"), cli.ExitRefused, "not under any domain"},
		{"her site renamed to bob's domain", []string{"item", "update", id("alice web-conf"), "--server-name", "a.example,b.example"}, cli.ExitRefused, "spec.server_names"},
		// Domains.
		{"bob's domain added to her order", []string{"order", "domain", "add", "a.example", "b.example"}, cli.ExitRefused, "another member"},
		{"a domain under bob's added to her order", []string{"order", "domain", "add", "a.example", "shop.b.example"}, cli.ExitRefused, "another member"},
		{"a public suffix added to her order", []string{"order", "domain", "add", "a.example", "co.uk"}, cli.ExitRefused, "public suffix"},
		{"a domain added to bob's order", []string{"order", "domain", "add", "b.example", "c.example"}, cli.ExitNotFound, "b.example"},
		{"a zone added", []string{"zone", "add", "a.example"}, cli.ExitNotAllowed, "only admins"},
		// Identity is immutable.
		{"a login renamed", []string{"item", "update", id("alice user-account"), "--login", "alice9"}, cli.ExitRefused, "delete the item and add a new one"},
		{"a database user renamed", []string{"item", "update", id("alice mysql-user"), "--name", "alice_v"}, cli.ExitRefused, "spec.name"},
		{"a database renamed", []string{"item", "update", id("alice mysql-db"), "--name", "alice_db2"}, cli.ExitRefused, "spec.name"},
		{"a pgsql owner changed", []string{"item", "update", id("alice pgsql-db"), "--owner", "alice_r"}, cli.ExitRefused, "spec.owner"},
		{"a record moved to another name", []string{"item", "update", id("alice dns"), "--fqdn", "shop.a.example"}, cli.ExitRefused, "spec.fqdn"},
		{"a record's type changed", []string{"item", "update", id("alice dns"), "--type", "AAAA", "--value", "2001:db8::1"}, cli.ExitRefused, "spec.type"},
		// Grants outlive no database.
		{"her database deleted while her user is granted on it", []string{"item", "delete", id("alice mysql-db")}, cli.ExitRefused, "granted"},
		// What the node would refuse is refused at the door.
		{"a docroot with a double quote", add("web-conf", "--login", "alice", "--server-name", "q.a.example", "--docroot", `web/x"y`), cli.ExitRefused, "spec.docroot"},
		{"a docroot with a variable", add("web-conf", "--login", "alice", "--server-name", "q.a.example", "--docroot", `web/${HOME}x`), cli.ExitRefused, "spec.docroot"},
		{"a system login of the fixed list", add("user-account", "--login", "adm", "--password", "Secret-pass-2024"), cli.ExitRefused, "spec.login"},
		{"a systemd login", add("user-account", "--login", "systemd-timesync", "--password", "Secret-pass-2024"), cli.ExitRefused, "spec.login"},
		{"a system login the host reported", add("user-account", "--login", "ntpsec", "--password", "Secret-pass-2024"), cli.ExitRefused, "host web1"},
		{"a TTL of 0", add("dns", "--fqdn", "t.a.example", "--type", "A", "--value", "192.0.2.11", "--ttl", "0"), cli.ExitUsage, "--ttl"},
		// Admins' work.
		{"an item forgotten", []string{"item", "forget", id("alice mysql-db")}, cli.ExitNotAllowed, "only admins"},
		{"an order added", []string{"order", "add", "c.example", "--member", "alice", "--host", "web1"}, cli.ExitNotAllowed, "only admins"},
	}
	var rows []string
	for _, c := range cases {
		before := tm.state()
		out, errOut, code := tm.ferry(tm.alice, "", c.args...)
		says := errOut + out
		ok := code == c.want && strings.Contains(says, c.says)
		if !ok {
			t.Errorf("%s: ferry %s: exit %d %q, want %d naming %q", c.name, strings.Join(c.args, " "), code, oneLine(says), c.want, c.says)
		}
		if c.want != cli.ExitOK {
			if after := tm.state(); after != before {
				t.Errorf("%s: the refusal changed the store:\n%s", c.name, lineDiff(before, after))
				ok = false
			}
		}
		status := "as expected"
		if !ok {
			status = "**FAILED**"
		}
		rows = append(rows, fmt.Sprintf("| alice's token: %s | exit %d, naming %s, store unchanged | %s: %d, %s |", c.name, c.want, c.says, status, code, strings.ReplaceAll(oneLine(says), "|", "\\|")))
	}
	// bob's site and records still answer as his.
	var items []model.Item
	if err := json.Unmarshal([]byte(tm.must("item", "list", "--order", "b.example", "--json")), &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 6 {
		t.Errorf("bob's order holds %d items after alice's attempts, want his 6", len(items))
	}
	writeReport(t, rows...)
	if len(cases) < 30 {
		t.Errorf("only %d cross-member cases", len(cases))
	}
}

// A domain added to an order lets its items claim names under it, and it
// cannot be dropped while they do; once an order is deleted its domains are
// free for another member.
func TestOrderDomainsComeAndGo(t *testing.T) {
	tm := newTwoMembers(t)
	ferry := func(tok string, want int, args ...string) string {
		t.Helper()
		out, errOut, code := tm.ferry(tok, "", args...)
		if code != want {
			t.Fatalf("ferry %s: exit %d (%s), want %d", strings.Join(args, " "), code, oneLine(errOut), want)
		}
		return out + errOut
	}
	ferry(tm.alice, cli.ExitOK, "order", "domain", "add", "a.example", "alice-shop.example")
	if out := ferry(tm.alice, cli.ExitOK, "order", "domain", "list", "a.example"); out != "a.example\nalice-shop.example\n" {
		t.Errorf("domain list = %q", out)
	}
	ferry(tm.alice, cli.ExitOK, "item", "add", "a.example", "web-conf", "--login", "alice", "--server-name", "alice-shop.example,www.alice-shop.example")
	// bob cannot take it, nor a name under it.
	ferry(tm.bob, cli.ExitRefused, "order", "domain", "add", "b.example", "alice-shop.example")
	ferry(tm.bob, cli.ExitRefused, "item", "add", "b.example", "web-conf", "--login", "bob", "--server-name", "cart.alice-shop.example")
	// Dropping it is refused while her site uses it, and names the item.
	if out := ferry(tm.alice, cli.ExitRefused, "order", "domain", "remove", "a.example", "alice-shop.example"); !strings.Contains(out, "web-conf") || !strings.Contains(out, "ferry item delete") {
		t.Errorf("domain remove refusal does not name the item and what to do: %q", out)
	}
	// Once a.example is gone, its domains are bob's to claim.
	tm.must("order", "delete", "a.example")
	ferry(tm.bob, cli.ExitOK, "order", "domain", "add", "b.example", "alice-shop.example")
}

// A token belongs to the member or host it was made for: deleting them
// revokes it, and a new member or host given the same name starts with
// none of the old tokens.
func TestTokensDieWithTheirMemberOrHost(t *testing.T) {
	cp := newControlPlane(t)
	cp.must("host", "add", "web9", "--address", "192.0.2.19", "--role", "web")
	cp.must("member", "add", "carol")
	member := strings.TrimSpace(cp.must("token", "create", "--role", "member", "--member", "carol", "--name", "carol-1"))
	node := strings.TrimSpace(cp.must("token", "create", "--role", "node", "--host", "web9", "--name", "web9-node"))
	if _, errOut, code := cp.ferry(cp.admin, "", "token", "create", "--role", "member", "--member", "carol", "--name", "carol-1"); code != cli.ExitRefused || !strings.Contains(errOut, "carol-1") {
		t.Errorf("a second live token named carol-1: exit %d %q, want %d", code, oneLine(errOut), cli.ExitRefused)
	}
	if out := cp.must("member", "delete", "carol"); !strings.Contains(out, "revoked 1 tokens") {
		t.Errorf("member delete says %q, want the number of revoked tokens", out)
	}
	if out := cp.must("host", "delete", "web9"); !strings.Contains(out, "revoked 1 node tokens") {
		t.Errorf("host delete says %q, want the number of revoked tokens", out)
	}
	cp.must("member", "add", "carol")
	cp.must("host", "add", "web9", "--address", "192.0.2.19", "--role", "web")
	cp.must("order", "add", "carol.example", "--member", "carol", "--host", "web9")
	for name, tok := range map[string]string{"the old member token": member, "the old node token": node} {
		for _, args := range [][]string{{"order", "list"}, {"item", "list"}} {
			if out, errOut, code := cp.ferry(tok, "", args...); code == cli.ExitOK || strings.Contains(out, "carol.example") {
				t.Errorf("%s after its owner was deleted and re-created: ferry %s: exit %d %q", name, strings.Join(args, " "), code, oneLine(out+errOut))
			}
		}
	}
	// The revoked token's name is free again, and revoke takes name or id.
	cp.must("token", "create", "--role", "member", "--member", "carol", "--name", "carol-1")
	cp.must("token", "revoke", "carol-1")
	writeReport(t, fmt.Sprintf("| a member's and a host's token after they are deleted and re-created with the same names | refused; the deletes say how many tokens they revoked; live token names are unique | %s |", passed(t)))
}
