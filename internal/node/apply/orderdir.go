package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/model"
)

// Order directory layout: web/ is the docroot's parent, users/ holds the
// order's homes, logs/ the web server's logs.
const (
	WebDir   = "web"
	usersDir = "users"
	logsDir  = "logs"
)

// OrderDir is where o's files live on this host.
func (a *Applier) OrderDir(o model.Order) string {
	return filepath.Join(a.cfg.MembersRoot, o.Member, "sites", o.Identifier)
}

// ensureOrderDir makes o's directory with web/, users/ and logs/, leaving
// whatever is already there. The directories down to users/ and logs/ are
// root's, so no member can swap one for a symlink; web/ is handed to the
// site's login by its web-conf.
func (a *Applier) ensureOrderDir(o model.Order) error {
	dir := a.OrderDir(o)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make order directory: %w", err)
	}
	for _, d := range []struct {
		path string
		mode fs.FileMode
	}{
		{filepath.Join(dir, WebDir), 0o755},
		{filepath.Join(dir, usersDir), 0o755},
		{filepath.Join(dir, logsDir), 0o750},
	} {
		if err := os.Mkdir(d.path, d.mode); err == nil {
			if err := os.Chmod(d.path, d.mode); err != nil {
				return fmt.Errorf("make order directory: %w", err)
			}
		} else if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("make order directory: %w", err)
		}
		fi, err := os.Lstat(d.path)
		if err != nil {
			return fmt.Errorf("make order directory: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("make order directory: %s is not a directory", d.path)
		}
	}
	return nil
}

// RemoveOrderDir removes o's directory and everything in it, then the
// member's sites/ and member directories if that left them empty. The agent
// calls it when the order is deleted, after its items. It refuses while a
// vhost logs into the directory (Apache would fail to reopen the log at its
// next reload and stop serving every site) or a user has its home there.
func (a *Applier) RemoveOrderDir(ctx context.Context, o model.Order) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := o.Validate(); err != nil {
		return fmt.Errorf("remove order directory: order %d is invalid: %w", o.ID, err)
	}
	dir := a.OrderDir(o)
	if err := a.checkOrderDirUnused(ctx, dir); err != nil {
		return fmt.Errorf("remove order directory: %w", err)
	}
	if err := a.removeOrderMail(ctx, o); err != nil {
		return fmt.Errorf("remove order directory: mail maps: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove order directory: %w", err)
	}
	// Only empty directories go; a sibling order keeps them.
	sites := filepath.Dir(dir)
	if os.Remove(sites) == nil {
		_ = os.Remove(filepath.Dir(sites))
	}
	a.log.InfoContext(ctx, "removed order directory", "order", o.Identifier, "dir", dir)
	return nil
}

// checkOrderDirUnused returns an error naming the vhosts and users that
// still use dir.
func (a *Applier) checkOrderDirUnused(ctx context.Context, dir string) error {
	var users []string
	var globs []string
	for _, d := range []string{a.cfg.ApacheSitesAvailable, a.cfg.ApacheSitesEnabled} {
		if d != "none" {
			globs = append(globs, filepath.Join(d, poolFilePrefix+"*.conf"))
		}
	}
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil {
			return err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if errors.Is(err, fs.ErrNotExist) {
				continue // a dangling sites-enabled link
			}
			if err != nil {
				return err
			}
			if bytes.Contains(data, []byte(dir+"/")) {
				users = append(users, "vhost "+f)
			}
		}
	}
	out, err := a.Run(ctx, nil, "getent", "passwd")
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && strings.HasPrefix(f[5]+"/", dir+"/") {
			users = append(users, "user "+f[0])
		}
	}
	if len(users) > 0 {
		return fmt.Errorf("%s is still used by %s; delete those items first", dir, strings.Join(users, ", "))
	}
	return nil
}
