// Package move is the move engine: it moves a hosting order from one host
// to another as DESIGN.md's "The move" says, the seed's two scripts and
// everything they leave to the admin made one safe, resumable workflow.
//
// # Phases
//
//	          start                sync (repeatable)        verify
//	(plan) ─────────▶ prepare ───────────────▶ sync ◀──────────▶ verify
//	                     │                      │                 │ passed, old TTL out
//	                     │ abort                │ abort           │ (--skip-ttl-wait)
//	                     ▼                      ▼                 ▼
//	                   abort ◀──────────────────┴───────────── cutover ── failed before
//	                     │                                        │       the dns switch:
//	                     ▼                                        │       abort too
//	                  aborted                                     │ 2 × 300 s after the switch
//	                                                              ▼ (--skip-ttl-wait)
//	                                                           cleanup ──▶ done
//
// Each phase is the move's Phase with a Status (running, succeeded,
// failed). Plan changes nothing. Start runs the guards and prepare's store
// transaction in the request (lowered TTLs, the transfer-limbo order
// holding the items, the order pointed at the new host, pending-insert
// copies there); the rest of every phase runs in the background. A failed
// prepare, cutover, cleanup or abort resumes at its failed step when asked
// again; sync and verify start afresh.
//
// # Durability
//
// A phase's background part is a list of steps (phases.go). A step records
// its work in the move's Data in the same store transaction as its effects
// (node tasks made, items changed), and only if the phase run is still the
// one it was loaded as; so a step is done once even if its job runs twice.
// River jobs, in the store's own database, work the steps: one job per
// phase run (Data.Run), unique by move and run, waiting in process for
// node reports and snoozing between. On start, and every minute, a
// reconciler gives every running phase a job; a job that a dead process
// left running gets its phase a new run, and the old job, should it wake,
// finds its run stale and does nothing.
//
// # Node tasks
//
// The engine hands out the tasks of model/movetask.go and reads their
// results: keygen (old host) and authorize (new host) in prepare; sync-files
// and sync-db (old host) in sync and cutover; verify (old host); site-mode
// maintenance, proxy (cutover) and normal (abort); revoke on both hosts at
// cleanup and abort; remove-order-dir on the new host at abort (the panel's
// order deletion queues the old host's at cleanup).
package move
