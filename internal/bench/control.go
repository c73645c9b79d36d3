package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the throwaway schema

	"ferry/internal/cli"
	"ferry/internal/client"
	"ferry/internal/controlplane"
	"ferry/internal/controlplane/cptest"
	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/wire"
)

// ControlFigures are one store's control plane figures.
type ControlFigures struct {
	Store string `json:"store"`
	// Items is the size of each order prepared.
	Items int `json:"items"`
	// Prepare is the wall time of `ferry move start --no-wait` of an
	// order with Items items: preflight and the prepare transaction.
	Prepare Stat `json:"prepare_seconds"`
	// Load holds the item API's throughput, per request mix.
	Load []LoadFigures `json:"load"`
}

// LoadFigures are the requests per second N clients got from the item API
// with one mix of requests, over the runs.
type LoadFigures struct {
	Mix     string  `json:"mix"`
	Clients int     `json:"clients"`
	Seconds float64 `json:"seconds_per_run"`
	RPS     Stat    `json:"requests_per_second"`
	// P50 and P99 are request latencies in milliseconds, over all runs.
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Errors int64   `json:"errors"`
}

// controlPlane measures a control plane run in this process (API server,
// panel, store, move engine) on one store, with fake nodes that report
// every item applied at once.
func controlPlane(ctx context.Context, o Options, storeName, storeURL string) (ControlFigures, error) {
	fig := ControlFigures{Store: storeName, Items: o.Items}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cp, err := controlplane.Start(ctx, controlplane.Config{StoreURL: storeURL, Log: quiet})
	if err != nil {
		return fig, err
	}
	defer cp.Close()
	secret, srv := cp.AdminSecret, cp.API
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fig, err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	// Enough idle connections for every client, so that the load measures
	// the server rather than new TCP connections.
	transport := &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}
	defer transport.CloseIdleConnections()
	admin, err := client.New(base, secret, client.Options{HTTP: &http.Client{Transport: transport}})
	if err != nil {
		return fig, err
	}

	hosts := []model.Host{
		{Name: "web1", Addresses: []string{"127.0.9.11"}, Roles: []model.Role{model.RoleWeb}},
		{Name: "web2", Addresses: []string{"127.0.9.12"}, Roles: []model.Role{model.RoleWeb}},
		{Name: "dns1", Addresses: []string{"127.0.9.53"}, Roles: []model.Role{model.RoleDNS}},
	}
	var nodes sync.WaitGroup
	defer nodes.Wait()
	defer cancel()
	for _, h := range hosts {
		if _, err := admin.CreateHost(ctx, h); err != nil {
			return fig, err
		}
		tok, err := admin.CreateToken(ctx, wire.TokenInput{Name: "bench-" + h.Name, Role: model.RoleNode, Host: h.Name})
		if err != nil {
			return fig, err
		}
		c, err := client.New(base, tok.Secret, client.Options{HTTP: &http.Client{Transport: transport}})
		if err != nil {
			return fig, err
		}
		// The test kit's fake node: items applied at once, move tasks
		// done with canned results, one heartbeat per 2 s poll.
		_, wait := cptest.RunNode(ctx, c, cptest.NodeOptions{DiskFree: 500 << 30, Wait: 2 * time.Second})
		nodes.Add(1)
		go func() {
			defer nodes.Done()
			wait()
		}()
	}
	if _, err := admin.CreateMember(ctx, model.Member{Name: "load", FriendlyName: "Load"}); err != nil {
		return fig, err
	}

	// Prepare: a fresh order of o.Items items for each run.
	var prep []float64
	var ids []int64
	for run := range o.Runs {
		order := fmt.Sprintf("big%d.load.test", run+1)
		made, err := bigOrder(ctx, admin, order, run, o.Items)
		if err != nil {
			return fig, fmt.Errorf("order of %d items: %w", o.Items, err)
		}
		ids = append(ids, made...)
		if err := waitSettled(ctx, admin, order, 2*time.Minute); err != nil {
			return fig, err
		}
		sec, err := timedCLI(ctx, base, secret, "move", "start", order, "--to", "web2", "--no-wait")
		if err != nil {
			return fig, err
		}
		prep = append(prep, sec)
		// The prepare phase's tasks finish before the next one starts.
		if err := waitMove(ctx, admin, order, time.Minute); err != nil {
			return fig, err
		}
	}
	fig.Prepare = statOf(prep)

	// Load: clients read and write items through the API.
	var made atomic.Int64
	mixes := []struct {
		name   string
		writes int // out of 100 requests
	}{{"read (GET item)", 0}, {"write (POST item)", 100}, {"90% read, 10% write", 10}}
	for _, mix := range mixes {
		lf := LoadFigures{Mix: mix.name, Clients: o.Clients, Seconds: o.LoadTime.Seconds()}
		var rps []float64
		var lat []float64
		for range o.Runs {
			n, l, errs, err := loadRun(ctx, admin, ids, mix.writes, o.Clients, o.LoadTime, &made)
			if err != nil {
				return fig, err
			}
			rps = append(rps, float64(n)/o.LoadTime.Seconds())
			lat = append(lat, l...)
			lf.Errors += errs
		}
		lf.RPS = statOf(rps)
		lf.P50, lf.P99 = percentile(lat, 50), percentile(lat, 99)
		fig.Load = append(fig.Load, lf)
	}
	return fig, nil
}

// bigOrder makes an order on web1 with n items of every kind, as a large
// site's would be: mostly dns records, databases and cron jobs.
func bigOrder(ctx context.Context, c *client.Client, order string, run, n int) ([]int64, error) {
	if _, err := c.CreateOrder(ctx, model.Order{Identifier: order, Member: "load", Host: "web1"}); err != nil {
		return nil, err
	}
	login := fmt.Sprintf("big%d", run+1)
	specs := []panel.ItemInput{
		{Kind: model.KindUserAccount, Spec: model.Spec{Login: login}},
		{Kind: model.KindWebConf, Spec: model.Spec{Login: login, ServerNames: []string{order, "www." + order}}},
	}
	for i := 0; len(specs) < n; i++ {
		var in panel.ItemInput
		switch i % 10 {
		case 0, 1, 2, 3:
			in = panel.ItemInput{Kind: model.KindDNS, Spec: model.Spec{FQDN: fmt.Sprintf("h%d.%s", i, order), Type: "A", Value: fmt.Sprintf("192.0.2.%d", 1+i%250), TTL: 3600}}
		case 4, 5, 6:
			in = panel.ItemInput{Kind: model.KindMySQLDB, Spec: model.Spec{Name: fmt.Sprintf("big%d_db%d", run+1, i)}}
		case 7:
			in = panel.ItemInput{Kind: model.KindMySQLUser, Spec: model.Spec{Name: fmt.Sprintf("big%d_u%d", run+1, i), PasswordHash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"}}
		default:
			in = panel.ItemInput{Kind: model.KindScheduledJob, Spec: model.Spec{Login: login, Schedule: fmt.Sprintf("%d * * * *", i%60), Command: fmt.Sprintf("php web/cron.php job%d", i)}}
		}
		specs = append(specs, in)
	}
	ids := make([]int64, 0, n)
	for _, in := range specs[:n] {
		in.Order = order
		it, err := c.CreateItem(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("%s item: %w", in.Kind, err)
		}
		ids = append(ids, it.ID)
	}
	return ids, nil
}

// waitSettled waits until no item of order is pending.
func waitSettled(ctx context.Context, c *client.Client, order string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		items, err := c.ListItems(ctx, apiOrder(order))
		if err != nil {
			return err
		}
		pending := 0
		for _, it := range items {
			if it.State.Pending() {
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d item(s) of %s still pending after %s", pending, order, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMove waits until the order's move is not running.
func waitMove(ctx context.Context, c *client.Client, order string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		vs, err := c.ListMoves(ctx, order, false)
		if err != nil {
			return err
		}
		if len(vs) > 0 && vs[len(vs)-1].Status != model.MoveRunning {
			if v := vs[len(vs)-1]; v.Status == model.MoveFailed {
				return fmt.Errorf("move of %s: %s", order, v.Error)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("move of %s still running after %s", order, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// timedCLI runs the CLI in-process and returns its wall time.
func timedCLI(ctx context.Context, base, token string, args ...string) (float64, error) {
	var out, errb bytes.Buffer
	start := time.Now()
	code := cli.Run(ctx, append([]string{"--server", base, "--token", token}, args...), strings.NewReader(""), &out, &errb)
	sec := time.Since(start).Seconds()
	if code != 0 {
		return sec, fmt.Errorf("ferry %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return sec, nil
}

// loadRun has clients request items for d: reads get a random item of
// ids, writes (writes out of every 100 requests) add a database item to a
// load order. It returns the requests done, their latencies in ms, and the
// requests that failed.
func loadRun(ctx context.Context, c *client.Client, ids []int64, writes, clients int, d time.Duration, made *atomic.Int64) (int64, []float64, int64, error) {
	if _, err := c.GetOrder(ctx, "writes.load.test"); err != nil {
		if _, err := c.CreateOrder(ctx, model.Order{Identifier: "writes.load.test", Member: "load", Host: "web1"}); err != nil {
			return 0, nil, 0, err
		}
	}
	var done, failed atomic.Int64
	lats := make([][]float64, clients)
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := uint64(k)
			for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
				seq = seq*6364136223846793005 + 1442695040888963407
				start := time.Now()
				var err error
				if int(seq>>33)%100 < writes {
					n := made.Add(1)
					_, err = c.CreateItem(ctx, panel.ItemInput{Order: "writes.load.test", Kind: model.KindMySQLDB,
						Spec: model.Spec{Name: fmt.Sprintf("load_db%d", n)}})
				} else {
					_, err = c.GetItem(ctx, ids[int(seq>>20)%len(ids)])
				}
				lats[k] = append(lats[k], float64(time.Since(start).Microseconds())/1000)
				if err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return done.Load(), slices.Concat(lats...), failed.Load(), ctx.Err()
}

// percentile is the p-th percentile of xs (nearest rank).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// sqliteURL is a fresh SQLite store in dir.
func sqliteURL(dir string) string { return filepath.Join(dir, "ferry.db") }

// pgSchema makes a schema of its own on the PostgreSQL server at base and
// returns a URL that uses it and a function that drops it.
func pgSchema(ctx context.Context, base string) (string, func(), error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "ferry_bench_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		db.Close()
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// controlPlanes runs controlPlane on SQLite and, when pgURL is set, on
// PostgreSQL.
func controlPlanes(ctx context.Context, o Options, log *slog.Logger) ([]ControlFigures, error) {
	dir, err := os.MkdirTemp("", "ferry-bench-store-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	log.Info("control plane on SQLite", "items", o.Items, "clients", o.Clients)
	lite, err := controlPlane(ctx, o, "sqlite", sqliteURL(dir))
	if err != nil {
		return nil, fmt.Errorf("control plane on sqlite: %w", err)
	}
	figs := []ControlFigures{lite}
	if o.PGURL == "" {
		log.Warn("no PostgreSQL URL (FERRY_TEST_PG_URL); the control plane is measured on SQLite only")
		return figs, nil
	}
	u, drop, err := pgSchema(ctx, o.PGURL)
	if err != nil {
		return figs, fmt.Errorf("postgresql: %w", err)
	}
	defer drop()
	log.Info("control plane on PostgreSQL", "items", o.Items, "clients", o.Clients)
	pg, err := controlPlane(ctx, o, "postgres", u)
	if err != nil {
		return figs, fmt.Errorf("control plane on postgres: %w", err)
	}
	return append(figs, pg), nil
}

func apiOrder(order string) wire.ItemQuery { return wire.ItemQuery{Order: order} }
