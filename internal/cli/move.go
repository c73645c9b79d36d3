package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"ferry/internal/client"
	"ferry/internal/maildir"
	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/wire"
)

// moveOptions are the flags of the move commands.
type moveOptions struct {
	to string
	// php is plan's and start's --php: the PHP version the new host's
	// copies of the order's sites get.
	php string
	// skipTTLWait and acceptVerifyDifferences are cutover's and
	// cleanup's overrides, one per guard; force is the old single one,
	// refused with their names.
	skipTTLWait             bool
	acceptVerifyDifferences bool
	force                   bool
	noWait                  bool
	watch                   bool
	// includeUnregistered adopts the app-config databases before start.
	includeUnregistered bool
	// poll is how often waiting commands ask for the move's state.
	poll time.Duration
}

func newMoveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "move",
		Short: "Move a hosting order to another host: plan, start, sync, verify, cutover, cleanup (or abort)",
		Long: `Move a hosting order (identifier or id) to another host, as DESIGN.md's "The move"
describes: plan checks and changes nothing; start prepares (TTLs down to 300 s,
a transfer-limbo order keeps serving on the old host, copies on the new one);
sync copies files, databases and crontabs host to host, as often as wanted;
verify compares both hosts and prints /etc/hosts lines for a browser test;
cutover freezes, syncs a last time, proxies the old site to the new host and
switches DNS; cleanup removes the old host's copy. abort goes back from any
phase before cutover. Commands wait for their phase and print its progress;
--no-wait returns at once.`,
	}
	opts := moveOptions{poll: time.Second}
	phaseCmd := func(phase model.MovePhase, short string, overrides ...string) *cobra.Command {
		c := &cobra.Command{
			Use: string(phase) + " ORDER", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
					return runMovePhase(ctx, g, c, phase, args[0], opts)
				})
			},
		}
		c.Flags().BoolVar(&opts.noWait, "no-wait", false, "return once the phase has started")
		for _, o := range overrides {
			switch o {
			case "skip-ttl-wait":
				c.Flags().BoolVar(&opts.skipTTLWait, o, false, "go before the TTL wait ends: resolvers may still send clients to the old host (until cleanup it proxies to the new one); says until when")
			case "accept-verify-differences":
				c.Flags().BoolVar(&opts.acceptVerifyDifferences, o, false, "cut over although the last verify found differences: the new host may not serve the same site")
			}
		}
		if len(overrides) > 0 {
			c.Flags().BoolVar(&opts.force, "force", false, "replaced by --"+strings.Join(overrides, " and --"))
			_ = c.Flags().MarkHidden("force")
		}
		return c
	}
	plan := &cobra.Command{
		Use: "plan ORDER --to HOST", Short: "Check a move and show what it would do; changes nothing", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
				return runMovePlan(ctx, g, c, args[0], opts)
			})
		},
	}
	plan.Flags().StringVar(&opts.to, "to", "", "the host to move to")
	start := &cobra.Command{
		Use: "start ORDER --to HOST", Short: "Check and prepare a move: TTLs down, transfer-limbo order, copies on the new host", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
				return runMoveStart(ctx, g, c, args[0], opts)
			})
		},
	}
	start.Flags().StringVar(&opts.to, "to", "", "the host to move to")
	for _, c := range []*cobra.Command{plan, start} {
		c.Flags().StringVar(&opts.php, "php", "", "give the new host's copies of the order's PHP sites this PHP version (X.Y), for a new host that lacks theirs")
	}
	start.Flags().BoolVar(&opts.noWait, "no-wait", false, "return once the move is prepared, before its ssh key is made")
	start.Flags().BoolVar(&opts.includeUnregistered, "include-unregistered", false,
		"first make mysql-db items of the databases the order's app configs name that no item registers (ferry order adopt-databases), so they move too")
	status := &cobra.Command{
		Use: "status [ORDER]", Short: "Show a move's phase, progress and history (every move in progress without ORDER)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
				order := ""
				if len(args) == 1 {
					order = args[0]
				}
				return runMoveStatus(ctx, g, c, order, opts)
			})
		},
	}
	status.Flags().BoolVar(&opts.watch, "watch", false, "follow the running phase with progress bars until it ends")
	for _, c := range []*cobra.Command{plan, start} {
		_ = c.MarkFlagRequired("to")
	}
	phases := []*cobra.Command{
		phaseCmd(model.PhaseSync, "Copy files, every database and crontabs host to host; repeatable, a re-run moves only changes"),
		phaseCmd(model.PhaseVerify, "Compare items, files, tables and every site over HTTP on both hosts; print /etc/hosts lines"),
		phaseCmd(model.PhaseCutover, "Freeze, final sync, old vhost proxies to the new host, DNS switch, TTLs restored", "skip-ttl-wait", "accept-verify-differences"),
		phaseCmd(model.PhaseCleanup, "Remove the old host's copy: vhost, users, databases, crontabs, directory, limbo order", "skip-ttl-wait"),
		phaseCmd(model.PhaseAbort, "Go back to where the move started, from any phase before cutover"),
	}
	g.addJSON(append([]*cobra.Command{plan, start, status}, phases...)...)
	cmd.AddCommand(append([]*cobra.Command{plan, start, status}, phases...)...)
	return cmd
}

// moveError is a move command's failure: a phase that ended failed, or no
// move to act on.
type moveError struct {
	msg  string
	code int
}

func (e moveError) Error() string { return e.msg }

// ExitCode maps the error to the documented exit codes.
func (e moveError) ExitCode() int { return e.code }

func runMovePlan(ctx context.Context, g *globals, c *client.Client, order string, opts moveOptions) error {
	p, err := c.PlanStart(ctx, wire.MoveStartInput{Order: order, To: opts.to, PHP: opts.php})
	if err != nil {
		return err
	}
	if g.json {
		if err := g.printJSON(p); err != nil {
			return err
		}
	} else {
		printPlan(g.stdout, p)
	}
	if len(p.Problems) > 0 {
		return moveError{fmt.Sprintf("cannot move %s to %s: %d problem(s)", p.Order.Identifier, p.To, len(p.Problems)), ExitRefused}
	}
	return nil
}

func printPlan(w io.Writer, p wire.MovePlan) {
	fmt.Fprintf(w, "move %s (order %d, member %s) from %s (%s) to %s (%s)\n\n", p.Order.Identifier, p.Order.ID, p.Order.Member, p.From, p.FromAddr, p.To, p.ToAddr)
	fmt.Fprintf(w, "items copied to %s:\n", p.To)
	for _, it := range p.Copies {
		fmt.Fprintf(w, "  %-6d %-14s %s\n", it.ID, it.Kind, it.Name)
	}
	fmt.Fprintln(w, "dns records:")
	for _, d := range p.DNS {
		sw := ""
		if d.SwitchTo != "" {
			sw = ", at cutover → " + d.SwitchTo
		}
		fmt.Fprintf(w, "  %-6d %s %s %s  ttl %d → %d%s\n", d.ID, d.FQDN, d.Type, d.Value, d.TTL, d.NewTTL, sw)
	}
	if len(p.PHP) > 0 {
		fmt.Fprintln(w, "php:")
		for _, s := range p.PHP {
			fmt.Fprintf(w, "  %-6d %s  PHP %s on %s → PHP %s on %s%s\n", s.ID, s.Name, orUnknown(s.From), p.From, orUnknown(s.To), p.To, phpHas(s.ToHas))
		}
	}
	size := "unknown"
	if p.SizeEstimate > 0 {
		size = fmt.Sprintf("%s (%s)", humanBytes(p.SizeEstimate), p.SizeSource)
	}
	fmt.Fprintf(w, "size %s; %s has %s free\n\nsteps:\n", size, p.To, humanBytes(p.DiskFree))
	for _, s := range p.Steps {
		fmt.Fprintf(w, "  - %s\n", s)
	}
	for _, s := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	for _, s := range p.Problems {
		fmt.Fprintf(w, "refused: %s\n", s)
	}
	if len(p.Problems) == 0 {
		php := ""
		if slices.ContainsFunc(p.PHP, func(s wire.MovePlanPHP) bool { return s.To != s.From }) {
			php = " --php " + p.PHP[0].To
		}
		fmt.Fprintf(w, "\nnothing stops the move: ferry move start %s --to %s%s\n", p.Order.Identifier, p.To, php)
	}
}

// orUnknown is a PHP version, or what stands for one not reported.
func orUnknown(v string) string {
	if v == "" {
		return "(newest; not reported)"
	}
	return v
}

// phpHas says which PHP-FPM versions the new host has.
func phpHas(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return " (has " + strings.Join(vs, ", ") + ")"
}

func runMoveStart(ctx context.Context, g *globals, c *client.Client, order string, opts moveOptions) error {
	if opts.includeUnregistered {
		if err := adoptAndWait(ctx, g, c, order, opts.poll); err != nil {
			return err
		}
	}
	v, err := c.StartMove(ctx, wire.MoveStartInput{Order: order, To: opts.to, PHP: opts.php})
	if err != nil {
		return err
	}
	d, err := v.Info()
	if err != nil {
		return err
	}
	if g.json {
		return finishPhase(ctx, g, c, v, opts)
	}
	fmt.Fprintf(g.stdout, "move %d: %s is now on %s, its %d item(s) being copied there; the transfer-limbo order %d keeps serving on %s\n",
		v.ID, d.Identifier, v.To, len(d.Copies), v.LimboOrderID, v.From)
	fmt.Fprintf(g.stdout, "%d dns record(s) lowered to %d s; cutover possible from %s\n",
		len(d.TTLs), move.LoweredTTL, d.PreparedAt.Add(time.Duration(d.OldTTL)*time.Second).Local().Format(time.DateTime))
	return finishPhase(ctx, g, c, v, opts)
}

// adoptAndWait adopts the order's unregistered databases and waits until
// their items are active on the order's host (a move needs every item
// active), saying on stderr what it made and what it left.
func adoptAndWait(ctx context.Context, g *globals, c *client.Client, order string, poll time.Duration) error {
	res, err := c.AdoptDatabases(ctx, order)
	if err != nil {
		return err
	}
	for _, l := range res.Left {
		fmt.Fprintf(g.stderr, "not adopted: %s\n", l)
	}
	if poll <= 0 {
		poll = time.Second
	}
	for _, it := range res.Adopted {
		fmt.Fprintf(g.stderr, "adopted: item %d (mysql-db %s) on %s\n", it.ID, it.Spec.Name, it.Host)
		for deadline := time.Now().Add(2 * time.Minute); ; {
			cur, err := c.GetItem(ctx, it.ID)
			if err != nil {
				return err
			}
			if cur.State == model.StateActive {
				break
			}
			if cur.State == model.StateSoftError || cur.State == model.StateHardError || time.Now().After(deadline) {
				return fmt.Errorf("adopted item %d (mysql-db %s) is %s on %s: %s; fix it (ferry item), then start the move again",
					it.ID, it.Spec.Name, cur.State, cur.Host, cur.Message)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(poll):
			}
		}
	}
	return nil
}

// activeMove finds the move in progress of order.
func activeMove(ctx context.Context, c *client.Client, order string) (wire.MoveView, error) {
	vs, err := c.ListMoves(ctx, order, true)
	if err != nil {
		return wire.MoveView{}, err
	}
	if len(vs) == 0 {
		return wire.MoveView{}, moveError{fmt.Sprintf("order %s has no move in progress (ferry move start %s --to HOST starts one)", order, order), ExitNotFound}
	}
	return vs[len(vs)-1], nil
}

func runMovePhase(ctx context.Context, g *globals, c *client.Client, phase model.MovePhase, order string, opts moveOptions) error {
	if opts.force {
		return usageError{fmt.Errorf("--force is replaced by one override per guard: --skip-ttl-wait (the TTL wait of cutover and cleanup) and --accept-verify-differences (cutover after a verify that found differences)")}
	}
	m, err := activeMove(ctx, c, order)
	if err != nil {
		return err
	}
	v, err := c.MovePhase(ctx, m.ID, phase, wire.MovePhaseInput{SkipTTLWait: opts.skipTTLWait, AcceptVerifyDifferences: opts.acceptVerifyDifferences})
	if err != nil {
		return err
	}
	d, err := v.Info()
	if err != nil {
		return err
	}
	if g.json {
		return finishPhase(ctx, g, c, v, opts)
	}
	fmt.Fprintf(g.stdout, "move %d: %s started (%s → %s)\n", v.ID, phase, v.From, v.To)
	if phase == model.PhaseCutover && d.Cutover != nil && d.Cutover.Forced != "" {
		fmt.Fprintln(g.stdout, d.Cutover.Forced)
	}
	if phase == model.PhaseCleanup && d.Cleanup != nil && d.Cleanup.Forced != "" {
		fmt.Fprintln(g.stdout, d.Cleanup.Forced)
	}
	return finishPhase(ctx, g, c, v, opts)
}

// finishPhase waits for the phase v started, printing what it waits for
// and its tasks' progress, then its outcome. With --json it prints only
// the move as it ended (or, with --no-wait, as it started).
func finishPhase(ctx context.Context, g *globals, c *client.Client, v wire.MoveView, opts moveOptions) error {
	if g.json {
		if !opts.noWait {
			var err error
			if v, err = followMove(ctx, io.Discard, c, v.ID, opts.poll, false); err != nil {
				return err
			}
		}
		if err := g.printJSON(v); err != nil {
			return err
		}
		if opts.noWait {
			return nil
		}
		return phaseOutcome(io.Discard, v)
	}
	if opts.noWait {
		fmt.Fprintf(g.stdout, "not waiting: ferry move status %s --watch follows it\n", v.Identifier)
		return nil
	}
	v, err := followMove(ctx, g.stdout, c, v.ID, opts.poll, false)
	if err != nil {
		return err
	}
	return phaseOutcome(g.stdout, v)
}

// phaseOutcome prints how the phase ended; a failed phase is an error.
func phaseOutcome(w io.Writer, v wire.MoveView) error {
	d, err := v.Info()
	if err != nil {
		return err
	}
	phase := v.Phase
	if v.Status == model.MoveFailed {
		if phase == model.PhaseVerify && d.Verify != nil {
			printVerify(w, d.Verify)
		}
		return moveError{fmt.Sprintf("move %d: %s failed: %s", v.ID, phase, v.Error), ExitError}
	}
	switch phase {
	case model.PhasePrepare:
		fmt.Fprintf(w, "prepared; next: ferry move sync %s\n", d.Identifier)
	case model.PhaseSync:
		if s := lastSync(d); s != nil {
			fmt.Fprintf(w, "synced: %s\n", syncLine(*s))
			for _, u := range s.DB.Unregistered {
				fmt.Fprintf(w, "warning: %s database %s (named in %s) is registered by no item and was not copied; add it as an item to move it\n", u.Engine, u.Name, u.Config)
			}
		}
		fmt.Fprintf(w, "next: ferry move verify %s (or sync again)\n", d.Identifier)
	case model.PhaseVerify:
		printVerify(w, d.Verify)
		fmt.Fprintf(w, "next: ferry move cutover %s\n", d.Identifier)
	case model.PhaseCutover:
		cr := d.Cutover
		fmt.Fprintf(w, "cut over: the site was frozen for %.1f s (maintenance → proxy on %s)\n", cr.FreezeSeconds, v.From)
		if st := cr.FreezeSteps; len(st) > 0 {
			fmt.Fprintf(w, "  freeze on %s: maintenance %.2f s, final sync of files %.2f s and databases %.2f s side by side, proxy %.2f s\n",
				v.From, st["maintenance"], st["files"], st["db"], st["proxy"])
		}
		if len(cr.Mailboxes) > 0 {
			fmt.Fprintf(w, "  mailboxes the same on both hosts after the final sync, UID for UID: %s\n", maildir.Summary(cr.Mailboxes))
		}
		for _, s := range cr.Switched {
			fmt.Fprintf(w, "  switched %s\n", s)
		}
		for _, s := range cr.TTLsRestored {
			fmt.Fprintf(w, "  restored %s\n", s)
		}
		if cr.DNSAppliedAt != nil {
			ready := cr.DNSAppliedAt.Add(2 * move.LoweredTTL * time.Second)
			if d.CacheEnd.After(ready) {
				ready = d.CacheEnd
			}
			fmt.Fprintf(w, "next: ferry move cleanup %s, from %s\n", d.Identifier, ready.Local().Format(time.DateTime))
		}
	case model.PhaseDone:
		fmt.Fprintf(w, "cleaned up; the move is done\n")
		printEnd(w, d.Cleanup)
	case model.PhaseAborted:
		fmt.Fprintf(w, "aborted: %s is served by %s as before\n", d.Identifier, v.From)
		printEnd(w, d.Abort)
	}
	return nil
}

func printEnd(w io.Writer, r *wire.EndReport) {
	if r == nil {
		return
	}
	for _, s := range r.Deleted {
		fmt.Fprintf(w, "  removed %s\n", s)
	}
	for _, s := range r.Left {
		fmt.Fprintf(w, "  left %s\n", s)
	}
}

func lastSync(d wire.MoveInfo) *wire.SyncReport {
	if len(d.Syncs) == 0 {
		return nil
	}
	return &d.Syncs[len(d.Syncs)-1]
}

func syncLine(s wire.SyncReport) string {
	copied := 0
	for _, t := range s.DB.Tables {
		if t.Copied {
			copied++
		}
	}
	copied = max(copied, s.DB.TablesCopied)
	byRows := ""
	if s.DB.TablesByRows > 0 {
		byRows = fmt.Sprintf(", %d of them row by row: %d rows", s.DB.TablesByRows, s.DB.RowsByRows)
	}
	return fmt.Sprintf("%s sent of %s, %d of %d files; %d of %d tables copied (%s%s); %.1f s",
		humanBytes(s.Files.Bytes), humanBytes(s.Files.TotalBytes), s.Files.Files, s.Files.TotalFiles,
		copied, len(s.DB.Tables), humanBytes(s.DB.Bytes), byRows, s.Seconds())
}

// printVerify shows the old and the new host side by side.
func printVerify(w io.Writer, r *wire.VerifyReport) {
	if r == nil {
		return
	}
	verdict := "passed"
	if !r.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "verify %s at %s\n", verdict, r.At.Local().Format(time.DateTime))
	if len(r.FilesDiffering) == 0 {
		fmt.Fprintln(w, "files: equal")
	} else {
		fmt.Fprintf(w, "files: %d differ\n", len(r.FilesDiffering))
		for _, f := range r.FilesDiffering {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	if len(r.Tables) > 0 {
		rows := make([][]string, len(r.Tables))
		for i, t := range r.Tables {
			mark := okCell(t.Equal)
			if t.ChangedSinceSync {
				mark = "changed since sync (copied at cutover)"
			}
			rows[i] = []string{model.ObjectName(t.DB, t.Kind, t.Table), sumCell(t.Old), sumCell(t.New), mark}
		}
		_ = table(w, "TABLE\tOLD ROWS/SUM\tNEW ROWS/SUM\t", rows)
	}
	if len(r.Mailboxes) > 0 {
		rows := make([][]string, len(r.Mailboxes))
		for i, c := range r.Mailboxes {
			mark := "ok"
			switch {
			case c.Differs():
				mark = "DIFFERS"
			case c.Missing > 0 || c.Extra > 0:
				mark = fmt.Sprintf("%d new, %d gone since sync (carried at cutover)", c.Missing, c.Extra)
			}
			rows[i] = []string{c.Account + "/" + c.Folder, fmt.Sprintf("%d (UIDVALIDITY %d)", c.Old, c.OldUIDValidity), fmt.Sprintf("%d (UIDVALIDITY %d)", c.New, c.NewUIDValidity), mark}
		}
		_ = table(w, "MAILBOX FOLDER\tOLD MESSAGES\tNEW MESSAGES\t", rows)
	}
	for _, checks := range []struct {
		head   string
		checks []wire.HTTPCheck
	}{{"NAME\tOLD\tNEW\t", r.HTTP}, {"HTTPS NAME\tOLD\tNEW\t", r.HTTPS}} {
		if len(checks.checks) == 0 {
			continue
		}
		rows := make([][]string, len(checks.checks))
		for i, h := range checks.checks {
			mark := okCell(h.Equal)
			if h.Equal && h.BodyDiffers {
				mark = "same status and title; body differs"
			}
			rows[i] = []string{h.Name, fetchCell(h.Old), fetchCell(h.New), mark}
		}
		_ = table(w, checks.head, rows)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(r.HostsLines) > 0 {
		fmt.Fprintln(w, "to try the new host in a browser, add to /etc/hosts:")
		for _, l := range r.HostsLines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

func sumCell(s *model.TableSum) string {
	if s == nil {
		return "missing"
	}
	return fmt.Sprintf("%d/%s", s.Rows, s.Checksum)
}

func fetchCell(f wire.HTTPFetch) string {
	if f.Error != "" {
		return "error: " + f.Error
	}
	sum := f.SHA256
	if len(sum) > 12 {
		sum = sum[:12]
	}
	cell := fmt.Sprintf("%d %q %s", f.Status, f.Title, sum)
	if f.CertNotAfter != nil {
		cell += fmt.Sprintf(" cert %s until %s", strings.Join(f.CertNames, ","), f.CertNotAfter.UTC().Format("2006-01-02"))
	}
	return cell
}

func okCell(ok bool) string {
	if ok {
		return "equal"
	}
	return "DIFFERENT"
}

func runMoveStatus(ctx context.Context, g *globals, c *client.Client, order string, opts moveOptions) error {
	if order == "" {
		if opts.watch {
			return usageError{errors.New("--watch follows one move: name its ORDER")}
		}
		vs, err := c.ListMoves(ctx, "", true)
		return g.show(err, vs, func() error {
			if len(vs) == 0 {
				fmt.Fprintln(g.stdout, "no move in progress")
				return nil
			}
			rows := make([][]string, len(vs))
			for i, v := range vs {
				d, _ := v.Info()
				rows[i] = []string{fmt.Sprint(v.ID), v.Identifier, v.From + " → " + v.To, string(v.Phase), string(v.Status), waitingCell(v, d)}
			}
			return table(g.stdout, "ID\tORDER\tHOSTS\tPHASE\tSTATUS\tWAITING FOR", rows)
		})
	}
	vs, err := c.ListMoves(ctx, order, false)
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return moveError{fmt.Sprintf("order %s has never been moved", order), ExitNotFound}
	}
	v := vs[len(vs)-1]
	if opts.watch && v.Status == model.MoveRunning {
		if v, err = followMove(ctx, g.stdout, c, v.ID, opts.poll, true); err != nil {
			return err
		}
	}
	return g.show(nil, v, func() error { return printStatus(g.stdout, v) })
}

// waitingCell is what a move waits for in one line: first the hosts whose
// agent is silent, then the phase's own words.
func waitingCell(v wire.MoveView, d wire.MoveInfo) string {
	var parts []string
	for _, u := range v.Unseen {
		since := "never seen"
		if u.LastSeen != nil {
			since = "not seen for " + (time.Duration(u.Seconds) * time.Second).String()
		}
		parts = append(parts, fmt.Sprintf("%s's agent %s", u.Host, since))
	}
	if d.Waiting != "" {
		parts = append(parts, d.Waiting)
	}
	return strings.Join(parts, "; ")
}

func printStatus(w io.Writer, v wire.MoveView) error {
	d, err := v.Info()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "move %d  %s  %s → %s  phase %s  %s\n", v.ID, v.Identifier, v.From, v.To, v.Phase, v.Status)
	if v.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", v.Error)
	}
	if d.Waiting != "" {
		fmt.Fprintf(w, "  %s\n", d.Waiting)
	}
	for _, u := range v.Unseen {
		fmt.Fprintf(w, "  %s\n", u)
	}
	for _, t := range v.Tasks {
		fmt.Fprintf(w, "  task %-12s %-16s %-5s %-7s %s\n", t.Name, t.Kind, t.Host, t.State, progressLine(t))
	}
	for i, s := range d.Syncs {
		kind := "sync"
		if s.Final {
			kind = "final sync"
		}
		fmt.Fprintf(w, "  %s %d at %s: %s\n", kind, i+1, s.FinishedAt.Local().Format(time.DateTime), syncLine(s))
	}
	if r := d.Verify; r != nil {
		stale := ""
		if r.AfterSyncRuns != d.SyncRuns {
			stale = " (stale: synced since)"
		}
		fmt.Fprintf(w, "  verify at %s: passed %v%s\n", r.At.Local().Format(time.DateTime), r.Passed, stale)
	}
	if cr := d.Cutover; cr != nil && cr.FreezeEnd != nil {
		fmt.Fprintf(w, "  cutover: frozen %.1f s; %s\n", cr.FreezeSeconds, strings.Join(cr.Switched, "; "))
	}
	fmt.Fprintln(w, "  history:")
	for _, ev := range d.History {
		force := ""
		for _, o := range ev.Overrides {
			force += " --" + o
		}
		if ev.Force && len(ev.Overrides) == 0 {
			force = " --force"
		}
		note := ""
		if ev.Note != "" {
			note = ": " + ev.Note
		}
		fmt.Fprintf(w, "    %s  %-8s by %s%s  %s%s\n", ev.At.Local().Format(time.DateTime), ev.Phase, ev.By, force, ev.Status, note)
	}
	return nil
}

// unseenRepeat is how often a follow says again that a host's agent is
// still not seen.
const unseenRepeat = time.Minute

// unseenNotes says, while following a move, when a host it waits on goes
// silent (and again every unseenRepeat while it stays so), and when the
// move no longer waits for it. It maps each host to when it last said so.
type unseenNotes map[string]time.Time

func (n unseenNotes) print(w io.Writer, v wire.MoveView, now time.Time) {
	stamp := now.Format(time.TimeOnly)
	still := map[string]bool{}
	for _, u := range v.Unseen {
		still[u.Host] = true
		if at, ok := n[u.Host]; ok && now.Sub(at) < unseenRepeat {
			continue
		}
		fmt.Fprintf(w, "%s  %s\n", stamp, u)
		n[u.Host] = now
	}
	var gone []string
	for h := range n {
		if !still[h] {
			gone = append(gone, h)
		}
	}
	slices.Sort(gone)
	for _, h := range gone {
		delete(n, h)
		if v.Status == model.MoveRunning {
			fmt.Fprintf(w, "%s  %s: no longer waiting for its agent\n", stamp, h)
		}
	}
}

// progress is what a task's result says of its progress.
type progress struct {
	bytes, totalBytes, files, totalFiles, tables, totalTables int64
	percent                                                   int
}

func taskProgress(t wire.MoveTaskView) (progress, bool) {
	var p progress
	if len(t.Result) == 0 {
		return p, false
	}
	switch t.Kind {
	case model.TaskMoveSyncFiles:
		var r model.MoveSyncFilesResult
		if json.Unmarshal(t.Result, &r) != nil {
			return p, false
		}
		p.bytes, p.totalBytes, p.files, p.totalFiles, p.percent = r.Bytes, r.TotalBytes, r.Files, r.TotalFiles, r.Percent
		return p, true
	case model.TaskMoveSyncDB:
		var r model.MoveSyncDBResult
		if json.Unmarshal(t.Result, &r) != nil {
			return p, false
		}
		p.tables, p.totalTables = int64(r.TablesCopied), int64(r.TableCount())
		return p, true
	}
	return p, false
}

func progressLine(t wire.MoveTaskView) string {
	p, ok := taskProgress(t)
	switch {
	case !ok:
		return ""
	case t.Kind == model.TaskMoveSyncFiles:
		return fmt.Sprintf("%d%%  %s of %s, %d of %d files", p.percent, humanBytes(p.bytes), humanBytes(p.totalBytes), p.files, p.totalFiles)
	default:
		return fmt.Sprintf("%d of %d tables copied", p.tables, p.totalTables)
	}
}

// followMove polls the move until its phase run ends, printing what it
// waits for; with bars it draws progress bars for bytes, files and tables.
func followMove(ctx context.Context, w io.Writer, c *client.Client, id int64, poll time.Duration, bars bool) (wire.MoveView, error) {
	var out io.Writer = w
	var pb *mpb.Progress
	barOf := map[string]*mpb.Bar{}
	if bars {
		pb = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(48), mpb.WithRefreshRate(200*time.Millisecond))
		out = pb
	}
	setBar := func(key string, cur, total int64, bytes, done bool) {
		b, ok := barOf[key]
		if !ok {
			counters := decor.CountersNoUnit("%d / %d")
			if bytes {
				counters = decor.CountersKibiByte("% .1f / % .1f")
			}
			b = pb.AddBar(max(total, 1), mpb.PrependDecorators(decor.Name(key, decor.WC{W: 22, C: decor.DindentRight}), counters),
				mpb.AppendDecorators(decor.Percentage()))
			barOf[key] = b
		}
		b.SetTotal(max(total, cur, 1), false)
		b.SetCurrent(cur)
		if done {
			b.SetTotal(max(cur, 1), true)
		}
	}
	stopBars := func() {
		if pb == nil {
			return
		}
		for _, b := range barOf {
			if !b.Completed() {
				b.Abort(false)
			}
		}
		pb.Wait()
	}
	lastWaiting, lastLine := "", map[int64]string{}
	unseen := unseenNotes{}
	var v wire.MoveView
	for {
		nv, err := c.GetMove(ctx, id)
		if err != nil {
			stopBars()
			return v, err
		}
		v = nv
		d, _ := v.Info()
		if d.Waiting != "" && d.Waiting != lastWaiting {
			fmt.Fprintf(out, "%s  %s\n", time.Now().Format(time.TimeOnly), d.Waiting)
		}
		lastWaiting = d.Waiting
		unseen.print(out, v, time.Now())
		for _, t := range v.Tasks {
			p, ok := taskProgress(t)
			if !ok {
				continue
			}
			done := t.State == model.TaskDone
			if bars {
				prefix := t.Host + " " + t.Name
				if t.Kind == model.TaskMoveSyncFiles {
					setBar(prefix+" bytes", p.bytes, p.totalBytes, true, done)
					setBar(prefix+" files", p.files, p.totalFiles, false, done)
				} else {
					setBar(prefix+" tables", p.tables, p.totalTables, false, done)
				}
				continue
			}
			if l := progressLine(t); l != lastLine[t.ID] {
				fmt.Fprintf(out, "%s  %s on %s: %s\n", time.Now().Format(time.TimeOnly), t.Kind, t.Host, l)
				lastLine[t.ID] = l
			}
		}
		if v.Status != model.MoveRunning {
			stopBars()
			return v, nil
		}
		select {
		case <-ctx.Done():
			stopBars()
			return v, ctx.Err()
		case <-time.After(poll):
		}
	}
}
