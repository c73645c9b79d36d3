// Package movetask is the node's side of a move: the tasks the control
// plane hands the old host (move-keygen, move-sync-files, move-sync-db,
// move-verify, move-site-mode, move-revoke) and the new host
// (move-authorize, move-revoke), and what `ferry node receive` runs on the
// new host once package receive let a command of the old host pass.
// move.go says how the two hosts meet.
//
// It works on what the item appliers (package apply) made, through an
// apply.Applier: the order directory, the users' crontabs, the site's
// vhost that a site mode swaps, the MariaDB and PostgreSQL servers, and
// the host lock that keeps a move's vhost change from crossing an apply.
// A database engine's part of a move (sums, sync, load, sweeping the
// temporary accounts of loads) is one interface, dbEngine, with a MariaDB
// and a PostgreSQL implementation.
package movetask
