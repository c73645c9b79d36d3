//go:build !lab

package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newLabCmd, in a ferry built without the lab tag (the Debian package's),
// is a hidden command that says how to get the lab: the production binary
// carries no code that makes namespaces and starts test servers.
func newLabCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:                "lab",
		Short:              "Not in this build: the lab is built with -tags lab",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errors.New("this ferry was built without the lab; build one with `go build -tags lab ./cmd/ferry` (make build does)")}
		},
	}
}
