package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ferry/internal/client"
	"ferry/internal/controlplane"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/wire"
)

// FleetOptions size the fleet simulation: many nodes long-polling two
// control plane replicas on one PostgreSQL store that holds a large
// co-op's orders and items.
type FleetOptions struct {
	// Nodes simulated (goroutines with the node API client); 0 leaves
	// the simulation out.
	Nodes int
	// Orders and Items are bulk-loaded before the nodes start; the
	// items are spread evenly over the orders, the orders over the nodes.
	Orders, Items int
	// Changes are items made through the API while the nodes poll, Rate
	// of them a second, alternately through each replica.
	Changes int
	Rate    float64
	// Pool is each replica's PostgreSQL pool size (pool_max_conns).
	Pool int
	// Poll is the nodes' long-poll wait, as the node agent's (30 s).
	Poll time.Duration
}

// FleetFigures are what the fleet simulation measured.
type FleetFigures struct {
	Nodes    int `json:"nodes"`
	Replicas int `json:"replicas"`
	Orders   int `json:"orders"`
	Items    int `json:"items"`
	Pool     int `json:"pool_max_conns"`
	// LoadSeconds is the bulk load of the orders and items (COPY).
	LoadSeconds float64 `json:"load_seconds"`
	// ConnectSeconds is until every node had its first answer.
	ConnectSeconds float64 `json:"connect_seconds"`
	// Changes made and seen by their node; Cross of them made through
	// the replica the node does not poll.
	Changes  int `json:"changes"`
	Received int `json:"received"`
	Cross    int `json:"cross_replica"`
	// Latency from the API call that makes an item to its node holding
	// it in a work answer, in ms.
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
	Cross99 float64 `json:"cross_replica_p99_ms"`
	// WindowSeconds is the measured window (the changes and their
	// delivery); CPUSeconds the process's CPU time in it (user+system:
	// both replicas and every simulated node, which run in this process).
	WindowSeconds float64 `json:"window_seconds"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	// HeapMiB and RSSMiB are the most seen in the window, of the whole
	// process (both replicas and the nodes): each replica holds less.
	HeapMiB float64 `json:"heap_mib"`
	RSSMiB  float64 `json:"rss_mib"`
	// PGConns is the most connections the replicas held at once
	// (pg_stat_activity); PGConnsLimit what the pool settings allow.
	PGConns      int   `json:"pg_connections"`
	PGConnsLimit int   `json:"pg_connections_limit"`
	Errors       int64 `json:"errors"`
}

// fleet runs the fleet simulation on a schema of its own on the
// PostgreSQL server at pgURL.
func fleet(ctx context.Context, o FleetOptions, pgURL string, log *slog.Logger) (FleetFigures, error) {
	fig := FleetFigures{Nodes: o.Nodes, Replicas: 2, Orders: o.Orders, Items: o.Items, Pool: o.Pool}
	if o.Nodes < 1 || o.Orders < o.Nodes || o.Items < o.Orders || o.Changes < 1 || o.Rate <= 0 || o.Pool < 1 {
		return fig, fmt.Errorf("fleet: need nodes >= 1, orders >= nodes, items >= orders, changes >= 1, rate > 0, pool >= 1")
	}
	if o.Poll == 0 {
		o.Poll = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base, drop, err := pgSchema(ctx, pgURL)
	if err != nil {
		return fig, err
	}
	defer drop()
	u, err := url.Parse(base)
	if err != nil {
		return fig, err
	}
	app := "ferry-fleet-" + strings.TrimPrefix(u.Query().Get("search_path"), "ferry_bench_")
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(o.Pool))
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	storeURL := u.String()

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var replicas [2]struct {
		cp    *controlplane.ControlPlane
		base  string
		admin *client.Client
		tr    *http.Transport
	}
	var servers sync.WaitGroup
	defer servers.Wait()
	for i := range replicas {
		cp, err := controlplane.Start(ctx, controlplane.Config{StoreURL: storeURL, Log: quiet})
		if err != nil {
			return fig, fmt.Errorf("replica %d: %w", i+1, err)
		}
		defer cp.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fig, err
		}
		hs := &http.Server{Handler: cp.API, ReadHeaderTimeout: 10 * time.Second}
		servers.Add(1)
		go func() {
			defer servers.Done()
			_ = hs.Serve(ln)
		}()
		defer hs.Close()
		r := &replicas[i]
		r.cp, r.base = cp, "http://"+ln.Addr().String()
		r.tr = &http.Transport{MaxIdleConnsPerHost: o.Nodes + 64, MaxIdleConns: o.Nodes + 64}
		defer r.tr.CloseIdleConnections()
	}
	// The first replica made the admin token; the second found it.
	secret := replicas[0].cp.AdminSecret
	for i := range replicas {
		if replicas[i].admin, err = client.New(replicas[i].base, secret, client.Options{HTTP: &http.Client{Transport: replicas[i].tr}}); err != nil {
			return fig, err
		}
	}
	admin := replicas[0].admin

	// Members, hosts and node tokens through the API, 8 at a time.
	members := max(1, o.Orders/1000)
	hostName := func(i int) string { return fmt.Sprintf("node%04d", i) }
	tokens := make([]string, o.Nodes)
	t0 := time.Now()
	if err := parallel(ctx, 8, members, func(i int) error {
		_, err := admin.CreateMember(ctx, model.Member{Name: fmt.Sprintf("m%04d", i), FriendlyName: "Fleet member"})
		return err
	}); err != nil {
		return fig, err
	}
	if err := parallel(ctx, 8, o.Nodes, func(i int) error {
		addr := fmt.Sprintf("10.%d.%d.%d", 1+i/65536, i/256%256, i%256)
		if _, err := admin.CreateHost(ctx, model.Host{Name: hostName(i), Addresses: []string{addr}, Roles: []model.Role{model.RoleWeb}}); err != nil {
			return err
		}
		tok, err := admin.CreateToken(ctx, wire.TokenInput{Name: "fleet-" + hostName(i), Role: model.RoleNode, Host: hostName(i)})
		tokens[i] = tok.Secret
		return err
	}); err != nil {
		return fig, err
	}
	log.Info("fleet: hosts and tokens made", "nodes", o.Nodes, "took", time.Since(t0).Round(time.Millisecond))

	// The orders and items, straight into the store.
	orders := make([]model.Order, o.Orders)
	for i := range orders {
		orders[i] = model.Order{Identifier: fmt.Sprintf("o%06d.fleet.test", i), Member: fmt.Sprintf("m%04d", i%members), Host: hostName(i % o.Nodes)}
	}
	t0 = time.Now()
	n, err := store.BulkLoad(ctx, replicas[0].cp.Store, orders, fleetItems(orders, o.Items))
	if err != nil {
		return fig, err
	}
	fig.Items = int(n)
	fig.LoadSeconds = time.Since(t0).Seconds()
	log.Info("fleet: orders and items loaded", "orders", len(orders), "items", n, "took", time.Since(t0).Round(time.Millisecond))

	// The nodes: half poll each replica.
	var mu sync.Mutex
	sent := map[string]time.Time{}
	got := map[string]float64{}
	done := make(chan struct{}, o.Changes)
	var errs atomic.Int64
	var ready sync.WaitGroup
	var nodes sync.WaitGroup
	defer nodes.Wait()
	defer cancel()
	t0 = time.Now()
	for i := range o.Nodes {
		r := &replicas[i%2]
		c, err := client.New(r.base, tokens[i], client.Options{HTTP: &http.Client{Transport: r.tr}})
		if err != nil {
			return fig, err
		}
		ready.Add(1)
		nodes.Add(1)
		go func() {
			defer nodes.Done()
			// The first call answers at once, as an agent's first poll
			// finds its work; the node counts as polling after it.
			wait := time.Duration(0)
			beat := time.Now().Add(time.Duration(rand.Int64N(int64(15 * time.Second))))
			for ctx.Err() == nil {
				w, err := c.NodeWork(ctx, wait)
				at := time.Now()
				if wait == 0 {
					wait = o.Poll
					ready.Done()
				}
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						pause(ctx, 100*time.Millisecond)
					}
					continue
				}
				for _, wi := range w.Items {
					mu.Lock()
					if s, ok := sent[wi.Item.Spec.Name]; ok {
						if _, seen := got[wi.Item.Spec.Name]; !seen {
							got[wi.Item.Spec.Name] = float64(at.Sub(s).Microseconds()) / 1000
							done <- struct{}{}
						}
					}
					mu.Unlock()
					if _, err := c.ReportItem(ctx, wi.Item.ID, wire.Report{State: model.StateActive}); err != nil && ctx.Err() == nil {
						errs.Add(1)
					}
				}
				if time.Now().After(beat) {
					beat = time.Now().Add(15 * time.Second)
					if err := c.Heartbeat(ctx, model.Heartbeat{DiskFree: 500 << 30}); err != nil && ctx.Err() == nil {
						errs.Add(1)
					}
				}
			}
		}()
	}
	ready.Wait()
	fig.ConnectSeconds = time.Since(t0).Seconds()
	log.Info("fleet: every node polls", "took", time.Since(t0).Round(time.Millisecond))

	// The measured window.
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		return fig, err
	}
	defer db.Close()
	runtime.GC()
	debug.FreeOSMemory()
	var peak struct {
		sync.Mutex
		heap, rss float64
		conns     int
	}
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var conns int
		_ = db.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&conns)
		rss := rssMiB()
		peak.Lock()
		peak.heap = max(peak.heap, float64(ms.HeapInuse)/(1<<20))
		peak.rss = max(peak.rss, rss)
		peak.conns = max(peak.conns, conns)
		peak.Unlock()
	}
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	cpu0, start := cpuSeconds(), time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	cross := map[string]bool{}
	every := time.Duration(float64(time.Second) / o.Rate)
	for j := range o.Changes {
		oi := rng.IntN(len(orders))
		via := j % 2
		name := fmt.Sprintf("fc%06d", j)
		mu.Lock()
		sent[name] = time.Now()
		mu.Unlock()
		cross[name] = via != (oi%o.Nodes)%2
		in := panel.ItemInput{Order: orders[oi].Identifier, Kind: model.KindMySQLDB, Spec: model.Spec{Name: name}}
		if _, err := replicas[via].admin.CreateItem(ctx, in); err != nil {
			close(stopSampling)
			sampler.Wait()
			return fig, fmt.Errorf("change %d through replica %d: %w", j, via+1, err)
		}
		pause(ctx, time.Until(start.Add(time.Duration(j+1)*every)))
	}
	fig.Changes = o.Changes
	deadline := time.After(time.Minute)
wait:
	for range o.Changes {
		select {
		case <-done:
		case <-deadline:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	fig.WindowSeconds = time.Since(start).Seconds()
	fig.CPUSeconds = cpuSeconds() - cpu0
	close(stopSampling)
	sampler.Wait()
	fig.HeapMiB, fig.RSSMiB, fig.PGConns = peak.heap, peak.rss, peak.conns
	// Each replica: its pool and the wake-up listener's connection.
	fig.PGConnsLimit = 2 * (o.Pool + 1)
	mu.Lock()
	var all, crossed []float64
	for name, ms := range got {
		all = append(all, ms)
		if cross[name] {
			crossed = append(crossed, ms)
		}
	}
	mu.Unlock()
	fig.Received, fig.Cross = len(all), len(crossed)
	fig.P50, fig.P99, fig.Max = percentile(all, 50), percentile(all, 99), percentile(all, 100)
	fig.Cross99 = percentile(crossed, 99)
	fig.Errors = errs.Load()
	if fig.Received < fig.Changes {
		return fig, fmt.Errorf("fleet: %d of %d changes reached their node within a minute", fig.Received, fig.Changes)
	}
	return fig, nil
}

// fleetItems yields items items over orders, the same each time: per
// order a login, its site and databases.
func fleetItems(orders []model.Order, items int) iter.Seq2[int, model.Item] {
	return func(yield func(int, model.Item) bool) {
		per, extra := items/len(orders), items%len(orders)
		for oi := range orders {
			n := per
			if oi < extra {
				n++
			}
			login := fmt.Sprintf("u%06d", oi)
			for k := range n {
				var it model.Item
				switch k {
				case 0:
					it = model.Item{Kind: model.KindUserAccount, Spec: model.Spec{Login: login}}
				case 1:
					it = model.Item{Kind: model.KindWebConf, Spec: model.Spec{Login: login, ServerNames: []string{orders[oi].Identifier}}}
				default:
					it = model.Item{Kind: model.KindMySQLDB, Spec: model.Spec{Name: fmt.Sprintf("f%06d_db%d", oi, k)}}
				}
				if !yield(oi, it) {
					return
				}
			}
		}
	}
}

// parallel runs fn(0…n-1), workers at a time, and returns the first error.
func parallel(ctx context.Context, workers, n int, fn func(int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// cpuSeconds is this process's CPU time so far, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// rssMiB is this process's resident memory, from /proc.
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// fleetFigures runs the fleet simulation into rep when o asks for it.
func fleetFigures(ctx context.Context, o Options, rep *Report) error {
	if o.Fleet.Nodes == 0 {
		return nil
	}
	if o.PGURL == "" {
		if o.FleetOnly {
			return errors.New("the fleet simulation needs PostgreSQL: set FERRY_TEST_PG_URL (scripts/test-postgres.sh starts one)")
		}
		o.Log.Warn("no PostgreSQL URL (FERRY_TEST_PG_URL); the fleet simulation needs one and is left out")
		return nil
	}
	o.Log.Info("fleet simulation", "nodes", o.Fleet.Nodes, "orders", o.Fleet.Orders, "items", o.Fleet.Items)
	fig, err := fleet(ctx, o.Fleet, o.PGURL, o.Log)
	rep.Fleet = &fig
	if err != nil {
		return fmt.Errorf("fleet simulation: %w", err)
	}
	return nil
}

// fleetGoals are the fleet simulation's goals with this run's values.
func (f *FleetFigures) goals() []Goal {
	if f == nil {
		return nil
	}
	return []Goal{
		{Name: "fleet: item change to its node, p99", Goal: "< 1000", Value: f.P99, Unit: "ms", Met: f.Received == f.Changes && f.P99 < 1000},
		{Name: "fleet: resident memory (both replicas and the nodes)", Goal: "< 1024", Value: f.RSSMiB, Unit: "MiB", Met: f.RSSMiB > 0 && f.RSSMiB < 1024},
		{Name: "fleet: PostgreSQL connections", Goal: "<= " + strconv.Itoa(f.PGConnsLimit), Value: float64(f.PGConns), Unit: "connections", Met: f.PGConns > 0 && f.PGConns <= f.PGConnsLimit},
	}
}

// print writes the fleet simulation's lines of the report.
func (f *FleetFigures) print(w io.Writer) {
	if f == nil {
		return
	}
	fmt.Fprintf(w, "\nfleet: %d nodes on %d replicas (pool %d each), %d orders, %d items (bulk load %.1f s, all polling after %.1f s)\n",
		f.Nodes, f.Replicas, f.Pool, f.Orders, f.Items, f.LoadSeconds, f.ConnectSeconds)
	fmt.Fprintf(w, "  item change to its node: %d/%d received, p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d through the other replica, p99 %.1f ms\n",
		f.Received, f.Changes, f.P50, f.P99, f.Max, f.Cross, f.Cross99)
	fmt.Fprintf(w, "  in the %.1f s window: CPU %.1f s (%.0f%% of one core; replicas and nodes), heap %.0f MiB, RSS %.0f MiB (whole process), PostgreSQL connections %d (limit %d), errors %d\n",
		f.WindowSeconds, f.CPUSeconds, 100*f.CPUSeconds/max(f.WindowSeconds, 1e-9), f.HeapMiB, f.RSSMiB, f.PGConns, f.PGConnsLimit, f.Errors)
}
