package model_test

import (
	"slices"
	"testing"

	"ferry/internal/model"
)

// Every kind is in the registry once, with a description, and its
// required and identity fields are among the fields it takes.
func TestKindRegistryIsWhole(t *testing.T) {
	if len(model.Kinds) != 7 {
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
