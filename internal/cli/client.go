package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/wire"
)

// defaultTokenFile is where `ferry serve` writes the first admin token; the
// CLI reads it when no token is given, so root on the control server needs
// no flags.
const defaultTokenFile = "/var/lib/ferry/admin.token"

// client returns an API client for the global --server and --token.
func (g *globals) client() (*client.Client, error) {
	tok := g.token
	if tok == "" {
		file := envOr("FERRY_TOKEN_FILE", defaultTokenFile)
		if b, err := os.ReadFile(file); err == nil {
			tok = strings.TrimSpace(string(b))
		}
	}
	if tok == "" {
		return nil, usageError{errors.New("no API token: give --token, set FERRY_TOKEN or FERRY_TOKEN_FILE")}
	}
	opts, err := g.clientOptions()
	if err != nil {
		return nil, err
	}
	c, err := client.New(g.server, tok, opts)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// exitForAPI maps API error statuses to the documented exit codes.
func exitForAPI(e *wire.Error) int {
	switch e.Status {
	case http.StatusNotFound:
		return ExitNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return ExitNotAllowed
	case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		return ExitRefused
	}
	return ExitError
}

func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows under a header, aligned.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// withClient runs fn with an API client.
func withClient(ctx context.Context, g *globals, fn func(context.Context, *client.Client) error) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	return fn(ctx, c)
}

// clientRun is the RunE of a command that talks to the control plane: it
// calls fn with an API client and the command's arguments.
func clientRun(g *globals, fn func(context.Context, *globals, *client.Client, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error { return fn(ctx, g, c, args) })
	}
}

// show prints v as JSON with --json, or calls human; err wins.
func (g *globals) show(err error, v any, human func() error) error {
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(v)
	}
	return human()
}

// done prints a one-line confirmation unless err.
func (g *globals) done(err error, msg string) error {
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, msg)
	return nil
}

// addJSON gives reading commands the --json flag.
func (g *globals) addJSON(cmds ...*cobra.Command) {
	for _, c := range cmds {
		c.Flags().BoolVar(&g.json, "json", false, "print the API's objects as JSON")
	}
}
