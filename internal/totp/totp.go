// Package totp makes and checks the time-based one-time codes of RFC 6238
// (HOTP of RFC 4226 over 30-second steps, HMAC-SHA-1, 6 digits), the codes
// authenticator apps show, for the web UI's optional second login step.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Step is the length of one time step (RFC 6238's X), and Digits the
// length of a code: what authenticator apps assume when told nothing.
const (
	Step   = 30 * time.Second
	Digits = 6
)

// ErrSecret: a secret that is not base32 or is too short.
var ErrSecret = errors.New("totp: secret must be base32 of at least 10 bytes")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a random 160-bit secret (RFC 4226's recommended
// length), base32 without padding, as apps take it.
func NewSecret() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return b32.EncodeToString(b), nil
}

// decode reads a base32 secret, forgiving spaces, lower case and padding.
func decode(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.ReplaceAll(secret, " ", ""))
	key, err := b32.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(key) < 10 {
		return nil, ErrSecret
	}
	return key, nil
}

// hotp is RFC 4226's HOTP of key at counter, digits long.
func hotp(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// counter is the time step t falls in (T0 = the Unix epoch).
func counter(t time.Time) uint64 { return uint64(t.Unix()) / uint64(Step/time.Second) }

// Code returns the code of secret at time t.
func Code(secret string, t time.Time) (string, error) {
	key, err := decode(secret)
	if err != nil {
		return "", err
	}
	return hotp(key, counter(t), Digits), nil
}

// Check reports whether code is secret's code at time t or one step
// either side (RFC 6238 §5.2 allows for a clock that drifts and a code
// typed as it changes), and which step matched, so a caller can refuse
// the same step twice. A malformed code or secret never matches.
func Check(secret, code string, t time.Time) (step uint64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != Digits {
		return 0, false
	}
	key, err := decode(secret)
	if err != nil {
		return 0, false
	}
	c := counter(t)
	for _, s := range []uint64{c - 1, c, c + 1} {
		if subtle.ConstantTimeCompare([]byte(hotp(key, s, Digits)), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// URI is the otpauth:// address an authenticator app reads (as a QR code
// or pasted), for account at issuer.
func URI(issuer, account, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + v.Encode()
}
