package lab

import (
	"fmt"
	"strings"
)

// This file renders the configuration files a lab host gets in its own /etc.
// Each renderer is pure, so the golden tests pin what a host runs with.

// renderHosts is a host's /etc/hosts: its own name first, then every lab
// host and the control plane, so that hosts reach each other by name.
func renderHosts(self HostSpec, all []HostSpec, controlAddr string) string {
	var b strings.Builder
	b.WriteString("# Written by ferry lab.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	fmt.Fprintf(&b, "%s\t%s\n", self.Address, self.Name)
	for _, h := range all {
		if h.Name != self.Name {
			fmt.Fprintf(&b, "%s\t%s\n", h.Address, h.Name)
		}
	}
	fmt.Fprintf(&b, "%s\tcontrol\n", controlAddr)
	return b.String()
}

// renderSSHD is the host's whole sshd_config: its address only, root by key
// only, its own host key.
func renderSSHD(h HostSpec) string {
	return fmt.Sprintf(`# Written by ferry lab for %s.
ListenAddress %s
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
UsePAM yes
X11Forwarding no
AllowAgentForwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
`, h.Name, h.Address)
}

// renderSSHClient is a drop-in for the host's ssh_config: connections leave
// from the host's own address, so that rules keyed on addresses (cut-off,
// from= in authorized_keys) see which host is calling.
func renderSSHClient(h HostSpec) string {
	return fmt.Sprintf(`# Written by ferry lab for %s.
Host *
    BindAddress %s
    StrictHostKeyChecking accept-new
`, h.Name, h.Address)
}

// mariadbLogFileSize is the InnoDB redo log size for lab hosts: small, so
// that making a data directory is fast.
const mariadbLogFileSize = "8M"

// renderMariaDB is a drop-in for the host's MariaDB server configuration.
func renderMariaDB(h HostSpec) string {
	return fmt.Sprintf(`# Written by ferry lab for %s.
[mysqld]
user = mysql
bind-address = %s
port = 3306
socket = /run/mysqld/mysqld.sock
pid-file = /run/mysqld/mysqld.pid
datadir = /var/lib/mysql
innodb_log_file_size = %s
skip-name-resolve
`, h.Name, h.Address, mariadbLogFileSize)
}

// renderPostgres is a drop-in for the host's PostgreSQL 15 cluster
// configuration (conf.d of Debian's /etc/postgresql/15/main).
func renderPostgres(h HostSpec) string {
	return fmt.Sprintf(`# Written by ferry lab for %s.
listen_addresses = '%s'
port = 5432
unix_socket_directories = '/run/postgresql'
ssl = off
`, h.Name, h.Address)
}

// renderPgHBA lets root in as postgres over the socket (through the
// ferry-lab ident map), other local users as themselves, and anyone with a
// password over TCP from the lab's loopback addresses.
func renderPgHBA() string {
	return `# Written by ferry lab.
# TYPE  DATABASE  USER      ADDRESS       METHOD
local   all       postgres                peer map=ferry-lab
local   all       all                     peer
host    all       all       127.0.0.0/8   scram-sha-256
`
}

// renderPgIdent is the ident map that renderPgHBA refers to.
func renderPgIdent() string {
	return `# Written by ferry lab.
# MAPNAME    SYSTEM-USERNAME  PG-USERNAME
ferry-lab    root             postgres
ferry-lab    postgres         postgres
`
}

// renderApachePorts is the host's ports.conf: ports 80 and 443 (the
// HTTPS sites, by SNI) on its address only.
func renderApachePorts(h HostSpec) string {
	return fmt.Sprintf("# Written by ferry lab for %s.\nListen %s:80\nListen %s:443\n", h.Name, h.Address, h.Address)
}

// renderApacheLab names the server, so that Apache finds its name in the
// host's /etc/hosts.
func renderApacheLab(h HostSpec) string {
	return fmt.Sprintf("# Written by ferry lab for %s.\nServerName %s\n", h.Name, h.Name)
}

// renderKnot is dns1's knot.conf: its address only, logs to stderr, and the
// zones open to updates signed with key.
func renderKnot(h HostSpec, key TSIGKey, zones []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by ferry lab for %s.
server:
    rundir: "/run/knot"
    user: knot:knot
    listen: %s@%d

log:
  - target: stderr
    any: info

database:
    storage: "/var/lib/knot"

key:
  - id: %s
    algorithm: %s
    secret: %s

acl:
  - id: ferry-lab-update
    key: %s
    action: update

template:
  - id: default
    storage: "/var/lib/knot"
    file: "%%s.zone"
    acl: ferry-lab-update

zone:
`, h.Name, h.Address, KnotPort, key.Name, key.Algorithm, key.Secret, key.Name)
	for _, z := range zones {
		fmt.Fprintf(&b, "  - domain: %s\n", strings.TrimSuffix(z, "."))
	}
	return b.String()
}

// renderZone is the starting zone file of a test zone: SOA and one name
// server, ns1, at dns1's address.
func renderZone(zone, nsAddr string) string {
	zone = strings.TrimSuffix(zone, ".")
	return fmt.Sprintf(`; Written by ferry lab.
$ORIGIN %s.
$TTL 300
@	SOA	ns1 hostmaster 1 3600 600 86400 300
@	NS	ns1
ns1	A	%s
`, zone, nsAddr)
}

// nftTableName is the nftables table (family inet) a lab in subnet owns.
func nftTableName(subnet int) string {
	return fmt.Sprintf("ferry_lab_%d", subnet)
}

// renderNFT is an nft script that replaces the lab's table in one
// transaction: packets from or to a cut-off host's address are dropped
// unless they stay on that address, and packets between the two addresses
// of a cut link are dropped both ways. With nothing cut it only removes
// the table.
func renderNFT(table string, cutAddrs []string, cutLinks [][2]string) string {
	var b strings.Builder
	// Creating the table first makes the delete succeed when it is absent.
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", table, table)
	if len(cutAddrs) == 0 && len(cutLinks) == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "table inet %s {\n\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n", table)
	for _, a := range cutAddrs {
		fmt.Fprintf(&b, "\t\tip saddr %s ip daddr != %s drop\n", a, a)
		fmt.Fprintf(&b, "\t\tip daddr %s ip saddr != %s drop\n", a, a)
	}
	for _, l := range cutLinks {
		fmt.Fprintf(&b, "\t\tip saddr %s ip daddr %s drop\n", l[0], l[1])
		fmt.Fprintf(&b, "\t\tip saddr %s ip daddr %s drop\n", l[1], l[0])
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}
