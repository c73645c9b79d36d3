package store

import (
	"context"

	"ferry/internal/model"
)

const batchCols = "id, state, data, created_at, updated_at"

func scanBatch(s scanner) (model.BatchRecord, error) {
	var b model.BatchRecord
	err := s.Scan(&b.ID, &b.State, &b.Data, timeCol{&b.CreatedAt}, timeCol{&b.UpdatedAt})
	return b, err
}

// PutBatch stores a rebalance batch, adding it or replacing the one with
// its id (whose creation time stays).
func (t *tx) PutBatch(ctx context.Context, b model.BatchRecord) error {
	return t.step(ctx, "save rebalance batch "+b.ID, nil, func() error {
		return t.execOne(ctx, `INSERT INTO rebalance_batches (`+batchCols+`) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data, updated_at = excluded.updated_at`,
			b.ID, b.State, b.Data, utc(b.CreatedAt), utc(b.UpdatedAt))
	})
}

// ListBatches lists the rebalance batches by id (ids sort by time made).
func (t *tx) ListBatches(ctx context.Context) ([]model.BatchRecord, error) {
	return list(ctx, t, scanBatch, "list rebalance batches", "SELECT "+batchCols+" FROM rebalance_batches ORDER BY id")
}

// GetBatch returns the rebalance batch with id; inside Update it holds the
// row, so that a replica can check that nobody changed the batch since it
// read it before it writes.
func (t *tx) GetBatch(ctx context.Context, id string) (model.BatchRecord, error) {
	return get(ctx, t, scanBatch, "get rebalance batch "+id, "SELECT "+batchCols+" FROM rebalance_batches WHERE id = ?", id)
}
