// Command bench measures ferry against the plain tools (`make bench`;
// `make bench-smoke` checks that it works with tiny sizes). See
// docs/performance.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"ferry/internal/bench"
	"ferry/internal/lab"
)

func main() {
	lab.MaybeRunHostInit()
	o := bench.Options{PGURL: os.Getenv("FERRY_TEST_PG_URL")}
	var treeMB, dbMB float64
	flag.IntVar(&o.Files, "files", 30000, "files in the generated site tree")
	flag.Float64Var(&treeMB, "tree-mb", 1024, "size of the generated tree, MiB")
	flag.Float64Var(&dbMB, "db-mb", 300, "row data of the generated database, MiB")
	flag.IntVar(&o.Tables, "tables", 12, "tables of the generated database")
	flag.IntVar(&o.Runs, "runs", 6, "times each figure is measured (even: ferry goes first in half of them)")
	flag.Float64Var(&o.ChurnPct, "churn", 1, "percent of files changed before a re-sync and before the cutover")
	flag.IntVar(&o.ChangedTables, "changed-tables", 2, "tables changed before a re-sync and before the cutover")
	flag.IntVar(&o.Items, "items", 1000, "items of the order the control plane prepares")
	flag.IntVar(&o.Clients, "clients", 8, "concurrent clients of the item API")
	flag.DurationVar(&o.LoadTime, "load-time", 3*time.Second, "how long each item API load runs")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed of the generated data")
	flag.StringVar(&o.Out, "out", "", "write the JSON report here")
	flag.StringVar(&o.Label, "label", "full", "name of this run in the report")
	flag.BoolVar(&o.SkipLab, "skip-lab", false, "measure the control plane only")
	sizes := flag.String("freeze-sizes", "0,0.25,1,2", "site sizes the freeze is measured at, as shares of the tree and database sizes (0: the demo's tiny site)")
	flag.IntVar(&o.Fleet.Nodes, "fleet-nodes", 1000, "nodes of the fleet simulation (0 leaves it out; needs PostgreSQL)")
	flag.IntVar(&o.Fleet.Orders, "fleet-orders", 100000, "orders bulk-loaded for the fleet simulation")
	flag.IntVar(&o.Fleet.Items, "fleet-items", 1000000, "items bulk-loaded for the fleet simulation")
	flag.IntVar(&o.Fleet.Changes, "fleet-changes", 300, "items made through the API while the fleet polls")
	flag.Float64Var(&o.Fleet.Rate, "fleet-rate", 20, "items made a second while the fleet polls")
	flag.IntVar(&o.Fleet.Pool, "fleet-pool", 16, "PostgreSQL pool size of each replica (pool_max_conns)")
	flag.BoolVar(&o.FleetOnly, "fleet-only", false, "run the fleet simulation alone")
	verbose := flag.Bool("v", false, "log every step")
	flag.Parse()
	var err error
	if o.FreezeSizes, err = bench.ParseFreezeSizes(*sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -freeze-sizes:", err)
		os.Exit(2)
	}
	o.TreeBytes, o.DBBytes = int64(treeMB*(1<<20)), int64(dbMB*(1<<20))
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(o.Log)

	// An interrupt cancels the run, which then takes its lab down.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if _, err := bench.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
