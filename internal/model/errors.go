package model

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every validation failure.
var ErrInvalid = errors.New("invalid")

// FieldError says which field of an input was wrong and why. Field uses the
// API's snake_case names, dotted for nested fields (spec.login).
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

// Unwrap lets callers match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// prefixField returns err with its field put under prefix (spec + login →
// spec.login); other errors pass through.
func prefixField(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		f := prefix
		if fe.Field != "" {
			f = prefix + "." + fe.Field
		}
		return &FieldError{Field: f, Message: fe.Message}
	}
	return err
}
