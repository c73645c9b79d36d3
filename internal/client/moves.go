package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"ferry/internal/model"
	"ferry/internal/wire"
)

// PlanMove says what moving order to host to would do, and what stops it.
func (c *Client) PlanMove(ctx context.Context, order, to string) (wire.MovePlan, error) {
	return c.PlanStart(ctx, wire.MoveStartInput{Order: order, To: to})
}

// PlanStart says what starting the move in would do, and what stops it.
func (c *Client) PlanStart(ctx context.Context, in wire.MoveStartInput) (wire.MovePlan, error) {
	v := url.Values{"order": {in.Order}, "to": {in.To}}
	if in.PHP != "" {
		v.Set("php", in.PHP)
	}
	return get[wire.MovePlan](ctx, c, "/api/v1/moves/plan?"+v.Encode())
}

// StartMove checks and prepares a move; its ssh key is made in the
// background.
func (c *Client) StartMove(ctx context.Context, in wire.MoveStartInput) (wire.MoveView, error) {
	return send[wire.MoveView](ctx, c, http.MethodPost, "/api/v1/moves", in)
}

// MovePhase starts a phase of a move (sync, verify, cutover, cleanup,
// abort); it runs in the background.
func (c *Client) MovePhase(ctx context.Context, id int64, phase model.MovePhase, in wire.MovePhaseInput) (wire.MoveView, error) {
	return send[wire.MoveView](ctx, c, http.MethodPost, "/api/v1/moves/"+strconv.FormatInt(id, 10)+"/"+esc(string(phase)), in)
}

// ListMoves lists the moves of an order (every move when order is empty);
// activeOnly keeps those not ended.
func (c *Client) ListMoves(ctx context.Context, order string, activeOnly bool) ([]wire.MoveView, error) {
	v := url.Values{}
	if order != "" {
		v.Set("order", order)
	}
	if activeOnly {
		v.Set("active", "true")
	}
	return get[[]wire.MoveView](ctx, c, "/api/v1/moves?"+v.Encode())
}

// GetMove returns a move with the progress of its current tasks.
func (c *Client) GetMove(ctx context.Context, id int64) (wire.MoveView, error) {
	return get[wire.MoveView](ctx, c, "/api/v1/moves/"+strconv.FormatInt(id, 10))
}
