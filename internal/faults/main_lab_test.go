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
	lab.Main(&scanned{m: m}, lab.Config{Web: 2, ControlPlane: true})
}
