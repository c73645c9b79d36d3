package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ferry/internal/metrics"
	"ferry/internal/model"
	"ferry/internal/panel"
)

// Ops are the hooks `ferry serve` gives the API beyond the panel.
type Ops struct {
	// CAFingerprint returns the SHA-256 fingerprint of the CA the served
	// certificate chain ends in ("" without TLS or with a public CA). Join
	// tokens carry it, so a node can pin the CA from the token alone.
	CAFingerprint func() string
	// Metrics receives item reports; nil records nothing.
	Metrics *metrics.Metrics
}

// SetOps sets the server's operational hooks; call it before it serves.
func (s *Server) SetOps(o Ops) { s.ops = o }

// JoinTokenInput asks for a join token.
type JoinTokenInput struct {
	Host string `json:"host"`
	// TTL is how long the token is good for, as a Go duration ("30m");
	// empty means panel.DefaultJoinTTL.
	TTL string `json:"ttl,omitempty"`
}

// NewJoinToken is a made join token. Token is what `ferry node join
// --join-token` takes: the secret, then ".", then the CA fingerprint when
// the control plane serves a chain of its own CA.
type NewJoinToken struct {
	model.JoinToken
	Token         string `json:"token"`
	CAFingerprint string `json:"ca_fingerprint,omitempty"`
}

// JoinInput is a node's join request.
type JoinInput struct {
	Token string `json:"token"`
}

// JoinResult is a joined node's new token.
type JoinResult struct {
	Host      string `json:"host"`
	TokenName string `json:"token_name"`
	TokenID   int64  `json:"token_id"`
	Secret    string `json:"secret"`
}

// SplitJoinToken splits what `ferry token create --join` printed into the
// secret and the CA fingerprint ("" when it carries none).
func SplitJoinToken(s string) (secret, fingerprint string) {
	secret, fingerprint, _ = strings.Cut(strings.TrimSpace(s), ".")
	return secret, fingerprint
}

func (s *Server) joinRoutes() {
	s.Handle("POST /api/v1/join-tokens", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in JoinTokenInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		var ttl time.Duration
		if in.TTL != "" {
			d, err := time.ParseDuration(in.TTL)
			if err != nil {
				return nil, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: "ttl", Message: fmt.Sprintf("%q is not a duration like 30m", in.TTL)}
			}
			ttl = d
		}
		j, secret, err := s.panel.CreateJoinToken(ctx, c, in.Host, ttl)
		if err != nil {
			return nil, err
		}
		out := NewJoinToken{JoinToken: j, Token: secret}
		if s.ops.CAFingerprint != nil {
			out.CAFingerprint = s.ops.CAFingerprint()
		}
		if out.CAFingerprint != "" {
			out.Token += "." + out.CAFingerprint
		}
		return out, nil
	})
	// Joining carries no bearer token: the join token in the body is the
	// credential.
	s.mux.HandleFunc("POST /api/v1/join", func(w http.ResponseWriter, r *http.Request) {
		var in JoinInput
		if err := Decode(r, &in); err != nil {
			writeJSON(w, toError(err).Status, toError(err))
			return
		}
		secret, _ := SplitJoinToken(in.Token)
		t, nodeSecret, err := s.panel.Join(r.Context(), secret)
		if err != nil {
			ae := toError(err)
			if ae.Status == http.StatusInternalServerError {
				s.log.Error("join failed", "err", err)
			} else {
				s.log.Warn("join refused", "remote", r.RemoteAddr, "err", err)
			}
			writeJSON(w, ae.Status, ae)
			return
		}
		s.log.Info("node joined", "host", t.Host, "token", t.Name, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusOK, JoinResult{Host: t.Host, TokenName: t.Name, TokenID: t.ID, Secret: nodeSecret})
	})
}

// CreateJoinToken makes a one-time token that enrols a server as host's
// node.
func (c *Client) CreateJoinToken(ctx context.Context, in JoinTokenInput) (NewJoinToken, error) {
	return send[NewJoinToken](ctx, c, http.MethodPost, "/api/v1/join-tokens", in)
}

// Join trades a join token for a node token. The client needs no token of
// its own.
func (c *Client) Join(ctx context.Context, joinToken string) (JoinResult, error) {
	secret, _ := SplitJoinToken(joinToken)
	return send[JoinResult](ctx, c, http.MethodPost, "/api/v1/join", JoinInput{Token: secret})
}

// ErrPlainHTTP is returned for a plain http:// server off the loopback.
var ErrPlainHTTP = fmt.Errorf("plain http off the loopback")

// CheckPlainHTTP refuses a plain http:// URL whose host is not a loopback
// address (127.0.0.0/8, ::1, localhost) unless insecure is set: tokens
// would cross the network in clear text.
func CheckPlainHTTP(u *url.URL, insecure bool) error {
	if u.Scheme != "http" || insecure {
		return nil
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s would carry tokens in clear text; use https:// (ferry ca init, or serve --tls-cert) or, knowing the risk, --insecure", ErrPlainHTTP, u.Redacted())
}
