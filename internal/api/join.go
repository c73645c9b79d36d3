package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"ferry/internal/metrics"
	"ferry/internal/panel"
	"ferry/internal/wire"
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

// The join shapes; see package wire.
type (
	JoinTokenInput = wire.JoinTokenInput
	NewJoinToken   = wire.NewJoinToken
	JoinInput      = wire.JoinInput
	JoinResult     = wire.JoinResult
)

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
	s.Handle("GET /api/v1/join-tokens", func(ctx context.Context, c panel.Caller, _ *http.Request) (any, error) {
		return s.panel.ListJoinTokens(ctx, c)
	})
	s.Handle("DELETE /api/v1/join-tokens/{id}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		return s.panel.RevokeJoinToken(ctx, c, id)
	})
	// Joining carries no bearer token: the join token in the body is the
	// credential.
	s.mux.HandleFunc("POST /api/v1/join", func(w http.ResponseWriter, r *http.Request) {
		var in JoinInput
		if err := Decode(r, &in); err != nil {
			writeJSON(w, toError(err).Status, toError(err))
			return
		}
		secret, _ := wire.SplitJoinToken(in.Token)
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
