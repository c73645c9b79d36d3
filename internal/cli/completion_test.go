package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash": "__start_ferry",
		"zsh":  "#compdef ferry",
		"fish": "complete -c ferry",
	} {
		out, errOut, code := run("completion", shell)
		if code != 0 || !strings.Contains(out, marker) {
			t.Errorf("completion %s: exit %d (%s), output without %q", shell, code, errOut, marker)
		}
	}
	if _, _, code := run("completion", "powershell"); code != ExitUsage {
		t.Errorf("completion powershell: exit %d, want %d", code, ExitUsage)
	}
}

func TestManPagesFromCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	out := mustRun(t, "man", dir)
	if !strings.Contains(out, "man pages") {
		t.Errorf("man printed %q", out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "ferry-node-join.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "FERRY" "1" "Nov 2023"`, "--join-token", "--ca-fingerprint"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("ferry-node-join.1 lacks %q:\n%s", want, page)
		}
	}
	for _, p := range []string{"ferry.1", "ferry-serve.1", "ferry-backup.1", "ferry-ca-init.1"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ferry-man.1")); err == nil {
		t.Error("the hidden man command has a page")
	}
}
