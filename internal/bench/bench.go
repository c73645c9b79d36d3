package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"ferry/internal/atomicfile"
	"ferry/internal/model"
)

// Options are the benchmark's sizes and where its report goes.
type Options struct {
	// Files and TreeBytes size the generated site tree.
	Files     int
	TreeBytes int64
	// DBBytes of row data in Tables tables make the generated database.
	DBBytes int64
	Tables  int
	// Runs is how many times each figure is measured.
	Runs int
	// ChurnPct is the percentage of files changed before a re-sync and
	// before the cutover; ChangedTables the number of tables changed.
	ChurnPct      float64
	ChangedTables int
	// Items is the size of the order prepared on the control plane;
	// Clients and LoadTime shape the item API load.
	Items    int
	Clients  int
	LoadTime time.Duration
	// PGURL is a PostgreSQL server for the control plane's second store;
	// empty skips it.
	PGURL string
	// Seed makes the generated data; the same seed, the same data.
	Seed uint64
	// Out is the JSON report's path; empty writes none.
	Out string
	// Label names the run in the report ("full", "smoke").
	Label string
	// FreezeSizes are the site sizes the freeze is measured at (freeze.go).
	FreezeSizes []float64
	// SkipLab leaves the lab out (control plane figures only).
	SkipLab bool
	// Fleet sizes the fleet simulation (fleet.go); FleetOnly runs it alone.
	Fleet     FleetOptions
	FleetOnly bool
	Log       *slog.Logger
	Stdout    io.Writer
}

// Report is what one benchmark run found, as written to JSON.
type Report struct {
	Label    string       `json:"label"`
	Started  time.Time    `json:"started"`
	Seconds  float64      `json:"seconds"`
	Machine  Machine      `json:"machine"`
	Sizes    Sizes        `json:"sizes"`
	Compared []Comparison `json:"compared,omitempty"`
	// Freeze is ferry's freeze window at cutover, from move status.
	Freeze *Stat `json:"cutover_freeze_seconds,omitempty"`
	// MoveStart is the wall time of `ferry move start` of the site.
	MoveStart *Stat `json:"move_start_seconds,omitempty"`
	// ChecksumPass is one pass of the table sums ferry's database sync
	// makes three of (old host, new host before and after the copy).
	ChecksumPass *Stat            `json:"checksum_pass_seconds,omitempty"`
	Control      []ControlFigures `json:"control_plane"`
	Fleet        *FleetFigures    `json:"fleet,omitempty"`
	Runs         []runNote        `json:"runs,omitempty"`
	// FreezeBySize is the freeze of the demo's tiny site and of sites a
	// quarter, one and two times the default size (freeze.go).
	FreezeBySize []FreezeAt `json:"freeze_by_size,omitempty"`
	Goals        []Goal     `json:"goals"`
}

// Goal is one of the goals and whether this run met it.
type Goal struct {
	Name  string  `json:"name"`
	Goal  string  `json:"goal"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Met   bool    `json:"met"`
}

// Sizes are the data the run moved.
type Sizes struct {
	Files         int     `json:"files"`
	TreeBytes     int64   `json:"tree_bytes"`
	DBBytes       int64   `json:"db_row_bytes"`
	DBRows        int     `json:"db_rows"`
	Tables        int     `json:"tables"`
	Runs          int     `json:"runs"`
	ChurnPct      float64 `json:"churn_percent"`
	ChangedTables int     `json:"changed_tables"`
	Items         int     `json:"items"`
	Clients       int     `json:"clients"`
	Seed          uint64  `json:"seed"`
}

// Machine is where the figures came from.
type Machine struct {
	CPU     string `json:"cpu"`
	Cores   int    `json:"cores"`
	Memory  string `json:"memory"`
	Disk    string `json:"disk"`
	Kernel  string `json:"kernel"`
	Go      string `json:"go"`
	Rsync   string `json:"rsync"`
	MariaDB string `json:"mariadb"`
	SSH     string `json:"ssh"`
}

// Run brings a lab up, measures, takes the lab down (also on failure or
// cancellation) and writes the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Runs < 1 || o.Files < 1 || o.Tables < 1 || o.Items < 3 || o.Clients < 1 {
		return nil, errors.New("runs, files and tables must be at least 1, items at least 3, clients at least 1")
	}
	rep := &Report{Label: o.Label, Started: time.Now().UTC().Truncate(time.Second), Machine: machine(ctx),
		Sizes: Sizes{Files: o.Files, TreeBytes: o.TreeBytes, DBBytes: o.DBBytes, Tables: o.Tables, Runs: o.Runs,
			ChurnPct: o.ChurnPct, ChangedTables: o.ChangedTables, Items: o.Items, Clients: o.Clients, Seed: o.Seed}}
	if err := fleetFigures(ctx, o, rep); err != nil {
		return rep, err
	}
	var err error
	if !o.FleetOnly {
		if rep.Control, err = controlPlanes(ctx, o, o.Log); err != nil {
			return rep, err
		}
	}
	if !o.SkipLab && !o.FleetOnly {
		if err := labFigures(ctx, o, rep); err != nil {
			return rep, err
		}
	}
	rep.Seconds = time.Since(rep.Started).Round(time.Second).Seconds()
	rep.goals()
	if o.Out != "" {
		if err := writeJSON(o.Out, rep); err != nil {
			return rep, err
		}
	}
	rep.Print(o.Stdout)
	return rep, nil
}

// labFigures runs the lab part: the site made, filled and moved back and
// forth.
func labFigures(ctx context.Context, o Options, rep *Report) (err error) {
	b, stop, err := startLab(ctx, o.Log)
	if err != nil {
		return err
	}
	defer func() {
		o.Log.Info("taking the lab down")
		err = errors.Join(err, stop())
	}()
	if err := b.makeSite(ctx); err != nil {
		return fmt.Errorf("make the site: %w", err)
	}
	root, err := b.lab.Path("web1", model.OrderDir(siteMember, siteOrder))
	if err != nil {
		return err
	}
	uid, gid, err := b.owner("web1", siteLogin)
	if err != nil {
		return err
	}
	t0 := time.Now()
	t, err := writeTree(root, TreeSpec{Files: o.Files, Bytes: o.TreeBytes, Seed: o.Seed}, uid, gid)
	if err != nil {
		return fmt.Errorf("write the tree: %w", err)
	}
	rep.Sizes.TreeBytes = t.bytes
	o.Log.Info("tree written", "files", len(t.files), "bytes", t.bytes, "took", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	db := DBSpec{Name: siteDB, Tables: o.Tables, Bytes: o.DBBytes, Seed: o.Seed}
	if rep.Sizes.DBRows, err = b.loadDB(ctx, "web1", db); err != nil {
		return fmt.Errorf("load the database: %w", err)
	}
	o.Log.Info("database loaded", "tables", o.Tables, "rows", rep.Sizes.DBRows, "took", time.Since(t0).Round(time.Millisecond))
	fig, err := b.moveRuns(ctx, o, t, db)
	if err != nil {
		return err
	}
	pg, _, err := b.pgFiguresOf(ctx, o)
	if err != nil {
		return err
	}
	rep.Compared = []Comparison{fig.FirstFiles, fig.ResyncFiles, fig.FirstDB, fig.ResyncDB, pg.FirstDB, pg.ResyncDB, fig.WholeSync, fig.Options}
	rep.Freeze, rep.MoveStart, rep.ChecksumPass, rep.Runs = &fig.Freeze, &fig.Start, &fig.Checksum, fig.Runs
	rep.FreezeBySize, err = b.freezeBySize(ctx, o)
	return err
}

// goals lists the goals with this run's values.
func (r *Report) goals() {
	r.Goals = nil
	for _, c := range r.Compared {
		if !c.isGoal() {
			continue // shown, not a goal
		}
		r.Goals = append(r.Goals, Goal{Name: c.Name, Goal: c.Better + " " + trimFloat(c.Goal), Value: c.Ratios.Median, Unit: c.Ratio, Met: c.Met})
	}
	r.Goals = append(r.Goals, r.Fleet.goals()...)
	if r.Freeze != nil {
		r.Goals = append(r.Goals, Goal{Name: "cutover freeze window", Goal: "<= 1", Value: r.Freeze.Median, Unit: "s", Met: len(r.Freeze.Runs) > 0 && r.Freeze.Median <= 1})
	}
	r.Goals = append(r.Goals, freezeGoals(r.FreezeBySize)...)
}

func trimFloat(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}

// Print writes the report's table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\nferry bench (%s): %d run(s); %d files, %s tree; %s of rows in %d tables; churn %g%%, %d tables changed\n",
		r.Label, r.Sizes.Runs, r.Sizes.Files, human(r.Sizes.TreeBytes), human(r.Sizes.DBBytes), r.Sizes.Tables, r.Sizes.ChurnPct, r.Sizes.ChangedTables)
	fmt.Fprintf(w, "machine: %s, %d cores, %s memory; %s; rsync %s, mariadb %s\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.Memory, r.Machine.Kernel, r.Machine.Rsync, r.Machine.MariaDB)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tFERRY s (med min–max)\tPLAIN s (med min–max)\tRATIO (med min–max)\tGOAL\tMET")
	for _, c := range r.Compared {
		goal, met := c.Better+" "+trimFloat(c.Goal), yesNo(c.Met)
		if !c.isGoal() {
			goal, met = "(shown)", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s\n", c.Name, span(c.Ferry, "%.2f"), span(c.Plain, "%.2f"), span(c.Ratios, "%.2f"), c.Ratio, goal, met)
	}
	if r.Freeze != nil {
		fmt.Fprintf(tw, "cutover freeze window\t%s\t\t\t<= 1 s\t%s\n", span(*r.Freeze, "%.2f"), yesNo(len(r.Freeze.Runs) > 0 && r.Freeze.Median <= 1))
	}
	if r.MoveStart != nil {
		fmt.Fprintf(tw, "move start (site, wall)\t%s\t\t\t\t\n", span(*r.MoveStart, "%.2f"))
	}
	if r.ChecksumPass != nil {
		fmt.Fprintf(tw, "one checksum pass of the db (diagnostic)\t%s\t\t\t\t\n", span(*r.ChecksumPass, "%.2f"))
	}
	for _, c := range r.Control {
		fmt.Fprintf(tw, "prepare %d items (%s)\t%s\t\t\t\t\n", c.Items, c.Store, span(c.Prepare, "%.3f"))
	}
	tw.Flush()
	if len(r.Control) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ITEM API\tSTORE\tCLIENTS\tREQ/S (med min–max)\tP50 ms\tP99 ms\tERRORS")
		for _, c := range r.Control {
			for _, l := range c.Load {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.2f\t%.2f\t%d\n", l.Mix, c.Store, l.Clients, span(l.RPS, "%.0f"), l.P50, l.P99, l.Errors)
			}
		}
		tw.Flush()
	}
	printFreezeBySize(w, r.FreezeBySize)
	r.Fleet.print(w)
	fmt.Fprintf(w, "\ntook %s\n", time.Duration(r.Seconds*float64(time.Second)))
}

func span(s Stat, f string) string {
	if len(s.Runs) == 0 {
		return "-"
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.Median, s.Min, s.Max)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// human is n bytes in MiB or GiB.
func human(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// writeJSON writes the report atomically.
func writeJSON(path string, r *Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

// machine describes this machine from /proc and the tools' versions.
func machine(ctx context.Context) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
				m.Memory = human(kb << 10)
			}
		}
	}
	first := func(argv ...string) string {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return "unknown"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return strings.Join(strings.Fields(line), " ")
	}
	m.Kernel = first("uname", "-sr")
	m.Rsync = strings.TrimPrefix(first("rsync", "--version"), "rsync version ")
	m.MariaDB = first("mariadb", "--version")
	if _, v, ok := strings.Cut(m.MariaDB, "Distrib "); ok {
		m.MariaDB, _, _ = strings.Cut(v, ",")
	}
	m.SSH = first("ssh", "-V")
	m.Disk = disk(ctx)
	return m
}

// disk names the block device under the labs' directory and its kind.
func disk(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "df", "-h", "--output=source,fstype,size", "/var/lib").Output()
	if err != nil {
		return "unknown"
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 3 {
		return "unknown"
	}
	kind := ""
	dev := filepath.Base(f[0])
	if rot, err := os.ReadFile("/sys/block/" + strings.TrimRight(dev, "0123456789") + "/queue/rotational"); err == nil {
		kind = map[string]string{"0": ", non-rotational", "1": ", rotational"}[strings.TrimSpace(string(rot))]
	}
	return fmt.Sprintf("%s (%s, %s%s)", f[0], f[1], f[2], kind)
}

// isGoal tells the figures from those shown to explain them.
func (c Comparison) isGoal() bool {
	return !c.ShownOnly
}
