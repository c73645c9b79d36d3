package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/wire"
)

// passwdOptions are the flags of `ferry member passwd` and `ferry login
// passwd`.
type passwdOptions struct {
	login        string
	member       string
	admin        bool
	passwordFile string
}

// newMemberPasswdCmd is `ferry member passwd MEMBER`: the member's web
// login, named as the member unless --login says otherwise.
func newMemberPasswdCmd(g *globals) *cobra.Command {
	var opts passwdOptions
	cmd := &cobra.Command{
		Use:   "passwd MEMBER [--login NAME] [--password-file FILE]",
		Short: "Set the password of a member's web login, making the login if needed",
		Long: `Set the password of a member's web login (at least 10 characters), making
the login if it does not exist; the login's browser sessions end. The
login is named as the member unless --login names it. The password is
read from --password-file, or the first line of stdin.`,
		Example: "  printf '%s\\n' 'a long passphrase' | ferry member passwd garden",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.member = args[0]
			if opts.login == "" {
				opts.login = args[0]
			}
			return runPasswd(cmd.Context(), g, opts, cmd.InOrStdin())
		},
	}
	cmd.Flags().StringVar(&opts.login, "login", "", "the login's name (default: the member's name)")
	cmd.Flags().StringVar(&opts.passwordFile, "password-file", "-", "read the password from this file, - for stdin")
	return cmd
}

func newLoginCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "login", Short: "Web logins: set passwords, list them"}
	var opts passwdOptions
	passwd := &cobra.Command{
		Use:   "passwd NAME (--member MEMBER | --admin) [--password-file FILE]",
		Short: "Set the password of a web login, making it (for a member or an admin) if needed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.login = args[0]
			if opts.admin == (opts.member != "") {
				return usageError{fmt.Errorf("give one of --member MEMBER or --admin")}
			}
			return runPasswd(cmd.Context(), g, opts, cmd.InOrStdin())
		},
	}
	passwd.Flags().StringVar(&opts.member, "member", "", "the member the login is for")
	passwd.Flags().BoolVar(&opts.admin, "admin", false, "the login is an admin's")
	passwd.Flags().StringVar(&opts.passwordFile, "password-file", "-", "read the password from this file, - for stdin")
	list := &cobra.Command{
		Use: "list", Short: "List web logins (never their passwords)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runLoginList(cmd.Context(), g) },
	}
	g.addJSON(list)
	cmd.AddCommand(passwd, list)
	return cmd
}

// runPasswd is `ferry member passwd` and `ferry login passwd`.
func runPasswd(ctx context.Context, g *globals, opts passwdOptions, stdin io.Reader) error {
	pw, err := readPassword(opts.passwordFile, stdin)
	if err != nil {
		return usageError{fmt.Errorf("--password-file: %w", err)}
	}
	in := wire.LoginInput{Role: model.RoleAdmin, Password: pw}
	if opts.member != "" {
		in.Role, in.Member = model.RoleMember, opts.member
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		l, err := c.SetLoginPassword(ctx, opts.login, in)
		who := "admin"
		if l.Member != "" {
			who = "member " + l.Member
		}
		return g.done(err, fmt.Sprintf("set the password of web login %s (%s)", l.Name, who))
	})
}

// runLoginList is `ferry login list`.
func runLoginList(ctx context.Context, g *globals) error {
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		ls, err := c.ListLogins(ctx)
		return g.show(err, ls, func() error {
			rows := make([][]string, len(ls))
			for i, l := range ls {
				state := "live"
				if l.Revoked {
					state = "revoked"
				}
				codes := map[bool]string{true: "on", false: "off"}[l.TOTP]
				rows[i] = []string{l.Name, string(l.Role), l.Member, codes, state, strings.TrimSpace(l.UpdatedAt.Format("2006-01-02 15:04"))}
			}
			return table(g.stdout, "LOGIN\tROLE\tMEMBER\tCODES\tSTATE\tPASSWORD SET", rows)
		})
	})
}
