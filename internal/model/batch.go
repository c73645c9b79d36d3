package model

import "time"

// BatchRecord is a rebalance batch as the store keeps it: its id and state,
// and the batch itself as JSON (the rebalance runner's to read and write).
type BatchRecord struct {
	ID        string
	State     string
	Data      string
	CreatedAt time.Time
	UpdatedAt time.Time
}
