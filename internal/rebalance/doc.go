// Package rebalance spreads hosting orders over the web hosts and empties
// hosts that are to be retired.
//
// Build is the planner: a pure function from what is known about the fleet
// (each host's capacity and last heartbeat, each order's size) to a list of
// moves that evens out disk use, order count or load, never onto a host
// that is not active or not online, never over a host's capacity, and
// listed smallest first. The same fleet always gives the same plan.
//
// The Runner carries plans out as batches in the control plane: each
// planned move goes through the move engine's phases (start, sync, verify,
// and with auto-cutover also cutover and cleanup), a few at a time and at
// most one per source host. A batch is kept in a file in the control
// plane's data directory, so it goes on when the CLI that started it goes
// away and when the control plane restarts; applying the same plan again
// picks the same batch up. docs/rebalance.md is the admin's guide.
package rebalance
