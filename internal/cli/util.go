package cli

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"
)

func joinHostPort(host, port string) string { return net.JoinHostPort(host, port) }

func sleepChan(seconds int) <-chan time.Time { return time.After(time.Duration(seconds) * time.Second) }

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print ferry's version", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runVersion(g) },
	}
}

func runVersion(g *globals) error {
	fmt.Fprintln(g.stdout, "ferry", Version)
	return nil
}
