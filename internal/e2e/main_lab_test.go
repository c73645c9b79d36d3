//go:build lab

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"ferry/internal/lab"
)

func TestMain(m *testing.M) {
	lab.Main(m, lab.Config{Web: 2, ControlPlane: true})
}

func itoa(n int64) string { return fmt.Sprint(n) }

// atoi reads a number a command printed; anything else is -1.
func atoi(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return -1
	}
	return n
}
