package receive

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// PEM blocks with made-up content: splitTLSBundle checks only the
// blocks' kinds; the host parses and checks the certificate and key.
const (
	testChain = "-----BEGIN CERTIFICATE-----\nbGVhZg==\n-----END CERTIFICATE-----\n" +
		"-----BEGIN CERTIFICATE-----\naW50ZXJtZWRpYXRl\n-----END CERTIFICATE-----\n"
	testKey = "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END EC PRIVATE KEY-----\n"
)

func TestSplitTLSBundle(t *testing.T) {
	chain, key, err := splitTLSBundle([]byte(testChain + "\n" + testKey + "\n"))
	if err != nil || string(chain) != testChain || string(key) != testKey {
		t.Fatalf("split: chain %q, key %q, %v", chain, key, err)
	}
	// The key may come first; the chain keeps its order.
	chain, key, err = splitTLSBundle([]byte(testKey + testChain))
	if err != nil || string(chain) != testChain || string(key) != testKey {
		t.Errorf("key first: chain %q, key %q, %v", chain, key, err)
	}

	for _, tt := range []struct{ name, data, why string }{
		{"empty", "", "no certificate"},
		{"no key", testChain, "no private key"},
		{"no certificate", testKey, "no certificate"},
		{"two keys", testChain + testKey + testKey, "more than one private key"},
		{"another block", testChain + testKey + "-----BEGIN PUBLIC KEY-----\nYQ==\n-----END PUBLIC KEY-----\n", `"PUBLIC KEY"`},
		{"text around", testChain + testKey + "rm -rf /\n", "other than PEM"},
		{"broken block", testChain + "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n", "other than PEM"},
		{"encrypted key", testChain + "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nc2VjcmV0\n-----END RSA PRIVATE KEY-----\n", "headers"},
		{"a long chain", strings.Repeat(testChain, 6) + testKey, "more than 10"},
	} {
		_, _, err := splitTLSBundle([]byte(tt.data))
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s: %v, want a refusal saying %q", tt.name, err, tt.why)
		}
		if err != nil && strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("%s: the refusal quotes the key", tt.name)
		}
	}
	if _, _, err := readTLSBundle(strings.NewReader(strings.Repeat(" ", maxTLSBundle+1))); !errors.Is(err, ErrRefused) {
		t.Errorf("an oversized bundle: %v, want a refusal", err)
	}
}

func FuzzSplitTLSBundle(f *testing.F) {
	for _, s := range []string{testChain + testKey, testKey + testChain, testChain, "", "-----BEGIN X-----\n-----END X-----\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		chain, key, err := splitTLSBundle(data)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("%v is not a refusal", err)
			}
			if bytes.Contains(data, []byte("c2VjcmV0")) && strings.Contains(err.Error(), "c2VjcmV0") {
				t.Fatalf("the refusal %q quotes what was sent", err)
			}
			return
		}
		if !bytes.HasPrefix(chain, []byte("-----BEGIN CERTIFICATE-----\n")) || !bytes.HasPrefix(key, []byte("-----BEGIN ")) ||
			!bytes.Contains(key, []byte("PRIVATE KEY-----\n")) || bytes.Count(key, []byte("-----BEGIN ")) != 1 {
			t.Fatalf("split %q into chain %q and key %q", data, chain, key)
		}
	})
}
