// Package bench measures how fast ferry moves a site against the plain
// tools an admin would use by hand (rsync over ssh, mariadb-dump piped
// into mariadb), and how its control plane holds up, in one run:
//
//   - In a lab of its own (two web hosts, a control plane and their
//     agents, on a subnet no test uses), a generated site (a file tree
//     and a MariaDB database, written straight into the host from a
//     seeded generator) is moved back and forth with the real CLI. Each
//     sync is followed or preceded by the plain tools copying the same
//     data between the same hosts, so that each ratio comes from two
//     measurements taken one after the other.
//   - In this process, an API server over the panel, the store (SQLite,
//     and PostgreSQL when a URL is given) and the move engine prepares
//     large orders and serves concurrent clients.
//
// Run returns a Report, prints it as a table and writes it as JSON.
// docs/performance.md says what the figures mean and holds the last full
// run's.
package bench
