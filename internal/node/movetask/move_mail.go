package movetask

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"

	"ferry/internal/maildir"
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

// readMailboxes reads the mailboxes in the homes of the order directory's
// accounts: what IMAP clients see of them (package maildir).
func readMailboxes(orderDir string) ([]maildir.Folder, error) {
	return maildir.Read(filepath.Join(orderDir, apply.UsersDir), model.MailboxDir)
}

// compareMailboxes reads the order's mailboxes here and on the new host
// and compares them (maildir.Compare); an order without mailboxes here
// asks nothing of the new host.
func (m *mover) compareMailboxes(ctx context.Context, p model.MoveTaskPayload, t moveTarget, final bool) ([]maildir.Check, []string, error) {
	here, err := readMailboxes(p.OrderDir)
	if err != nil {
		return nil, nil, fmt.Errorf("mailboxes of %s here: %w", p.Order.Identifier, err)
	}
	if len(here) == 0 {
		return nil, nil, nil
	}
	out, err := m.remoteText(ctx, t, receiveMailbox, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("mailboxes of %s on %s: %w", p.Order.Identifier, t.host(), err)
	}
	there, err := maildir.Decode([]byte(out))
	if err != nil {
		return nil, nil, fmt.Errorf("mailboxes of %s on %s: %w", p.Order.Identifier, t.host(), err)
	}
	checks, problems := maildir.Compare(here, there, final)
	return checks, problems, nil
}
