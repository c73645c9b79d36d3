// Package faults holds ferry's fault tests: a move survives a crash of the
// control plane or of either node agent in any phase, a cut network and a
// full disk, and every command and API call refuses nonsense without
// changing the store. docs/reliability.md lists the cases and their
// results. The lab tests are behind the lab build tag; the bad-input tests
// need no lab and always run.
package faults
