package cli

import (
	"strings"

	"github.com/spf13/pflag"
)

// listFlag is a flag holding a list, given by repeating the flag or by
// separating values with commas. pflag's StringSlice reads its value as a
// CSV record, which keeps only the first line and strips quotes: a value
// with a newline lost its tail without a word. listFlag keeps every byte,
// so the server sees (and refuses) what was typed.
type listFlag struct {
	list *[]string
	set  bool
}

// listVar defines a list flag with a default.
func listVar(f *pflag.FlagSet, p *[]string, name string, value []string, usage string) {
	*p = value
	f.Var(&listFlag{list: p}, name, usage)
}

func (l *listFlag) Set(v string) error {
	if !l.set {
		*l.list, l.set = nil, true
	}
	*l.list = append(*l.list, strings.Split(v, ",")...)
	return nil
}

func (l *listFlag) String() string { return strings.Join(*l.list, ",") }

func (l *listFlag) Type() string { return "strings" }
