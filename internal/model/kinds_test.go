package model_test

import (
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

// Every kind is in the registry once, with a description, and its
// required and identity fields are among the fields it takes.
func TestKindRegistryIsWhole(t *testing.T) {
	if len(model.Kinds) != 10 {
		t.Errorf("Kinds = %v", model.Kinds)
	}
	for _, k := range model.Kinds {
		ki := model.KindInfoOf(k)
		if ki.Kind != k || ki.Description == "" || len(ki.Fields) == 0 || len(ki.Required) == 0 {
			t.Errorf("registry entry of %s: %+v", k, ki)
		}
		for _, f := range append(slices.Clone(ki.Required), ki.Identity...) {
			if !slices.Contains(ki.Fields, f) {
				t.Errorf("%s: %q is required or identity but not among its fields %v", k, f, ki.Fields)
			}
		}
	}
	if ki := model.KindInfoOf("ftp-account"); ki.Kind != "" {
		t.Errorf("unknown kind has an entry: %+v", ki)
	}
}

func TestMissingFields(t *testing.T) {
	cases := []struct {
		kind model.Kind
		spec model.Spec
		want []string
	}{
		{model.KindMySQLDB, model.Spec{}, []string{"name"}},
		{model.KindMySQLDB, model.Spec{Name: "x"}, nil},
		{model.KindWebConf, model.Spec{Login: "a"}, []string{"server_names"}},
		{model.KindScheduledJob, model.Spec{Login: "a"}, []string{"schedule", "command"}},
		{model.KindDNS, model.Spec{Type: "A", Value: "192.0.2.1"}, nil},
	}
	for _, c := range cases {
		if got := c.spec.MissingFields(c.kind); !slices.Equal(got, c.want) {
			t.Errorf("%s %+v: missing %v, want %v", c.kind, c.spec, got, c.want)
		}
	}
}

// TestRequiresNamesWhatTheRequiredKindClaims checks that every reference a
// kind makes (the login a site runs as, the databases a user is granted)
// is found by the identity the referenced item claims: if the two drifted
// apart, panel would refuse every site or grant as "add it first".
func TestRequiresNamesWhatTheRequiredKindClaims(t *testing.T) {
	specs := map[model.Kind]model.Spec{
		model.KindWebConf:      {Login: "ann", ServerNames: []string{"example.org"}},
		model.KindScheduledJob: {Login: "ann", Schedule: "* * * * *", Command: "true"},
		model.KindMySQLUser:    {Name: "u", Databases: []string{"shop", "blog"}},
	}
	for k, s := range specs {
		refs := s.Requires(k)
		if len(refs) == 0 {
			t.Errorf("%s requires nothing", k)
		}
		for _, r := range refs {
			target := model.Spec{Login: r.Name, Name: r.Name}
			if !slices.Contains(target.Identities(r.Kind), r.Identity) {
				t.Errorf("%s: ref %+v is not among the identities %v of a %s called %q", k, r, target.Identities(r.Kind), r.Kind, r.Name)
			}
		}
	}
	for _, k := range []model.Kind{model.KindUserAccount, model.KindMySQLDB, model.KindPgSQLDB, model.KindDNS} {
		if refs := (&model.Spec{Name: "x", Login: "x"}).Requires(k); len(refs) != 0 {
			t.Errorf("%s requires %v", k, refs)
		}
	}
}

func TestEveryKindSaysWhatItLeavesBehindAndClaims(t *testing.T) {
	for _, k := range model.Kinds {
		it := model.Item{ID: 7, Kind: k, Spec: model.Spec{Login: "ann", Name: "shop", ServerNames: []string{"example.org"}, FQDN: "example.org", Type: "A"}}
		if got := it.LeftBehind(); got == "" || strings.HasPrefix(got, "whatever") {
			t.Errorf("%s: LeftBehind %q", k, got)
		}
		// A kind no host holds may claim nothing (a login may have access
		// to several orders).
		if ids := it.Spec.Identities(k); len(ids) == 0 && !model.KindInfoOf(k).ControlPlane {
			t.Errorf("%s claims no identity", k)
		}
		ki := model.KindInfoOf(k)
		if names := it.Spec.Names(k); (len(names) > 0) != (ki.NamesField != "") {
			t.Errorf("%s: names %v but NamesField %q", k, names, ki.NamesField)
		}
	}
	if got := (model.Item{Kind: "ftp-account"}).LeftBehind(); !strings.HasPrefix(got, "whatever") {
		t.Errorf("unknown kind: %q", got)
	}
}
