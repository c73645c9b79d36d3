package cli

import (
	"errors"
	"strings"

	"ferry/internal/wire"
)

// problemsError is a refusal of several problems at once, printed as a
// list, one problem a line, the way `ferry move plan` prints its
// refusals, whichever command met it. The API's message joins the
// problems on one line; its problems field lists them.
type problemsError struct {
	head     string
	problems []string
	err      error // the API's refusal: its exit code
}

func (e problemsError) Error() string {
	var b strings.Builder
	b.WriteString(e.head + ":")
	for _, p := range e.problems {
		b.WriteString("\n  - " + p)
	}
	return b.String()
}

func (e problemsError) Unwrap() error { return e.err }

// listProblems returns err as a list of problems when it carries the
// API's refusal of several (wire.Error.Problems) and its text ends with
// them joined ("…: p1; p2"); any other error is returned as it is.
func listProblems(err error) error {
	var ae *wire.Error
	if !errors.As(err, &ae) || ae.Code != wire.CodeRefused || len(ae.Problems) < 2 {
		return err
	}
	head, ok := strings.CutSuffix(err.Error(), ": "+strings.Join(ae.Problems, "; "))
	if !ok || head == "" {
		return err
	}
	return problemsError{head: head, problems: ae.Problems, err: err}
}
