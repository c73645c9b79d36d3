package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command refuses arguments it does not take with exit code 2 and a
// message, before it reads any config or reaches any server; every group
// refuses an unknown subcommand the same way.
func TestEveryCommandRefusesBadArgumentsAsUsage(t *testing.T) {
	junk := []string{"j1", "j2", "j3", "j4", "j5", "j6", "j7", "j8", "j9"}
	var leaves, groups, arbitrary int
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		args := append(append([]string{"--server", "http://127.0.0.1:1"}, path...), junk...)
		switch {
		case c.HasSubCommands():
			groups++
			args = append(append([]string{"--server", "http://127.0.0.1:1"}, path...), "nosuch")
		case c.Args != nil && c.Args(c, junk) == nil:
			arbitrary++ // lab exec HOST -- ARGV…, and the like
			return
		default:
			leaves++
		}
		var out, errb bytes.Buffer
		code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
		if code != ExitUsage || !strings.HasPrefix(errb.String(), "ferry: ") || len(errb.String()) < 20 {
			t.Errorf("ferry %s: exit %d, stderr %q; want exit %d with a message", strings.Join(args[2:], " "), code, errb.String(), ExitUsage)
		}
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub)
			}
		}
	}
	walk(newRootCmd(&globals{}))
	t.Logf("%d commands and %d groups refuse bad arguments; %d take any", leaves, groups, arbitrary)
	if leaves < 50 || groups < 10 {
		t.Errorf("walked only %d commands and %d groups", leaves, groups)
	}
}

func TestVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--version"}, strings.NewReader(""), &out, &errb); code != 0 || out.String() != "ferry "+Version+"\n" {
		t.Errorf("ferry --version: exit %d, %q %q", code, out.String(), errb.String())
	}
}

// An order that does not exist is "not found" (4) to every command that
// names it, an admin's as a member's.
func TestUnknownOrderIsNotFoundEverywhere(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	for _, args := range [][]string{
		{"order", "show", "nosuch.example"},
		{"item", "add", "nosuch.example", "mysql-db", "--name", "x"},
		{"item", "list", "--order", "nosuch.example"},
		{"order", "delete", "nosuch.example"},
	} {
		r := s.ferry(t, s.adminToken, "", args...)
		if r.code != ExitNotFound || !strings.Contains(r.stderr, "nosuch.example") {
			t.Errorf("ferry %s: exit %d, %q; want %d naming the order", strings.Join(args, " "), r.code, r.stderr, ExitNotFound)
		}
	}
}

// A missing required flag is named as the flag, before any server is asked.
func TestItemAddNamesTheMissingFlag(t *testing.T) {
	for kind, want := range map[string]string{
		"mysql-db":      "--name",
		"web-conf":      "--login and --server-name",
		"scheduled-job": "--login and --schedule and --command",
		"dns":           "--type and --value",
		"ftp-account":   "unknown item kind",
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"--server", "http://127.0.0.1:1", "--token", "x", "item", "add", "a.example", kind}, strings.NewReader(""), &out, &errb)
		if code != ExitUsage || !strings.Contains(errb.String(), want) {
			t.Errorf("item add a.example %s: exit %d, %q; want %d naming %s", kind, code, errb.String(), ExitUsage, want)
		}
	}
}

// Every command refuses an unknown flag as a usage error (2), naming it,
// before it reads any config or reaches any server.
func TestEveryCommandRefusesUnknownFlagAsUsage(t *testing.T) {
	n := 0
	walkLeaves(newRootCmd(&globals{}), func(c *cobra.Command, path []string) {
		n++
		args := append(append([]string{"--server", "http://127.0.0.1:1"}, path...), "--no-such-flag")
		var out, errb bytes.Buffer
		code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
		if code != ExitUsage || !strings.Contains(errb.String(), "no-such-flag") {
			t.Errorf("ferry %s: exit %d, stderr %q; want exit %d naming the flag", strings.Join(args[2:], " "), code, errb.String(), ExitUsage)
		}
	})
	if n < 50 {
		t.Errorf("walked only %d commands", n)
	}
}

// Every command whose first argument (or --order) is an ORDER says "not found" (4) of an
// order that does not exist, naming it; a new command that takes an ORDER is
// held to the same.
func TestEveryOrderCommandSaysNotFoundOfAnUnknownOrder(t *testing.T) {
	s := startServer(t)
	s.hosts(t)
	// Fillers for the arguments and required flags after ORDER.
	fill := map[string][]string{"KIND": {"mysql-db", "--name", "x"}, "DOMAIN": {"www.nosuch.example"}}
	flags := map[string][]string{"to": {"--to", "web1"}, "member": {"--member", "nobody"}}
	n := 0
	walkLeaves(newRootCmd(&globals{}), func(c *cobra.Command, path []string) {
		use := strings.Fields(c.Use)[1:]
		var args []string
		switch {
		case len(use) > 0 && strings.Trim(use[0], "[]") == "ORDER":
			args = append(append([]string{}, path...), "nosuch.example")
			use = use[1:]
		case c.Flags().Lookup("order") != nil:
			args = append(append([]string{}, path...), "--order", "nosuch.example")
			use = nil
		default:
			return
		}
		n++
		for _, w := range use {
			args = append(args, fill[w]...)
		}
		for name, f := range flags {
			if c.Flags().Lookup(name) != nil {
				args = append(args, f...)
			}
		}
		if c.Flags().Lookup("no-wait") != nil {
			args = append(args, "--no-wait")
		}
		r := s.ferry(t, s.adminToken, "", args...)
		if r.code != ExitNotFound || !strings.Contains(r.stderr, "nosuch.example") {
			t.Errorf("ferry %s: exit %d, %q; want %d naming the order", strings.Join(args, " "), r.code, r.stderr, ExitNotFound)
		}
	})
	t.Logf("%d commands take an ORDER", n)
	if n < 15 {
		t.Errorf("found only %d commands taking an ORDER", n)
	}
}

// Every move command prints its result as JSON with --json.
func TestEveryMoveCommandHasJSON(t *testing.T) {
	root := newRootCmd(&globals{})
	mv, _, err := root.Find([]string{"move"})
	if err != nil {
		t.Fatal(err)
	}
	walkLeaves(mv, func(c *cobra.Command, path []string) {
		if c.Flags().Lookup("json") == nil {
			t.Errorf("ferry %s has no --json", strings.Join(path, " "))
		}
	})
}

// walkLeaves calls fn with every runnable command under c that has no
// subcommands, and its path below the root.
func walkLeaves(c *cobra.Command, fn func(c *cobra.Command, path []string)) {
	if !c.HasSubCommands() {
		fn(c, strings.Fields(c.CommandPath())[1:])
		return
	}
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			walkLeaves(sub, fn)
		}
	}
}
