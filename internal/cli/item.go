package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/wire"
)

// specFlags are the item fields as flags; only the ones given are used.
type specFlags struct {
	spec         model.Spec
	php          bool
	specJSON     string
	passwordFile string
	https        httpsFlags
}

func (sf *specFlags) register(f *pflag.FlagSet) {
	s := &sf.spec
	f.StringVar(&s.Login, "login", "", "user-account login; for web-conf and scheduled-job, the account it runs as; for mailbox, its account; for email-address, the account whose mailbox receives it")
	f.StringVar(&s.Shell, "shell", "", "user-account shell (default /bin/bash)")
	f.StringVar(&s.Password, "password", "", "password (stored only as a hash; prefer --password-file, argv is visible to other users)")
	f.StringVar(&sf.passwordFile, "password-file", "", "read the password from this file, - for stdin")
	f.StringVar(&s.PasswordHash, "password-hash", "", "a ready-made hash instead of a password")
	listVar(f, &s.ServerNames, "server-name", nil, "web-conf server names (repeat or comma-separate)")
	f.StringVar(&s.Docroot, "docroot", "", "web-conf document root, relative to the order's directory (default web)")
	f.BoolVar(&sf.php, "php", true, "web-conf runs PHP through its own PHP-FPM pool")
	sf.https.register(f)
	registerPHPFlags(f, &s.PHPSettings)
	f.StringVar(&s.Zone, "zone", "", "dns zone (default: the order's domain)")
	f.StringVar(&s.FQDN, "fqdn", "", "dns owner name (default: the zone apex)")
	f.StringVar(&s.Type, "type", "", "dns record type: A, AAAA, CNAME, MX, TXT, SRV")
	f.StringVar(&s.Value, "value", "", "dns record value")
	f.IntVar(&s.TTL, "ttl", 0, "dns record TTL in seconds (default 3600)")
	f.StringVar(&s.Name, "name", "", "mysql-db, mysql-user or pgsql-db name")
	f.StringVar(&s.Owner, "owner", "", "pgsql-db owner role (default: the database name)")
	listVar(f, &s.Databases, "database", nil, "mysql-user: databases it gets all privileges on")
	f.StringVar(&s.Schedule, "schedule", "", "scheduled-job schedule: five cron fields or @daily etc.")
	f.StringVar(&s.Command, "command", "", "scheduled-job command line")
	f.StringVar(&s.Address, "address", "", "email-address: the address, local-part@domain of the order")
	listVar(f, &s.Forward, "forward", nil, "email-address: addresses its mail is sent on to (repeat or comma-separate)")
	f.IntVar(&s.QuotaMB, "quota-mb", 0, "mailbox quota in MiB (default: none)")
	f.StringVar(&sf.specJSON, "spec", "", "the whole spec as JSON (instead of the field flags)")
}

// build returns the spec for kind k from the flags set in f.
func (sf *specFlags) build(f *pflag.FlagSet, k model.Kind, stdin io.Reader) (model.Spec, error) {
	s := sf.spec
	if sf.specJSON != "" {
		dec := json.NewDecoder(strings.NewReader(sf.specJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return s, usageError{fmt.Errorf("--spec: %w", err)}
		}
	}
	if f.Changed("php") || (k == model.KindWebConf && s.PHP == nil) {
		php := sf.php
		s.PHP = &php
	}
	if sf.https.changed(f) {
		in, err := sf.https.read()
		if err != nil {
			return s, err
		}
		s.HTTPS = layerHTTPS(s.HTTPS, &in, f)
	}
	if f.Changed("ttl") && sf.spec.TTL <= 0 {
		return s, usageError{fmt.Errorf("--ttl %d: a TTL is a number of seconds, at least %d; leave --ttl out for the default %d", sf.spec.TTL, model.MinTTL, model.DefaultTTL)}
	}
	if sf.passwordFile != "" {
		pw, err := readPassword(sf.passwordFile, stdin)
		if err != nil {
			return s, usageError{fmt.Errorf("--password-file: %w", err)}
		}
		s.Password = pw
	}
	return s, nil
}

// flagNames names the flags that set spec fields: "--login and --server-name".
func flagNames(fields []string) string {
	plural := map[string]string{"server_names": "server-name", "databases": "database", "https": "https"}
	flags := make([]string, len(fields))
	for i, f := range fields {
		if p, ok := plural[f]; ok {
			f = p
		}
		flags[i] = "--" + strings.ReplaceAll(f, "_", "-")
	}
	return strings.Join(flags, " and ")
}

func readPassword(file string, stdin io.Reader) (string, error) {
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newItemCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "item", Short: "Add, list, show, update, disable, enable and delete an order's items"}
	var addFlags specFlags
	var host string
	add := &cobra.Command{
		Use:   "add ORDER KIND [field flags]",
		Short: "Add an item to an order; KIND is one of " + kindNames(),
		Example: `  ferry item add example.org user-account --login exa --password-file -
  ferry item add example.org web-conf --login exa --server-name example.org,www.example.org
  ferry item add example.org web-conf --login exa --server-name shop.example.org --php-version 8.2 --upload-max-filesize 64M
  ferry item add example.org mysql-db --name exa_site
  ferry item add example.org mysql-user --name exa --database exa_site --password-file pw.txt
  ferry item add example.org dns --fqdn www.example.org --type A --value 192.0.2.10 --ttl 3600
  ferry item add example.org scheduled-job --login exa --schedule '*/5 * * * *' --command 'php web/cron.php'
  ferry item add example.org mailbox --login exa --quota-mb 2048
  ferry item add example.org email-address --address info@example.org --login exa
  ferry item add example.org email-address --address sales@example.org --forward exa@example.net,info@example.org`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runItemAdd(cmd.Context(), g, itemAddOptions{spec: &addFlags, flags: cmd.Flags(), stdin: cmd.InOrStdin(), host: host}, args)
		},
	}
	addFlags.register(add.Flags())
	add.Flags().StringVar(&host, "host", "", "dns items: the dns host that serves it (default: the first dns host)")

	var q wire.ItemQuery
	var states []string
	list := &cobra.Command{
		Use: "list [--order O] [--host H] [--kind K] [--state S]", Short: "List items", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runItemList(cmd.Context(), g, q, states, args) },
	}
	list.Flags().StringVar(&q.Order, "order", "", "only this order's items (identifier or id)")
	list.Flags().StringVar(&q.Host, "host", "", "only items on this host")
	list.Flags().StringVar(&q.Kind, "kind", "", "only items of this kind")
	listVar(list.Flags(), &states, "state", nil, "only items in these states")

	show := &cobra.Command{
		Use: "show ID", Short: "Show an item", Args: cobra.ExactArgs(1),
		RunE: itemRun(g, func(ctx context.Context, c *client.Client, id int64) (model.Item, error) { return c.GetItem(ctx, id) }),
	}
	var upFlags specFlags
	update := &cobra.Command{
		Use: "update ID [field flags]", Short: "Change an item's fields (those given; a password left out stays)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runItemUpdate(cmd.Context(), g, itemAddOptions{spec: &upFlags, flags: cmd.Flags(), stdin: cmd.InOrStdin()}, args)
		},
	}
	upFlags.register(update.Flags())
	stateCmd := func(use, short string, to model.State) *cobra.Command {
		return &cobra.Command{Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: itemRun(g, func(ctx context.Context, c *client.Client, id int64) (model.Item, error) {
				return c.SetItemState(ctx, id, to)
			})}
	}
	del := stateCmd("delete", "Remove an item from its host (pending-delete)", model.StatePendingDelete)
	disable := stateCmd("disable", "Disable an item on its host (pending-disable)", model.StatePendingDisable)
	enable := stateCmd("enable", "Enable a disabled item again (pending-update)", model.StatePendingUpdate)
	retry := stateCmd("retry", "Apply an item in soft-error again (pending-restore)", model.StatePendingRestore)
	del.Long = "Remove an item from its host (pending-delete). Any item but a deleted or transfer-limbo one\n" +
		"can be deleted: an active or disabled one, one that failed (soft-error, hard-error), or one\n" +
		"still waiting for its node (a pending-insert is cancelled this way)."
	forget := &cobra.Command{Use: "forget ID", Short: "Admins: end an item's record without its node (its host is gone or broken)",
		Long: "Mark an item deleted without asking its node to remove anything, for an item whose host is\n" +
			"gone or broken, so that its order or host can be deleted. Nothing is undone on the host: the\n" +
			"item's message says what may be left there. Audited as item.forget.",
		Args: cobra.ExactArgs(1),
		RunE: itemRun(g, func(ctx context.Context, c *client.Client, id int64) (model.Item, error) {
			return c.ForgetItem(ctx, id)
		})}
	g.addJSON(add, list, show, update, del, disable, enable, retry, forget)
	cmd.AddCommand(add, list, show, update, del, disable, enable, retry, forget)
	return cmd
}

// kindNames lists the item kinds: "user-account, web-conf, …".
func kindNames() string {
	kinds := make([]string, len(model.Kinds))
	for i, k := range model.Kinds {
		kinds[i] = string(k)
	}
	return strings.Join(kinds, ", ")
}

// itemAddOptions are the flags of `ferry item add` and `item update`:
// the field flags, which of them were given, and where --password-file -
// reads.
type itemAddOptions struct {
	spec  *specFlags
	flags *pflag.FlagSet
	stdin io.Reader
	// host is add's --host.
	host string
}

// runItemAdd is `ferry item add ORDER KIND`: a missing required field is a
// usage error naming its flag, before any server is asked.
func runItemAdd(ctx context.Context, g *globals, opts itemAddOptions, args []string) error {
	k := model.Kind(args[1])
	spec, err := opts.spec.build(opts.flags, k, opts.stdin)
	if err != nil {
		return err
	}
	if !k.Valid() {
		return usageError{fmt.Errorf("unknown item kind %q; the kinds are %s", k, kindNames())}
	}
	if missing := spec.MissingFields(k); len(missing) > 0 {
		return usageError{fmt.Errorf("a %s item needs %s", k, flagNames(missing))}
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		it, err := c.CreateItem(ctx, panel.ItemInput{Order: args[0], Kind: k, Host: opts.host, Spec: spec})
		return g.show(err, it, func() error { return g.printItems([]model.Item{it}) })
	})
}

// runItemList is `ferry item list`.
func runItemList(ctx context.Context, g *globals, q wire.ItemQuery, states []string, _ []string) error {
	for _, s := range states {
		q.States = append(q.States, model.State(s))
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		items, err := c.ListItems(ctx, q)
		return g.show(err, items, func() error { return g.printItems(items) })
	})
}

// runItemUpdate is `ferry item update ID`: the flags given are laid over the
// item's current fields.
func runItemUpdate(ctx context.Context, g *globals, opts itemAddOptions, args []string) error {
	id, err := parseID(args[0])
	if err != nil {
		return err
	}
	return withClient(ctx, g, func(ctx context.Context, c *client.Client) error {
		cur, err := c.GetItem(ctx, id)
		if err != nil {
			return err
		}
		spec, err := opts.spec.build(opts.flags, cur.Kind, opts.stdin)
		if err != nil {
			return err
		}
		it, err := c.UpdateItem(ctx, id, mergeSpec(cur.Spec, spec, opts.flags))
		return g.show(err, it, func() error { return g.printItems([]model.Item{it}) })
	})
}

func itemRun(g *globals, fn func(context.Context, *client.Client, int64) (model.Item, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		id, err := parseID(args[0])
		if err != nil {
			return err
		}
		return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
			it, err := fn(ctx, c, id)
			return g.show(err, it, func() error { return g.printItems([]model.Item{it}) })
		})
	}
}

// mergeSpec lays the flags given on top of the current spec.
func mergeSpec(cur, in model.Spec, f *pflag.FlagSet) model.Spec {
	out := cur
	out.Password, out.PasswordHash = in.Password, in.PasswordHash
	set := func(flag string, apply func()) {
		if f.Changed(flag) {
			apply()
		}
	}
	set("login", func() { out.Login = in.Login })
	set("shell", func() { out.Shell = in.Shell })
	set("server-name", func() { out.ServerNames = in.ServerNames })
	set("docroot", func() { out.Docroot = in.Docroot })
	set("php", func() { out.PHP = in.PHP })
	if httpsFlagsChanged(f) {
		out.HTTPS = layerHTTPS(cur.HTTPS, in.HTTPS, f)
	}
	mergePHP(&out.PHPSettings, in.PHPSettings, f)
	set("zone", func() { out.Zone = in.Zone })
	set("fqdn", func() { out.FQDN = in.FQDN })
	set("type", func() { out.Type = in.Type })
	set("value", func() { out.Value = in.Value })
	set("ttl", func() { out.TTL = in.TTL })
	set("name", func() { out.Name = in.Name })
	set("owner", func() { out.Owner = in.Owner })
	set("database", func() { out.Databases = in.Databases })
	set("schedule", func() { out.Schedule = in.Schedule })
	set("command", func() { out.Command = in.Command })
	set("address", func() { out.Address = in.Address })
	set("forward", func() { out.Forward = in.Forward })
	set("quota-mb", func() { out.QuotaMB = in.QuotaMB })
	if f.Changed("spec") {
		out = in
	}
	if out.PasswordHash == "(set)" {
		out.PasswordHash = ""
	}
	return out
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("%q is not an item id (a positive number)", s)}
	}
	return id, nil
}

func (g *globals) printItems(items []model.Item) error {
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = []string{fmt.Sprint(it.ID), fmt.Sprint(it.OrderID), string(it.Kind), it.Host, string(it.State), summary(it), it.Message}
	}
	return table(g.stdout, "ID\tORDER\tKIND\tHOST\tSTATE\tWHAT\tMESSAGE", rows)
}

// summary is an item's spec in a few words.
func summary(it model.Item) string { return it.Spec.Summary(it.Kind) }
