// Package node is the node agent, `ferry node`: it long-polls the control
// plane for its host's work through the typed client, hands items to the
// host (Host, which package apply implements), serves dns items through a
// dnsserve.Provider, runs node tasks by kind (the move's, from package
// movetask, and remove-order-dir), reports every result, and sends
// heartbeats with the host's disk, load, system names and usage.
//
// The node's packages are rooms of one house, each importing only those
// below it:
//
//	node (agent loop) ──▶ apply (item appliers)
//	movetask (move's host side) ──▶ apply, node/receive
//	apply, movetask ──▶ hostexec (the runner every command goes through)
//
// The agent does not import movetask: `ferry node` (package cli) hands it
// movetask.Tasks, so the loop stays a loop.
package node
