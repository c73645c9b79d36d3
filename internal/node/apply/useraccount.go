package apply

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ferry/internal/model"
	"ferry/internal/node/hostexec"
)

// passwdEntry is a user as getent passwd shows it.
type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

// lookupUser returns login's passwd entry, or nil when there is none. It asks
// getent rather than reading /etc/passwd, so users from any NSS source count.
func (a *Applier) lookupUser(ctx context.Context, login string) (*passwdEntry, error) {
	out, err := a.Run(ctx, nil, "getent", "passwd", login)
	if hostexec.ExitCode(err) == 2 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", login, err)
	}
	line := strings.TrimSpace(out)
	f := strings.Split(line, ":")
	if len(f) != 7 || f[0] != login {
		return nil, fmt.Errorf("look up user %s: getent printed %q", login, line)
	}
	uid, err1 := strconv.Atoi(f[2])
	gid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("look up user %s: getent printed %q", login, line)
	}
	return &passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]}, nil
}

// lookupGroup returns group's gid and its members, or gid -1 when there is
// no such group.
func (a *Applier) lookupGroup(ctx context.Context, group string) (int, []string, error) {
	out, err := a.Run(ctx, nil, "getent", "group", group)
	if hostexec.ExitCode(err) == 2 {
		return -1, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("look up group %s: %w", group, err)
	}
	line := strings.TrimSpace(out)
	f := strings.Split(line, ":")
	if len(f) != 4 || f[0] != group {
		return 0, nil, fmt.Errorf("look up group %s: getent printed %q", group, line)
	}
	gid, err := strconv.Atoi(f[2])
	if err != nil {
		return 0, nil, fmt.Errorf("look up group %s: getent printed %q", group, line)
	}
	var members []string
	if f[3] != "" {
		members = strings.Split(f[3], ",")
	}
	return gid, members, nil
}

// RequireUser returns login's entry, or a soft error when the user is not on
// this host (yet): a site or a job that runs as it waits for its account.
func (a *Applier) RequireUser(ctx context.Context, login string) (*passwdEntry, error) {
	u, err := a.lookupUser(ctx, login)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, fmt.Errorf("user %s does not exist on this host (apply its user-account first)", login)
	}
	return u, nil
}

func (a *Applier) applyUserAccount(ctx context.Context, o model.Order, it model.Item, what op) (string, error) {
	s := it.Spec
	home := filepath.Join(a.OrderDir(o), usersDir, s.Login)
	u, err := a.lookupUser(ctx, s.Login)
	if err != nil {
		return "", err
	}
	if u != nil && u.home != home {
		// Someone else's account: never change or remove it.
		return "", fmt.Errorf("user %s already exists on this host with home %s, not this order's %s", s.Login, u.home, home)
	}
	switch what {
	case opEnsure:
		return a.ensureUser(ctx, o, s, home, u)
	case opDisable:
		if u == nil {
			return "", fmt.Errorf("cannot disable user %s: it does not exist on this host", s.Login)
		}
		// Locking stops password logins, expiry stops key logins and cron.
		if _, err := a.Run(ctx, nil, "usermod", "--lock", "--expiredate", "1", s.Login); err != nil {
			return "", fmt.Errorf("disable user %s: %w", s.Login, err)
		}
		return fmt.Sprintf("user %s locked and expired", s.Login), nil
	default:
		return a.deleteUser(ctx, s.Login, home, u)
	}
}

func (a *Applier) ensureUser(ctx context.Context, o model.Order, s model.Spec, home string, u *passwdEntry) (string, error) {
	hash := s.PasswordHash
	if hash == "" {
		hash = "!" // no password login; keys only
	}
	if strings.ContainsAny(hash, ":\n") {
		return "", hardf("password hash of user %s contains ':' or a newline", s.Login)
	}
	verb := "updated"
	if u == nil {
		verb = "created"
		argv := []string{"useradd", "--home-dir", home, "--shell", s.Shell, "--user-group",
			"--comment", "ferry " + o.Identifier, "--key", "HOME_MODE=0750"}
		if _, err := os.Lstat(home); err == nil {
			argv = append(argv, "--no-create-home")
		} else {
			argv = append(argv, "--create-home")
		}
		if _, err := a.Run(ctx, nil, append(argv, s.Login)...); err != nil {
			return "", fmt.Errorf("create user %s: %w", s.Login, err)
		}
		var err error
		if u, err = a.RequireUser(ctx, s.Login); err != nil {
			return "", err
		}
	} else {
		if err := a.ensureUserGroup(ctx, u); err != nil {
			return "", err
		}
		if _, err := a.Run(ctx, nil, "usermod", "--shell", s.Shell, "--expiredate", "", s.Login); err != nil {
			return "", fmt.Errorf("update user %s: %w", s.Login, err)
		}
	}
	// chpasswd reads the hash from stdin, so it never shows in ps; setting it
	// also lifts a lock left by disable.
	if _, err := a.Run(ctx, []byte(s.Login+":"+hash+"\n"), "chpasswd", "--encrypted"); err != nil {
		return "", fmt.Errorf("set password of user %s: %w", s.Login, err)
	}
	if err := os.Mkdir(home, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("make home of user %s: %w", s.Login, err)
	}
	if err := os.Lchown(home, u.uid, u.gid); err != nil {
		return "", fmt.Errorf("make home of user %s: %w", s.Login, err)
	}
	return fmt.Sprintf("user %s %s, home %s", s.Login, verb, home), nil
}

// ensureUserGroup re-creates the user's own group when the user exists
// without it: useradd writes /etc/passwd before /etc/group, so an agent
// killed in between leaves a user whose group is missing, and every PHP-FPM
// pool running as it would fail php-fpm's config test.
func (a *Applier) ensureUserGroup(ctx context.Context, u *passwdEntry) error {
	gid, _, err := a.lookupGroup(ctx, u.name)
	if err != nil || gid >= 0 {
		return err
	}
	if _, err := a.Run(ctx, nil, "groupadd", "--gid", strconv.Itoa(u.gid), u.name); err != nil {
		return fmt.Errorf("re-create group %s (gid %d) of user %s: %w", u.name, u.gid, u.name, err)
	}
	return nil
}

// deleteUser removes login with its group, home and crontab. It refuses while
// a PHP-FPM pool still runs as login: that pool would fail php-fpm's config
// test, and with it every other site's change.
func (a *Applier) deleteUser(ctx context.Context, login, home string, u *passwdEntry) (string, error) {
	pool, err := a.poolRunningAs(login)
	if err != nil {
		return "", err
	}
	if pool != "" {
		return "", fmt.Errorf("user %s still runs the PHP-FPM pool %s; delete its web-conf first", login, pool)
	}
	if u != nil {
		if err := a.removeCrontab(ctx, login); err != nil {
			return "", err
		}
		if _, err := a.Run(ctx, nil, "userdel", "--remove", login); err != nil {
			return "", fmt.Errorf("delete user %s: %w", login, err)
		}
	}
	// userdel leaves the user's group when another user has it as primary
	// group, and a crash after userdel leaves it too. A group of that name
	// is removed if it was the user's, or, with the user gone already, if it
	// looks like a leftover: not a system group, no members.
	gid, members, err := a.lookupGroup(ctx, login)
	if err != nil {
		return "", err
	}
	if gid >= 0 && (u != nil && gid == u.gid || u == nil && gid >= 1000 && len(members) == 0) {
		if _, err := a.Run(ctx, nil, "groupdel", login); err != nil {
			return "", fmt.Errorf("delete group %s: %w", login, err)
		}
	}
	if err := os.RemoveAll(home); err != nil {
		return "", fmt.Errorf("remove home of user %s: %w", login, err)
	}
	if err := refreshAccountBackups(a.accountDir); err != nil {
		return "", fmt.Errorf("user %s deleted, but its entry stays in a backup: %w", login, err)
	}
	if u == nil {
		return fmt.Sprintf("user %s was not on this host", login), nil
	}
	return fmt.Sprintf("user %s deleted with its group, home and crontab", login), nil
}

// poolRunningAs returns the file of a ferry PHP-FPM pool that runs as login,
// or "".
func (a *Applier) poolRunningAs(login string) (string, error) {
	files, err := filepath.Glob(filepath.Join(a.cfg.FPMPoolDir, poolFilePrefix+"*.conf"))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		found, err := fileHasLine(f, "user = "+login)
		if err != nil {
			return "", fmt.Errorf("read pool %s: %w", f, err)
		}
		if found {
			return f, nil
		}
	}
	return "", nil
}

func fileHasLine(path, line string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == line {
			return true, nil
		}
	}
	return false, sc.Err()
}
