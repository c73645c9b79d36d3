package apply

import (
	"context"
	"fmt"
	"strings"

	"ferry/internal/model"
	"ferry/internal/node/hostexec"
)

func (a *Applier) applyScheduledJob(ctx context.Context, it model.Item, what op) (string, error) {
	s := it.Spec
	u, err := a.lookupUser(ctx, s.Login)
	if err != nil {
		return "", err
	}
	if u == nil {
		if what == opDelete {
			return fmt.Sprintf("user %s is not on this host, nor is its crontab", s.Login), nil
		}
		return "", fmt.Errorf("user %s does not exist on this host (apply its user-account first)", s.Login)
	}
	cur, err := a.ReadCrontab(ctx, s.Login)
	if err != nil {
		return "", err
	}
	tab, err := ParseCrontab(cur)
	if err != nil {
		return "", fmt.Errorf("crontab of %s: %v; mend it with crontab -u %s -e", s.Login, err, s.Login)
	}
	var msg string
	switch what {
	case opEnsure:
		tab.set(cronJob{ID: it.ID, Line: cronLine(s.Schedule, s.Command, false)})
		msg = fmt.Sprintf("job in crontab of %s: %s %s", s.Login, s.Schedule, s.Command)
	case opDisable:
		tab.set(cronJob{ID: it.ID, Line: cronLine(s.Schedule, s.Command, true)})
		msg = fmt.Sprintf("job commented out in crontab of %s", s.Login)
	default:
		tab.remove(it.ID)
		msg = fmt.Sprintf("job removed from crontab of %s", s.Login)
	}
	if next := tab.String(); next != cur {
		if err := a.WriteCrontab(ctx, s.Login, next); err != nil {
			return "", err
		}
	}
	return msg, nil
}

// noCrontab reports whether a crontab command failed only because the user
// has no crontab.
func noCrontab(err error) bool {
	return hostexec.ExitCode(err) == 1 && strings.Contains(OutputOf(err), "no crontab for")
}

// ReadCrontab returns login's crontab, "" when it has none.
func (a *Applier) ReadCrontab(ctx context.Context, login string) (string, error) {
	out, err := a.Run(ctx, nil, "crontab", "-u", login, "-l")
	if noCrontab(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read crontab of %s: %w", login, err)
	}
	return out, nil
}

// WriteCrontab installs text as login's crontab, or removes the crontab when
// text is empty.
func (a *Applier) WriteCrontab(ctx context.Context, login, text string) error {
	if text == "" {
		return a.removeCrontab(ctx, login)
	}
	if _, err := a.Run(ctx, []byte(text), "crontab", "-u", login, "-"); err != nil {
		return fmt.Errorf("write crontab of %s: %w", login, err)
	}
	return nil
}

// removeCrontab removes login's crontab, if it has one.
func (a *Applier) removeCrontab(ctx context.Context, login string) error {
	_, err := a.Run(ctx, nil, "crontab", "-u", login, "-r")
	if err != nil && !noCrontab(err) {
		return fmt.Errorf("remove crontab of %s: %w", login, err)
	}
	return nil
}
