package model

import "time"

// JoinToken lets a new server enrol as a node once: `ferry node join`
// trades it, over TLS, for a node token of its host. Only its SHA-256 is
// stored; it is good for one use before ExpiresAt.
type JoinToken struct {
	ID        int64      `json:"id"`
	Host      string     `json:"host"`
	Hash      string     `json:"-"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
}

// Usable reports whether the join token may still be used at now.
func (j *JoinToken) Usable(now time.Time) bool {
	return j.UsedAt == nil && now.Before(j.ExpiresAt)
}
