//go:build lab

package movetask

import (
	"testing"

	"ferry/internal/lab"
)

// TestMain lets the test binary act as a lab host's first process; the
// move's lab test brings up a lab of its own (newMoveLab), so the shared
// one Main would start on demand is never asked for.
func TestMain(m *testing.M) {
	lab.Main(m, lab.Config{Web: 2, NoDNS: true})
}
