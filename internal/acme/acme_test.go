package acme

import (
	"context"
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNeedsRenewal(t *testing.T) {
	day := 24 * time.Hour
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lifetime time.Duration
		at       time.Duration // after NotBefore
		want     bool
	}{
		{"90 days, day 59", 90 * day, 59 * day, false},
		{"90 days, day 60", 90 * day, 60 * day, true},
		{"6 days, day 3", 6 * day, 3 * day, true}, // 30 days exceeds the whole life
		{"365 days, day 334", 365 * day, 334 * day, true},
		{"365 days, day 244", 365 * day, 244 * day, true}, // a third: 121 days before expiry
		{"365 days, day 243", 365 * day, 243 * day, false},
		{"expired", 90 * day, 91 * day, true},
	}
	for _, tt := range tests {
		c := &x509.Certificate{NotBefore: start, NotAfter: start.Add(tt.lifetime)}
		if got := NeedsRenewal(c, start.Add(tt.at)); got != tt.want {
			t.Errorf("%s: NeedsRenewal = %v, want %v (renew %v before expiry)", tt.name, got, tt.want, RenewBefore(c))
		}
	}
}

func TestWebrootPresentAndCleanUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme-challenge")
	w := Webroot{Dir: dir}
	ctx := context.Background()
	if err := w.Present(ctx, "example.org", "tok-EN_1", "tok-EN_1.thumb"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "tok-EN_1"))
	if err != nil || string(got) != "tok-EN_1.thumb" {
		t.Fatalf("challenge file = %q, %v", got, err)
	}
	if err := w.CleanUp(ctx, "example.org", "tok-EN_1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tok-EN_1")); !os.IsNotExist(err) {
		t.Fatalf("challenge file left: %v", err)
	}
	if err := w.CleanUp(ctx, "example.org", "tok-EN_1", ""); err != nil {
		t.Fatalf("second CleanUp: %v", err)
	}
	for _, bad := range []string{"", "../x", "a/b", "a.b"} {
		if err := w.Present(ctx, "example.org", bad, "k"); err == nil {
			t.Errorf("Present(%q) accepted", bad)
		}
	}
}

func TestAccountKeyKeptPrivate(t *testing.T) {
	dir := t.TempDir()
	u, err := loadAccount(dir, "m@example.org")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, accountKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("account key: %v, mode %v", err, fi.Mode())
	}
	again, err := loadAccount(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !again.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(u.key.Public()) {
		t.Fatal("a second load made a new account key")
	}
}
