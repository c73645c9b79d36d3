package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// parsed builds the command tree, parses args for the command they name
// and applies the config layers, as Run does before a command runs.
func parsed(t *testing.T, args ...string) (*cobra.Command, *globals, error) {
	t.Helper()
	g := &globals{stdout: io.Discard, stderr: io.Discard}
	root := newRootCmd(g)
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	return cmd, g, g.applyConfig(cmd)
}

func flagValue(t *testing.T, cmd *cobra.Command, name string) string {
	t.Helper()
	f := cmd.Flags().Lookup(name)
	if f == nil {
		t.Fatalf("%s has no flag --%s", cmd.CommandPath(), name)
	}
	if f.Value.Type() == "stringSlice" {
		return strings.Trim(f.Value.String(), "[]")
	}
	return f.Value.String()
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ferry.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// clearEnv unsets the variables the test's layers use, restoring them
// afterwards, so that the machine's environment does not leak in.
func clearEnv(t *testing.T, names ...string) {
	for _, n := range names {
		t.Setenv(n, "")
		os.Unsetenv(n)
	}
}

func TestConfigPrecedence(t *testing.T) {
	clearEnv(t, "FERRY_CONFIG", "FERRY_LISTEN", "FERRY_DATA", "FERRY_SERVER", "FERRY_SESSION_IDLE", "FERRY_DNS_NS", "FERRY_LOG_FORMAT")
	file := writeConfig(t, `
server = "https://ctl.example.org:7080"
log_format = "json"

[serve]
listen = "0.0.0.0:7443"
data = "/srv/ferry"
session_idle = "2h"

[node]
dns_ns = ["ns1.example.org", "ns2.example.org"]
`)
	cases := []struct {
		name, env, envVal string
		args              []string
		flag, want        string
		source            string
		key               string
	}{
		{name: "default", args: []string{"serve"}, flag: "listen", want: "127.0.0.1:7080", key: "serve.listen"},
		{name: "file", args: []string{"serve", "--config", file}, flag: "listen", want: "0.0.0.0:7443", source: "file", key: "serve.listen"},
		{name: "env over file", env: "FERRY_LISTEN", envVal: "10.0.0.1:7080", args: []string{"serve", "--config", file}, flag: "listen", want: "10.0.0.1:7080", source: "env", key: "serve.listen"},
		{name: "flag over env", env: "FERRY_LISTEN", envVal: "10.0.0.1:7080", args: []string{"serve", "--config", file, "--listen", "127.0.0.2:1"}, flag: "listen", want: "127.0.0.2:1", source: "flag", key: "serve.listen"},
		{name: "duration from file", args: []string{"serve", "--config", file}, flag: "session-idle", want: "2h0m0s", source: "file", key: "serve.session_idle"},
		{name: "env without env default", env: "FERRY_SESSION_IDLE", envVal: "5m", args: []string{"serve", "--config", file}, flag: "session-idle", want: "5m0s", source: "env", key: "serve.session_idle"},
		{name: "store key for backup", args: []string{"backup", "x", "--config", file}, flag: "data", want: "/srv/ferry", source: "file", key: "serve.data"},
		{name: "top-level key", args: []string{"order", "list", "--config", file}, flag: "server", want: "https://ctl.example.org:7080", source: "file", key: "server"},
		{name: "global flag", args: []string{"serve", "--config", file}, flag: "log-format", want: "json", source: "file", key: "log_format"},
		{name: "list", args: []string{"node", "--config", file}, flag: "dns-ns", want: "ns1.example.org,ns2.example.org", source: "file", key: "node.dns_ns"},
		{name: "config from env", env: "FERRY_CONFIG", envVal: file, args: []string{"serve"}, flag: "data", want: "/srv/ferry", source: "file", key: "serve.data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, tc.envVal)
			}
			cmd, g, err := parsed(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := flagValue(t, cmd, tc.flag); got != tc.want {
				t.Errorf("--%s = %q, want %q", tc.flag, got, tc.want)
			}
			if got := g.ops.sources[tc.key]; got != tc.source {
				t.Errorf("source of %s = %q, want %q", tc.key, got, tc.source)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	clearEnv(t, "FERRY_CONFIG", "FERRY_LISTEN")
	for name, tc := range map[string]struct{ text, want string }{
		"unknown key":   {"[serve]\nlisten_addr = \"x\"\n", `unknown key "serve.listen_addr"`},
		"syntax":        {"[serve\n", "ferry.toml"},
		"bad value":     {"[serve]\nsession_idle = \"soon\"\n", "serve.session_idle"},
		"deep table":    {"[serve.tls]\ncert = \"x\"\n", "nest one level"},
		"list of ints":  {"[node]\ndns_ns = [1, 2]\n", "strings only"},
		"unknown table": {"[nodes]\nstate = \"/x\"\n", `unknown key "nodes.state"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := parsed(t, "serve", "--config", writeConfig(t, tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if exitCode(err) != ExitUsage {
				t.Errorf("exit code %d, want %d", exitCode(err), ExitUsage)
			}
		})
	}
	// A missing file named on purpose is an error; the default one may
	// be missing.
	if _, _, err := parsed(t, "serve", "--config", filepath.Join(t.TempDir(), "none.toml")); err == nil {
		t.Error("a missing --config file was accepted")
	}
	// Commands run by machines never read it.
	if _, _, err := parsed(t, "node", "receive", "--config", writeConfig(t, "bogus = 1\n")); err != nil {
		t.Errorf("ferry node receive read the config file: %v", err)
	}
}

// docs/config.md lists every key with its flag and environment variable.
func TestConfigDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := writeConfigKeys(&table, newRootCmd(&globals{stdout: io.Discard, stderr: io.Discard})); err != nil {
		t.Fatal(err)
	}
	for _, k := range configKeys {
		row := "| `" + k.key + "` | `--" + k.flag + "` | `" + k.env + "` |"
		if !bytes.Contains(doc, []byte(row)) {
			t.Errorf("docs/config.md has no row starting %s (ferry config keys prints the table)", row)
		}
	}
}

func TestLogFormat(t *testing.T) {
	clearEnv(t, "JOURNAL_STREAM", "INVOCATION_ID")
	line := func(format string) string {
		var b bytes.Buffer
		log, err := newLogger(&b, format, "info")
		if err != nil {
			t.Fatal(err)
		}
		log.Info("hello", "k", "v")
		return b.String()
	}
	if got := line("auto"); !strings.Contains(got, "msg=hello k=v") {
		t.Errorf("auto on a terminal: %q, want text", got)
	}
	if got := line("json"); !strings.Contains(got, `"msg":"hello","k":"v"`) {
		t.Errorf("json: %q", got)
	}
	t.Setenv("INVOCATION_ID", "0123")
	if got := line("auto"); !strings.HasPrefix(got, "{") {
		t.Errorf("auto under systemd: %q, want JSON", got)
	}
	if got := line("text"); strings.HasPrefix(got, "{") {
		t.Errorf("text under systemd: %q, want text", got)
	}
	if _, err := newLogger(io.Discard, "xml", "info"); err == nil {
		t.Error("log format xml accepted")
	}
	if _, err := newLogger(io.Discard, "text", "loud"); err == nil {
		t.Error("log level loud accepted")
	}
}
