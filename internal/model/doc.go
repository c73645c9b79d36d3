// Package model holds ferry's domain: members, hosts, hosting orders, their
// items and the rules that bind them (validation, item state transitions,
// identity uniqueness). It imports nothing of ferry's and does no I/O, so
// every rule here is a table test away.
package model
