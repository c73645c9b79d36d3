package bench

import (
	"slices"
)

// Stat summarises one figure over the runs.
type Stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

// statOf summarises xs; the median of an even count is the mean of the two
// middle values.
func statOf(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{Runs: []float64{}}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[len(s)-1], Runs: slices.Clone(xs)}
}

// Pair is one comparison: ferry's time and the plain tool's, measured one
// right after the other in the same run.
type Pair struct {
	Ferry float64 `json:"ferry_seconds"`
	Plain float64 `json:"plain_seconds"`
}

// Comparison is a figure of ferry against a plain tool over the runs.
type Comparison struct {
	Name string `json:"name"`
	// Ratio says how the ratio reads: "ferry/plain" (a time ratio, lower
	// is better for ferry) or "plain/ferry" (a speed-up).
	Ratio string `json:"ratio"`
	// Goal is the ratio's goal, with Better saying its direction
	// ("<=" or ">=").
	Goal   float64 `json:"goal"`
	Better string  `json:"better"`
	Pairs  []Pair  `json:"pairs"`
	// Ferry, Plain and Ratios summarise the pairs; each ratio is taken
	// within one pair.
	Ferry  Stat `json:"ferry_seconds"`
	Plain  Stat `json:"plain_seconds"`
	Ratios Stat `json:"ratios"`
	Met    bool `json:"goal_met"`
	// ShownOnly marks a figure that explains others and has no goal.
	ShownOnly bool `json:"shown_only,omitempty"`
	// How says what was timed on each side.
	How string `json:"how"`
}

// summarise fills in the statistics and the verdict from the pairs.
func (c *Comparison) summarise() {
	var f, p, r []float64
	for _, x := range c.Pairs {
		f = append(f, x.Ferry)
		p = append(p, x.Plain)
		r = append(r, c.ratioOf(x))
	}
	c.Ferry, c.Plain, c.Ratios = statOf(f), statOf(p), statOf(r)
	switch {
	case c.ShownOnly:
		c.Met = false
	case c.Better == "<=":
		c.Met = len(r) > 0 && c.Ratios.Median <= c.Goal
	default:
		c.Met = len(r) > 0 && c.Ratios.Median >= c.Goal
	}
}

// ratioOf is one pair's ratio as the comparison reads it. A time of zero
// (too small to measure) counts as a millisecond.
func (c *Comparison) ratioOf(x Pair) float64 {
	f, p := max(x.Ferry, 0.001), max(x.Plain, 0.001)
	if c.Ratio == "plain/ferry" {
		return p / f
	}
	return f / p
}
