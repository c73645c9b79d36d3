package faults

import (
	"fmt"
	"os"
	"testing"
)

// reportEnv names a file the suite appends its results to, as markdown
// table rows for docs/reliability.md.
const reportEnv = "FERRY_FAULT_REPORT"

// writeReport appends lines to the report file, when one was asked for.
func writeReport(t testing.TB, lines ...string) {
	path := os.Getenv(reportEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("report: %v", err)
		return
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
}

func passed(t testing.TB) string {
	if t.Failed() {
		return "**FAILED**"
	}
	return "as expected"
}
