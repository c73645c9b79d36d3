//go:build lab

package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"ferry/internal/lab"
)

// seedEnv names the variable that replays a run's random crash points.
const seedEnv = "FERRY_FAULT_SEED"

// replicasEnv names the variable that runs the suite's lab with its control
// plane as that many replicas on PostgreSQL (lab.Config.Replicas).
const replicasEnv = "FERRY_FAULT_REPLICAS"

// seed is the run's random seed, printed at start.
var seed = chooseSeed()

func chooseSeed() uint64 {
	if s := os.Getenv(seedEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s=%q: not a number\n", seedEnv, s)
			os.Exit(2)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// rng returns the random source of one case: the same seed and case give
// the same points, whatever else runs.
func rng(caseNo uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, caseNo)) }

func TestMain(m *testing.M) {
	fmt.Printf("faults: random seed %d (replay with %s=%d)\n", seed, seedEnv, seed)
	cfg := lab.Config{Web: 2, ControlPlane: true}
	if r := os.Getenv(replicasEnv); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "%s=%q: want a number of replicas\n", replicasEnv, r)
			os.Exit(2)
		}
		// The suite against replicas on PostgreSQL: a control plane crash
		// kills the first replica, the others carry on.
		cfg.Replicas = n
		fmt.Printf("faults: control plane as %d replicas on PostgreSQL behind HAProxy\n", n)
	}
	lab.Main(&scanned{m: m}, cfg)
}
