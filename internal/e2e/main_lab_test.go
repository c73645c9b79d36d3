//go:build lab

package e2e

import (
	"fmt"
	"testing"

	"ferry/internal/lab"
)

func TestMain(m *testing.M) {
	lab.Main(m, lab.Config{Web: 2, ControlPlane: true})
}

func itoa(n int64) string { return fmt.Sprint(n) }
