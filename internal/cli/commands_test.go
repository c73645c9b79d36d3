package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// The commands' plain functions run without cobra: what a test calls is
// what the command runs.
func TestCommandFunctionsRunWithoutCobra(t *testing.T) {
	var out bytes.Buffer
	g := &globals{stdout: &out, stderr: io.Discard}

	if err := runCompletion(g, newRootCmd(&globals{stdout: io.Discard, stderr: io.Discard}), "fish"); err != nil || !strings.Contains(out.String(), "complete -c ferry") {
		t.Errorf("completion fish: %v\n%.200s", err, out.String())
	}
	if err := runCompletion(g, newRootCmd(g), "tcsh"); exitCode(err) != ExitUsage || !strings.Contains(err.Error(), `shell "tcsh"`) {
		t.Errorf("completion tcsh: %v (exit %d), want a usage error", err, exitCode(err))
	}

	out.Reset()
	file := writeConfig(t, "server = \"https://ctl.example.org:7080\"\n\n[serve]\nlisten = \"0.0.0.0:7443\"\n")
	if err := runConfigCheck(g, []string{file}); err != nil || out.String() != file+": ok, 2 keys: serve.listen, server\n" {
		t.Errorf("config check: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := runConfigKeys(g); err != nil || !strings.HasPrefix(out.String(), "| key | flag | environment |") {
		t.Errorf("config keys: %v\n%.200s", err, out.String())
	}
}
