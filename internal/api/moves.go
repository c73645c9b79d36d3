package api

import (
	"context"
	"net/http"
	"strconv"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/panel"
)

// RegisterMoves adds the move engine's routes to s. Every one is for admin
// tokens only; member and node tokens get 403.
//
//	POST /api/v1/moves                  {order, to, php}: plan's checks, then prepare
//	GET  /api/v1/moves/plan?order=&to=&php=  what a move would do; changes nothing
//	GET  /api/v1/moves?order=&active=   moves of an order (or all), newest last
//	GET  /api/v1/moves/{id}             a move with its current tasks' progress
//	POST /api/v1/moves/{id}/{phase}     {force}: sync, verify, cutover, cleanup, abort
func RegisterMoves(s *Server, e *move.Engine) {
	s.Handle("POST /api/v1/moves", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		var in move.StartInput
		if err := Decode(r, &in); err != nil {
			return nil, err
		}
		return e.StartMove(ctx, c, in)
	})
	s.Handle("GET /api/v1/moves/plan", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		q := r.URL.Query()
		if q.Get("order") == "" {
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: "order", Message: "name the order to plan a move of"}
		}
		return e.PlanStart(ctx, c, move.StartInput{Order: q.Get("order"), To: q.Get("to"), PHP: q.Get("php")})
	})
	s.Handle("GET /api/v1/moves", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		q := r.URL.Query()
		active, err := queryBool(r, "active")
		if err != nil {
			return nil, err
		}
		return e.List(ctx, c, q.Get("order"), active)
	})
	s.Handle("GET /api/v1/moves/{id}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		return e.Get(ctx, c, id)
	})
	s.Handle("POST /api/v1/moves/{id}/{phase}", func(ctx context.Context, c panel.Caller, r *http.Request) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		var in move.PhaseInput
		if r.ContentLength != 0 {
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
		}
		return e.RunPhase(ctx, c, id, model.MovePhase(r.PathValue("phase")), in)
	})
}

func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Field: name, Message: strconv.Quote(v) + " is not true or false"}
	}
	return b, nil
}
