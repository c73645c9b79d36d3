package rebalance

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/move"
)

const gib = int64(1) << 30

// genFleet makes a fleet of n web hosts holding m orders, most of them on
// the first fifth of the hosts, and some hosts that must not take orders.
func genFleet(seed uint64, n, m int) Fleet {
	r := rand.New(rand.NewPCG(seed, 1))
	var f Fleet
	used := make([]int64, n)
	for i := range n {
		h := Host{Name: fmt.Sprintf("web%03d", i+1), State: model.HostActive, Online: true, Capacity: (2 + r.Int64N(7)) << 40}
		switch {
		case i%25 == 7:
			h.State = model.HostDraining
		case i%33 == 9:
			h.State = model.HostRetired
		case i%40 == 11:
			h.Online = false
		}
		used[i] = 20 * gib // the system
		f.Hosts = append(f.Hosts, h)
	}
	for j := range m {
		i := r.IntN(n)
		if r.IntN(2) == 0 {
			i = r.IntN(n / 5)
		}
		// 10 MiB to 40 GiB, most of them small.
		size := int64(10<<20) + int64(float64(40*gib)*r.Float64()*r.Float64()*r.Float64())
		used[i] += size
		o := Order{ID: int64(j + 1), Identifier: fmt.Sprintf("site%05d.example", j+1), Host: f.Hosts[i].Name}
		if r.IntN(10) < 7 {
			o.Size, o.SizeSource = size, "measured"
		}
		if r.IntN(100) == 0 {
			o.Busy = "being moved"
		}
		f.Orders = append(f.Orders, o)
	}
	for i := range f.Hosts {
		f.Hosts[i].DiskUsed = used[i]
		f.Hosts[i].DiskFree = f.Hosts[i].Capacity - used[i]
		f.Hosts[i].Load = float64(used[i]) / float64(gib) / 100
	}
	return f
}

// replay runs the plan's moves in order over the hosts' disks, as the move
// engine would see them, and fails when a move would not find 1.2 × its
// size free or a host would end over its capacity.
func replay(t *testing.T, f Fleet, p Plan) {
	t.Helper()
	free := map[string]int64{}
	for _, h := range f.Hosts {
		free[h.Name] = h.DiskFree
		if h.Capacity > 0 {
			free[h.Name] = min(h.DiskFree, h.Capacity-h.DiskUsed)
		}
	}
	for _, m := range p.Moves {
		if float64(free[m.To]) < float64(m.Size)*move.DiskFactor {
			t.Fatalf("move of %s to %s: %d bytes free, it needs %d × %.1f", m.Identifier, m.To, free[m.To], m.Size, move.DiskFactor)
		}
		free[m.To] -= m.Size
	}
	for _, h := range p.Hosts {
		if h.In > 0 && h.DiskAfter > h.Capacity {
			t.Errorf("%s ends over its capacity: %d > %d", h.Name, h.DiskAfter, h.Capacity)
		}
	}
}

func TestPlanEvensOutAGeneratedFleet(t *testing.T) {
	f := genFleet(11, 100, 10000)
	p := Build(f, Options{By: ByDisk})
	t.Logf("%d moves, %d GiB, spread %d → %d GiB", len(p.Moves), p.TotalBytes/gib, int64(p.SpreadBefore)/gib, int64(p.SpreadAfter)/gib)
	if len(p.Moves) == 0 || p.SpreadAfter > p.SpreadBefore/4 {
		t.Fatalf("spread %.0f → %.0f with %d moves: not evened out", p.SpreadBefore, p.SpreadAfter, len(p.Moves))
	}
	replay(t, f, p)

	states := map[string]Host{}
	for _, h := range f.Hosts {
		states[h.Name] = h
	}
	busy := map[int64]bool{}
	for _, o := range f.Orders {
		busy[o.ID] = o.Busy != ""
	}
	var sum int64
	for i, m := range p.Moves {
		if to := states[m.To]; to.State != model.HostActive || !to.Online {
			t.Errorf("move of %s onto %s, which is %s (online %v)", m.Identifier, m.To, to.State, to.Online)
		}
		if from := states[m.From]; from.State != model.HostActive || !from.Online {
			t.Errorf("move of %s off %s, which is %s (online %v)", m.Identifier, m.From, from.State, from.Online)
		}
		if busy[m.OrderID] {
			t.Errorf("%s is being moved already and is planned again", m.Identifier)
		}
		if i > 0 && p.Moves[i-1].Size > m.Size {
			t.Errorf("move %d (%d bytes) comes after a larger one", i, m.Size)
		}
		sum += m.Size
	}
	if sum != p.TotalBytes {
		t.Errorf("total %d, moves add up to %d", p.TotalBytes, sum)
	}

	// The same fleet, listed in another order, gives the same plan.
	g := f
	g.Hosts, g.Orders = slices.Clone(f.Hosts), slices.Clone(f.Orders)
	slices.Reverse(g.Hosts)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(g.Orders), func(i, j int) { g.Orders[i], g.Orders[j] = g.Orders[j], g.Orders[i] })
	if q := Build(g, Options{By: ByDisk}); !reflect.DeepEqual(p, q) {
		t.Error("the same fleet in another order gives another plan")
	}
}

func TestPlanByOrdersAndLoadOnAGeneratedFleet(t *testing.T) {
	f := genFleet(5, 100, 10000)
	for _, by := range []Metric{ByOrders, ByLoad} {
		p := Build(f, Options{By: by})
		if len(p.Moves) == 0 || p.SpreadAfter > p.SpreadBefore/2 {
			t.Errorf("by %s: spread %.2f → %.2f with %d moves", by, p.SpreadBefore, p.SpreadAfter, len(p.Moves))
		}
		replay(t, f, p)
	}
}

func BenchmarkPlan100Hosts10000Orders(b *testing.B) {
	f := genFleet(11, 100, 10000)
	for b.Loop() {
		Build(f, Options{By: ByDisk})
	}
}

// fleet builds a small fleet: hosts "name:state:used:free" (state a, d,
// r, or o for an active host that is offline), orders "identifier@host:size".
func fleet(hosts []string, orders ...string) Fleet {
	var f Fleet
	for _, s := range hosts {
		var name, st string
		var used, free int64
		if _, err := fmt.Sscanf(strings.ReplaceAll(s, ":", " "), "%s %s %d %d", &name, &st, &used, &free); err != nil {
			panic(s + ": " + err.Error())
		}
		h := Host{Name: name, State: model.HostActive, Online: true, DiskUsed: used * gib, DiskFree: free * gib}
		switch st {
		case "d":
			h.State = model.HostDraining
		case "r":
			h.State = model.HostRetired
		case "o":
			h.Online = false
		}
		f.Hosts = append(f.Hosts, h)
	}
	for i, s := range orders {
		id, rest, _ := strings.Cut(s, "@")
		host, size, _ := strings.Cut(rest, ":")
		var n int64
		fmt.Sscan(size, &n)
		f.Orders = append(f.Orders, Order{ID: int64(i + 1), Identifier: id, Host: host, Size: n * gib, SizeSource: "measured"})
	}
	return f
}

func moves(p Plan) string {
	var s []string
	for _, m := range p.Moves {
		s = append(s, fmt.Sprintf("%s %s→%s", m.Identifier, m.From, m.To))
	}
	return strings.Join(s, ", ")
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name  string
		fleet Fleet
		opts  Options
		want  string
	}{
		{"balanced: nothing to do",
			fleet([]string{"web1:a:10:90", "web2:a:10:90"}, "a@web1:5", "b@web2:5"),
			Options{}, ""},
		{"one heavy host gives to the light one, nearest half the gap",
			fleet([]string{"web1:a:40:60", "web2:a:0:100"}, "a@web1:2", "b@web1:18", "c@web1:20"),
			Options{}, "c web1→web2"},
		{"never onto a draining, retired or offline host",
			fleet([]string{"web1:a:40:60", "web2:d:0:100", "web3:r:0:100", "web4:o:0:100", "web5:a:10:90"}, "a@web1:15", "b@web1:25"),
			Options{}, "a web1→web5"},
		{"never over capacity: the light host has no room",
			fleet([]string{"web1:a:40:60", "web2:a:10:11"}, "a@web1:10", "b@web1:30"),
			Options{}, ""},
		{"room for the small order only, with the move engine's margin",
			fleet([]string{"web1:a:40:60", "web2:a:10:13"}, "a@web1:10", "b@web1:30"),
			Options{}, "a web1→web2"},
		{"max moves",
			fleet([]string{"web1:a:60:40", "web2:a:0:100", "web3:a:0:100"}, "a@web1:20", "b@web1:20", "c@web1:20"),
			Options{MaxMoves: 1}, "a web1→web2"},
		{"by orders: 6, 0, 0 becomes 2, 2, 2, smallest first",
			fleet([]string{"web1:a:60:40", "web2:a:0:100", "web3:a:0:100"}, "a@web1:1", "b@web1:2", "c@web1:3", "d@web1:4", "e@web1:5", "f@web1:6"),
			Options{By: ByOrders}, "a web1→web2, b web1→web3, c web1→web2, d web1→web3"},
		{"drain: everything off, largest first onto the least used",
			fleet([]string{"web1:a:30:70", "web2:a:10:90", "web3:a:20:80", "web4:d:0:100"}, "a@web1:5", "b@web1:10", "c@web1:15"),
			Options{Drain: "web1"}, "a web1→web2, b web1→web3, c web1→web2"},
		{"drain of a host already draining",
			fleet([]string{"web1:d:30:70", "web2:a:10:90"}, "a@web1:5"),
			Options{Drain: "web1"}, "a web1→web2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Build(tc.fleet, tc.opts)
			if got := moves(p); got != tc.want {
				t.Errorf("moves: %s\nwant:  %s", got, tc.want)
			}
			if len(p.Problems) > 0 {
				t.Errorf("problems: %q", p.Problems)
			}
			replay(t, tc.fleet, p)
		})
	}
}

func TestPlanDrainProblems(t *testing.T) {
	f := fleet([]string{"web1:a:30:70", "web2:a:10:12"}, "a@web1:5", "b@web1:20")
	f.Orders = append(f.Orders, Order{ID: 9, Identifier: "busy.example", Host: "web1", Busy: "being moved to web1 (move 4)"})
	p := Build(f, Options{Drain: "web1"})
	if moves(p) != "a web1→web2" || len(p.Unplaced) != 1 || p.Unplaced[0].Identifier != "b" {
		t.Errorf("moves %q, unplaced %+v", moves(p), p.Unplaced)
	}
	want := []string{"order busy.example is being moved to web1 (move 4)", "order b fits on no other active host"}
	if len(p.Problems) != len(want) {
		t.Fatalf("problems %q", p.Problems)
	}
	for i, w := range want {
		if !strings.HasPrefix(p.Problems[i], w) {
			t.Errorf("problem %q, want %q…", p.Problems[i], w)
		}
	}
	if p := Build(f, Options{Drain: "web9"}); len(p.Problems) != 1 || len(p.Moves) != 0 {
		t.Errorf("drain of an unknown host: %q", p.Problems)
	}
	f.Hosts[0].Online = false
	if p := Build(f, Options{Drain: "web1"}); !strings.Contains(strings.Join(p.Problems, "\n"), "web1's node is offline") {
		t.Errorf("drain of an offline host: %q", p.Problems)
	}
}

// Orders of unknown size share what their host's disk use leaves
// unexplained by the measured ones.
func TestPlanEstimatesUnknownSizes(t *testing.T) {
	f := fleet([]string{"web1:a:50:50", "web2:a:0:100"}, "a@web1:10", "b@web1:0", "c@web1:0")
	p := Build(f, Options{Drain: "web1"})
	sizes := map[string]int64{}
	for _, m := range p.Moves {
		sizes[m.Identifier] = m.Size
		if m.Identifier != "a" && !strings.HasPrefix(m.SizeSource, "estimate:") {
			t.Errorf("%s: size source %q", m.Identifier, m.SizeSource)
		}
	}
	if sizes["a"] != 10*gib || sizes["b"] != 20*gib || sizes["c"] != 20*gib {
		t.Errorf("sizes %v, want a 10 GiB, b and c 20 GiB", sizes)
	}
	if h := p.Hosts[0]; h.DiskBefore != 50*gib || h.DiskAfter != 0 || h.OrdersAfter != 0 || h.Out != 3 {
		t.Errorf("web1 %+v", h)
	}
}

// BenchmarkPlanGeneratedFleet is how long planning 100 hosts with 10,000
// orders takes (docs/rebalance.md): go test -bench PlanGenerated
// ./internal/rebalance/. Speed is a benchmark's to measure, not a test's.
func BenchmarkPlanGeneratedFleet(b *testing.B) {
	f := genFleet(11, 100, 10000)
	for b.Loop() {
		Build(f, Options{By: ByDisk})
	}
}
