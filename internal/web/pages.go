package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/store"
)

// Thresholds that make a host stand out on the hosts page.
const (
	// HostDownAfter is how long without a heartbeat a host counts as down.
	HostDownAfter = 60 * time.Second
	// HostFullBelow is the share of free disk under which a host is
	// nearly full.
	HostFullBelow = 0.10
)

// hostRow is one line of the hosts page.
type hostRow struct {
	model.Host
	Orders int
	// Down: no heartbeat for HostDownAfter, or never.
	Down bool
	// Full: less than HostFullBelow of the disk is free.
	Full bool
	// FreePct is the free share of the disk in percent, -1 when unknown.
	FreePct float64
	Seen    string
}

func (u *UI) hosts(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	hs, err := u.panel.ListHosts(ctx, s.caller)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	orders, err := u.panel.ListOrders(ctx, s.caller, store.OrderFilter{})
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	count := map[string]int{}
	for _, o := range orders {
		if o.State != model.OrderDeleted {
			count[o.Host]++
		}
	}
	now := u.now()
	rows := make([]hostRow, len(hs))
	for i, h := range hs {
		rows[i] = hostStatus(h, count[h.Name], now)
	}
	u.render(w, r, s, http.StatusOK, "hosts", page{Title: "Hosts", Nav: "hosts", Data: rows})
}

// hostStatus works out how a host is doing from its last heartbeat.
func hostStatus(h model.Host, orders int, now time.Time) hostRow {
	row := hostRow{Host: h, Orders: orders, FreePct: -1, Seen: "never"}
	if h.LastSeen == nil {
		row.Down = true
	} else {
		age := now.Sub(*h.LastSeen)
		row.Down = age > HostDownAfter
		row.Seen = ago(age)
	}
	total := h.DiskUsed + h.DiskFree
	if h.DiskCapacity > 0 {
		total = h.DiskCapacity
	}
	if total > 0 && h.LastSeen != nil {
		row.FreePct = 100 * float64(h.DiskFree) / float64(total)
		row.Full = float64(h.DiskFree) < HostFullBelow*float64(total)
	}
	return row
}

// orderStates are the choices of the search's state filter; "" means every
// order that is not deleted.
var orderStates = []string{"", string(model.OrderActive), string(model.OrderTransferLimbo), string(model.OrderDeleted), "all"}

type ordersData struct {
	Query  string
	State  string
	States []string
	Orders []model.Order
	// Searched says a search was made (a query or a filter given).
	Searched bool
}

func (u *UI) orders(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	d := ordersData{Query: strings.TrimSpace(q.Get("q")), State: q.Get("state"), States: orderStates}
	if !slices.Contains(orderStates, d.State) {
		u.renderError(w, r, s, http.StatusBadRequest, fmt.Sprintf("%q is not an order state to filter on.", d.State))
		return
	}
	d.Searched = d.Query != "" || d.State != ""
	f := store.OrderFilter{Text: d.Query}
	if d.State != "" && d.State != "all" {
		f.State = model.OrderState(d.State)
	}
	os, err := u.panel.ListOrders(r.Context(), s.caller, f)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	for _, o := range os {
		if d.State == "" && o.State == model.OrderDeleted {
			continue
		}
		d.Orders = append(d.Orders, o)
	}
	u.render(w, r, s, http.StatusOK, "orders", page{Title: "Hosting orders", Nav: "orders", Data: d})
}

type orderData struct {
	Order model.Order
	// Dir is the order's directory on its host.
	Dir   string
	Items []itemRow
	Audit []model.AuditEntry
	// Related are the other live orders with the same identifier (the
	// transfer-limbo twin during a move).
	Related []model.Order
	// Moves are the order's moves, for admins when the engine is there.
	Moves []move.View
	// CanWrite: the caller may change the order's items here.
	CanWrite bool
}

// itemRow is an item as the order page lists it.
type itemRow struct {
	model.Item
	Name string
	// Editable: the item's spec may be changed in its state.
	Editable bool
	// Edit is the edit link, Actions the state changes; each shows in
	// the states the state table allows it from.
	Edit    itemButton
	Actions []itemButton
}

// itemButton is one change an item's row offers; it shows in States only
// (the order page's script shows and hides it as the state changes).
type itemButton struct {
	ID            int64
	Action, Label string
	States        string
	Shown         bool
}

// itemButtons are the changes an item's row offers, and the states the
// state table allows each from. "edit" is the edit link.
var itemButtons = []struct {
	action, label string
	states        []model.State
}{
	{"edit", "Edit", []model.State{model.StateActive, model.StateDisabled, model.StateSoftError}},
	{"disable", "Disable", []model.State{model.StateActive}},
	{"enable", "Enable", []model.State{model.StateDisabled}},
	{"retry", "Retry", []model.State{model.StateSoftError}},
	{"delete", "Delete", []model.State{model.StateActive, model.StateDisabled}},
}

// itemRowOf says what the order page shows and offers for an item.
func itemRowOf(it model.Item) itemRow {
	row := itemRow{Item: it, Name: itemName(it)}
	for _, b := range itemButtons {
		states := make([]string, len(b.states))
		for i, st := range b.states {
			states[i] = string(st)
		}
		btn := itemButton{ID: it.ID, Action: b.action, Label: b.label, States: strings.Join(states, " "), Shown: slices.Contains(b.states, it.State)}
		if b.action == "edit" {
			row.Editable = btn.Shown
			row.Edit = btn
			continue
		}
		row.Actions = append(row.Actions, btn)
	}
	return row
}

func (u *UI) order(w http.ResponseWriter, r *http.Request, s *session) {
	d, ok := u.loadOrder(w, r, s)
	if !ok {
		return
	}
	u.render(w, r, s, http.StatusOK, "order", page{Title: d.Order.Identifier, Nav: "orders", Data: d})
}

// loadOrder reads an order with its items, twins and audit trail, as the
// session's caller may see them; on failure it has answered already.
func (u *UI) loadOrder(w http.ResponseWriter, r *http.Request, s *session) (orderData, bool) {
	ctx := r.Context()
	o, err := u.panel.GetOrder(ctx, s.caller, r.PathValue("ref"))
	if err != nil {
		u.fail(w, r, s, err)
		return orderData{}, false
	}
	d := orderData{Order: o, Dir: o.Dir()}
	if d.CanWrite, err = u.panel.CanManageItems(ctx, s.caller, o); err != nil {
		u.fail(w, r, s, err)
		return d, false
	}
	items, err := u.panel.ListItems(ctx, s.caller, store.ItemFilter{OrderID: o.ID})
	if err != nil {
		u.fail(w, r, s, err)
		return d, false
	}
	// A login given access manages the items, not who has access.
	grantee := !s.caller.IsAdmin() && s.caller.Member != o.Member
	for _, it := range items {
		row := itemRowOf(it)
		if grantee && it.Kind == model.KindOrderAccess {
			row.Editable, row.Edit, row.Actions = false, itemButton{ID: it.ID}, nil
		}
		d.Items = append(d.Items, row)
	}
	twins, err := u.panel.ListOrders(ctx, s.caller, store.OrderFilter{Identifier: o.Identifier})
	if err != nil {
		u.fail(w, r, s, err)
		return d, false
	}
	for _, t := range twins {
		if t.ID != o.ID && t.State != model.OrderDeleted {
			d.Related = append(d.Related, t)
		}
	}
	d.Audit, err = u.panel.ListAudit(ctx, s.caller, strconv.FormatInt(o.ID, 10), 50)
	if err != nil {
		u.fail(w, r, s, err)
		return d, false
	}
	if u.moves != nil && s.caller.IsAdmin() {
		if d.Moves, err = u.moves.List(ctx, s.caller, strconv.FormatInt(o.ID, 10), false); err != nil {
			u.fail(w, r, s, err)
			return d, false
		}
	}
	return d, true
}

// itemName says in a few words which item it is.
func itemName(it model.Item) string { return it.Spec.Summary(it.Kind) }

type deleteData struct {
	Order model.Order
	Dir   string
	Items int
	Error string
}

// deleteForm is the confirmation step before deleting an order: the admin
// types the order's domain.
func (u *UI) deleteForm(w http.ResponseWriter, r *http.Request, s *session) {
	if o, ok := u.adminOrder(w, r, s, "delete orders"); ok {
		u.showDelete(w, r, s, http.StatusOK, o, "")
	}
}

// adminOrder reads the order in the request's path for an admin action
// (what): a member gets not-found for another member's order, as the
// panel answers, and forbidden for their own. On failure it has answered.
func (u *UI) adminOrder(w http.ResponseWriter, r *http.Request, s *session, what string) (model.Order, bool) {
	o, err := u.panel.GetOrder(r.Context(), s.caller, r.PathValue("ref"))
	if err != nil {
		u.fail(w, r, s, err)
		return o, false
	}
	if !s.caller.IsAdmin() {
		u.renderError(w, r, s, http.StatusForbidden, "Only admins "+what+".")
		return o, false
	}
	return o, true
}

func (u *UI) showDelete(w http.ResponseWriter, r *http.Request, s *session, status int, o model.Order, msg string) {
	items, err := u.panel.ListItems(r.Context(), s.caller, store.ItemFilter{OrderID: o.ID})
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	live := 0
	for _, it := range items {
		if it.State != model.StateDeleted {
			live++
		}
	}
	u.render(w, r, s, status, "delete", page{Title: "Delete " + o.Identifier, Nav: "orders", Data: deleteData{Order: o, Dir: o.Dir(), Items: live, Error: msg}})
}

func (u *UI) deleteOrder(w http.ResponseWriter, r *http.Request, s *session) {
	o, ok := u.adminOrder(w, r, s, "delete orders")
	if !ok {
		return
	}
	if strings.TrimSpace(strings.ToLower(r.PostFormValue("confirm"))) != o.Identifier {
		u.showDelete(w, r, s, http.StatusUnprocessableEntity, o, "Type the order's domain exactly to confirm.")
		return
	}
	// Delete by id: the page confirmed this order, not whichever order
	// carries the identifier now.
	if _, err := u.panel.DeleteOrder(r.Context(), s.caller, strconv.FormatInt(o.ID, 10)); err != nil {
		status, msg := errorStatus(err)
		if status == http.StatusInternalServerError {
			u.fail(w, r, s, err)
			return
		}
		u.showDelete(w, r, s, status, o, msg)
		return
	}
	u.redirect(w, r, s, fmt.Sprintf("/orders/%d", o.ID), fmt.Sprintf("Order %s is deleted; its items are being removed from their hosts.", o.Identifier))
}

// ago says how long ago something was, in the largest whole unit.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}
