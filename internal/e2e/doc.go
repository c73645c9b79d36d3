// Package e2e holds ferry's end-to-end tests: a lab of real hosts with the
// control plane and node agents running, driven through the CLI and the
// API the way an admin would. The tests are behind the lab build tag.
package e2e
