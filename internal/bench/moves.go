package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/wire"
)

// The benchmark's site: one order with a Unix account, a vhost, a MariaDB
// database and its user, holding the generated tree and database.
const (
	siteMember = "bench"
	siteOrder  = "site.bench.test"
	siteLogin  = "benchsite"
	siteDB     = "bench_site"
	// plainDir and plainDB are where the plain tools copy to on the
	// other host.
	plainDir = "/home/ferry-bench-plain"
	plainDB  = "bench_plain"
)

// ferryRsyncOptions are the options ferry's node gives rsync for a sync
// (internal/node/movetask/move_files.go), without the ssh command.
const ferryRsyncOptions = "-rlptgoHAXS --specials --delete --no-inc-recursive --timeout=600 --partial --stats --info=progress2"

// moveFigures are the lab's figures, pair by pair.
type moveFigures struct {
	FirstFiles, ResyncFiles, FirstDB, ResyncDB Comparison
	Freeze                                     Stat
	// WholeSync is the CLI's wall time of `ferry move sync` (files and
	// databases, with the engine's and the CLI's own waits) against both
	// plain tools one after the other, first syncs only.
	WholeSync Comparison
	// Options is rsync run by hand with ferry's options against plain
	// rsync -aHAX, first syncs only.
	Options Comparison
	// Start is the wall time of `ferry move start` (prepare, key made
	// and authorised) of the site's order.
	Start Stat
	// Checksum is ChecksumSeconds over the runs.
	Checksum Stat
	// Runs tells what each run did.
	Runs []runNote
}

// runNote is what one run moved.
type runNote struct {
	From, To           string
	FerryFirst         bool
	FirstSync          syncNote
	Resync             syncNote
	FinalSync          syncNote
	ChurnFiles         int
	ChurnBytes         int64
	ChangedTables      []string
	CutoverChurnTables []string
	FreezeSeconds      float64
	FreezeSteps        map[string]float64 `json:",omitempty"`
	// ChecksumSeconds is one pass of what ferry asks of a host to sum a
	// database's tables (CHECKSUM TABLE and COUNT(*) of each), on the
	// old host after the first sync: a database sync makes three.
	ChecksumSeconds float64
}

// syncNote is one of ferry's sync reports in short.
type syncNote struct {
	FilesSent    int64   `json:"files_sent"`
	BytesSent    int64   `json:"bytes_sent"`
	FilesSeconds float64 `json:"files_seconds"`
	// TrackerSeconds is the part of FilesSeconds the old host spent
	// starting its change tracker (the first sync's).
	TrackerSeconds float64 `json:"tracker_seconds,omitempty"`
	TablesCopied   int     `json:"tables_copied"`
	TablesSummed   int     `json:"tables_summed"`
	DBBytes        int64   `json:"db_bytes"`
	DBSeconds      float64 `json:"db_seconds"`
	EngineSeconds  float64 `json:"engine_seconds"`
}

func noteOf(s wire.SyncReport) syncNote {
	return syncNote{FilesSent: s.Files.Files, BytesSent: s.Files.Bytes, FilesSeconds: s.Files.Seconds, TrackerSeconds: s.Files.TrackerSeconds,
		TablesCopied: s.DB.TablesCopied, TablesSummed: s.DB.TablesSummed, DBBytes: s.DB.Bytes, DBSeconds: s.DB.Seconds, EngineSeconds: s.Seconds()}
}

// makeSite creates the site's order and items on web1 and waits until
// web1's node has made them.
func (b *benchLab) makeSite(ctx context.Context) error {
	if _, err := b.admin.CreateMember(ctx, model.Member{Name: siteMember, FriendlyName: "Benchmark"}); err != nil {
		return err
	}
	if _, err := b.admin.CreateOrder(ctx, model.Order{Identifier: siteOrder, Member: siteMember, Host: "web1"}); err != nil {
		return err
	}
	for _, in := range []panel.ItemInput{
		{Kind: model.KindUserAccount, Spec: model.Spec{Login: siteLogin}},
		{Kind: model.KindWebConf, Spec: model.Spec{Login: siteLogin, ServerNames: []string{siteOrder, "www." + siteOrder}}},
		{Kind: model.KindMySQLDB, Spec: model.Spec{Name: siteDB}},
		{Kind: model.KindMySQLUser, Spec: model.Spec{Name: siteLogin, Password: "bench-pass-123", Databases: []string{siteDB}}},
	} {
		in.Order = siteOrder
		if _, err := b.admin.CreateItem(ctx, in); err != nil {
			return fmt.Errorf("item %s: %w", in.Kind, err)
		}
	}
	return b.waitActive(ctx, siteOrder, 2*time.Minute)
}

// waitActive waits until no item of order is pending and fails on one
// that ended in an error.
func (b *benchLab) waitActive(ctx context.Context, order string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		items, err := b.admin.ListItems(ctx, apiOrder(order))
		if err != nil {
			return err
		}
		pending := 0
		for _, it := range items {
			switch {
			case it.State == model.StateSoftError || it.State == model.StateHardError:
				return fmt.Errorf("item %d (%s) is %s: %s", it.ID, it.Kind, it.State, it.Message)
			case it.State.Pending():
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d item(s) of %s still pending after %s", pending, order, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// moveRuns moves the site back and forth, runs times, measuring each sync
// against the plain tools on the same pair of hosts, then the cutover.
func (b *benchLab) moveRuns(ctx context.Context, o Options, t tree, db DBSpec) (moveFigures, error) {
	fig := moveFigures{
		FirstFiles: Comparison{Name: "first file sync", Ratio: "ferry/plain", Goal: 1.05, Better: "<=",
			How: "ferry: the node's rsync time in the sync report (files.seconds); plain: wall time of rsync -aHAX over ssh run on the old host"},
		ResyncFiles: Comparison{Name: fmt.Sprintf("file re-sync after %g%% changed", o.ChurnPct), Ratio: "ferry/plain", Goal: 1.1, Better: "<=",
			How: "as for the first file sync, after the same files changed on the old host"},
		FirstDB: Comparison{Name: "database copy", Ratio: "plain/ferry", Goal: 3, Better: ">=",
			How: "ferry: the node's database time in the sync report (db.seconds: stamps on both hosts, sums of the tables they cannot vouch for, per-table dump | ssh | load over one ssh connection, sums of the copied tables again); plain: wall time of mariadb-dump --single-transaction | ssh | mariadb run on the old host"},
		ResyncDB: Comparison{Name: fmt.Sprintf("database re-sync after %d of %d tables changed", o.ChangedTables, o.Tables), Ratio: "plain/ferry", Goal: 10, Better: ">=",
			How: "as for the database copy; the plain pipeline copies everything again"},
		Options: Comparison{Name: "rsync by hand with ferry's options", Ratio: "ferry/plain", ShownOnly: true,
			How: "diagnostic, first sync: the \"ferry\" side is rsync " + ferryRsyncOptions + " run by hand over the same ssh as the plain rsync -aHAX, into a directory of its own: what ferry's options cost without ferry around them"},
		WholeSync: Comparison{Name: "whole first sync, CLI wall time", Ratio: "ferry/plain", ShownOnly: true,
			How: "ferry: wall time of `ferry move sync` (files, then databases, with the engine's and the CLI's polling); plain: rsync plus the dump pipeline"},
	}
	dir := model.OrderDir(siteMember, siteOrder)
	var starts, freezes []float64
	for run := range o.Runs {
		from, to := "web1", "web2"
		if run%2 == 1 {
			from, to = to, from
		}
		note := runNote{From: from, To: to, FerryFirst: run%2 == 0}
		b.log.Info("run", "n", run+1, "of", o.Runs, "from", from, "to", to)
		sec, err := b.timedFerry(ctx, "move", "start", siteOrder, "--to", to)
		if err != nil {
			return fig, err
		}
		starts = append(starts, sec)
		if err := b.resetPlain(ctx, to); err != nil {
			return fig, err
		}

		// First sync.
		first, err := b.syncPair(ctx, from, to, dir, note.FerryFirst, true)
		if err != nil {
			return fig, fmt.Errorf("run %d, first sync: %w", run+1, err)
		}
		fig.FirstFiles.Pairs = append(fig.FirstFiles.Pairs, Pair{first.report.Files.Seconds, first.plainFiles})
		fig.FirstDB.Pairs = append(fig.FirstDB.Pairs, Pair{first.report.DB.Seconds, first.plainDB})
		fig.Options.Pairs = append(fig.Options.Pairs, Pair{first.optsFiles, first.plainFiles})
		fig.WholeSync.Pairs = append(fig.WholeSync.Pairs, Pair{first.ferryWall, first.plainFiles + first.plainDB})
		note.FirstSync = noteOf(first.report)
		if note.ChecksumSeconds, err = b.checksumPass(ctx, from, db); err != nil {
			return fig, err
		}

		// Re-sync after churn.
		root, err := b.lab.Path(from, dir)
		if err != nil {
			return fig, err
		}
		if note.ChurnFiles, note.ChurnBytes, note.ChangedTables, err = b.change(ctx, from, root, t, db, o, 2*run); err != nil {
			return fig, err
		}
		re, err := b.syncPair(ctx, from, to, dir, note.FerryFirst, false)
		if err != nil {
			return fig, fmt.Errorf("run %d, re-sync: %w", run+1, err)
		}
		fig.ResyncFiles.Pairs = append(fig.ResyncFiles.Pairs, Pair{re.report.Files.Seconds, re.plainFiles})
		b.log.Info("change tracker", "run", run+1, "first_sync_setup_seconds", first.report.Files.TrackerSeconds,
			"resync_setup_seconds", re.report.Files.TrackerSeconds, "resync_files_seconds", re.report.Files.Seconds)
		fig.ResyncDB.Pairs = append(fig.ResyncDB.Pairs, Pair{re.report.DB.Seconds, re.plainDB})
		note.Resync = noteOf(re.report)

		// Cutover wants a verify since the last sync; one that finds
		// differences is overridden by --accept-verify-differences below,
		// as an admin would.
		if _, err := b.ferry(ctx, "move", "verify", siteOrder); err != nil {
			b.log.Warn("verify found differences; cutover is forced anyway", "err", err)
		}
		// Cutover with the same churn since the last sync.
		if _, _, note.CutoverChurnTables, err = b.change(ctx, from, root, t, db, o, 2*run+1); err != nil {
			return fig, err
		}
		flush(ctx)
		if _, err := b.ferry(ctx, "move", "cutover", siteOrder, "--skip-ttl-wait", "--accept-verify-differences"); err != nil {
			return fig, fmt.Errorf("run %d: %w", run+1, err)
		}
		_, d, err := b.moveStatus(ctx, siteOrder)
		if err != nil {
			return fig, err
		}
		if d.Cutover == nil || d.Cutover.FreezeEnd == nil {
			return fig, errors.New("move status reports no freeze window after cutover")
		}
		note.FreezeSeconds, note.FreezeSteps = d.Cutover.FreezeSeconds, d.Cutover.FreezeSteps
		freezes = append(freezes, d.Cutover.FreezeSeconds)
		if s := lastSyncOf(d, true); s != nil {
			note.FinalSync = noteOf(*s)
		}
		if _, err := b.ferry(ctx, "move", "cleanup", siteOrder, "--skip-ttl-wait"); err != nil {
			return fig, fmt.Errorf("run %d: %w", run+1, err)
		}
		if err := b.dropPlain(ctx, to); err != nil {
			return fig, err
		}
		fig.Runs = append(fig.Runs, note)
		b.log.Info("run done", "n", run+1, "first_files", first.report.Files.Seconds, "plain_rsync", first.plainFiles,
			"first_db", first.report.DB.Seconds, "plain_dump", first.plainDB, "resync_files", re.report.Files.Seconds,
			"plain_rsync_again", re.plainFiles, "resync_db", re.report.DB.Seconds, "plain_dump_again", re.plainDB,
			"resync_db_steps", re.report.DB.Steps, "resync_db_listed", re.report.DB.TablesListed, "resync_db_by_rows", re.report.DB.TablesByRows,
			"freeze", note.FreezeSeconds)
	}
	for _, c := range []*Comparison{&fig.FirstFiles, &fig.ResyncFiles, &fig.FirstDB, &fig.ResyncDB, &fig.WholeSync, &fig.Options} {
		c.summarise()
	}
	fig.Start, fig.Freeze = statOf(starts), statOf(freezes)
	var sums []float64
	for _, n := range fig.Runs {
		sums = append(sums, n.ChecksumSeconds)
	}
	fig.Checksum = statOf(sums)
	return fig, nil
}

// change does what a live site does between two syncs on host: the
// churn's share of files edited under root, and tables changed.
func (b *benchLab) change(ctx context.Context, host, root string, t tree, db DBSpec, o Options, round int) (files int, bytes int64, tables []string, err error) {
	if files, bytes, err = churn(root, t, o.Seed, round, o.ChurnPct); err != nil {
		return files, bytes, nil, fmt.Errorf("churn: %w", err)
	}
	tables, err = b.changeTables(ctx, host, db, round, o.ChangedTables)
	return files, bytes, tables, err
}

// syncResult is one sync of both kinds.
type syncResult struct {
	report              wire.SyncReport
	ferryWall           float64
	plainFiles, plainDB float64
	// optsFiles is rsync run by hand with ferry's options, when asked.
	optsFiles float64
}

// syncPair runs ferry's sync and the plain tools one after the other,
// ferry first or last, with dirty pages flushed before each.
// With withOpts, rsync also runs by hand with the options ferry's node
// gives it, into a directory of its own, right after the plain rsync.
func (b *benchLab) syncPair(ctx context.Context, from, to, dir string, ferryFirst, withOpts bool) (syncResult, error) {
	var r syncResult
	doFerry := func() error {
		flush(ctx)
		var err error
		if r.ferryWall, err = b.timedFerry(ctx, "move", "sync", siteOrder); err != nil {
			return err
		}
		_, d, err := b.moveStatus(ctx, siteOrder)
		if err != nil {
			return err
		}
		s := lastSyncOf(d, false)
		if s == nil {
			return errors.New("move status holds no sync report")
		}
		r.report = *s
		return nil
	}
	doPlain := func() error {
		flush(ctx)
		var err error
		rsync := "rsync -aHAX -e '" + b.sshCmd() + "' " + dir + "/ " + b.addr(to) + ":" + filepath.Join(plainDir, "site") + "/"
		if r.plainFiles, err = b.timed(ctx, from, "sh", "-c", rsync); err != nil {
			return err
		}
		if withOpts {
			flush(ctx)
			opts := "rsync " + ferryRsyncOptions + " -e '" + b.sshCmd() + "' " + dir + "/ " + b.addr(to) + ":" + filepath.Join(plainDir, "site-opts") + "/"
			if r.optsFiles, err = b.timed(ctx, from, "sh", "-c", opts+" >/dev/null"); err != nil {
				return err
			}
		}
		flush(ctx)
		dump := "mariadb-dump --single-transaction " + siteDB + " | " + b.sshCmd() + " " + b.addr(to) + " mariadb " + plainDB
		r.plainDB, err = b.timed(ctx, from, "bash", "-o", "pipefail", "-c", dump)
		return err
	}
	return r, inTurn(ferryFirst, doFerry, doPlain)
}

// inTurn runs ferry's step and the plain tools' one after the other,
// ferry's first when ferryFirst, and stops at the first error.
func inTurn(ferryFirst bool, ferry, plain func() error) error {
	steps := []func() error{ferry, plain}
	if !ferryFirst {
		steps[0], steps[1] = plain, ferry
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// lastSyncOf returns the move's newest sync report, final (cutover's) or
// not.
func lastSyncOf(d wire.MoveInfo, final bool) *wire.SyncReport {
	for i := len(d.Syncs) - 1; i >= 0; i-- {
		if d.Syncs[i].Final == final {
			return &d.Syncs[i]
		}
	}
	return nil
}

// resetPlain empties the plain tools' directory and database on host.
func (b *benchLab) resetPlain(ctx context.Context, host string) error {
	if err := b.dropPlain(ctx, host); err != nil {
		return err
	}
	_, err := b.lab.Run(ctx, host, "sh", "-c", "mkdir -p "+plainDir+" && mariadb -e 'CREATE DATABASE "+plainDB+"'")
	return err
}

// dropPlain removes the plain tools' copies on host.
func (b *benchLab) dropPlain(ctx context.Context, host string) error {
	_, err := b.lab.Run(ctx, host, "sh", "-c", "rm -rf "+plainDir+" && mariadb -e 'DROP DATABASE IF EXISTS "+plainDB+"'")
	return err
}

// checksumPass times, on host, the queries ferry's node makes to sum every
// table of the database.
func (b *benchLab) checksumPass(ctx context.Context, host string, db DBSpec) (float64, error) {
	var q strings.Builder
	for i := range db.Tables {
		fmt.Fprintf(&q, "CHECKSUM TABLE %s; SELECT COUNT(*) FROM %s;\n", tableName(i), tableName(i))
	}
	return b.timed(ctx, host, "mariadb", "-N", db.Name, "-e", q.String())
}
