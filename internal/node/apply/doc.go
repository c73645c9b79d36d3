// Package apply holds the node's item appliers: it makes each item kind
// real on the server it runs on (Unix accounts, Apache vhosts with their
// PHP-FPM pools, MariaDB and PostgreSQL databases, crontab lines) and reports
// what came of it as an item state.
//
// The agent loop (package node) fetches work from the control plane and
// hands every item to Applier.Apply, which is idempotent: applying an item twice is the same as
// applying it once, and a re-apply after a crash between two steps converges.
//
// Results follow the co-op's state table. An item that reached its goal is
// active, disabled or deleted. A soft error is one that retrying or fixing
// the input can solve (a config test that failed, a database server that is
// down, a user that does not exist yet); the control plane can send it again
// as pending-restore. A hard error is final (the table has no way out of
// it), so it is kept for what can never work: an unknown kind, a dns item on
// a web host, a spec that fails validation, a state that is no work.
//
// Everything that reaches a config file, a command line or an SQL statement
// is validated again here with the model's validators, then quoted for its
// destination; commands run from an argument vector, never a shell string.
// Applies run one at a time on a host, across processes too (a flock on
// Config.LockFile), since they edit shared configs and reload shared services.
//
// How items map to the host:
//
//   - The order directory <members root>/<member>/sites/<identifier>/ with
//     web/, users/ and logs/ is made by the first item of an order that is
//     applied and removed only by RemoveOrderDir.
//   - user-account: a Unix user with its own group, home users/<login>; the
//     password hash goes through chpasswd -e on stdin, so it never shows in
//     the process list. Disable locks and expires it; delete removes the
//     user, its group, its home and its crontab.
//   - web-conf: a vhost ferry-<identifier>-<item>.conf in Apache's
//     sites-available, enabled by a symlink, and with PHP a PHP-FPM pool of
//     the same name running as the site's login, listening on
//     /run/php/ferry-<item>.sock. Every change is config-tested before a
//     graceful reload and rolled back if the test fails.
//   - mysql-db, mysql-user: MariaDB over its unix socket as root.
//   - pgsql-db: a role and the database it owns, over Config.PgDSN, or with
//     psql run as the postgres user when the server refuses root (Debian's
//     peer authentication does).
//   - scheduled-job: one line in a block of the user's crontab that ferry
//     manages; lines outside the block are the user's and stay as they are.
package apply
