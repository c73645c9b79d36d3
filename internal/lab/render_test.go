package lab

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	goldenWeb1 = HostSpec{Name: "web1", Address: "127.0.1.11", Roles: []string{RoleWeb}}
	goldenWeb2 = HostSpec{Name: "web2", Address: "127.0.1.12", Roles: []string{RoleWeb}}
	goldenDNS1 = HostSpec{Name: "dns1", Address: "127.0.1.53", Roles: []string{RoleDNS}}
	goldenKey  = TSIGKey{Name: "ferry-lab.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="}
)

// TestRenderGolden pins every configuration file a lab host is given: one
// golden file per rendered file, rewritten with -update.
func TestRenderGolden(t *testing.T) {
	all := []HostSpec{goldenWeb1, goldenWeb2, goldenDNS1}
	tests := []struct {
		golden string
		got    string
	}{
		{"hosts.web1", renderHosts(goldenWeb1, all, "127.0.1.10")},
		{"sshd_config.web1", renderSSHD(goldenWeb1)},
		{"ssh_config.web1", renderSSHClient(goldenWeb1)},
		{"mariadb.cnf.web1", renderMariaDB(goldenWeb1)},
		{"postgresql.conf.web1", renderPostgres(goldenWeb1)},
		{"pg_hba.conf", renderPgHBA()},
		{"pg_ident.conf", renderPgIdent()},
		{"ports.conf.web1", renderApachePorts(goldenWeb1)},
		{"apache-ferry-lab.conf.web1", renderApacheLab(goldenWeb1)},
		{"knot.conf.dns1", renderKnot(goldenDNS1, goldenKey, []string{"lab.test", "example.test."})},
		{"lab.test.zone", renderZone("lab.test.", "127.0.1.53")},
		{"nft.cut-web2-dns1", renderNFT("ferry_lab_1", []string{"127.0.1.12", "127.0.1.53"}, nil)},
		{"nft.cut-link-web1-web2", renderNFT("ferry_lab_1", nil, [][2]string{{"127.0.1.11", "127.0.1.12"}})},
		{"nft.none", renderNFT("ferry_lab_1", nil, nil)},
		{"pebble.json", RenderPebble("127.0.1.10", "/var/lib/ferry-lab/acme/listener/server.crt", "/var/lib/ferry-lab/acme/listener/server.key")},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			path := filepath.Join("testdata", tt.golden+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(tt.got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if tt.got != string(want) {
				t.Errorf("rendered %s differs from %s:\n--- got\n%s\n--- want\n%s", tt.golden, path, tt.got, want)
			}
		})
	}
}
