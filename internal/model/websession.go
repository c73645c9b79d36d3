package model

import "time"

// WebSession is a logged-in browser of the web UI. Its cookie carries a
// random id of which only the SHA-256 (IDHash) is kept; it acts as the API
// token TokenID, which is checked again at every request.
type WebSession struct {
	IDHash  string `json:"-"`
	TokenID int64  `json:"token_id"`
	// CSRF is the token every form of the session carries.
	CSRF string `json:"-"`
	// Flash is a one-shot message for the session's next page.
	Flash     string    `json:"flash,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
}
