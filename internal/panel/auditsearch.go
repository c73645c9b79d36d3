package panel

import (
	"context"
	"fmt"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/store"
)

// AuditQuery filters the audit log for the admin's audit page. Zero
// fields do not filter.
type AuditQuery struct {
	// Member: entries of the member's orders, of the member itself, its
	// tokens and logins, and of changes its tokens and logins made.
	Member string
	// Order is an order's id or identifier.
	Order string
	// Action matches an action or its prefix ("item" for item.create,
	// item.update, …).
	Action string
	// From and To bound the time (From included, To excluded).
	From, To time.Time
	// Limit caps the entries returned, newest first (AuditSearchLimit).
	Limit int
}

// AuditSearchLimit is how many entries a search returns at most, and
// auditScan how many of the newest it looks through.
const (
	AuditSearchLimit = 200
	auditScan        = 5000
)

// SearchAudit lists the audit entries q matches, newest first, among the
// newest 5000 (of the order, when q names one). Admins only.
func (p *Panel) SearchAudit(ctx context.Context, c Caller, q AuditQuery) ([]model.AuditEntry, error) {
	if !c.IsAdmin() {
		return nil, forbidden("only admins search the audit log")
	}
	if q.Limit <= 0 || q.Limit > AuditSearchLimit {
		q.Limit = AuditSearchLimit
	}
	var out []model.AuditEntry
	err := p.view(ctx, func(tx store.Tx) error {
		f := store.AuditFilter{Limit: auditScan}
		if q.Order != "" {
			o, err := ResolveOrder(ctx, tx, q.Order)
			if err != nil {
				return err
			}
			f.OrderID = o.ID
		}
		memberOrders := map[int64]bool{}
		actors := map[string]bool{}
		objects := map[string]bool{"member/" + q.Member: true}
		if q.Member != "" {
			os, err := tx.ListOrders(ctx, store.OrderFilter{Member: q.Member})
			if err != nil {
				return err
			}
			for _, o := range os {
				memberOrders[o.ID] = true
			}
			ts, err := tx.ListTokens(ctx)
			if err != nil {
				return err
			}
			for _, t := range ts {
				if t.Member == q.Member {
					actors[t.Name] = true
					objects[fmt.Sprintf("token/%d", t.ID)] = true
				}
			}
			ls, err := tx.ListLogins(ctx)
			if err != nil {
				return err
			}
			for _, l := range ls {
				for _, t := range ts {
					if t.ID == l.TokenID && t.Member == q.Member {
						objects["login/"+l.Name] = true
					}
				}
			}
		}
		es, err := tx.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range es {
			switch {
			case q.Member != "" && !memberOrders[e.OrderID] && !objects[e.Object] && !actors[e.Actor]:
			case q.Action != "" && e.Action != q.Action && !strings.HasPrefix(e.Action, q.Action+"."):
			case !q.From.IsZero() && e.At.Before(q.From):
			case !q.To.IsZero() && !e.At.Before(q.To):
			default:
				out = append(out, e)
			}
			if len(out) == q.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}
