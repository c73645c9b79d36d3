package wire

// Error is the one JSON shape every API error has.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Problems lists, one each, the problems of a refusal that has
	// several (a move plan, a drain, a cutover's guards); Message joins
	// them on one line for clients that do not read this field.
	Problems []string `json:"problems,omitempty"`
}

// Error returns the message, after the field it is about when there is one.
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
