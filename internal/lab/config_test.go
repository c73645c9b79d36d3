package lab

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTopology(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []HostSpec
	}{
		{"default", Config{}, []HostSpec{
			{"web1", "127.0.1.11", []string{RoleWeb}},
			{"web2", "127.0.1.12", []string{RoleWeb}},
			{"dns1", "127.0.1.53", []string{RoleDNS}},
		}},
		{"three web, subnet 7, no dns", Config{Web: 3, Subnet: 7, NoDNS: true}, []HostSpec{
			{"web1", "127.0.7.11", []string{RoleWeb}},
			{"web2", "127.0.7.12", []string{RoleWeb}},
			{"web3", "127.0.7.13", []string{RoleWeb}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.withDefaults().topology(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("topology = %v, want %v", got, tt.want)
			}
		})
	}
	if got := (Config{Subnet: 3}).controlAddress(); got != "127.0.3.10" {
		t.Errorf("control address = %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" means valid
	}{
		{"default", Config{}, ""},
		{"most web hosts", Config{Web: maxWeb}, ""},
		{"too many web hosts", Config{Web: maxWeb + 1}, "web hosts"},
		{"relative dir", Config{Dir: "lab"}, "absolute"},
		{"dir under /tmp", Config{Dir: "/tmp/lab"}, "under /tmp"},
		{"dir under /run", Config{Dir: "/run/ferry-lab"}, "under /run"},
		{"dir through /var/run", Config{Dir: "/var/run/ferry-lab"}, "/var/run"},
		{"dir holding /var/lib/mysql", Config{Dir: "/var"}, "contains /var/lib/mysql"},
		{"root dir", Config{Dir: "/"}, "contains /etc"},
		{"bad subnet", Config{Subnet: 255}, "subnet"},
		{"bad zone", Config{Zones: []string{"Bad_Zone"}}, "zone"},
		{"control plane without binary", Config{ControlPlane: true}, "no ferry binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.withDefaults().validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("validate: %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestHostPath(t *testing.T) {
	dir := "/var/lib/ferry-lab/hosts/web1"
	tests := map[string]string{
		"/etc/passwd":                 dir + "/etc/passwd",
		"/etc":                        dir + "/etc",
		"/etcetera/x":                 "/etcetera/x",
		"/var/lib/mysql/ibdata1":      dir + "/mysql/ibdata1",
		"/var/lib/postgresql/15/main": dir + "/postgresql/15/main",
		"/run/php/php8.2-fpm.sock":    dir + "/run/php/php8.2-fpm.sock",
		"/var/www/html/index.php":     dir + "/www/html/index.php",
		"/home/members/x/../y":        dir + "/home/members/y",
		"/usr/bin/rsync":              "/usr/bin/rsync",
		"relative/../../etc/shadow":   dir + "/etc/shadow",
	}
	for in, want := range tests {
		if got := hostPath(dir, in); got != want {
			t.Errorf("hostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidZone(t *testing.T) {
	for z, want := range map[string]bool{
		"lab.test": true, "lab.test.": true, "a-b.example": true,
		"": false, ".": false, "-a.test": false, "a..test": false, "A.test": false, "a_b.test": false,
	} {
		if got := validZone(z); got != want {
			t.Errorf("validZone(%q) = %v", z, got)
		}
	}
}

func TestAgentArgs(t *testing.T) {
	web := Host{Name: "web1", Address: "127.0.1.11", Roles: []string{RoleWeb}}
	dns := Host{Name: "dns1", Address: "127.0.1.53", Roles: []string{RoleDNS}}
	full := "  --bind string   local address\n  --dns-provider string  builtin\n  --dns-listen string  addr\n  --token-file string  file\n  --acme-directory string  url\n"
	ac := agentACMEConfig{Directory: "https://127.0.1.1:14000/dir", CAFile: "/l/acme/listener/ca.crt"}
	tests := []struct {
		name, help string
		h          Host
		want       string
	}{
		{"web, current node", full, web,
			"/l/bin/ferry node --server http://c --token-file /etc/ferry-lab/node.token --bind 127.0.1.11 --acme-directory https://127.0.1.1:14000/dir --acme-ca-file /l/acme/listener/ca.crt"},
		{"dns, current node", full, dns,
			"/l/bin/ferry node --server http://c --token-file /etc/ferry-lab/node.token --bind 127.0.1.53 --dns-listen 127.0.1.53:53 --dns-ns ns1.dns1.lab.test"},
		{"bare node with --host", "  --host string  name\n", web,
			"/l/bin/ferry node --server http://c --token SECRET --host web1 --bind 127.0.1.11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(agentArgs(tt.help, "/l/bin/ferry", "http://c", "SECRET", tt.h, ac), " ")
			if got != tt.want {
				t.Errorf("agentArgs =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:          "/plain",
		`/with\040space`:  "/with space",
		`/tab\011x`:       "/tab\tx",
		`/back\134slash`:  `/back\slash`,
		`/trailing\04`:    `/trailing\04`,
		`/not\999escaped`: `/not\999escaped`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckLabDir(t *testing.T) {
	dir := t.TempDir()
	if err := checkLabDir(dir); err != nil {
		t.Errorf("empty dir: %v", err)
	}
	for _, n := range []string{StateFile, "hosts", "control", "bin"} {
		if err := writeEmpty(dir, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkLabDir(dir); err != nil {
		t.Errorf("lab dir: %v", err)
	}
	if err := writeEmpty(dir, "thesis.tex"); err != nil {
		t.Fatal(err)
	}
	if err := checkLabDir(dir); err == nil || !strings.Contains(err.Error(), "thesis.tex") {
		t.Errorf("dir with a stranger's file: %v, want refusal", err)
	}
	// With a state file naming it, the directory is a lab's, whatever its
	// tests put there.
	if err := sampleState(dir).write(); err != nil {
		t.Fatal(err)
	}
	if err := checkLabDir(dir); err != nil {
		t.Errorf("lab dir with a test's file: %v", err)
	}
}

func writeEmpty(dir, name string) error {
	return os.WriteFile(filepath.Join(dir, name), nil, 0o600)
}
