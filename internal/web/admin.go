package web

import (
	"net/http"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// requireAdmin answers 403 to a member and says whether to go on.
func (u *UI) requireAdmin(w http.ResponseWriter, r *http.Request, s *session) bool {
	if !s.caller.IsAdmin() {
		u.renderError(w, r, s, http.StatusForbidden, "Only admins see this page.")
		return false
	}
	return true
}

// memberRow is one line of the members page.
type memberRow struct {
	model.Member
	Orders int
	Logins []panel.LoginInfo
}

func (u *UI) members(w http.ResponseWriter, r *http.Request, s *session) {
	if !u.requireAdmin(w, r, s) {
		return
	}
	ctx := r.Context()
	ms, err := u.panel.ListMembers(ctx, s.caller)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	orders, err := u.panel.ListOrders(ctx, s.caller, store.OrderFilter{})
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	logins, err := u.panel.ListLogins(ctx, s.caller)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	rows := make([]memberRow, len(ms))
	for i, m := range ms {
		rows[i].Member = m
		for _, o := range orders {
			if o.Member == m.Name && o.State != model.OrderDeleted {
				rows[i].Orders++
			}
		}
		for _, l := range logins {
			if l.Token.Member == m.Name {
				rows[i].Logins = append(rows[i].Logins, l)
			}
		}
	}
	u.render(w, r, s, http.StatusOK, "members", page{Title: "Members", Nav: "members", Data: rows})
}

// tokensData is the tokens page: API tokens and web logins, never a secret.
type tokensData struct {
	Tokens []model.Token
	Logins []panel.LoginInfo
}

func (u *UI) tokens(w http.ResponseWriter, r *http.Request, s *session) {
	if !u.requireAdmin(w, r, s) {
		return
	}
	ts, err := u.panel.ListTokens(r.Context(), s.caller)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	ls, err := u.panel.ListLogins(r.Context(), s.caller)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	u.render(w, r, s, http.StatusOK, "tokens", page{Title: "Tokens and logins", Nav: "tokens", Data: tokensData{Tokens: ts, Logins: ls}})
}

// auditData is the audit page: the filters as typed and what they found.
type auditData struct {
	Member, Order, Action, From, To string
	Entries                         []model.AuditEntry
	Limit                           int
}

// auditTime reads a filter's time: a date or a date and time (UTC), as
// the browser's date-time input sends it.
func auditTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &model.FieldError{Field: field, Message: "is not a date (2026-05-01) or a date and time (2026-05-01T13:00), in UTC"}
}

func (u *UI) audit(w http.ResponseWriter, r *http.Request, s *session) {
	if !u.requireAdmin(w, r, s) {
		return
	}
	q := r.URL.Query()
	d := auditData{Member: strings.TrimSpace(q.Get("member")), Order: strings.TrimSpace(q.Get("order")), Action: strings.TrimSpace(q.Get("action")),
		From: q.Get("from"), To: q.Get("to"), Limit: panel.AuditSearchLimit}
	from, err := auditTime("from", d.From)
	if err == nil {
		var to time.Time
		if to, err = auditTime("to", d.To); err == nil {
			d.Entries, err = u.panel.SearchAudit(r.Context(), s.caller, panel.AuditQuery{Member: d.Member, Order: d.Order, Action: d.Action, From: from, To: to})
		}
	}
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	u.render(w, r, s, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", Data: d})
}
