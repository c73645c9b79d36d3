package model_test

import (
	"errors"
	"strings"
	"testing"

	"ferry/internal/model"
)

// normCase is one input to a normalizer and the canonical form it must come
// out as. An empty want means the input must be refused: no normalizer
// accepts anything as "".
type normCase struct {
	in, want string
}

// refuse lists inputs that must be refused, as normCases.
func refuse(ins ...string) []normCase {
	cs := make([]normCase, len(ins))
	for i, in := range ins {
		cs[i] = normCase{in: in}
	}
	return cs
}

// keep lists inputs that must be accepted as they are, as normCases.
func keep(ins ...string) []normCase {
	cs := make([]normCase, len(ins))
	for i, in := range ins {
		cs[i] = normCase{in: in, want: in}
	}
	return cs
}

// inputs returns the inputs of cases, to seed a fuzz target with.
func inputs(cases ...[]normCase) []string {
	var ins []string
	for _, cs := range cases {
		for _, c := range cs {
			ins = append(ins, c.in)
		}
	}
	return ins
}

// checker turns a validator into a normalizer that returns its input.
func checker(validate func(string) error) func(string) (string, error) {
	return func(s string) (string, error) {
		if err := validate(s); err != nil {
			return "", err
		}
		return s, nil
	}
}

// runNorm runs each case through norm as a subtest.
func runNorm(t *testing.T, norm func(string) (string, error), cases []normCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(caseName(c.in), func(t *testing.T) {
			got, err := norm(c.in)
			switch {
			case c.want == "" && err == nil:
				t.Errorf("%q accepted as %q, want it refused", c.in, got)
			case c.want == "":
				if err.Error() == "" {
					t.Errorf("%q refused with an empty message", c.in)
				}
			case err != nil:
				t.Errorf("%q refused (%v), want %q", c.in, err, c.want)
			case got != c.want:
				t.Errorf("%q became %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// caseName keeps subtest names short enough to read in a failure.
func caseName(in string) string {
	if in == "" {
		return "empty"
	}
	if len(in) > 40 {
		return in[:20] + "…" + in[len(in)-12:]
	}
	return in
}

// wantField fails unless err is a *model.FieldError for field that wraps
// model.ErrInvalid, as the API turns it into a 400 naming the field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one for field %s", field)
	}
	var fe *model.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q (%T) is not a *model.FieldError, want one for field %s", err, err, field)
	}
	if fe.Field != field {
		t.Errorf("error %q names field %q, want %q", err, fe.Field, field)
	}
	if fe.Message == "" {
		t.Errorf("error for field %s has no message", field)
	}
	if !errors.Is(err, model.ErrInvalid) {
		t.Errorf("error %q does not wrap model.ErrInvalid", err)
	}
	if !strings.HasPrefix(err.Error(), field+": ") {
		t.Errorf("error %q does not start with its field %s", err, field)
	}
}

// asciiLower reports whether s is made only of the bytes in allowed plus
// lower-case ASCII letters and digits.
func asciiLower(s, allowed string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte(allowed, c) >= 0) {
			return false
		}
	}
	return true
}
