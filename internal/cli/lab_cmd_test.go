//go:build lab

package cli

import (
	"context"
	"testing"
)

func TestLabExecWithoutCommandIsUsage(t *testing.T) {
	if err := runLabExec(context.Background(), &labOptions{dir: t.TempDir()}, []string{"web1", "--"}); exitCode(err) != ExitUsage {
		t.Errorf("lab exec web1 -- (no command): %v (exit %d), want a usage error", err, exitCode(err))
	}
}
