// Package labtest drives a lab of real hosts from tests: an admin client,
// the CLI run in-process, commands inside hosts, a site with one item of
// each kind, a visitor that keeps writing, checksums of a site's files and
// tables, and DNS questions to the lab's name server. The end-to-end tests
// and the fault tests share it.
package labtest
