package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"ferry/internal/model"
	"ferry/internal/panel"
	"ferry/internal/store"
)

// itemFormData is the page to add or edit an item.
type itemFormData struct {
	Order model.Order
	Kind  model.Kind
	Info  model.KindInfo
	// Kinds are the kinds to choose from when none is chosen yet.
	Kinds []model.KindInfo
	// Item is the item being edited; zero when adding.
	Item   model.Item
	Fields []formField
	// Error is a problem that belongs to no one field.
	Error string
}

// itemKinds lists the registry's kinds a member adds through forms.
func itemKinds() []model.KindInfo {
	out := make([]model.KindInfo, 0, len(model.Kinds))
	for _, k := range model.Kinds {
		out = append(out, model.KindInfoOf(k))
	}
	return out
}

// newItemForm shows the form for a new item of ?kind= of the order, or
// the choice of kinds.
func (u *UI) newItemForm(w http.ResponseWriter, r *http.Request, s *session) {
	o, err := u.panel.GetOrder(r.Context(), s.caller, r.PathValue("ref"))
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := itemFormData{Order: o, Kind: model.Kind(r.URL.Query().Get("kind"))}
	if d.Kind == "" {
		d.Kinds = itemKinds()
	} else if !d.Kind.Valid() {
		u.renderError(w, r, s, http.StatusNotFound, fmt.Sprintf("%q is not an item kind.", d.Kind))
		return
	}
	d.Info = model.KindInfoOf(d.Kind)
	d.Fields = kindFields(d.Kind, nil, nil)
	u.render(w, r, s, http.StatusOK, "itemform", page{Title: "Add an item to " + o.Identifier, Nav: "orders", Data: d})
}

// createItem adds an item from the form, through the panel's rules, and
// goes back to the order; a refused field is shown beside its input.
func (u *UI) createItem(w http.ResponseWriter, r *http.Request, s *session) {
	o, err := u.panel.GetOrder(r.Context(), s.caller, r.PathValue("ref"))
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	kind := model.Kind(r.PostFormValue("kind"))
	if !kind.Valid() {
		u.renderError(w, r, s, http.StatusUnprocessableEntity, fmt.Sprintf("%q is not an item kind.", kind))
		return
	}
	d := itemFormData{Order: o, Kind: kind, Info: model.KindInfoOf(kind)}
	spec, err := formSpec(kind, r.PostForm, nil)
	if err == nil {
		_, err = u.panel.CreateItem(r.Context(), s.caller, panel.ItemInput{Order: strconv.FormatInt(o.ID, 10), Kind: kind, Spec: spec})
	}
	if err != nil {
		u.itemFormFailed(w, r, s, d, &spec, nil, err)
		return
	}
	u.redirect(w, r, s, fmt.Sprintf("/orders/%d", o.ID), fmt.Sprintf("The %s %s is added; its host applies it now.", kind, spec.Summary(kind)))
}

// itemFormFailed shows the form again with what was typed (secrets left
// out) and the panel's error beside its field, or at the top.
func (u *UI) itemFormFailed(w http.ResponseWriter, r *http.Request, s *session, d itemFormData, typed *model.Spec, stored *model.Spec, err error) {
	status, msg := errorStatus(err)
	if status == http.StatusInternalServerError || status == http.StatusNotFound || status == http.StatusForbidden {
		u.fail(w, r, s, err)
		return
	}
	errs := fieldErrors{}
	var fe *model.FieldError
	if errors.As(err, &fe) {
		errs[errorField(fe.Field)] = fe.Message
	}
	// Show the values as typed, secrets never.
	shown := *typed
	shown.Password = ""
	if shown.HTTPS != nil {
		h := *shown.HTTPS
		h.Key = ""
		shown.HTTPS = &h
	}
	if stored != nil {
		shown.PasswordHash = stored.PasswordHash
	}
	d.Fields = kindFields(d.Kind, &shown, errs)
	if stored == nil {
		for i := range d.Fields {
			d.Fields[i].ReadOnly = false
		}
	}
	placed := false
	for _, f := range d.Fields {
		if f.Error != "" {
			placed = true
		}
	}
	if !placed {
		d.Error = msg
	}
	u.render(w, r, s, status, "itemform", page{Title: "Item of " + d.Order.Identifier, Nav: "orders", Data: d})
}

// itemOf reads the item in the path and its order, as the session's
// caller may see them; on failure it has answered (not found for another
// member's item).
func (u *UI) itemOf(w http.ResponseWriter, r *http.Request, s *session) (model.Item, model.Order, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		u.renderError(w, r, s, http.StatusNotFound, "There is no such page, or it is not yours to see.")
		return model.Item{}, model.Order{}, false
	}
	it, err := u.panel.GetItem(r.Context(), s.caller, id)
	if err != nil {
		u.fail(w, r, s, err)
		return it, model.Order{}, false
	}
	o, err := u.panel.GetOrder(r.Context(), s.caller, strconv.FormatInt(it.OrderID, 10))
	if err != nil {
		u.fail(w, r, s, err)
		return it, o, false
	}
	return it, o, true
}

func (u *UI) editItemForm(w http.ResponseWriter, r *http.Request, s *session) {
	it, o, ok := u.itemOf(w, r, s)
	if !ok {
		return
	}
	d := itemFormData{Order: o, Kind: it.Kind, Info: model.KindInfoOf(it.Kind), Item: it, Fields: kindFields(it.Kind, &it.Spec, nil)}
	u.render(w, r, s, http.StatusOK, "itemform", page{Title: "Edit " + string(it.Kind) + " " + it.Spec.Summary(it.Kind), Nav: "orders", Data: d})
}

// updateItem changes an item from the edit form; an empty password keeps
// the stored one.
func (u *UI) updateItem(w http.ResponseWriter, r *http.Request, s *session) {
	it, o, ok := u.itemOf(w, r, s)
	if !ok {
		return
	}
	d := itemFormData{Order: o, Kind: it.Kind, Info: model.KindInfoOf(it.Kind), Item: it}
	spec, err := formSpec(it.Kind, r.PostForm, &it.Spec)
	if err == nil {
		_, err = u.panel.UpdateItem(r.Context(), s.caller, it.ID, spec)
	}
	if err != nil {
		u.itemFormFailed(w, r, s, d, &spec, &it.Spec, err)
		return
	}
	u.redirect(w, r, s, fmt.Sprintf("/orders/%d", o.ID), fmt.Sprintf("The %s %s is changed; its host applies it now.", it.Kind, spec.Summary(it.Kind)))
}

// itemActions are the state changes the order page's buttons ask for.
var itemActions = map[string]model.State{
	"disable": model.StatePendingDisable,
	"enable":  model.StatePendingUpdate,
	"delete":  model.StatePendingDelete,
	"retry":   model.StatePendingRestore,
}

func (u *UI) itemAction(w http.ResponseWriter, r *http.Request, s *session) {
	it, o, ok := u.itemOf(w, r, s)
	if !ok {
		return
	}
	action := r.PostFormValue("action")
	to, known := itemActions[action]
	if !known {
		u.renderError(w, r, s, http.StatusBadRequest, fmt.Sprintf("%q is not something an item can do (disable, enable, delete, retry).", action))
		return
	}
	back := fmt.Sprintf("/orders/%d", o.ID)
	if _, err := u.panel.SetItemState(r.Context(), s.caller, it.ID, to); err != nil {
		status, msg := errorStatus(err)
		if status == http.StatusInternalServerError || status == http.StatusNotFound {
			u.fail(w, r, s, err)
			return
		}
		u.redirect(w, r, s, back, "Not done: "+msg)
		return
	}
	u.redirect(w, r, s, back, fmt.Sprintf("%s %s: asked to %s; its host applies it now.", it.Kind, it.Spec.Summary(it.Kind), action))
}

// itemState is an item's state as the order page's script redraws it.
type itemState struct {
	ID      int64  `json:"id"`
	State   string `json:"state"`
	Class   string `json:"class"`
	Message string `json:"message,omitempty"`
}

// itemStates answers the order page's poll: its items' states, as JSON.
func (u *UI) itemStates(w http.ResponseWriter, r *http.Request, s *session) {
	o, err := u.panel.GetOrder(r.Context(), s.caller, r.PathValue("ref"))
	if err != nil {
		status, _ := errorStatus(err)
		http.Error(w, http.StatusText(status), status)
		return
	}
	items, err := u.panel.ListItems(r.Context(), s.caller, store.ItemFilter{OrderID: o.ID})
	if err != nil {
		status, _ := errorStatus(err)
		http.Error(w, http.StatusText(status), status)
		return
	}
	out := make([]itemState, len(items))
	for i, it := range items {
		out[i] = itemState{ID: it.ID, State: string(it.State), Class: stateClass(it.State), Message: it.Message}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
