package apply

import (
	"context"

	"ferry/internal/node/hostexec"
)

// This file is the Applier's host as the appliers and the move tasks
// (package movetask) share it: its runner and its lock, so that a move's
// commands go through the same runner (a fake host in tests) and a move
// never edits a config an apply is writing.

// Run runs argv through the Applier's runner (hostexec.Run): a failure
// names the command and carries what it printed.
func (a *Applier) Run(ctx context.Context, stdin []byte, argv ...string) (string, error) {
	return hostexec.Run(ctx, a.runner, stdin, argv...)
}

// Start starts a command whose input and output flow while it runs,
// through the Applier's runner.
func (a *Applier) Start(ctx context.Context, c hostexec.Cmd) (wait func() error, err error) {
	return a.runner.Start(ctx, c)
}

// Lock takes the host lock that applies hold (Config.LockFile), for work
// that changes what the appliers write, such as a move's site mode.
func (a *Applier) Lock() { a.mu.Lock() }

// Unlock releases the host lock taken by Lock.
func (a *Applier) Unlock() { a.mu.Unlock() }

// MembersRoot is the directory that holds the members' order directories.
func (a *Applier) MembersRoot() string { return a.cfg.MembersRoot }

// SiteModeMarker starts every vhost a move's site mode writes; a vhost
// without it is the site's own. The renewal check leaves a site in a site
// mode alone.
const SiteModeMarker = "# ferry move site-mode: "

// SiteModeKeep is added to a vhost file's name for the copy of the site's
// own vhost that a move's site mode keeps while another mode is on. The
// name does not end in .conf, so Apache never includes it; a web-conf
// update removes it with the vhost it stood for.
const SiteModeKeep = ".ferry-normal"
