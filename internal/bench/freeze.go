package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/wire"
)

// FreezeAt is the cutover's freeze of one site size: how the freeze grows
// (or not) with the site, and what the node agents held in memory while
// they synced it.
type FreezeAt struct {
	// Name is the size: "tiny" (the demo's site: a page and a table of a
	// few rows) or the share of the default tree and database ("0.25x").
	Name      string  `json:"name"`
	Files     int     `json:"files"`
	TreeBytes int64   `json:"tree_bytes"`
	DBBytes   int64   `json:"db_bytes"`
	Tables    int     `json:"tables"`
	Seconds   float64 `json:"freeze_seconds"`
	// Steps are the old host's seconds for each step of the freeze.
	Steps map[string]float64 `json:"steps"`
	// ChurnFiles and ChangedTables are what changed since the last sync.
	ChurnFiles    int      `json:"churn_files"`
	ChangedTables []string `json:"changed_tables,omitempty"`
	// TrackedPaths is what the final file sync got from the old host's
	// change tracking; FullReason why it compared the whole tree instead.
	TrackedPaths int    `json:"tracked_paths"`
	FullReason   string `json:"full_reason,omitempty"`
	TablesCopied int    `json:"tables_copied"`
	// TablesListed, TablesByRows and RowsByRows say how the final sync
	// found and copied the changed tables: listed row by row instead of
	// summed, copied row by row, and the rows those copies touched.
	TablesListed int   `json:"tables_listed"`
	TablesByRows int   `json:"tables_by_rows"`
	RowsByRows   int64 `json:"rows_by_rows"`
	// AgentPeakKiB is each node agent's peak resident memory (VmHWM)
	// during this size's move, from its sync to its cutover.
	AgentPeakKiB map[string]int64 `json:"agent_peak_kib"`
}

// ParseFreezeSizes reads the sizes the freeze is measured at: shares of
// the tree and database sizes, comma-separated, 0 for the demo's tiny
// site (bench -freeze-sizes). An empty list measures none.
func ParseFreezeSizes(s string) ([]float64, error) {
	var out []float64
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 0 || v > 16 || v != v {
			return nil, fmt.Errorf("%q is not a share of the site between 0 and 16", strings.TrimSpace(f))
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("size %g is listed twice", v)
		}
		out = append(out, v)
	}
	return out, nil
}

// freezeBySize moves a site of each size once from web1 to web2: start,
// sync, verify, the same change (the same number of files, the same
// tables) and cutover. The change does not grow with the site, so a
// freeze that follows the change stays flat.
func (b *benchLab) freezeBySize(ctx context.Context, o Options) ([]FreezeAt, error) {
	var out []FreezeAt
	for i, scale := range o.FreezeSizes {
		f, err := b.freezeOnce(ctx, o, i, scale)
		if err != nil {
			return out, fmt.Errorf("freeze of the %s site: %w", f.Name, err)
		}
		b.log.Info("freeze measured", "size", f.Name, "files", f.Files, "db_bytes", f.DBBytes, "freeze", f.Seconds,
			"steps", f.Steps, "tracked_paths", f.TrackedPaths, "tables_listed", f.TablesListed, "tables_by_rows", f.TablesByRows, "agent_peak_kib", f.AgentPeakKiB)
		out = append(out, f)
	}
	return out, nil
}

func (b *benchLab) freezeOnce(ctx context.Context, o Options, i int, scale float64) (FreezeAt, error) {
	f := FreezeAt{Name: strconv.FormatFloat(scale, 'f', -1, 64) + "x", Files: max(1, int(float64(o.Files)*scale)),
		TreeBytes: max(4<<10, int64(float64(o.TreeBytes)*scale)), DBBytes: max(8<<10, int64(float64(o.DBBytes)*scale)), Tables: o.Tables}
	if scale == 0 {
		f.Name, f.Files, f.TreeBytes, f.DBBytes, f.Tables = "tiny", 3, 4<<10, 8<<10, 1
	}
	order := fmt.Sprintf("freeze%d.bench.test", i)
	login, db := fmt.Sprintf("benchfz%d", i), fmt.Sprintf("bench_fz%d", i)
	made, err := b.admin.CreateOrder(ctx, model.Order{Identifier: order, Member: siteMember, Host: "web1"})
	if err != nil {
		return f, err
	}
	for _, in := range []panel.ItemInput{
		{Kind: model.KindUserAccount, Spec: model.Spec{Login: login}},
		{Kind: model.KindWebConf, Spec: model.Spec{Login: login, ServerNames: []string{order, "www." + order}}},
		{Kind: model.KindMySQLDB, Spec: model.Spec{Name: db}},
		{Kind: model.KindMySQLUser, Spec: model.Spec{Name: login, Password: "bench-pass-123", Databases: []string{db}}},
	} {
		in.Order = order
		if _, err := b.admin.CreateItem(ctx, in); err != nil {
			return f, fmt.Errorf("item %s: %w", in.Kind, err)
		}
	}
	if err := b.waitActive(ctx, order, 2*time.Minute); err != nil {
		return f, err
	}
	dir := model.OrderDir(siteMember, order)
	root, err := b.lab.Path("web1", dir)
	if err != nil {
		return f, err
	}
	uid, gid, err := b.owner("web1", login)
	if err != nil {
		return f, err
	}
	t, err := writeTree(root, TreeSpec{Files: f.Files, Bytes: f.TreeBytes, Seed: o.Seed + uint64(i)}, uid, gid)
	if err != nil {
		return f, fmt.Errorf("write the tree: %w", err)
	}
	f.TreeBytes = t.bytes
	spec := DBSpec{Name: db, Tables: f.Tables, Bytes: f.DBBytes, Seed: o.Seed + uint64(i)}
	if _, err := b.loadDB(ctx, "web1", spec); err != nil {
		return f, fmt.Errorf("load the database: %w", err)
	}

	if _, err := b.ferry(ctx, "move", "start", order, "--to", "web2"); err != nil {
		return f, err
	}
	if err := b.resetPeaks(ctx); err != nil {
		return f, err
	}
	if _, err := b.ferry(ctx, "move", "sync", order); err != nil {
		return f, err
	}
	if _, err := b.ferry(ctx, "move", "verify", order); err != nil {
		b.log.Warn("verify found differences; cutover is forced anyway", "order", order, "err", err)
	}
	// The same change at every size: as many files as the churn changes
	// in the default tree, and ChangedTables tables (2% of their rows).
	pct := o.ChurnPct
	if scale > 0 {
		pct = o.ChurnPct / scale
	}
	if f.ChurnFiles, _, err = churn(root, t, o.Seed, 100+i, min(pct, 100)); err != nil {
		return f, fmt.Errorf("churn: %w", err)
	}
	if f.ChangedTables, err = b.changeTables(ctx, "web1", spec, 100+i, min(o.ChangedTables, f.Tables)); err != nil {
		return f, err
	}
	flush(ctx)
	if _, err := b.ferry(ctx, "move", "cutover", order, "--skip-ttl-wait", "--accept-verify-differences"); err != nil {
		return f, err
	}
	if f.AgentPeakKiB, err = b.peaks(ctx); err != nil {
		return f, err
	}
	_, d, err := b.moveStatus(ctx, order)
	if err != nil {
		return f, err
	}
	if d.Cutover == nil || d.Cutover.FreezeEnd == nil {
		return f, fmt.Errorf("move status reports no freeze window after the cutover of %s", order)
	}
	f.Seconds, f.Steps = d.Cutover.FreezeSeconds, d.Cutover.FreezeSteps
	if s := lastSyncOf(d, true); s != nil {
		f.TrackedPaths, f.FullReason, f.TablesCopied = s.Files.TrackedPaths, s.Files.FullReason, s.DB.TablesCopied
		f.TablesListed, f.TablesByRows, f.RowsByRows = s.DB.TablesListed, s.DB.TablesByRows, s.DB.RowsByRows
	}
	if _, err := b.ferry(ctx, "move", "cleanup", order, "--skip-ttl-wait"); err != nil {
		return f, err
	}
	// Its copy on web2 goes too: the next size needs the disk.
	if _, err := b.ferry(ctx, "order", "delete", order); err != nil {
		return f, err
	}
	return f, b.waitGone(ctx, made.ID, 2*time.Minute)
}

// waitGone waits until web2 holds no live item of the deleted order id.
func (b *benchLab) waitGone(ctx context.Context, id int64, within time.Duration) error {
	order := strconv.FormatInt(id, 10)
	deadline := time.Now().Add(within)
	for {
		items, err := b.admin.ListItems(ctx, wire.ItemQuery{Host: "web2"})
		if err != nil {
			return err
		}
		left := 0
		for _, it := range items {
			if it.OrderID == id && it.State != model.StateDeleted {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d item(s) of %s not deleted after %s", left, order, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// agentPID is the node agent's process id on host, as the host sees it.
func (b *benchLab) agentPID(ctx context.Context, host string) (int, error) {
	svcs, err := b.lab.Services(ctx, host)
	if err != nil {
		return 0, err
	}
	for _, s := range svcs {
		if s.Name == "agent" && s.Running && s.PID > 0 {
			return s.PID, nil
		}
	}
	return 0, fmt.Errorf("%s runs no agent", host)
}

// resetPeaks resets the agents' peak resident memory (clear_refs 5), so
// that VmHWM then holds the peak from now on.
func (b *benchLab) resetPeaks(ctx context.Context) error {
	for _, h := range []string{"web1", "web2"} {
		pid, err := b.agentPID(ctx, h)
		if err != nil {
			return err
		}
		if _, err := b.lab.Run(ctx, h, "sh", "-c", fmt.Sprintf("echo 5 > /proc/%d/clear_refs", pid)); err != nil {
			return err
		}
	}
	return nil
}

// peaks reads each agent's VmHWM in KiB.
func (b *benchLab) peaks(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, h := range []string{"web1", "web2"} {
		pid, err := b.agentPID(ctx, h)
		if err != nil {
			return nil, err
		}
		status, err := b.lab.Run(ctx, h, "cat", fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return nil, err
		}
		kib, err := vmHWM(status)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h, err)
		}
		out[h] = kib
	}
	return out, nil
}

// vmHWM reads the peak resident set size, in KiB, from a /proc/PID/status.
func vmHWM(status string) (int64, error) {
	for _, l := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(l, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmHWM line %q", l)
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no VmHWM line in the process status")
}

// freezeGoals are the goals for the freeze by size: the demo's
// tiny site frozen for at most 0.5 s, and a freeze that stays flat with
// the site (two times the default size frozen at most 1.5 times as long
// as a quarter of it, the same change made to both).
func freezeGoals(sizes []FreezeAt) []Goal {
	var goals []Goal
	by := map[string]FreezeAt{}
	for _, f := range sizes {
		by[f.Name] = f
	}
	if f, ok := by["tiny"]; ok {
		goals = append(goals, Goal{Name: "freeze of the demo's tiny site", Goal: "<= 0.5", Value: f.Seconds, Unit: "s", Met: f.Seconds <= 0.5})
	}
	q, okq := by["0.25x"]
	d, okd := by["2x"]
	if okq && okd && q.Seconds > 0 {
		r := d.Seconds / q.Seconds
		goals = append(goals, Goal{Name: "freeze growth from 0.25x to 2x the site", Goal: "<= 1.5", Value: r, Unit: "2x/0.25x", Met: r <= 1.5})
	}
	return goals
}

// printFreezeBySize writes the freeze-by-size table.
func printFreezeBySize(w io.Writer, sizes []FreezeAt) {
	if len(sizes) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FREEZE BY SITE SIZE\tFILES\tTREE\tDB\tCHANGED\tFREEZE s\tMAINT\tFILES s\tDB s\tPROXY\tTRACKED\tTABLES LISTED, BY ROWS (ROWS)\tAGENT PEAK MiB (web1, web2)")
	for _, f := range sizes {
		tracked := strconv.Itoa(f.TrackedPaths)
		if f.FullReason != "" {
			tracked = "full"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d files, %d tables\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%d, %d (%d)\t%.0f, %.0f\n", f.Name, f.Files, human(f.TreeBytes), human(f.DBBytes),
			f.ChurnFiles, len(f.ChangedTables), f.Seconds, f.Steps["maintenance"], f.Steps["files"], f.Steps["db"], f.Steps["proxy"], tracked,
			f.TablesListed, f.TablesByRows, f.RowsByRows,
			float64(f.AgentPeakKiB["web1"])/1024, float64(f.AgentPeakKiB["web2"])/1024)
	}
	tw.Flush()
}
