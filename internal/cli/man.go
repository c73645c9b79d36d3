package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newManCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write ferry's man pages, one per command, into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE:   func(_ *cobra.Command, args []string) error { return runMan(g, args[0]) },
	}
}

// runMan writes the man pages into dir and says how many.
func runMan(g *globals, dir string) error {
	n, err := writeManPages(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %d man pages to %s\n", n, dir)
	return nil
}

// writeManPages generates section 1 pages from the command tree: ferry.1,
// ferry-serve.1, ferry-node-join.1, …. They are dated SOURCE_DATE_EPOCH
// when it is set (scripts/deb.sh sets the commit's time), so that builds of
// one commit give the same files.
func writeManPages(dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	// A tree of its own, so that the pages show no flag this run was given.
	root := newRootCmd(&globals{stdout: io.Discard, stderr: io.Discard})
	root.DisableAutoGenTag = true
	hdr := &doc.GenManHeader{Title: "FERRY", Section: "1", Source: "ferry " + Version, Manual: "ferry manual"}
	if err := doc.GenManTreeFromOpts(root, doc.GenManTreeOptions{Header: hdr, Path: dir, CommandSeparator: "-"}); err != nil {
		return 0, fmt.Errorf("man pages: %w", err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	return len(pages), nil
}
