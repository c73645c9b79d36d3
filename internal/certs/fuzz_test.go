package certs

import (
	"strings"
	"testing"
	"time"
)

// FuzzCheck feeds arbitrary chain and key text to Check: it must never
// panic, and an error must never quote the key text it was given.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "example.org")
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte, name string) {
		info, err := Check(certPEM, keyPEM, []string{name}, time.Unix(1_800_000_000, 0), nil)
		if err == nil && len(info.Fingerprint) != 64 {
			t.Fatalf("accepted without a fingerprint: %+v", info)
		}
		if err != nil && len(keyPEM) >= 16 && strings.Contains(err.Error(), string(keyPEM)) {
			t.Fatalf("error quotes the key: %v", err)
		}
	})
}

// FuzzMatchName checks that a wildcard never matches more than one label.
func FuzzMatchName(f *testing.F) {
	f.Add("*.example.org", "www.example.org")
	f.Add("example.org", "EXAMPLE.org.")
	f.Fuzz(func(t *testing.T, pattern, host string) {
		if !MatchName(pattern, host) {
			return
		}
		if len(pattern) > 2 && pattern[:2] == "*." {
			return
		}
		if !MatchName(host, pattern) {
			t.Fatalf("exact match %q ~ %q is not symmetric", pattern, host)
		}
	})
}
