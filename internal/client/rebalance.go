package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"ferry/internal/wire"
)

// PlanRebalance asks for a plan; it changes nothing.
func (c *Client) PlanRebalance(ctx context.Context, o wire.RebalanceOptions) (wire.RebalancePlan, error) {
	v := url.Values{}
	if o.By != "" {
		v.Set("by", string(o.By))
	}
	if o.MaxMoves > 0 {
		v.Set("max_moves", strconv.Itoa(o.MaxMoves))
	}
	if o.Drain != "" {
		v.Set("drain", o.Drain)
	}
	return get[wire.RebalancePlan](ctx, c, "/api/v1/rebalance/plan?"+v.Encode())
}

// ApplyRebalance hands a plan to the control plane, which runs it as a
// batch; the same plan again takes its batch up again.
func (c *Client) ApplyRebalance(ctx context.Context, in wire.ApplyInput) (wire.Batch, error) {
	return send[wire.Batch](ctx, c, http.MethodPost, "/api/v1/rebalance/batches", in)
}

// ListBatches lists the rebalance batches, newest first.
func (c *Client) ListBatches(ctx context.Context) ([]wire.Batch, error) {
	return get[[]wire.Batch](ctx, c, "/api/v1/rebalance/batches")
}

// GetBatch returns a batch with each move's progress.
func (c *Client) GetBatch(ctx context.Context, id string) (wire.Batch, error) {
	return get[wire.Batch](ctx, c, "/api/v1/rebalance/batches/"+esc(id))
}

// CancelBatch stops a batch from starting or driving more moves.
func (c *Client) CancelBatch(ctx context.Context, id string) (wire.Batch, error) {
	return send[wire.Batch](ctx, c, http.MethodPost, "/api/v1/rebalance/batches/"+esc(id)+"/cancel", nil)
}

// DrainHost marks a host draining and moves all its orders off it as a
// batch.
func (c *Client) DrainHost(ctx context.Context, host string, in wire.DrainInput) (wire.Batch, error) {
	return send[wire.Batch](ctx, c, http.MethodPost, "/api/v1/hosts/"+esc(host)+"/drain", in)
}
