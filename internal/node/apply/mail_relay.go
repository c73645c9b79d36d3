package apply

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"

	"ferry/internal/model"
)

// MailMode is what this host does with an order's incoming mail during a
// move.
type MailMode int

// Mail modes of an order on its old host.
const (
	// MailOwn delivers the order's mail to its mailboxes here.
	MailOwn MailMode = iota
	// MailHold keeps the order's mail in this host's queue (the freeze:
	// its mailboxes are being copied for the last time).
	MailHold
	// MailRelay passes the order's mail on to its new host and sends what
	// the queue held there.
	MailRelay
)

// SetOrderMail puts order o's mail domains on this host in mode: delivered
// here, held in the queue, or relayed to the host at to. It reports whether
// anything changed. The caller holds the host lock (Lock).
func (a *Applier) SetOrderMail(ctx context.Context, o model.Order, mode MailMode, to netip.Addr) (bool, error) {
	if err := o.Validate(); err != nil {
		return false, fmt.Errorf("order mail: %w", err)
	}
	entries, err := a.mailEntries()
	if err != nil {
		return false, err
	}
	var domains []string
	for _, e := range entries {
		if e.Kind == model.KindEmailAddress && e.Order == o.Identifier {
			if d := model.EmailDomain(e.Address); !slices.Contains(domains, d) {
				domains = append(domains, d)
			}
		}
	}
	slices.Sort(domains)
	path := a.entryFile(mailEntry{Kind: mailRelayKind, Order: o.Identifier})
	_, statErr := os.Stat(path)
	if mode == MailOwn || len(domains) == 0 {
		if os.IsNotExist(statErr) {
			return false, nil
		}
		return true, a.setMailFile(ctx, path, nil)
	}
	e := mailEntry{Kind: mailRelayKind, Order: o.Identifier, Domains: domains}
	if mode == MailRelay {
		if !to.IsValid() {
			return false, fmt.Errorf("order mail: relay of %s needs the new host's address", o.Identifier)
		}
		e.NextHop = to.String()
		if to.Is6() {
			e.NextHop = "ipv6:" + e.NextHop
		}
	}
	if cur, err := os.ReadFile(path); err == nil {
		var was mailEntry
		if DecodeStrict(cur, &was) == nil && reflect.DeepEqual(was, e) {
			return false, nil
		}
	}
	return true, a.setMailFile(ctx, path, &e)
}

// removeOrderMail removes what order o left in the host's mail maps: its
// relay and any entry of its items (an item forgotten rather than deleted).
func (a *Applier) removeOrderMail(ctx context.Context, o model.Order) error {
	entries, err := a.mailEntries()
	if err != nil {
		return err
	}
	changed := false
	for _, e := range entries {
		if e.Order != o.Identifier {
			continue
		}
		if err := os.Remove(a.entryFile(e)); err != nil && !os.IsNotExist(err) {
			return err
		}
		changed = true
	}
	if !changed {
		return nil
	}
	return a.writeMailMaps(ctx)
}

// UsersDir is the directory of the order's homes, relative to the order
// directory; a mailbox is in a home's model.MailboxDir.
const UsersDir = usersDir
