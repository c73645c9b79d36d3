package api

import (
	"errors"
	"net/http"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// Error is the one JSON shape every API error has; see wire.Error.
type Error = wire.Error

// Error codes; see wire.CodeBadRequest.
const (
	CodeBadRequest      = wire.CodeBadRequest
	CodeInvalid         = wire.CodeInvalid
	CodeIllegalState    = wire.CodeIllegalState
	CodeConflict        = wire.CodeConflict
	CodeRefused         = wire.CodeRefused
	CodeNotFound        = wire.CodeNotFound
	CodeUnauthenticated = wire.CodeUnauthenticated
	CodeForbidden       = wire.CodeForbidden
	CodeInternal        = wire.CodeInternal
)

// toError maps an error from the panel to the API's shape.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var fe *model.FieldError
	var te *model.TransitionError
	var re *panel.Refusal
	switch {
	case errors.As(err, &re):
		return &Error{Status: http.StatusConflict, Code: CodeRefused, Message: err.Error(), Problems: re.Problems}
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
