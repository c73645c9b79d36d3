package movetask

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"

	"ferry/internal/model"
	"ferry/internal/node/apply"
)

// orderMail puts the order's incoming mail on this (the old) host in step
// with its site: delivered here while the site is its own, held in the
// queue while the site is frozen for the last copy of the files (its
// mailboxes among them), relayed to the new host once the site is proxied
// there, which also sends on what the hold kept. An order without
// addresses changes nothing. The caller holds the host lock.
func (m *mover) orderMail(ctx context.Context, p model.MoveTaskPayload) error {
	mode := apply.MailOwn
	var to netip.Addr
	switch p.Mode {
	case siteModeMaintenance:
		mode = apply.MailHold
	case siteModeProxy:
		mode = apply.MailRelay
		var err error
		if to, err = parseMoveAddr("to address", p.ToAddr); err != nil {
			return err
		}
	}
	changed, err := m.a.SetOrderMail(ctx, p.Order, mode, to)
	if err != nil {
		return fmt.Errorf("mail of %s: %w", p.Order.Identifier, err)
	}
	if changed {
		m.log.Info("move mail mode", "move", p.MoveID, "order", p.Order.Identifier, "mode", p.Mode)
	}
	return nil
}

// maildirPathRe matches a path, relative to the order directory, in one of
// its accounts' mailboxes.
var maildirPathRe = regexp.MustCompile(`^` + regexp.QuoteMeta(apply.UsersDir) + `/[^/]+/` + regexp.QuoteMeta(model.MailboxDir) + `(/|$)`)

// splitMailboxFiles parts the paths a verify found differing into those in
// the order's mailboxes, which keep receiving mail until the freeze, and
// the rest.
func splitMailboxFiles(paths []string) (files, mailbox []string) {
	files = make([]string, 0, len(paths))
	for _, p := range paths {
		if maildirPathRe.MatchString(p) {
			mailbox = append(mailbox, p)
		} else {
			files = append(files, p)
		}
	}
	return files, mailbox
}
