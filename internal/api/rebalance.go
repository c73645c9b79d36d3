package api

import (
	"context"
	"net/http"

	"ferry/internal/panel"
	"ferry/internal/rebalance"
)

// RegisterRebalance adds the rebalance runner's routes to s. Every one is
// for admin tokens only.
//
//	GET  /api/v1/rebalance/plan?by=&max_moves=&drain=  a plan; changes nothing
//	POST /api/v1/rebalance/batches                     {plan, concurrency, bwlimit, auto_cutover, force};
//	                                                   the same plan again takes its batch up again
//	GET  /api/v1/rebalance/batches                     every batch, newest first
//	GET  /api/v1/rebalance/batches/{id}                a batch with each move's progress
//	POST /api/v1/rebalance/batches/{id}/cancel         start and drive no more moves
//	POST /api/v1/hosts/{name}/drain                    {concurrency, bwlimit, auto_cutover, force}
func RegisterRebalance(s *Server, r *rebalance.Runner) {
	s.Handle("GET /api/v1/rebalance/plan", func(ctx context.Context, c panel.Caller, req *http.Request) (any, error) {
		q := req.URL.Query()
		by, err := rebalance.ParseMetric(q.Get("by"))
		if err != nil {
			return nil, err
		}
		n, err := queryInt(req, "max_moves")
		if err != nil {
			return nil, err
		}
		return r.Plan(ctx, c, rebalance.Options{By: by, MaxMoves: int(n), Drain: q.Get("drain")})
	})
	s.Handle("POST /api/v1/rebalance/batches", func(ctx context.Context, c panel.Caller, req *http.Request) (any, error) {
		var in rebalance.ApplyInput
		if err := Decode(req, &in); err != nil {
			return nil, err
		}
		return r.Apply(ctx, c, in)
	})
	s.Handle("GET /api/v1/rebalance/batches", func(ctx context.Context, c panel.Caller, req *http.Request) (any, error) {
		return r.List(ctx, c)
	})
	s.Handle("GET /api/v1/rebalance/batches/{id}", func(ctx context.Context, c panel.Caller, req *http.Request) (any, error) {
		return r.Get(ctx, c, req.PathValue("id"))
	})
	s.Handle("POST /api/v1/rebalance/batches/{id}/cancel", func(ctx context.Context, c panel.Caller, req *http.Request) (any, error) {
		return r.Cancel(ctx, c, req.PathValue("id"))
	})
	s.Handle("POST /api/v1/hosts/{name}/drain", func(ctx context.Context, c panel.Caller, req *http.Request) (any, error) {
		var in rebalance.DrainInput
		if req.ContentLength != 0 {
			if err := Decode(req, &in); err != nil {
				return nil, err
			}
		}
		return r.Drain(ctx, c, req.PathValue("name"), in)
	})
}
