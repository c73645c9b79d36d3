package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// DefaultConfigFile is the config file every command reads when it exists.
const DefaultConfigFile = "/etc/ferry/ferry.toml"

// opsFlags are the global flags of running ferry on real servers: the
// config file, trust in the control plane's TLS certificate, and logging.
type opsFlags struct {
	configFile string
	caFile     string
	insecure   bool
	logFormat  string
	logLevel   string
	// sources says where each config key's value came from ("flag",
	// "env", "file"); a key absent here has its default.
	sources map[string]string
}

func addOpsFlags(pf *pflag.FlagSet, o *opsFlags) {
	pf.StringVar(&o.configFile, "config", "", "config file (env FERRY_CONFIG; default "+DefaultConfigFile+" when it exists)")
	pf.StringVar(&o.caFile, "ca-file", "", "trust only this CA's certificates for an https --server (env FERRY_CA_FILE)")
	pf.BoolVar(&o.insecure, "insecure", false, "allow plain http to a server off the loopback, sending tokens in clear text (env FERRY_INSECURE)")
	pf.StringVar(&o.logFormat, "log-format", "auto", "log format of serve and node: text, json, or auto (json under systemd) (env FERRY_LOG_FORMAT)")
	pf.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error (env FERRY_LOG_LEVEL)")
}

// configKey ties a key of the config file to a flag and an environment
// variable. Precedence: flag > env > file > default.
type configKey struct {
	key  string // "server", "serve.data"
	flag string
	env  string
	// commands are the command paths whose flag the key sets; none means
	// every command that has the (global) flag.
	commands []string
}

// Commands that work on the control plane's data directory and store like
// serve does.
var (
	dataCommands  = []string{"ferry serve", "ferry backup", "ferry restore", "ferry ca init", "ferry ca show"}
	storeCommands = []string{"ferry serve", "ferry backup", "ferry restore"}
)

// configKeys are every key the config file may hold. docs/config.md lists
// them (`ferry config keys` prints the table), and a test keeps the two
// in step.
var configKeys = []configKey{
	{key: "server", flag: "server", env: "FERRY_SERVER"},
	{key: "ca_file", flag: "ca-file", env: "FERRY_CA_FILE"},
	{key: "insecure", flag: "insecure", env: "FERRY_INSECURE"},
	{key: "log_format", flag: "log-format", env: "FERRY_LOG_FORMAT"},
	{key: "log_level", flag: "log-level", env: "FERRY_LOG_LEVEL"},

	{key: "serve.data", flag: "data", env: "FERRY_DATA", commands: dataCommands},
	{key: "serve.db", flag: "db", env: "FERRY_DB", commands: storeCommands},
	{key: "serve.listen", flag: "listen", env: "FERRY_LISTEN", commands: []string{"ferry serve"}},
	{key: "serve.tls_cert", flag: "tls-cert", env: "FERRY_TLS_CERT", commands: []string{"ferry serve"}},
	{key: "serve.tls_key", flag: "tls-key", env: "FERRY_TLS_KEY", commands: []string{"ferry serve"}},
	{key: "serve.metrics_listen", flag: "metrics-listen", env: "FERRY_METRICS_LISTEN", commands: []string{"ferry serve"}},
	{key: "serve.session_idle", flag: "session-idle", env: "FERRY_SESSION_IDLE", commands: []string{"ferry serve"}},
	{key: "serve.replica_id", flag: "replica-id", env: "FERRY_REPLICA_ID", commands: []string{"ferry serve"}},

	{key: "node.token_file", flag: "token-file", env: "FERRY_TOKEN_FILE", commands: []string{"ferry node"}},
	{key: "node.state", flag: "state", env: "FERRY_NODE_STATE", commands: []string{"ferry node", "ferry node join"}},
	{key: "node.bind", flag: "bind", env: "FERRY_BIND", commands: []string{"ferry node", "ferry node join"}},
	{key: "node.metrics_listen", flag: "metrics-listen", env: "FERRY_NODE_METRICS_LISTEN", commands: []string{"ferry node"}},
	{key: "node.dns_provider", flag: "dns-provider", env: "FERRY_DNS_PROVIDER", commands: []string{"ferry node"}},
	{key: "node.dns_listen", flag: "dns-listen", env: "FERRY_DNS_LISTEN", commands: []string{"ferry node"}},
	{key: "node.dns_ns", flag: "dns-ns", env: "FERRY_DNS_NS", commands: []string{"ferry node"}},
	{key: "node.dns_secondary", flag: "dns-secondary", env: "FERRY_DNS_SECONDARY", commands: []string{"ferry node"}},
	{key: "node.rfc2136_server", flag: "rfc2136-server", env: "FERRY_RFC2136_SERVER", commands: []string{"ferry node"}},
	{key: "node.tsig_name", flag: "tsig-name", env: "FERRY_TSIG_NAME", commands: []string{"ferry node"}},
	{key: "node.tsig_secret_file", flag: "tsig-secret-file", env: "FERRY_TSIG_SECRET_FILE", commands: []string{"ferry node"}},
	{key: "node.php_root", flag: "php-root", env: "FERRY_PHP_ROOT", commands: []string{"ferry node"}},
	{key: "node.php_fpm_dirs", flag: "php-fpm-dirs", env: "FERRY_PHP_FPM_DIRS", commands: []string{"ferry node"}},
	{key: "node.tls_dir", flag: "tls-dir", env: "FERRY_NODE_TLS_DIR", commands: []string{"ferry node"}},
	{key: "node.acme_directory", flag: "acme-directory", env: "FERRY_ACME_DIRECTORY", commands: []string{"ferry node"}},
	{key: "node.acme_ca_file", flag: "acme-ca-file", env: "FERRY_ACME_CA_FILE", commands: []string{"ferry node"}},
	{key: "node.acme_account_dir", flag: "acme-account-dir", env: "FERRY_ACME_ACCOUNT_DIR", commands: []string{"ferry node"}},
	{key: "node.acme_email", flag: "acme-email", env: "FERRY_ACME_EMAIL", commands: []string{"ferry node"}},
	{key: "node.acme_renew_every", flag: "acme-renew-every", env: "FERRY_ACME_RENEW_EVERY", commands: []string{"ferry node"}},
}

// noConfig are commands that never read the config file: those run by
// machines (the forced ssh command of a move, shell completion) and those
// that only print.
var noConfig = []string{"ferry node receive", "ferry node task", "ferry lab", "ferry completion", "ferry __complete", "ferry man", "ferry version", "ferry config"}

func (k configKey) appliesTo(path string) bool {
	return len(k.commands) == 0 || slices.Contains(k.commands, path)
}

// configFile is a parsed config file: flattened keys ("serve.data") and
// their values as flag text.
type configFile struct {
	path   string
	values map[string]string
}

// loadConfig reads a config file. A missing file is an empty config when
// it is only the default; a file named by --config or FERRY_CONFIG must
// exist. Unknown keys are refused, so that a typo is not silently ignored.
func loadConfig(path string) (configFile, error) {
	explicit := path != ""
	if !explicit {
		path = os.Getenv("FERRY_CONFIG")
		explicit = path != ""
	}
	if !explicit {
		path = DefaultConfigFile
	}
	cf := configFile{path: path, values: map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return configFile{values: map[string]string{}}, nil
	}
	if err != nil {
		return cf, usageError{fmt.Errorf("config file: %w", err)}
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return cf, usageError{fmt.Errorf("config file %s: %w", path, err)}
	}
	if err := flatten(cf.values, "", raw); err != nil {
		return cf, usageError{fmt.Errorf("config file %s: %w", path, err)}
	}
	known := map[string]bool{}
	for _, k := range configKeys {
		known[k.key] = true
	}
	for k := range cf.values {
		if !known[k] {
			return cf, usageError{fmt.Errorf("config file %s: unknown key %q (ferry config keys lists them)", path, k)}
		}
	}
	return cf, nil
}

// flatten turns TOML tables into dotted keys and values into the text a
// flag's Set takes (lists joined by commas).
func flatten(out map[string]string, prefix string, m map[string]any) error {
	for k, v := range m {
		key := prefix + k
		switch v := v.(type) {
		case map[string]any:
			if prefix != "" {
				return fmt.Errorf("key %q: tables nest one level only ([serve], [node])", key)
			}
			if err := flatten(out, key+".", v); err != nil {
				return err
			}
		case string:
			out[key] = v
		case bool:
			out[key] = strconv.FormatBool(v)
		case int64:
			out[key] = strconv.FormatInt(v, 10)
		case float64:
			out[key] = strconv.FormatFloat(v, 'g', -1, 64)
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				s, ok := e.(string)
				if !ok {
					return fmt.Errorf("key %q: a list holds strings only", key)
				}
				parts[i] = s
			}
			out[key] = strings.Join(parts, ",")
		default:
			return fmt.Errorf("key %q: unsupported value %v", key, v)
		}
	}
	return nil
}

// applyConfig fills the flags of cmd that were not given on the command
// line from the environment, else from the config file: flag > env > file
// > default.
func (g *globals) applyConfig(cmd *cobra.Command) error {
	path := cmd.CommandPath()
	for _, skip := range noConfig {
		if path == skip || strings.HasPrefix(path, skip+" ") {
			return nil
		}
	}
	g.ops.sources = map[string]string{}
	var file *configFile
	for _, k := range configKeys {
		f := cmd.Flags().Lookup(k.flag)
		if f == nil || !k.appliesTo(path) {
			continue
		}
		if f.Changed {
			g.ops.sources[k.key] = "flag"
			continue
		}
		if v, ok := os.LookupEnv(k.env); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				return usageError{fmt.Errorf("env %s: %w", k.env, err)}
			}
			g.ops.sources[k.key] = "env"
			continue
		}
		if file == nil {
			cf, err := loadConfig(g.ops.configFile)
			if err != nil {
				return err
			}
			file = &cf
		}
		if v, ok := file.values[k.key]; ok {
			if err := f.Value.Set(v); err != nil {
				return usageError{fmt.Errorf("config file %s: %s: %w", file.path, k.key, err)}
			}
			g.ops.sources[k.key] = "file"
		}
	}
	return nil
}

// fromDefault reports whether a config key kept its default value.
func (g *globals) fromDefault(key string) bool { return g.ops.sources[key] == "" }

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check the config file and list the keys it may hold"}
	keys := &cobra.Command{
		Use: "keys", Short: "List every config key with its flag and environment variable (Markdown)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runConfigKeys(g) },
	}
	check := &cobra.Command{
		Use: "check [FILE]", Short: "Check a config file (default: --config, FERRY_CONFIG or " + DefaultConfigFile + ")", Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return runConfigCheck(g, args) },
	}
	cmd.AddCommand(keys, check)
	return cmd
}

// runConfigKeys prints the table of config keys of a command tree of its
// own, so that it shows no flag this run was given.
func runConfigKeys(g *globals) error {
	return writeConfigKeys(g.stdout, newRootCmd(&globals{stdout: io.Discard, stderr: io.Discard}))
}

// runConfigCheck reads the config file args names (the one in use
// without) and lists its keys.
func runConfigCheck(g *globals, args []string) error {
	path := g.ops.configFile
	if len(args) == 1 {
		path = args[0]
	}
	cf, err := loadConfig(path)
	if err != nil {
		return err
	}
	if cf.path == "" {
		fmt.Fprintf(g.stdout, "no config file (%s does not exist); defaults apply\n", DefaultConfigFile)
		return nil
	}
	names := make([]string, 0, len(cf.values))
	for k := range cf.values {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(g.stdout, "%s: ok, %d keys: %s\n", cf.path, len(names), strings.Join(names, ", "))
	return nil
}

// writeConfigKeys prints the table of config keys, taking each default and
// meaning from the flag the key sets.
func writeConfigKeys(w io.Writer, root *cobra.Command) error {
	fmt.Fprintln(w, "| key | flag | environment | commands | default | meaning |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, k := range configKeys {
		f := findFlag(root, k)
		if f == nil {
			return fmt.Errorf("config key %s: no command has the flag --%s", k.key, k.flag)
		}
		cmds := "all"
		if len(k.commands) > 0 {
			cmds = strings.Join(k.commands, ", ")
		}
		def := f.DefValue
		if f.Value.Type() == "stringSlice" {
			def = strings.Trim(def, "[]")
		}
		if def != "" {
			def = "`" + def + "`"
		}
		usage := strings.ReplaceAll(envNote.ReplaceAllString(f.Usage, ""), "|", "\\|")
		fmt.Fprintf(w, "| `%s` | `--%s` | `%s` | %s | %s | %s |\n", k.key, k.flag, k.env, cmds, def, usage)
	}
	return nil
}

// envNote is the "(env FERRY_X)" a flag's usage ends in; the table has a
// column for it.
var envNote = regexp.MustCompile(`\s*\(env FERRY_[A-Z_]+\)`)

func findFlag(root *cobra.Command, k configKey) *pflag.Flag {
	if len(k.commands) == 0 {
		return root.PersistentFlags().Lookup(k.flag)
	}
	path := strings.Fields(k.commands[0])[1:]
	c, _, err := root.Find(path)
	if err != nil {
		return nil
	}
	return c.Flags().Lookup(k.flag)
}
