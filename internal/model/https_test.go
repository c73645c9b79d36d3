package model_test

import (
	"encoding/json"
	"strings"
	"testing"

	"ferry/internal/model"
)

func TestHTTPSKeyRedacted(t *testing.T) {
	s := model.Spec{Login: "alice", ServerNames: []string{"example.org"},
		HTTPS: &model.HTTPSSpec{Source: "own", Cert: "CHAIN", Key: "-----BEGIN PRIVATE KEY-----SECRET"}}
	r := s.Redacted()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "SECRET") {
		t.Errorf("redacted spec carries the key: %s", b)
	}
	if r.HTTPS.Key != model.KeySet || r.HTTPS.Cert != "CHAIN" {
		t.Errorf("redacted https = %+v, want the chain and key %q", r.HTTPS, model.KeySet)
	}
	if !strings.Contains(s.HTTPS.Key, "SECRET") {
		t.Error("Redacted changed the original spec's key")
	}
}

func TestHTTPSKeepKey(t *testing.T) {
	old := model.Spec{HTTPS: &model.HTTPSSpec{Source: "own", Cert: "A", Key: "K1"}}
	for _, tc := range []struct {
		name string
		in   *model.HTTPSSpec
		want string
	}{
		{"left out", &model.HTTPSSpec{Source: "own", Cert: "B"}, "K1"},
		{"sent back redacted", &model.HTTPSSpec{Source: "own", Cert: "B", Key: model.KeySet}, "K1"},
		{"new key", &model.HTTPSSpec{Source: "own", Cert: "B", Key: "K2"}, "K2"},
		{"now acme", &model.HTTPSSpec{Source: "acme"}, ""},
	} {
		s := model.Spec{HTTPS: tc.in}
		s.KeepKey(old)
		if s.HTTPS.Key != tc.want {
			t.Errorf("%s: key %q, want %q", tc.name, s.HTTPS.Key, tc.want)
		}
	}
}

// Specs stored before HTTPS was served held "https": true or false.
func TestHTTPSOldBoolean(t *testing.T) {
	for in, want := range map[string]*model.HTTPSSpec{
		`{"https":true}`:                         {Source: "acme"},
		`{"https":false}`:                        {},
		`{"https":{"source":"own","hsts":true}}`: {Source: "own", HSTS: true},
	} {
		var s model.Spec
		if err := json.Unmarshal([]byte(in), &s); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if s.HTTPS == nil || *s.HTTPS != *want {
			t.Errorf("%s → %+v, want %+v", in, s.HTTPS, want)
		}
	}
}
