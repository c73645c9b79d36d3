package model

import (
	"regexp"
	"strings"
	"time"
)

// Login is a web UI login: a name and a password, and optionally a TOTP
// secret. It acts as the token TokenID (made for it, its secret never
// known to anyone), which gives it its role and member.
type Login struct {
	Name    string `json:"name"`
	TokenID int64  `json:"token_id"`
	// PasswordHash is a bcrypt hash of the password.
	PasswordHash string `json:"-"`
	// TOTPSecret is the base32 shared secret of RFC 6238 codes; empty when
	// the login takes no codes.
	TOTPSecret string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// MinPasswordLen and MaxPasswordLen bound a login's password. bcrypt
// reads at most 72 bytes, so a longer password would be cut silently.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 72
)

// ValidateLoginPassword checks a new web login password.
func ValidateLoginPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return fieldErr("password", "must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fieldErr("password", "must be at most %d bytes", MaxPasswordLen)
	}
	for _, r := range pw {
		if r < 0x20 || r == 0x7f {
			return fieldErr("password", "must not hold control characters")
		}
	}
	return nil
}

var loginNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,57}$`)

// ValidateLoginName checks a web login's name: 1 to 58 lower-case
// letters, digits, '.', '_', '@' or '-', starting with a letter or digit.
func ValidateLoginName(s string) error {
	if !loginNameRe.MatchString(s) {
		return errorString("must be 1 to 58 lower-case letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
	}
	return nil
}

// LoginTokenName is the name of the token a login acts as; the audit log
// shows it as the actor.
func LoginTokenName(login string) string { return "login-" + login }

func (s *Spec) normalizeOrderAccess(string) error {
	s.Login = strings.ToLower(strings.TrimSpace(s.Login))
	return at("login", ValidateLoginName(s.Login))
}
