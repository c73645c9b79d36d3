package rebalance

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/wire"
)

// Metric is what a plan evens out between hosts; see wire.Metric.
type Metric = wire.Metric

// Metrics a plan can even out; see wire.ByDisk.
const (
	ByDisk   = wire.ByDisk
	ByOrders = wire.ByOrders
	ByLoad   = wire.ByLoad
)

// ParseMetric reads a metric name; "" means ByDisk.
func ParseMetric(s string) (Metric, error) {
	switch m := Metric(s); m {
	case "":
		return ByDisk, nil
	case ByDisk, ByOrders, ByLoad:
		return m, nil
	}
	return "", &model.FieldError{Field: "by", Message: fmt.Sprintf("unknown metric %q (disk, orders, load)", s)}
}

// tolerance is the spread, as a share of the mean use, that disk and load
// plans leave alone: a move costs a freeze and a DNS switch, and a few per
// cent of difference is not worth one. Order counts are evened out fully.
const tolerance = 0.02

// Host is a web host as the planner sees it.
type Host struct {
	Name  string          `json:"name"`
	State model.HostState `json:"state"`
	// Online says the node reported within move.HeartbeatMaxAge: the move
	// engine refuses hosts that did not.
	Online bool `json:"online"`
	// Capacity is the admin's disk capacity for orders (0: not set, the
	// file system's size counts).
	Capacity int64 `json:"capacity"`
	// DiskUsed, DiskFree and Load are from the node's last heartbeat.
	DiskUsed int64   `json:"disk_used"`
	DiskFree int64   `json:"disk_free"`
	Load     float64 `json:"load"`
}

// Order is an active hosting order as the planner sees it.
type Order struct {
	ID         int64  `json:"id"`
	Identifier string `json:"identifier"`
	Host       string `json:"host"`
	// Size is the order's size in bytes as the last sync of an earlier
	// move measured it; 0 when no move measured it.
	Size       int64  `json:"size"`
	SizeSource string `json:"size_source,omitempty"`
	// Busy says why the order cannot move now; "" when it can.
	Busy string `json:"busy,omitempty"`
}

// Fleet is what the planner knows: the web hosts and the active orders.
type Fleet struct {
	Hosts  []Host
	Orders []Order
}

// The shapes of a plan; see package wire.
type (
	Options = wire.RebalanceOptions
	Plan    = wire.RebalancePlan
	Move    = wire.PlannedMove
	HostUse = wire.HostUse
)

// host is a host while the plan is made.
type host struct {
	Host
	use, before   float64 // in the metric
	disk, ceiling int64   // bytes in use; capacity (0: unknown)
	free          int64   // bytes it may still take
	maxIn         int64   // its largest incoming order
	count, count0 int
	diskBefore    int64
	orders        []*order // movable, by size then identifier
	gives, takes  bool
	out, in       int
	leftOut       string
}

type order struct {
	Order
	weight float64 // in the metric
}

// Build plans moves over the fleet. It is pure: the same fleet and options
// give the same plan (MadeAt is left to the caller).
//
// Sizes: an order's size is what the last sync of an earlier move of it
// measured; without one, the part of its host's reported disk use that no
// measured order explains, spread evenly over the host's orders of unknown
// size (an overestimate, as that part holds the system too, which keeps the
// capacity check on the safe side).
//
// Capacity: a host takes an order only while its free disk (the smaller of
// the heartbeat's free space and its capacity less its use) stays at least
// (move.DiskFactor − 1) × its largest incoming order after all its incoming
// orders: then each move finds the move engine's 1.2 × size free however
// the moves are ordered.
func Build(f Fleet, o Options) Plan {
	if o.By == "" {
		o.By = ByDisk
	}
	p := Plan{RebalanceOptions: o, Moves: []Move{}, Hosts: []HostUse{}}
	hosts, byName := newHosts(f, o.By)
	busy := 0
	for _, od := range f.Orders {
		if od.Busy != "" && od.Host != o.Drain {
			busy++
		}
	}
	if busy > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d order(s) are being moved and stay out of the plan", busy))
	}

	var drained *host
	if o.Drain != "" {
		drained = byName[o.Drain]
		if drained == nil {
			p.Problems = append(p.Problems, fmt.Sprintf("there is no web host %s", o.Drain))
			return finish(p, hosts, nil)
		}
		drained.leftOut = ""
		if !drained.Online {
			p.Problems = append(p.Problems, fmt.Sprintf("%s's node is offline; its orders cannot be copied off until it reports again", drained.Name))
		}
		var stuck []string
		for _, od := range f.Orders {
			if od.Host == o.Drain && od.Busy != "" {
				stuck = append(stuck, fmt.Sprintf("order %s is %s; let that move end (or abort it), then drain again", od.Identifier, od.Busy))
			}
		}
		slices.Sort(stuck)
		p.Problems = append(p.Problems, stuck...)
	}
	for _, h := range hosts {
		if h.leftOut != "" && h != drained {
			p.Notes = append(p.Notes, fmt.Sprintf("%s is left out: %s", h.Name, h.leftOut))
		}
	}

	var moves []Move
	if drained != nil {
		moves, p.Unplaced = drain(hosts, drained)
		for _, u := range p.Unplaced {
			p.Problems = append(p.Problems, fmt.Sprintf("order %s fits on no other active host (size %d bytes, %s)", u.Identifier, u.Size, u.SizeSource))
		}
	} else {
		share := tolerance
		if o.By == ByOrders {
			share = 0
		}
		for o.MaxMoves <= 0 || len(moves) < o.MaxMoves {
			m, ok := balanceStep(hosts, share)
			if !ok {
				break
			}
			moves = append(moves, m)
		}
	}
	// Smallest first: the quickest moves show early whether the batch
	// goes well, and a batch stopped half-way has moved the least data.
	slices.SortFunc(moves, func(a, b Move) int {
		return cmp.Or(cmp.Compare(a.Size, b.Size), strings.Compare(a.Identifier, b.Identifier), cmp.Compare(a.OrderID, b.OrderID))
	})
	p.Moves = append(p.Moves, moves...)
	for _, m := range moves {
		p.TotalBytes += m.Size
	}
	return finish(p, hosts, drained)
}

// newHosts prepares the planner's hosts, by name, with their orders.
func newHosts(f Fleet, by Metric) ([]*host, map[string]*host) {
	hosts := make([]*host, 0, len(f.Hosts))
	byName := map[string]*host{}
	for _, hh := range f.Hosts {
		h := &host{Host: hh}
		switch {
		case h.State != model.HostActive:
			h.leftOut = fmt.Sprintf("it is %s and takes no orders", h.State)
		case !h.Online:
			h.leftOut = "its node is offline"
		}
		hosts = append(hosts, h)
		byName[h.Name] = h
	}
	slices.SortFunc(hosts, func(a, b *host) int { return strings.Compare(a.Name, b.Name) })

	known := map[string]int64{}
	unknown := map[string]int{}
	for _, od := range f.Orders {
		h := byName[od.Host]
		if h == nil {
			continue
		}
		h.count++
		if od.Size > 0 {
			known[od.Host] += od.Size
		} else {
			unknown[od.Host]++
		}
	}
	for _, od := range f.Orders {
		h := byName[od.Host]
		if h == nil || od.Busy != "" {
			continue
		}
		if od.Size <= 0 {
			if rest := h.DiskUsed - known[od.Host]; rest > 0 {
				od.Size = rest / int64(unknown[od.Host])
				od.SizeSource = fmt.Sprintf("estimate: the disk use on %s that no measured order explains, over its %d order(s) of unknown size", h.Name, unknown[od.Host])
			} else {
				od.Size, od.SizeSource = 0, "unknown: never measured, and its host reports no disk use"
			}
		}
		x := &order{Order: od}
		switch by {
		case ByDisk:
			x.weight = float64(od.Size)
		case ByOrders:
			x.weight = 1
		case ByLoad:
			x.weight = h.Load / float64(h.count)
		}
		h.orders = append(h.orders, x)
	}
	for _, h := range hosts {
		slices.SortFunc(h.orders, func(a, b *order) int {
			return cmp.Or(cmp.Compare(a.Size, b.Size), strings.Compare(a.Identifier, b.Identifier), cmp.Compare(a.ID, b.ID))
		})
		// Without a heartbeat, the measured orders are all that is known.
		h.disk = h.DiskUsed
		if h.disk <= 0 {
			h.disk = known[h.Name]
		}
		h.ceiling = h.Capacity
		if h.ceiling <= 0 && h.Online {
			h.ceiling = h.DiskUsed + h.DiskFree
		}
		h.free = h.DiskFree
		if h.Capacity > 0 {
			h.free = min(h.free, h.Capacity-h.disk)
		}
		switch by {
		case ByDisk:
			h.use = float64(h.disk)
		case ByOrders:
			h.use = float64(h.count)
		case ByLoad:
			h.use = h.Load
		}
		h.before, h.diskBefore, h.count0 = h.use, h.disk, h.count
	}
	return hosts, byName
}

// canTake reports whether t may take an order of size bytes.
func (t *host) canTake(size int64) bool {
	if size <= 0 {
		return true
	}
	headroom := int64((move.DiskFactor - 1) * float64(max(size, t.maxIn)))
	return t.free-size >= headroom
}

// apply records the move of x from s to t.
func apply(s, t *host, x *order) Move {
	s.orders = slices.DeleteFunc(s.orders, func(y *order) bool { return y == x })
	s.use -= x.weight
	t.use += x.weight
	s.disk -= x.Size
	t.disk += x.Size
	t.free -= x.Size
	t.maxIn = max(t.maxIn, x.Size)
	s.count--
	t.count++
	s.out++
	t.in++
	s.gives, t.takes = true, true
	return Move{OrderID: x.ID, Identifier: x.Identifier, From: s.Name, To: t.Name, Size: x.Size, SizeSource: x.SizeSource}
}

// balanceStep plans the move that best narrows the gap between the most
// used host that can give and the least used one that can take. Each move
// makes the sum of squared uses strictly smaller, so the steps end; they
// also end once the spread is within share of the mean use. A host
// either gives or takes, never both: the plan's moves then keep every host
// between its use before and after, in whatever order they run.
func balanceStep(hosts []*host, share float64) (Move, bool) {
	var open []*host
	sum := 0.0
	for _, h := range hosts {
		if h.leftOut == "" {
			open = append(open, h)
			sum += h.use
		}
	}
	if len(open) < 2 {
		return Move{}, false
	}
	tol := share * sum / float64(len(open))
	// Givers from the most used down, takers from the least used up.
	slices.SortFunc(open, func(a, b *host) int { return cmp.Or(cmp.Compare(b.use, a.use), strings.Compare(a.Name, b.Name)) })
	takers := slices.Clone(open)
	slices.SortFunc(takers, func(a, b *host) int { return cmp.Or(cmp.Compare(a.use, b.use), strings.Compare(a.Name, b.Name)) })
	if open[0].use-takers[0].use <= tol {
		return Move{}, false
	}
	for _, s := range open {
		if s.takes || len(s.orders) == 0 {
			continue
		}
		for _, t := range takers {
			gap := s.use - t.use
			if gap <= tol {
				break
			}
			if t == s || t.gives {
				continue
			}
			if x := bestOrder(s, t, gap); x != nil {
				return apply(s, t, x), true
			}
		}
	}
	return Move{}, false
}

// bestOrder picks the order of s whose move to t narrows their gap most:
// the one whose weight is nearest half the gap, the smaller on a tie.
// Weights grow with size (or are all equal), so the scan stops at the
// first order that would overshoot.
func bestOrder(s, t *host, gap float64) *order {
	var best *order
	bestScore := 0.0
	for _, x := range s.orders {
		if x.weight >= gap {
			break
		}
		if x.weight <= 0 || !t.canTake(x.Size) {
			continue
		}
		score := gap/2 - x.weight
		if score < 0 {
			score = -score
		}
		if best == nil || score < bestScore {
			best, bestScore = x, score
		}
	}
	return best
}

// drain places every movable order of d, largest first, on the host that
// ends least used and has room (the classic longest-first heuristic).
func drain(hosts []*host, d *host) (moves, unplaced []Move) {
	orders := slices.Clone(d.orders)
	slices.Reverse(orders)
	for _, x := range orders {
		var best *host
		for _, t := range hosts {
			if t == d || t.leftOut != "" || !t.canTake(x.Size) {
				continue
			}
			if best == nil || t.use+x.weight < best.use+x.weight {
				best = t
			}
		}
		if best == nil {
			unplaced = append(unplaced, Move{OrderID: x.ID, Identifier: x.Identifier, From: d.Name, Size: x.Size, SizeSource: x.SizeSource})
			continue
		}
		moves = append(moves, apply(d, best, x))
	}
	return moves, unplaced
}

// finish reports every host before and after, and the spreads.
func finish(p Plan, hosts []*host, drained *host) Plan {
	var before, after []float64
	for _, h := range hosts {
		u := HostUse{
			Name: h.Name, State: h.State, Before: h.before, After: h.use, Capacity: h.ceiling,
			DiskBefore: h.diskBefore, DiskAfter: h.disk, OrdersBefore: h.count0, OrdersAfter: h.count,
			Out: h.out, In: h.in, LeftOut: h.leftOut,
		}
		if h == drained {
			u.LeftOut = ""
		}
		p.Hosts = append(p.Hosts, u)
		if h.leftOut == "" && h != drained {
			before = append(before, h.before)
			after = append(after, h.use)
		}
	}
	p.SpreadBefore, p.SpreadAfter = spread(before), spread(after)
	return p
}

func spread(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v) - slices.Min(v)
}
