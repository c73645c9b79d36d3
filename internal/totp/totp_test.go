package totp

import (
	"encoding/base32"
	"testing"
	"time"
)

// RFC 6238 appendix B: the SHA-1 vectors, 8 digits, key "12345678901234567890".
func TestRFC6238Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		if got := hotp(key, counter(time.Unix(tc.unix, 0)), 8); got != tc.want {
			t.Errorf("T=%d: code %s, want %s", tc.unix, got, tc.want)
		}
	}
}

// RFC 4226 appendix D: HOTP values 0 to 9 of the same key, 6 digits.
func TestRFC4226Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp(key, uint64(i), 6); got != w {
			t.Errorf("count %d: %s, want %s", i, got, w)
		}
	}
}

func TestCheck(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	at := time.Unix(1111111111, 0)
	// The 6-digit code at 1111111111 is the 8-digit one's last six.
	code, err := Code(secret, at)
	if err != nil || code != "050471" {
		t.Fatalf("Code = %q, %v; want 050471", code, err)
	}
	for _, tc := range []struct {
		name string
		code string
		at   time.Time
		ok   bool
	}{
		{"same step", "050471", at, true},
		{"one step later", "050471", at.Add(Step), true},
		{"one step earlier", "050471", at.Add(-Step), true},
		{"two steps later", "050471", at.Add(2 * Step), false},
		{"spaces", "050 471", at, true},
		{"wrong", "050472", at, false},
		{"short", "05047", at, false},
		{"empty", "", at, false},
	} {
		if _, ok := Check(secret, tc.code, tc.at); ok != tc.ok {
			t.Errorf("%s: Check = %v, want %v", tc.name, ok, tc.ok)
		}
	}
	if _, ok := Check("not base32!", "050471", at); ok {
		t.Error("a malformed secret matched")
	}
	if _, err := Code("AAAA", at); err == nil {
		t.Error("a 2-byte secret was taken")
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b || len(a) != 32 {
		t.Errorf("secrets %q %q: want two different 32-character ones", a, b)
	}
	if _, err := Code(a, time.Now()); err != nil {
		t.Errorf("a new secret does not make codes: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "050471", int64(1111111111))
	f.Add("", "", int64(0))
	f.Fuzz(func(t *testing.T, secret, code string, unix int64) {
		_, ok := Check(secret, code, time.Unix(unix, 0))
		if ok && len(code) < Digits {
			t.Fatalf("a %d-character code matched", len(code))
		}
	})
}
