package rebalance

import "ferry/internal/wire"

// The shapes of a batch; see package wire.
type (
	BatchState   = wire.BatchState
	EntryStatus  = wire.EntryStatus
	ApplyOptions = wire.ApplyOptions
	ApplyInput   = wire.ApplyInput
	DrainInput   = wire.DrainInput
	Batch        = wire.Batch
	Entry        = wire.BatchEntry
)

// Batch states; see wire.BatchRunning.
const (
	BatchRunning   = wire.BatchRunning
	BatchFinished  = wire.BatchFinished
	BatchCancelled = wire.BatchCancelled
)

// Entry statuses; see wire.EntryPending.
const (
	EntryPending  = wire.EntryPending
	EntryRunning  = wire.EntryRunning
	EntryVerified = wire.EntryVerified
	EntryWaiting  = wire.EntryWaiting
	EntryDone     = wire.EntryDone
	EntryFailed   = wire.EntryFailed
	EntryAborted  = wire.EntryAborted
	EntrySkipped  = wire.EntrySkipped
)
