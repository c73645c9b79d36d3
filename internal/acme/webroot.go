package acme

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/atomicfile"
)

// Webroot answers HTTP-01 challenges by writing the key authorization into
// Dir, the directory the site's Apache serves at
// /.well-known/acme-challenge/. It is a lego challenge.Provider.
type Webroot struct {
	Dir string
}

// Present writes the token's file whole (a reader never sees half of it).
func (w Webroot) Present(_ context.Context, domain, token, keyAuth string) error {
	path, err := w.path(token)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(w.Dir, 0o755); err != nil {
		return fmt.Errorf("acme: the challenge directory for %s: %w", domain, err)
	}
	if err := atomicfile.Write(path, []byte(keyAuth), 0o644); err != nil {
		return fmt.Errorf("acme: the challenge file for %s: %w", domain, err)
	}
	return nil
}

// CleanUp removes the token's file; one already gone is no error.
func (w Webroot) CleanUp(_ context.Context, _, token, _ string) error {
	path, err := w.path(token)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("acme: removing the challenge file: %w", err)
	}
	return nil
}

// path refuses a token that is not base64url (RFC 8555 §8.3), so a token
// never names a file outside Dir.
func (w Webroot) path(token string) (string, error) {
	if token == "" || strings.TrimLeft(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return "", fmt.Errorf("acme: the challenge token %q is not base64url", token)
	}
	return filepath.Join(w.Dir, token), nil
}
