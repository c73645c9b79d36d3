package wire

import (
	"strings"
	"time"

	"ferry/internal/model"
)

// WhoAmI is the answer of GET /api/v1/whoami.
type WhoAmI struct {
	Name   string          `json:"name"`
	Role   model.TokenRole `json:"role"`
	Member string          `json:"member,omitempty"`
	Host   string          `json:"host,omitempty"`
}

// TokenInput creates a token.
type TokenInput struct {
	Name   string          `json:"name"`
	Role   model.TokenRole `json:"role"`
	Member string          `json:"member,omitempty"`
	Host   string          `json:"host,omitempty"`
}

// LoginInput makes a web login or sets its password (PUT
// /api/v1/logins/{name}): a member's login (Role member, Member set) or
// an admin's.
type LoginInput struct {
	Role     model.TokenRole `json:"role"`
	Member   string          `json:"member,omitempty"`
	Password string          `json:"password"`
}

// Login is a web login as the API lists it: never its password or TOTP
// secret.
type Login struct {
	Name   string          `json:"name"`
	Role   model.TokenRole `json:"role"`
	Member string          `json:"member,omitempty"`
	// Token names the token the login acts as, the actor of its changes.
	Token string `json:"token"`
	// Revoked: its token was revoked, so the login cannot log in.
	Revoked   bool      `json:"revoked,omitempty"`
	TOTP      bool      `json:"totp"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NewToken is a created token with its secret, shown once.
type NewToken struct {
	model.Token
	Secret string `json:"secret"`
}

// StateInput asks for an item state change.
type StateInput struct {
	State model.State `json:"state"`
}

// SpecInput replaces an item's spec.
type SpecInput struct {
	Spec model.Spec `json:"spec"`
}

// Deleted answers a delete of a member, host or zone; deleting a member or
// host revokes its tokens, and TokensRevoked says how many.
type Deleted struct {
	Deleted       string `json:"deleted"`
	TokensRevoked int    `json:"tokens_revoked"`
}

// DomainInput adds a domain to an order.
type DomainInput struct {
	Domain string `json:"domain"`
}

// MemberPatch changes a member.
type MemberPatch struct {
	FriendlyName string `json:"friendly_name"`
}

// OrderQuery filters the orders listed.
type OrderQuery struct {
	Member, Host, Identifier, State, Text string
}

// ItemQuery filters the items listed.
type ItemQuery struct {
	Order, Host, Kind string
	States            []model.State
}

// OrderDomains is what an order holds: its identifier and the domains
// added to it.
type OrderDomains struct {
	Order   string   `json:"order"`
	Domains []string `json:"domains"`
}

// AdoptResult is what adopting an order's unregistered databases made
// (new mysql-db items, pending on the order's host) and what it left, each
// with why.
type AdoptResult struct {
	Adopted []model.Item `json:"adopted"`
	Left    []string     `json:"left,omitempty"`
}

// HostPatch holds the host fields an update may change; nil leaves one alone.
type HostPatch struct {
	Addresses    []string         `json:"addresses,omitempty"`
	Roles        []model.Role     `json:"roles,omitempty"`
	State        *model.HostState `json:"state,omitempty"`
	DiskCapacity *int64           `json:"disk_capacity,omitempty"`
}

// OrderPatch holds the order fields an update may change. The host is not
// among them: an order changes host only by a move.
type OrderPatch struct {
	Member *string `json:"member,omitempty"`
}

// ItemInput is what a caller gives to create an item.
type ItemInput struct {
	Order string     `json:"order"`
	Kind  model.Kind `json:"kind"`
	Host  string     `json:"host,omitempty"`
	Spec  model.Spec `json:"spec"`
}

// JoinTokenInput asks for a join token.
type JoinTokenInput struct {
	Host string `json:"host"`
	// TTL is how long the token is good for, as a Go duration ("30m");
	// empty means the control plane's default (30m).
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
