package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ferry/internal/client"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/rebalance"
	"ferry/internal/wire"
)

// rebalanceOptions are the flags of the rebalance commands and of host
// drain.
type rebalanceOptions struct {
	by       string
	maxMoves int
	out      string
	apply    rebalance.ApplyOptions
	bwlimit  string
	noWait   bool
	watch    bool
	dryRun   bool
	// poll is how often a waiting command asks for the batch.
	poll time.Duration
}

func newRebalanceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rebalance",
		Short: "Spread the orders over the web hosts: plan the moves, then run them as a batch",
		Long: `Spread hosting orders over the active web hosts. plan reads each host's
capacity and use and proposes the moves that even out disk use (or order
count, or load), smallest first, never onto a host that is not active and
never over a host's capacity; it changes nothing. apply hands a plan to the
control plane, which runs its moves through the normal move phases as a
batch that goes on when this command ends. docs/rebalance.md has the details.`,
	}
	opts := rebalanceOptions{poll: 2 * time.Second}
	plan := &cobra.Command{
		Use: "plan [--by disk|orders|load] [--max-moves N] [--out FILE]", Short: "Propose moves that even the hosts out; changes nothing", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
				return runRebalancePlan(ctx, g, c, opts)
			})
		},
	}
	plan.Flags().StringVar(&opts.by, "by", "disk", "what to even out: disk, orders or load")
	plan.Flags().IntVar(&opts.maxMoves, "max-moves", 0, "propose at most N moves (0: as many as it takes)")
	plan.Flags().StringVar(&opts.out, "out", "", "write the plan to FILE (JSON) for apply")
	apply := &cobra.Command{
		Use: "apply PLAN --concurrency N [--bwlimit RATE] [--auto-cutover [--skip-ttl-wait]]", Short: "Run a plan's moves as a batch in the control plane", Args: cobra.ExactArgs(1),
		Long: `Run the moves of PLAN (a file written by plan --out) as a batch in the control
plane: start, sync and verify each, at most --concurrency at once and one per
source host at a time. Each move stops after a passed verify, to be cut over
with ferry move cutover, unless --auto-cutover: then the batch cuts it over and
cleans it up as soon as the move's guards allow (the old TTL since the start,
twice the lowered TTL after the DNS switch). --skip-ttl-wait, with
--auto-cutover only, does not wait for those TTLs (as move cutover and
cleanup --skip-ttl-wait do; --force is its old name): resolvers that still hold the old address send
visitors to the old host, which proxies to the new one until cleanup and
serves nothing after it. A failed move stops nothing else; applying the same
plan again skips what is done, goes on with what runs and retries what failed.
The command follows the batch until nothing runs; interrupting it leaves the
batch running (ferry rebalance status follows it again).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
				return runRebalanceApply(ctx, g, c, args[0], opts)
			})
		},
	}
	addApplyFlags(apply, &opts)
	status := &cobra.Command{
		Use: "status [BATCH] [--watch]", Short: "List the batches, or show one's moves", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
				return runRebalanceStatus(ctx, g, c, args, opts)
			})
		},
	}
	status.Flags().BoolVar(&opts.watch, "watch", false, "follow the batch until nothing of it runs")
	cancel := &cobra.Command{
		Use: "cancel BATCH", Short: "Start and drive no more moves of a batch; the moves it started stay as they are", Args: cobra.ExactArgs(1),
		RunE: clientRun(g, runRebalanceCancel),
	}
	g.addJSON(plan, status, cancel)
	cmd.AddCommand(plan, apply, status, cancel)
	return cmd
}

func runRebalanceCancel(ctx context.Context, g *globals, c *client.Client, args []string) error {
	b, err := c.CancelBatch(ctx, args[0])
	return g.show(err, b, func() error {
		fmt.Fprintf(g.stdout, "batch %s is %s; finish or abort its started moves with ferry move\n", b.ID, b.State)
		return nil
	})
}

func addApplyFlags(cmd *cobra.Command, opts *rebalanceOptions) {
	f := cmd.Flags()
	f.IntVar(&opts.apply.Concurrency, "concurrency", 2, "moves copying data at once (one per source host whatever N)")
	f.StringVar(&opts.bwlimit, "bwlimit", "", "cap each sync's file transfer, like rsync: 500 (KiB/s), 20M (MiB/s)")
	f.BoolVar(&opts.apply.AutoCutover, "auto-cutover", false, "cut each verified move over and clean it up once its guards allow")
	f.BoolVar(&opts.apply.Force, "skip-ttl-wait", false, "with --auto-cutover: do not wait for the TTLs (see above for what it risks)")
	// --force was the flag's name before move's overrides were one per guard.
	f.BoolVar(&opts.apply.Force, "force", false, "old name of --skip-ttl-wait")
	_ = f.MarkDeprecated("force", "use --skip-ttl-wait")
	f.BoolVar(&opts.noWait, "no-wait", false, "return once the batch is handed over")
}

// parseRate reads an rsync-style rate: a number of KiB/s, or a size per
// second like 20M.
func parseRate(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if c := s[len(s)-1]; c >= '0' && c <= '9' {
		s += "K"
	}
	n, err := parseSize(s)
	if err != nil {
		return 0, err
	}
	if n > 0 && n < 1024 {
		return 0, fmt.Errorf("%q is under 1 KiB/s", s)
	}
	return int(n / 1024), nil
}

func (o *rebalanceOptions) applyOptions() (rebalance.ApplyOptions, error) {
	a := o.apply
	n, err := parseRate(o.bwlimit)
	if err != nil {
		return a, usageError{fmt.Errorf("--bwlimit: %w", err)}
	}
	a.BWLimit = n
	if a.Force && !a.AutoCutover {
		return a, usageError{errors.New("--skip-ttl-wait skips the TTL waits of --auto-cutover's cutover and cleanup; give --auto-cutover too")}
	}
	return a, nil
}

func runRebalancePlan(ctx context.Context, g *globals, c *client.Client, opts rebalanceOptions) error {
	p, err := c.PlanRebalance(ctx, rebalance.Options{By: rebalance.Metric(opts.by), MaxMoves: opts.maxMoves})
	if err != nil {
		return err
	}
	if opts.out != "" {
		data, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(opts.out, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("write the plan: %w", err)
		}
	}
	if g.json {
		return g.printJSON(p)
	}
	printRebalancePlan(g.stdout, p)
	switch {
	case len(p.Moves) == 0:
	case opts.out != "":
		fmt.Fprintf(g.stdout, "\nplan written to %s; run it with: ferry rebalance apply %s --concurrency 2\n", opts.out, opts.out)
	default:
		fmt.Fprintln(g.stdout, "\nwrite it with --out FILE, then run it with ferry rebalance apply FILE")
	}
	return nil
}

// metricCell prints a value of the plan's metric.
func metricCell(by rebalance.Metric, v float64) string {
	switch by {
	case rebalance.ByOrders:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case rebalance.ByLoad:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return humanBytes(int64(v))
}

// bar draws v out of full in width cells.
func bar(v, full float64, width int) string {
	n := 0
	if full > 0 {
		n = min(width, int(v/full*float64(width)+0.5))
	}
	return strings.Repeat("█", n) + strings.Repeat("·", width-n)
}

func printRebalancePlan(w io.Writer, p rebalance.Plan) {
	what := "rebalance by " + string(p.By)
	if p.Drain != "" {
		what = "drain " + p.Drain
	}
	fmt.Fprintf(w, "%s: %d move(s), %s to copy; spread %s → %s\n\n", what, len(p.Moves), humanBytes(p.TotalBytes),
		metricCell(p.By, p.SpreadBefore), metricCell(p.By, p.SpreadAfter))
	full := 0.0
	for _, h := range p.Hosts {
		full = max(full, h.Before, h.After)
		if p.By == rebalance.ByDisk {
			full = max(full, float64(h.Capacity))
		}
	}
	rows := make([][]string, len(p.Hosts))
	for i, h := range p.Hosts {
		var moves []string
		if h.Out > 0 {
			moves = append(moves, fmt.Sprintf("-%d", h.Out))
		}
		if h.In > 0 {
			moves = append(moves, fmt.Sprintf("+%d", h.In))
		}
		rows[i] = []string{h.Name, string(h.State),
			bar(h.Before, full, 12) + " " + metricCell(p.By, h.Before),
			bar(h.After, full, 12) + " " + metricCell(p.By, h.After),
			humanBytes(h.Capacity), fmt.Sprintf("%d → %d", h.OrdersBefore, h.OrdersAfter), strings.Join(moves, " "), h.LeftOut}
	}
	_ = table(w, "HOST\tSTATE\tBEFORE\tAFTER\tCAPACITY\tORDERS\tMOVES\tLEFT OUT", rows)
	if len(p.Moves) > 0 {
		fmt.Fprintln(w, "\nmoves, smallest first:")
		rows = make([][]string, len(p.Moves))
		for i, m := range p.Moves {
			rows[i] = []string{m.Identifier, m.From + " → " + m.To, humanBytes(m.Size), m.SizeSource}
		}
		_ = table(w, "ORDER\tHOSTS\tSIZE\tSIZE FROM", rows)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, s := range p.Problems {
		fmt.Fprintf(w, "problem: %s\n", s)
	}
}

func runRebalanceApply(ctx context.Context, g *globals, c *client.Client, file string, opts rebalanceOptions) error {
	a, err := opts.applyOptions()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return usageError{fmt.Errorf("read the plan: %w", err)}
	}
	var p rebalance.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return usageError{fmt.Errorf("%s is not a plan written by ferry rebalance plan --out: %w", file, err)}
	}
	b, err := c.ApplyRebalance(ctx, rebalance.ApplyInput{Plan: p, ApplyOptions: a})
	if err != nil {
		return err
	}
	return handedOver(ctx, g, c, b, opts)
}

// handedOver reports a batch the control plane took and follows it unless
// --no-wait.
func handedOver(ctx context.Context, g *globals, c *client.Client, b rebalance.Batch, opts rebalanceOptions) error {
	how := "each stops after verify for ferry move cutover"
	switch {
	case b.Force:
		how = "each cut over and cleaned up at once (forced: no wait for the TTLs)"
	case b.AutoCutover:
		how = "each cut over and cleaned up once the TTLs allow"
	}
	fmt.Fprintf(g.stdout, "batch %s: %d move(s), %d at once, one per source host; %s\n", b.ID, len(b.Entries), b.Concurrency, how)
	if opts.noWait {
		fmt.Fprintf(g.stdout, "not waiting: ferry rebalance status %s --watch follows it\n", b.ID)
		return nil
	}
	b, err := followBatch(ctx, g.stdout, c, b.ID, opts.poll)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(g.stdout, "stopped following; the batch goes on: ferry rebalance status %s --watch\n", b.ID)
			return nil
		}
		return err
	}
	return batchOutcome(g.stdout, b)
}

// followBatch prints each move's changes until nothing of the batch runs.
func followBatch(ctx context.Context, w io.Writer, c *client.Client, id string, poll time.Duration) (rebalance.Batch, error) {
	last := map[int64]string{}
	for {
		b, err := c.GetBatch(ctx, id)
		if err != nil {
			return rebalance.Batch{ID: id}, err
		}
		for _, e := range b.Entries {
			line := string(e.Status)
			if !e.Status.Ended() && e.Phase != "" {
				line += " " + string(e.Phase)
			}
			if e.Note != "" {
				line += ": " + e.Note
			}
			if last[e.OrderID] != line {
				last[e.OrderID] = line
				fmt.Fprintf(w, "%s  %s (%s → %s): %s\n", time.Now().Format(time.TimeOnly), e.Identifier, e.From, e.To, line)
			}
		}
		if b.Settled() {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return b, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// batchOutcome sums a settled batch up; a failed move is an error.
func batchOutcome(w io.Writer, b rebalance.Batch) error {
	printBatch(w, b)
	n := b.Count()
	if n[rebalance.EntryVerified] > 0 {
		fmt.Fprintf(w, "%d move(s) verified and waiting: ferry move cutover ORDER each, or apply the plan again with --auto-cutover\n", n[rebalance.EntryVerified])
	}
	if n[rebalance.EntryFailed] > 0 {
		return moveError{fmt.Sprintf("batch %s: %d move(s) failed; the others went on (see above; apply the plan again to retry)", b.ID, n[rebalance.EntryFailed]), ExitError}
	}
	return nil
}

func printBatch(w io.Writer, b rebalance.Batch) {
	what := "rebalance by " + string(b.Plan.By)
	if b.Plan.Drain != "" {
		what = "drain " + b.Plan.Drain
	}
	fmt.Fprintf(w, "batch %s (%s) %s: %s\n", b.ID, what, b.State, countLine(b))
	rows := make([][]string, len(b.Entries))
	for i, e := range b.Entries {
		move := ""
		if e.MoveID != 0 {
			move = strconv.FormatInt(e.MoveID, 10)
		}
		rows[i] = []string{e.Identifier, e.From + " → " + e.To, humanBytes(e.Size), move, string(e.Status), string(e.Phase), e.Note}
	}
	_ = table(w, "ORDER\tHOSTS\tSIZE\tMOVE\tSTATUS\tPHASE\tNOTE", rows)
}

func countLine(b rebalance.Batch) string {
	n := b.Count()
	var parts []string
	for _, s := range []rebalance.EntryStatus{rebalance.EntryDone, rebalance.EntryVerified, rebalance.EntryRunning, rebalance.EntryWaiting,
		rebalance.EntryPending, rebalance.EntryFailed, rebalance.EntryAborted, rebalance.EntrySkipped} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	if len(parts) == 0 {
		return "no moves"
	}
	return strings.Join(parts, ", ")
}

func runRebalanceStatus(ctx context.Context, g *globals, c *client.Client, args []string, opts rebalanceOptions) error {
	if len(args) == 0 {
		if opts.watch {
			return usageError{errors.New("--watch follows one batch: name it")}
		}
		bs, err := c.ListBatches(ctx)
		return g.show(err, bs, func() error {
			if len(bs) == 0 {
				fmt.Fprintln(g.stdout, "no batches yet (ferry rebalance plan, then apply)")
				return nil
			}
			rows := make([][]string, len(bs))
			for i, b := range bs {
				what := "by " + string(b.Plan.By)
				if b.Plan.Drain != "" {
					what = "drain " + b.Plan.Drain
				}
				rows[i] = []string{b.ID, what, string(b.State), b.By, b.CreatedAt.Local().Format(time.DateTime), countLine(b)}
			}
			return table(g.stdout, "BATCH\tWHAT\tSTATE\tBY\tCREATED\tMOVES", rows)
		})
	}
	if opts.watch {
		b, err := followBatch(ctx, g.stdout, c, args[0], opts.poll)
		if err != nil {
			return err
		}
		return batchOutcome(g.stdout, b)
	}
	b, err := c.GetBatch(ctx, args[0])
	return g.show(err, b, func() error {
		printBatch(g.stdout, b)
		return nil
	})
}

// newHostDrainCmd is `ferry host drain`.
func newHostDrainCmd(g *globals) *cobra.Command {
	opts := rebalanceOptions{poll: 2 * time.Second}
	cmd := &cobra.Command{
		Use: "drain HOST [--concurrency N] [--bwlimit RATE] [--auto-cutover [--skip-ttl-wait]] [--dry-run]", Short: "Mark a host draining and move all its orders to the other active hosts", Args: cobra.ExactArgs(1),
		Long: `Mark HOST draining (it takes no new orders), plan a move for each of its
orders onto the other active web hosts (the least used that has room, largest
order first) and run the moves as a batch in the control plane, as ferry
rebalance apply does, with the same flags. Nothing changes when an order fits
nowhere. Once the host holds nothing, ferry host retire HOST retires it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd.Context(), g, func(ctx context.Context, c *client.Client) error {
				return runHostDrain(ctx, g, c, args[0], opts)
			})
		},
	}
	addApplyFlags(cmd, &opts)
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "show the plan; change nothing")
	return cmd
}

func runHostDrain(ctx context.Context, g *globals, c *client.Client, host string, opts rebalanceOptions) error {
	a, err := opts.applyOptions()
	if err != nil {
		return err
	}
	if opts.dryRun {
		p, err := c.PlanRebalance(ctx, rebalance.Options{Drain: host})
		if err != nil {
			return err
		}
		printRebalancePlan(g.stdout, p)
		if len(p.Problems) > 0 {
			return moveError{fmt.Sprintf("cannot drain %s: %d problem(s)", host, len(p.Problems)), ExitRefused}
		}
		return nil
	}
	b, err := c.DrainHost(ctx, host, rebalance.DrainInput{ApplyOptions: a})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s is draining: it takes no new orders\n", host)
	if err := handedOver(ctx, g, c, b, opts); err != nil || opts.noWait {
		return err
	}
	if left, err := c.ListOrders(ctx, wire.OrderQuery{Host: host, State: string(model.OrderActive)}); err == nil && len(left) == 0 {
		fmt.Fprintf(g.stdout, "%s holds no active order now; once its moves are cleaned up: ferry host retire %s\n", host, host)
	}
	return nil
}

// newHostRetireCmd is `ferry host retire`.
func newHostRetireCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "retire HOST", Short: "Retire a host that holds no order or item any more", Args: cobra.ExactArgs(1),
		RunE: clientRun(g, runHostRetire),
	}
}

func runHostRetire(ctx context.Context, g *globals, c *client.Client, args []string) error {
	retired := model.HostRetired
	_, err := c.UpdateHost(ctx, args[0], panel.HostPatch{State: &retired})
	return g.done(err, "retired host "+args[0])
}
