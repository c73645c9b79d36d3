package model_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"ferry/internal/model"
)

// validateCase is one entity, with what Validate must make of it: the
// entity with defaults filled in, or an error naming field.
type validateCase[T any] struct {
	name  string
	in    T
	want  T
	field string
}

// runValidate runs each case's validate on a copy of its entity, and
// validate again on what it made, which must change nothing.
func runValidate[T any](t *testing.T, validate func(*T) error, cases []validateCase[T]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.in
			err := validate(&got)
			if c.field != "" {
				wantField(t, err, c.field)
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Validate made\n%s\nwant\n%s", asJSON(got), asJSON(c.want))
			}
			// JSON, not the value: validating again may write through
			// slices that got shares.
			before := asJSON(got)
			if err := validate(&got); err != nil || asJSON(got) != before {
				t.Errorf("validating again: %v\n%s", err, asJSON(got))
			}
		})
	}
}

func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestMemberValidate(t *testing.T) {
	runValidate(t, (*model.Member).Validate, []validateCase[model.Member]{
		{name: "plain", in: model.Member{Name: "alice", FriendlyName: "Alice A."}, want: model.Member{Name: "alice", FriendlyName: "Alice A."}},
		{name: "friendly name trimmed", in: model.Member{Name: "co-op-2", FriendlyName: "  Zweite Genossenschaft  "}, want: model.Member{Name: "co-op-2", FriendlyName: "Zweite Genossenschaft"}},
		{name: "no friendly name", in: model.Member{Name: "bob"}, want: model.Member{Name: "bob"}},
		{name: "name missing", in: model.Member{FriendlyName: "Alice"}, field: "name"},
		{name: "name upper case", in: model.Member{Name: "Alice"}, field: "name"},
		{name: "name a path", in: model.Member{Name: "../root"}, field: "name"},
		{name: "friendly name two lines", in: model.Member{Name: "alice", FriendlyName: "Alice\nBob"}, field: "friendly_name"},
		{name: "friendly name NUL", in: model.Member{Name: "alice", FriendlyName: "Alice\x00"}, field: "friendly_name"},
		{name: "friendly name tab", in: model.Member{Name: "alice", FriendlyName: "Al\tice"}, field: "friendly_name"},
		{name: "friendly name long", in: model.Member{Name: "alice", FriendlyName: strings.Repeat("a", 201)}, field: "friendly_name"},
	})
}

func TestHostValidate(t *testing.T) {
	web := []model.Role{"web"}
	runValidate(t, (*model.Host).Validate, []validateCase[model.Host]{
		{name: "defaults",
			in:   model.Host{Name: "web1", Addresses: []string{"192.0.2.10", "2001:DB8::10"}},
			want: model.Host{Name: "web1", Addresses: []string{"192.0.2.10", "2001:db8::10"}, Roles: web, State: "active"}},
		{name: "dns role, draining",
			in:   model.Host{Name: "dns1", Addresses: []string{"127.0.1.3"}, Roles: []model.Role{"dns", "web"}, State: "draining", DiskCapacity: 1 << 40},
			want: model.Host{Name: "dns1", Addresses: []string{"127.0.1.3"}, Roles: []model.Role{"dns", "web"}, State: "draining", DiskCapacity: 1 << 40}},
		{name: "retired",
			in:   model.Host{Name: "old", Addresses: []string{"::1"}, State: "retired"},
			want: model.Host{Name: "old", Addresses: []string{"::1"}, Roles: web, State: "retired"}},
		{name: "name missing", in: model.Host{Addresses: []string{"192.0.2.10"}}, field: "name"},
		{name: "name a domain", in: model.Host{Name: "web1.example.org", Addresses: []string{"192.0.2.10"}}, field: "name"},
		{name: "name upper case", in: model.Host{Name: "Web1", Addresses: []string{"192.0.2.10"}}, field: "name"},
		{name: "no address", in: model.Host{Name: "web1"}, field: "addresses"},
		{name: "bad address", in: model.Host{Name: "web1", Addresses: []string{"192.0.2.300"}}, field: "addresses"},
		{name: "name as address", in: model.Host{Name: "web1", Addresses: []string{"web1.example.org"}}, field: "addresses"},
		{name: "address with zone", in: model.Host{Name: "web1", Addresses: []string{"fe80::1%eth0"}}, field: "addresses"},
		{name: "address with prefix", in: model.Host{Name: "web1", Addresses: []string{"192.0.2.10/24"}}, field: "addresses"},
		// An IPv4-mapped address is IPv4 in IPv6 clothes: Addr6 would hand it
		// out for AAAA records, which refuse it.
		{name: "IPv4-mapped address", in: model.Host{Name: "web1", Addresses: []string{"::ffff:192.0.2.10"}}, field: "addresses"},
		{name: "unknown role", in: model.Host{Name: "web1", Addresses: []string{"192.0.2.10"}, Roles: []model.Role{"mail"}}, field: "roles"},
		{name: "unknown state", in: model.Host{Name: "web1", Addresses: []string{"192.0.2.10"}, State: "broken"}, field: "state"},
		{name: "negative disk", in: model.Host{Name: "web1", Addresses: []string{"192.0.2.10"}, DiskCapacity: -1}, field: "disk_capacity"},
	})
}

func TestHostAddrs(t *testing.T) {
	h := model.Host{Name: "web1", Addresses: []string{"2001:db8::10", "192.0.2.10", "192.0.2.11", "2001:db8::11"}}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := h.Addr4(); got != "192.0.2.10" {
		t.Errorf("Addr4() = %q, want 192.0.2.10", got)
	}
	if got := h.Addr6(); got != "2001:db8::10" {
		t.Errorf("Addr6() = %q, want 2001:db8::10", got)
	}
	// Whatever a valid host's addresses are, A and AAAA records take them.
	for _, rr := range []struct{ typ, addr string }{{"A", h.Addr4()}, {"AAAA", h.Addr6()}} {
		if _, err := model.NormalizeDNSValue(rr.typ, rr.addr); err != nil {
			t.Errorf("%s record of the host's address: %v", rr.typ, err)
		}
	}
	only4 := model.Host{Addresses: []string{"192.0.2.10"}}
	if got := only4.Addr6(); got != "" {
		t.Errorf("IPv4-only host has Addr6() %q", got)
	}
	if !h.HasRole("web") || (&model.Host{Roles: []model.Role{"dns"}}).HasRole("web") {
		t.Error("HasRole is wrong")
	}
}

func TestOrderValidate(t *testing.T) {
	runValidate(t, (*model.Order).Validate, []validateCase[model.Order]{
		{name: "IDN identifier",
			in:   model.Order{Identifier: "Bücher.Example.", Member: "alice", Host: "web1"},
			want: model.Order{Identifier: "xn--bcher-kva.example", Member: "alice", Host: "web1", State: "active"}},
		{name: "limbo",
			in:   model.Order{Identifier: "example.org", Member: "alice", Host: "web1", State: "transfer-limbo"},
			want: model.Order{Identifier: "example.org", Member: "alice", Host: "web1", State: "transfer-limbo"}},
		{name: "deleted",
			in:   model.Order{Identifier: "example.org", Member: "alice", Host: "web1", State: "deleted"},
			want: model.Order{Identifier: "example.org", Member: "alice", Host: "web1", State: "deleted"}},
		{name: "identifier missing", in: model.Order{Member: "alice", Host: "web1"}, field: "identifier"},
		{name: "identifier one label", in: model.Order{Identifier: "example", Member: "alice", Host: "web1"}, field: "identifier"},
		{name: "identifier a path", in: model.Order{Identifier: "../../etc", Member: "alice", Host: "web1"}, field: "identifier"},
		{name: "identifier underscore", in: model.Order{Identifier: "_x.example.org", Member: "alice", Host: "web1"}, field: "identifier"},
		{name: "identifier wildcard", in: model.Order{Identifier: "*.example.org", Member: "alice", Host: "web1"}, field: "identifier"},
		{name: "member missing", in: model.Order{Identifier: "example.org", Host: "web1"}, field: "member"},
		{name: "member bad", in: model.Order{Identifier: "example.org", Member: "al/ice", Host: "web1"}, field: "member"},
		{name: "host missing", in: model.Order{Identifier: "example.org", Member: "alice"}, field: "host"},
		{name: "host a domain", in: model.Order{Identifier: "example.org", Member: "alice", Host: "web1.example.org"}, field: "host"},
		{name: "unknown state", in: model.Order{Identifier: "example.org", Member: "alice", Host: "web1", State: "moving"}, field: "state"},
	})
}

func TestOrderDir(t *testing.T) {
	o := model.Order{Identifier: "Bücher.example", Member: "alice", Host: "web1"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := o.Dir(), "/home/members/alice/sites/xn--bcher-kva.example"; got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
}

func TestTokenValidate(t *testing.T) {
	runValidate(t, (*model.Token).Validate, []validateCase[model.Token]{
		{name: "admin", in: model.Token{Name: "ci", Role: "admin"}, want: model.Token{Name: "ci", Role: "admin"}},
		{name: "member", in: model.Token{Name: "alice@example.org", Role: "member", Member: "alice"}, want: model.Token{Name: "alice@example.org", Role: "member", Member: "alice"}},
		{name: "node", in: model.Token{Name: "node.web1", Role: "node", Host: "web1"}, want: model.Token{Name: "node.web1", Role: "node", Host: "web1"}},
		{name: "name missing", in: model.Token{Role: "admin"}, field: "name"},
		{name: "name with a space", in: model.Token{Name: "my token", Role: "admin"}, field: "name"},
		{name: "role missing", in: model.Token{Name: "ci"}, field: "role"},
		{name: "role unknown", in: model.Token{Name: "ci", Role: "root"}, field: "role"},
		{name: "role upper case", in: model.Token{Name: "ci", Role: "Admin"}, field: "role"},
		{name: "admin with member", in: model.Token{Name: "ci", Role: "admin", Member: "alice"}, field: "member"},
		{name: "admin with host", in: model.Token{Name: "ci", Role: "admin", Host: "web1"}, field: "host"},
		{name: "member without member", in: model.Token{Name: "t", Role: "member"}, field: "member"},
		{name: "member with bad member", in: model.Token{Name: "t", Role: "member", Member: "Alice"}, field: "member"},
		{name: "member with host", in: model.Token{Name: "t", Role: "member", Member: "alice", Host: "web1"}, field: "host"},
		{name: "node without host", in: model.Token{Name: "t", Role: "node"}, field: "host"},
		{name: "node with bad host", in: model.Token{Name: "t", Role: "node", Host: "web1.example.org"}, field: "host"},
		{name: "node with member", in: model.Token{Name: "t", Role: "node", Host: "web1", Member: "alice"}, field: "member"},
	})
}
