package client

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"ferry/internal/model"
	"ferry/internal/wire"
)

// CreateJoinToken makes a one-time token that enrols a server as host's
// node.
func (c *Client) CreateJoinToken(ctx context.Context, in wire.JoinTokenInput) (wire.NewJoinToken, error) {
	return send[wire.NewJoinToken](ctx, c, http.MethodPost, "/api/v1/join-tokens", in)
}

// Join trades a join token for a node token. The client needs no token of
// its own.
func (c *Client) Join(ctx context.Context, joinToken string) (wire.JoinResult, error) {
	secret, _ := wire.SplitJoinToken(joinToken)
	return send[wire.JoinResult](ctx, c, http.MethodPost, "/api/v1/join", wire.JoinInput{Token: secret})
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

// ListJoinTokens lists the join tokens, oldest first (admins only).
func (c *Client) ListJoinTokens(ctx context.Context) ([]model.JoinToken, error) {
	return get[[]model.JoinToken](ctx, c, "/api/v1/join-tokens")
}

// RevokeJoinToken ends the unused join token id at once (admins only).
func (c *Client) RevokeJoinToken(ctx context.Context, id int64) (model.JoinToken, error) {
	return send[model.JoinToken](ctx, c, http.MethodDelete, fmt.Sprintf("/api/v1/join-tokens/%d", id), nil)
}
