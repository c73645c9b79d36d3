package model_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"ferry/internal/model"
)

var passwords = []string{"password", "correct horse battery staple", "Pa55w0rd!", "pässwörd-ünïcode", strings.Repeat("x", 72)}

func TestHashUnixPassword(t *testing.T) {
	for _, pw := range passwords {
		h, err := model.HashUnixPassword(pw)
		if err != nil {
			t.Fatalf("HashUnixPassword(%q): %v", pw, err)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)); err != nil {
			t.Errorf("hash of %q does not verify: %v", pw, err)
		}
		if bcrypt.CompareHashAndPassword([]byte(h), []byte("wrong "+pw)) == nil {
			t.Errorf("hash of %q verifies another password", pw)
		}
		if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost < 10 {
			t.Errorf("hash of %q has cost %d (%v), want at least 10", pw, cost, err)
		}
		if err := model.ValidateUnixHash(h); err != nil {
			t.Errorf("the model refuses its own hash %q: %v", h, err)
		}
		again, _ := model.HashUnixPassword(pw)
		if again == h {
			t.Errorf("two hashes of %q are equal: no salt", pw)
		}
	}
}

// mysqlNative is MariaDB's mysql_native_password hash, computed here apart
// from the model.
func mysqlNative(pw string) string {
	inner := sha1.New()
	inner.Write([]byte(pw))
	outer := sha1.New()
	outer.Write(inner.Sum(nil))
	return "*" + strings.ToUpper(hex.EncodeToString(outer.Sum(nil)))
}

func TestHashMySQLPassword(t *testing.T) {
	// The value MariaDB's PASSWORD('password') returns.
	const known = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
	if got := mysqlNative("password"); got != known {
		t.Fatalf("the test's own hash of \"password\" is %s, want %s", got, known)
	}
	for _, pw := range passwords {
		got, err := model.HashMySQLPassword(pw)
		if err != nil {
			t.Fatalf("HashMySQLPassword(%q): %v", pw, err)
		}
		if want := mysqlNative(pw); got != want {
			t.Errorf("HashMySQLPassword(%q) = %s, want %s", pw, got, want)
		}
		if err := model.ValidateMySQLHash(got); err != nil {
			t.Errorf("the model refuses its own hash %q: %v", got, err)
		}
	}
}

// pbkdf2SHA256 is RFC 8018's PBKDF2 with HMAC-SHA-256, one block long,
// written out here apart from the model's library.
func pbkdf2SHA256(pw string, salt []byte, iter int) []byte {
	mac := hmac.New(sha256.New, []byte(pw))
	mac.Write(salt)
	mac.Write(binary.BigEndian.AppendUint32(nil, 1))
	u := mac.Sum(nil)
	t := append([]byte(nil), u...)
	for range iter - 1 {
		mac.Reset()
		mac.Write(u)
		u = mac.Sum(u[:0])
		for i := range t {
			t[i] ^= u[i]
		}
	}
	return t
}

func hmac256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramVerifier builds a PostgreSQL SCRAM-SHA-256 verifier (RFC 5802 keys,
// pg_authid's layout) from a password, a salt and an iteration count.
func scramVerifier(pw string, salt []byte, iter int) string {
	salted := pbkdf2SHA256(pw, salt, iter)
	stored := sha256.Sum256(hmac256(salted, "Client Key"))
	server := hmac256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, b64(salt), b64(stored[:]), b64(server))
}

// scramSample is a well-formed verifier for "correct horse".
var scramSample = scramVerifier("correct horse", []byte("0123456789abcdef"), 4096)

// parseScram splits a verifier into its iteration count and salt.
func parseScram(t *testing.T, v string) (iter int, salt []byte) {
	t.Helper()
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$")
	iterS, rest, ok2 := strings.Cut(rest, ":")
	saltS, _, ok3 := strings.Cut(rest, "$")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("verifier %q does not have the form SCRAM-SHA-256$iter:salt$stored:server", v)
	}
	iter, err := strconv.Atoi(iterS)
	if err != nil {
		t.Fatalf("verifier %q: iterations: %v", v, err)
	}
	salt, err = base64.StdEncoding.DecodeString(saltS)
	if err != nil {
		t.Fatalf("verifier %q: salt: %v", v, err)
	}
	return iter, salt
}

// checkScram fails unless v is the verifier of pw, recomputed from v's salt.
func checkScram(t *testing.T, v, pw string) {
	t.Helper()
	iter, salt := parseScram(t, v)
	if iter < 4096 {
		t.Errorf("verifier %q iterates %d times, want at least 4096", v, iter)
	}
	if len(salt) < 16 {
		t.Errorf("verifier %q has a %d-byte salt, want at least 16", v, len(salt))
	}
	if want := scramVerifier(pw, salt, iter); v != want {
		t.Errorf("verifier of %q is\n%s\nrecomputed from its salt\n%s", pw, v, want)
	}
}

func TestHashPgSQLPassword(t *testing.T) {
	if err := model.ValidatePgSQLHash(scramSample); err != nil {
		t.Fatalf("the model refuses the test's own verifier %q: %v", scramSample, err)
	}
	for _, pw := range passwords {
		v, err := model.HashPgSQLPassword(pw)
		if err != nil {
			t.Fatalf("HashPgSQLPassword(%q): %v", pw, err)
		}
		checkScram(t, v, pw)
		if err := model.ValidatePgSQLHash(v); err != nil {
			t.Errorf("the model refuses its own verifier %q: %v", v, err)
		}
		if again, _ := model.HashPgSQLPassword(pw); again == v {
			t.Errorf("two verifiers of %q are equal: no fresh salt", pw)
		}
	}
}

// A password given in a spec comes back as its hash, and only the hash.
func TestSpecNormalizeHashesPassword(t *testing.T) {
	const pw = "correct horse"
	for _, c := range []struct {
		kind  model.Kind
		spec  model.Spec
		check func(t *testing.T, hash string)
	}{
		{"user-account", model.Spec{Login: "alice", Password: pw}, func(t *testing.T, h string) {
			if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(pw)); err != nil {
				t.Errorf("bcrypt hash %q does not verify: %v", h, err)
			}
		}},
		{"mysql-user", model.Spec{Name: "shop", Password: pw}, func(t *testing.T, h string) {
			if want := mysqlNative(pw); h != want {
				t.Errorf("MariaDB hash %q, want %q", h, want)
			}
		}},
		{"pgsql-db", model.Spec{Name: "shop", Password: pw}, func(t *testing.T, h string) { checkScram(t, h, pw) }},
	} {
		t.Run(string(c.kind), func(t *testing.T) {
			s := c.spec
			if err := s.Normalize(c.kind, orderDomain); err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if s.Password != "" {
				t.Errorf("password %q kept after normalizing", s.Password)
			}
			if strings.Contains(asJSON(s), pw) {
				t.Errorf("the password shows in %s", asJSON(s))
			}
			c.check(t, s.PasswordHash)
			again := s
			if err := again.Normalize(c.kind, orderDomain); err != nil || !reflect.DeepEqual(again, s) {
				t.Errorf("normalizing the hashed spec again: %v, %+v", err, again)
			}
		})
	}
}

func TestValidateUnixHash(t *testing.T) {
	runNorm(t, checker(model.ValidateUnixHash), append(keep(
		"$2a$10$"+strings.Repeat("a", 53),
		"$2b$12$"+strings.Repeat("Z", 53),
		"$2y$10$"+strings.Repeat(".", 53),
		"$5$salt$"+strings.Repeat("b", 43),
		"$6$rounds=5000$salt$"+strings.Repeat("c/", 43),
		"$y$j9T$salt$"+strings.Repeat("d", 43),
		"$gy$j9T$salt$"+strings.Repeat("d", 43),
		"$7$CU..../....$"+strings.Repeat("e", 43),
	), refuse(
		"",
		"*",
		"!",
		"hunter2hunter2hunter2hunter2",
		"$1$salt$"+strings.Repeat("a", 22), // md5crypt
		"$2a$10$short",
		"$6$"+strings.Repeat("a", 201),
		"$6$salt$"+strings.Repeat("a", 40)+":",
		"$6$salt$"+strings.Repeat("a", 40)+"\n",
		"$6$salt$"+strings.Repeat("a", 40)+" ",
		" $6$salt$"+strings.Repeat("a", 40),
	)...))
}

func TestValidateMySQLHash(t *testing.T) {
	runNorm(t, checker(model.ValidateMySQLHash), append(keep(
		"*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
		mysqlNative("x"),
	), refuse(
		"",
		"*",
		"*2470c0c06dee42fd1618bb99005adca2ec9d1e19",
		"2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
		"*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1",
		"*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E190",
		"*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1G",
		"5D2E19393CC5EF67",
	)...))
}

func TestValidatePgSQLHash(t *testing.T) {
	runNorm(t, checker(model.ValidatePgSQLHash), append(keep(
		scramSample,
		scramVerifier("x", []byte("0123456789abcdef0123"), 100000),
	), refuse(
		"",
		"md5"+strings.Repeat("0", 32),
		"SCRAM-SHA-256$",
		strings.Replace(scramSample, "SCRAM-SHA-256", "SCRAM-SHA-1", 1),
		strings.Replace(scramSample, "4096", "409", 1),
		strings.Replace(scramSample, "$", "$\n", 1),
		scramSample+"=",
		scramSample[:len(scramSample)-1],
	)...))
}
