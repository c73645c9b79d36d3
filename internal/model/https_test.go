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

// A web-conf spec's https block from any JSON: decoding never panics; what
// normalizes is a known source, comes back the same through JSON, and its
// redacted form never holds the key.
func FuzzWebConfHTTPSJSON(f *testing.F) {
	for _, s := range []string{
		`true`, `false`, `null`, `{}`, `{"source":"acme","hsts":true}`,
		`{"source":"own","cert":"C","key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`,
		`{"source":"OWN ","cert":"C","key":"K","redirect_http":true}`, `{"source":"x"}`, `"acme"`, `[1]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var s model.Spec
		if err := json.Unmarshal([]byte(`{"login":"alice","server_names":["example.org"],"https":`+in+`}`), &s); err != nil {
			return
		}
		if err := s.Normalize(model.KindWebConf, "example.org"); err != nil {
			return
		}
		h := s.HTTPS
		if h == nil {
			return
		}
		if h.Source != model.HTTPSAcme && h.Source != model.HTTPSOwn {
			t.Fatalf("normalized to source %q", h.Source)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back model.Spec
		if err := json.Unmarshal(b, &back); err != nil || back.HTTPS == nil || *back.HTTPS != *h {
			t.Fatalf("%s came back as %+v, %v", b, back.HTTPS, err)
		}
		r, _ := json.Marshal(s.Redacted())
		var red model.Spec
		if err := json.Unmarshal(r, &red); err != nil || red.HTTPS == nil {
			t.Fatalf("redacted %s: %v", r, err)
		}
		if want := map[bool]string{true: model.KeySet, false: ""}[h.Key != ""]; red.HTTPS.Key != want {
			t.Fatalf("the redacted spec's key is %q, want %q", red.HTTPS.Key, want)
		}
	})
}
