package api

import (
	"errors"
	"net/http"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// Error is the one JSON shape every API error has.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Error codes.
const (
	CodeBadRequest      = "bad_request"
	CodeInvalid         = "invalid"
	CodeIllegalState    = "illegal_transition"
	CodeConflict        = "conflict"
	CodeRefused         = "refused"
	CodeNotFound        = "not_found"
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeInternal        = "internal"
)

// toError maps an error from the panel to the API's shape.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var fe *model.FieldError
	var te *model.TransitionError
	switch {
	case errors.As(err, &fe):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Message: fe.Message, Field: fe.Field}
	case errors.As(err, &te):
		return &Error{Status: http.StatusConflict, Code: CodeIllegalState, Message: te.Error(), Field: "state"}
	case errors.Is(err, model.ErrDuplicate), errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, panel.ErrRefused):
		return &Error{Status: http.StatusConflict, Code: CodeRefused, Message: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, panel.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: err.Error()}
	case errors.Is(err, panel.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: err.Error()}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error()}
}
