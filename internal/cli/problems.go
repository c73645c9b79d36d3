package cli

import (
	"errors"
	"strings"

	"ferry/internal/wire"
)

// problemsError is a refusal of several problems at once, printed as a
// list, one problem a line, the way `ferry move plan` prints its
// refusals. The API's message joins the problems on one line.
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

// listProblems returns err as a list of problems when it is the API's
// refusal of exactly these problems, joined ("…: p1; p2"), and there are
// several; any other error is returned as it is.
func listProblems(err error, problems []string) error {
	var ae *wire.Error
	if len(problems) < 2 || !errors.As(err, &ae) || ae.Code != wire.CodeRefused || ae.Field != "" {
		return err
	}
	head, ok := strings.CutSuffix(ae.Message, ": "+strings.Join(problems, "; "))
	if !ok || head == "" {
		return err
	}
	return problemsError{head: head, problems: problems, err: err}
}
