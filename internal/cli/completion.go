package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print the completion script of a shell. The Debian package installs them; by
hand:

  bash:  ferry completion bash > /etc/bash_completion.d/ferry
  zsh:   ferry completion zsh > "${fpath[1]}/_ferry"
  fish:  ferry completion fish > ~/.config/fish/completions/ferry.fish`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE:      func(cmd *cobra.Command, args []string) error { return runCompletion(g, cmd.Root(), args[0]) },
	}
}

// runCompletion prints root's completion script for shell.
func runCompletion(g *globals, root *cobra.Command, shell string) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(g.stdout, true)
	case "zsh":
		return root.GenZshCompletion(g.stdout)
	case "fish":
		return root.GenFishCompletion(g.stdout, true)
	}
	return usageError{fmt.Errorf("shell %q: ferry completes bash, zsh and fish", shell)}
}
