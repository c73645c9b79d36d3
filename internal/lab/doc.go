// Package lab runs several real servers on one Linux machine, so that moves of
// hosting orders can be tried between hosts that really are separate.
//
// A lab host is a process tree in its own mount, UTS and PID namespaces. Its
// first process (PID 1 in its namespace) is ferry itself, re-executed as
// "hostinit": it bind-mounts the host's private copies of /etc, /root, /home,
// /run, /tmp, /var/lib/mysql, /var/lib/postgresql, /var/lib/knot,
// /var/lib/ferry-node, /var/spool/cron, /var/log and /var/www from the lab's
// state directory, mounts
// /proc, starts the host's services as its children, reaps zombies and serves
// a small control socket (start, stop, status of a service). Killing it kills
// everything in the host: the kernel tears a PID namespace down with its first
// process, which is what makes Down total even after a crash.
//
// Hosts share the machine's network namespace; each one owns an address of
// 127.0.S.0/24 (S is the lab's subnet, 1 by default) and every service binds
// that address only:
//
//	127.0.S.10  control plane (ferry serve), in the root namespace
//	127.0.S.11  web1, 127.0.S.12 web2, …: sshd, MariaDB, PostgreSQL 15,
//	            Apache 2 with PHP-FPM 8.2, cron, ferry node
//	127.0.S.53  dns1: sshd, Knot (TSIG-signed RFC 2136 updates allowed)
//
// Everything a lab owns lives in one state directory (DefaultDir unless
// Config.Dir says otherwise), described by the JSON state file lab.json.
// Down removes processes, nftables rules and the directory, and works from
// whatever the state directory holds, so it also cleans up after an Up that
// was killed half way.
//
// Tests use a lab through Main and ForTest: one lab per test binary, started
// on first use and torn down when the tests end.
package lab
