package cli

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

func TestListFlagKeepsWhatWasTyped(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"default"}},
		{[]string{"--name", "a.org,www.a.org", "--name", "b.org"}, []string{"a.org", "www.a.org", "b.org"}},
		// pflag's StringSlice kept "a.org" alone: the rest was dropped
		// without a word.
		{[]string{"--name", "a.org\nInclude /etc/shadow"}, []string{"a.org\nInclude /etc/shadow"}},
		{[]string{"--name", `"a.org"`}, []string{`"a.org"`}},
	} {
		f := pflag.NewFlagSet("t", pflag.ContinueOnError)
		var got []string
		listVar(f, &got, "name", []string{"default"}, "")
		if err := f.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.args, got, c.want)
		}
	}
}
