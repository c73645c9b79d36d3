package model

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// HashUnixPassword returns a crypt(3) hash that Debian's libxcrypt accepts
// ($2a$, bcrypt), for usermod -p.
func HashUnixPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

var (
	unixHashRe  = regexp.MustCompile(`^\$(2[aby]|5|6|y|gy|7)\$[./A-Za-z0-9$,=]{20,200}$`)
	mysqlHashRe = regexp.MustCompile(`^\*[0-9A-F]{40}$`)
	scramRe     = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]{4,7}:[A-Za-z0-9+/=]{16,64}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$`)
)

// ValidateUnixHash checks a ready-made crypt(3) hash (bcrypt, sha256crypt,
// sha512crypt, yescrypt).
func ValidateUnixHash(h string) error {
	if !unixHashRe.MatchString(h) {
		return errorString("is not a crypt(3) hash ($2b$, $5$, $6$ or $y$)")
	}
	return nil
}

// HashMySQLPassword returns MariaDB's mysql_native_password hash:
// "*" and the upper-case hex of SHA1(SHA1(password)).
func HashMySQLPassword(pw string) (string, error) {
	a := sha1.Sum([]byte(pw))
	b := sha1.Sum(a[:])
	return "*" + strings.ToUpper(hex.EncodeToString(b[:])), nil
}

// ValidateMySQLHash checks a ready-made mysql_native_password hash.
func ValidateMySQLHash(h string) error {
	if !mysqlHashRe.MatchString(h) {
		return errorString("is not a MariaDB native password hash (* and 40 upper-case hex digits)")
	}
	return nil
}

// HashPgSQLPassword returns a PostgreSQL SCRAM-SHA-256 verifier (RFC 5802,
// RFC 7677) as PostgreSQL stores it in pg_authid, so the plain password
// never reaches the database server either.
func HashPgSQLPassword(pw string) (string, error) {
	const iter = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, pw, salt, iter, sha256.Size)
	if err != nil {
		return "", err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$4096:" + b64(salt) + "$" + b64(storedKey[:]) + ":" + b64(serverKey), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// ValidatePgSQLHash checks a ready-made SCRAM-SHA-256 verifier.
func ValidatePgSQLHash(h string) error {
	if !scramRe.MatchString(h) {
		return errorString("is not a PostgreSQL SCRAM-SHA-256 verifier")
	}
	return nil
}
