package model

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Certificate sources of a web-conf's HTTPS.
const (
	// HTTPSAcme: the site's host obtains and renews a certificate from
	// its configured ACME CA, answering HTTP-01 itself.
	HTTPSAcme = "acme"
	// HTTPSOwn: the member brings a PEM chain and its key.
	HTTPSOwn = "own"
)

// MaxPEMSize bounds a member's certificate chain and key file.
const MaxPEMSize = 64 << 10

// KeySet is what a redacted spec shows in place of a private key, and
// what an update may send back to keep the stored key.
const KeySet = "(set)"

// HTTPSSpec is a web-conf's HTTPS: where its certificate comes from and how
// plain HTTP is treated. The key is a secret: Redacted replaces it, so the
// API, the audit and the logs never carry it; only the site's node gets it.
type HTTPSSpec struct {
	// Source is HTTPSAcme or HTTPSOwn.
	Source string `json:"source"`
	// Cert is the member's PEM chain, leaf first (own only).
	Cert string `json:"cert,omitempty"`
	// Key is the member's PEM private key (own only).
	Key string `json:"key,omitempty"`
	// RedirectHTTP sends plain HTTP requests to HTTPS, except ACME
	// challenges, which renewals answer over HTTP.
	RedirectHTTP bool `json:"redirect_http,omitempty"`
	// HSTS adds a Strict-Transport-Security header to HTTPS answers.
	HSTS bool `json:"hsts,omitempty"`
}

// UnmarshalJSON reads the settings, and also the bare true or false that
// web-conf specs held before HTTPS was served (true meant "wants HTTPS",
// taken as ACME; false as no HTTPS).
func (h *HTTPSSpec) UnmarshalJSON(data []byte) error {
	switch string(bytes.TrimSpace(data)) {
	case "true":
		*h = HTTPSSpec{Source: HTTPSAcme}
		return nil
	case "false":
		*h = HTTPSSpec{}
		return nil
	}
	type plain HTTPSSpec
	return json.Unmarshal(data, (*plain)(h))
}

// normalizeHTTPS checks a web-conf's HTTPS settings; settings left all
// empty mean no HTTPS. The certificate itself (parse, key match, names,
// validity) is checked by the panel with internal/certs, which this
// package does not import.
func (s *Spec) normalizeHTTPS() error {
	h := s.HTTPS
	if h == nil {
		return nil
	}
	if *h == (HTTPSSpec{}) {
		s.HTTPS = nil
		return nil
	}
	h.Source = strings.ToLower(strings.TrimSpace(h.Source))
	switch h.Source {
	case HTTPSAcme:
		if h.Cert != "" || h.Key != "" {
			return fieldErr("cert", "a certificate and key are given only with source %q; with %q the host obtains its own", HTTPSOwn, HTTPSAcme)
		}
	case HTTPSOwn:
		if strings.TrimSpace(h.Cert) == "" {
			return fieldErr("cert", "source %q needs the certificate chain (PEM, leaf first)", HTTPSOwn)
		}
		if strings.TrimSpace(h.Key) == "" {
			return fieldErr("key", "source %q needs the certificate's private key (PEM)", HTTPSOwn)
		}
		if len(h.Cert) > MaxPEMSize {
			return fieldErr("cert", "is longer than %d bytes", MaxPEMSize)
		}
		if len(h.Key) > MaxPEMSize {
			return fieldErr("key", "is longer than %d bytes", MaxPEMSize)
		}
	case "":
		return fieldErr("source", "is empty (%s or %s)", HTTPSAcme, HTTPSOwn)
	default:
		return fieldErr("source", "%q is not a certificate source (%s or %s)", h.Source, HTTPSAcme, HTTPSOwn)
	}
	return nil
}

// redacted returns a copy of h without its key.
func (h *HTTPSSpec) redacted() *HTTPSSpec {
	if h == nil {
		return nil
	}
	c := *h
	if c.Key != "" {
		c.Key = KeySet
	}
	return &c
}

// KeepKey lets an update that leaves the key out (or sends back the
// redacted KeySet) keep the key old holds, as long as both are own
// certificates: a renewed certificate often keeps its key.
func (s *Spec) KeepKey(old Spec) {
	h := s.HTTPS
	if h == nil || old.HTTPS == nil || !strings.EqualFold(strings.TrimSpace(h.Source), HTTPSOwn) || old.HTTPS.Source != HTTPSOwn {
		return
	}
	if h.Key == "" || h.Key == KeySet {
		h.Key = old.HTTPS.Key
	}
}
