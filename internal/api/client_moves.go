package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"ferry/internal/model"
	"ferry/internal/move"
)

// PlanMove says what moving order to host to would do, and what stops it.
func (c *Client) PlanMove(ctx context.Context, order, to string) (move.Plan, error) {
	v := url.Values{"order": {order}, "to": {to}}
	return get[move.Plan](ctx, c, "/api/v1/moves/plan?"+v.Encode())
}

// StartMove checks and prepares a move; its ssh key is made in the
// background.
func (c *Client) StartMove(ctx context.Context, in move.StartInput) (move.View, error) {
	return send[move.View](ctx, c, http.MethodPost, "/api/v1/moves", in)
}

// MovePhase starts a phase of a move (sync, verify, cutover, cleanup,
// abort); it runs in the background.
func (c *Client) MovePhase(ctx context.Context, id int64, phase model.MovePhase, in move.PhaseInput) (move.View, error) {
	return send[move.View](ctx, c, http.MethodPost, "/api/v1/moves/"+strconv.FormatInt(id, 10)+"/"+esc(string(phase)), in)
}

// ListMoves lists the moves of an order (every move when order is empty);
// activeOnly keeps those not ended.
func (c *Client) ListMoves(ctx context.Context, order string, activeOnly bool) ([]move.View, error) {
	v := url.Values{}
	if order != "" {
		v.Set("order", order)
	}
	if activeOnly {
		v.Set("active", "true")
	}
	return get[[]move.View](ctx, c, "/api/v1/moves?"+v.Encode())
}

// GetMove returns a move with the progress of its current tasks.
func (c *Client) GetMove(ctx context.Context, id int64) (move.View, error) {
	return get[move.View](ctx, c, "/api/v1/moves/"+strconv.FormatInt(id, 10))
}
