package lab

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
)

// DefaultDir is where a lab keeps its state unless Config.Dir says otherwise.
// It must lie outside every path a host covers with its own copy.
const DefaultDir = "/var/lib/ferry-lab"

// StateFile is the name of the JSON state file inside a lab's directory.
const StateFile = "lab.json"

// Roles a lab host can have; they match the roles of hosts in ferry's model.
const (
	RoleWeb = "web"
	RoleDNS = "dns"
)

// Services a lab host can run, by the names StopService and StartService take.
const (
	ServiceSSH      = "sshd"
	ServiceMariaDB  = "mariadb"
	ServicePostgres = "postgresql"
	ServicePHP      = "php-fpm"
	ServiceApache   = "apache2"
	ServiceCron     = "cron"
	ServiceKnot     = "knot"
	ServicePostfix  = "postfix"
	ServiceDovecot  = "dovecot"
	ServiceAgent    = "agent"
)

// maxWeb bounds the number of web hosts: their addresses run from .11 up and
// must stay below the dns host's .53.
const maxWeb = 40

// Config says what lab to bring up. The zero value plus a Dir is a usable
// default: web1, web2 and dns1 on 127.0.1.0/24.
type Config struct {
	// Dir is the state directory; DefaultDir when empty. It must not exist
	// yet (Up refuses to start over a running or half-removed lab).
	Dir string
	// Web is the number of web hosts (web1, web2, …); 2 when zero.
	Web int
	// NoDNS leaves out the dns host dns1.
	NoDNS bool
	// Subnet is the third octet of the lab's addresses (127.0.Subnet.N); 1
	// when zero. Labs running at the same time need different subnets.
	Subnet int
	// Zones are DNS zones served by dns1 and open to TSIG-signed updates;
	// DefaultZones when empty.
	Zones []string
	// ControlPlane starts `ferry serve` beside the hosts and `ferry node` on
	// each host, when Ferry has those subcommands.
	ControlPlane bool
	// Replicas, above one, runs the control plane as that many replicas
	// on a PostgreSQL server of the lab's own, behind HAProxy
	// (replicas.go); zero or one runs one `ferry serve` on SQLite.
	Replicas int
	// Ferry is the ferry binary run as control plane and node agents. It is
	// copied into the state directory so that hosts see it.
	Ferry string
	// Self is the executable re-executed as each host's first process; the
	// running executable when empty. It must call RunHostInit when started
	// with HostInitEnv set (ferry does, through `ferry lab hostinit`; test
	// binaries do through Main).
	Self string
	// DieWithParent makes hosts die with the process that started them. Tests
	// set it so that a test binary killed by a timeout leaves nothing running.
	DieWithParent bool
	// Logger receives progress; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultZones are the zones dns1 serves when Config.Zones is empty.
var DefaultZones = []string{"lab.test"}

// withDefaults returns c with its zero fields filled in.
func (c Config) withDefaults() Config {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Web == 0 {
		c.Web = 2
	}
	if c.Subnet == 0 {
		c.Subnet = 1
	}
	if len(c.Zones) == 0 {
		c.Zones = DefaultZones
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate checks a config that has its defaults filled in.
func (c Config) validate() error {
	if !filepath.IsAbs(c.Dir) {
		return fmt.Errorf("lab dir %q: must be an absolute path", c.Dir)
	}
	if err := checkDirOutsideCovered(c.Dir); err != nil {
		return err
	}
	if c.Web < 1 || c.Web > maxWeb {
		return fmt.Errorf("web hosts: %d, want 1 to %d", c.Web, maxWeb)
	}
	if c.Subnet < 1 || c.Subnet > 254 {
		return fmt.Errorf("subnet: %d, want 1 to 254", c.Subnet)
	}
	for _, z := range c.Zones {
		if !validZone(z) {
			return fmt.Errorf("zone %q: not a valid domain name", z)
		}
	}
	if c.Replicas < 0 || c.Replicas > maxReplicas {
		return fmt.Errorf("control plane replicas: %d, want 1 to %d", c.Replicas, maxReplicas)
	}
	if c.Replicas > 1 && !c.ControlPlane {
		return errors.New("control plane replicas wanted but no control plane")
	}
	if c.ControlPlane && c.Ferry == "" {
		return errors.New("control plane wanted but no ferry binary given")
	}
	return nil
}

// validZone accepts lowercase DNS names made of letters, digits and hyphens.
func validZone(z string) bool {
	z = strings.TrimSuffix(z, ".")
	if z == "" || len(z) > 253 {
		return false
	}
	for _, label := range strings.Split(z, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// HostSpec is one host of a lab's topology.
type HostSpec struct {
	Name    string
	Address string
	Roles   []string
}

// topology lists the hosts of a config with defaults filled in.
func (c Config) topology() []HostSpec {
	var hosts []HostSpec
	for i := 1; i <= c.Web; i++ {
		hosts = append(hosts, HostSpec{
			Name:    fmt.Sprintf("web%d", i),
			Address: fmt.Sprintf("127.0.%d.%d", c.Subnet, 10+i),
			Roles:   []string{RoleWeb},
		})
	}
	if !c.NoDNS {
		hosts = append(hosts, HostSpec{
			Name:    "dns1",
			Address: fmt.Sprintf("127.0.%d.53", c.Subnet),
			Roles:   []string{RoleDNS},
		})
	}
	return hosts
}

// controlAddress is where the control plane listens.
func (c Config) controlAddress() string {
	return fmt.Sprintf("127.0.%d.10", c.Subnet)
}

// hasRole reports whether roles holds role.
func hasRole(roles []string, role string) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}

// A covered path is a directory each host has its own copy of. Src names the
// copy inside the host's directory (hosts/<name>/<src>).
type covered struct {
	Target string
	Src    string
}

// coveredPaths are the directories every host gets its own copy of, in the
// order they are mounted.
var coveredPaths = []covered{
	{"/etc", "etc"},
	{"/root", "root"},
	{"/home", "home"},
	{"/run", "run"},
	{"/tmp", "tmp"},
	{"/var/lib/mysql", "mysql"},
	{"/var/lib/postgresql", "postgresql"},
	{"/var/lib/knot", "knot"},
	{"/var/spool/cron", "cron"},
	{"/var/spool/postfix", "postfix-spool"},
	{"/var/lib/postfix", "postfix-lib"},
	{"/var/lib/dovecot", "dovecot-lib"},
	{"/var/log", "log"},
	{"/var/www", "www"},
	{nodeStateDir, "ferry-node"},
}

// nodeStateDir is where `ferry node` keeps its state unless told otherwise;
// each host has its own.
const nodeStateDir = "/var/lib/ferry-node"

// checkDirOutsideCovered refuses a state directory that a host's mounts would
// hide from the host itself.
func checkDirOutsideCovered(dir string) error {
	dir = filepath.Clean(dir)
	for _, c := range coveredPaths {
		if within(dir, c.Target) {
			return fmt.Errorf("lab dir %s: lies under %s, which each host replaces with its own copy", dir, c.Target)
		}
		if within(c.Target, dir) {
			return fmt.Errorf("lab dir %s: contains %s, which each host replaces with its own copy", dir, c.Target)
		}
	}
	// Symlinks in the standard layout lead into covered paths.
	for _, link := range []string{"/var/run", "/var/lock"} {
		if within(dir, link) {
			return fmt.Errorf("lab dir %s: lies under %s, a link into /run", dir, link)
		}
	}
	return nil
}

// within reports whether path is dir or lies below it (both clean).
func within(path, dir string) bool {
	if dir == "/" {
		return true
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// hostPath maps a path as seen inside a host to where it is visible from the
// machine: under the host's directory when a covered path holds it, otherwise
// unchanged (the host shares it with the machine).
func hostPath(hostDir, inside string) string {
	inside = filepath.Clean("/" + inside)
	for _, c := range coveredPaths {
		if within(inside, c.Target) {
			return filepath.Join(hostDir, c.Src, strings.TrimPrefix(inside, c.Target))
		}
	}
	return inside
}
