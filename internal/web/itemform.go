package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"ferry/internal/model"
)

// formField is one input of an item form. The forms are built from the
// kind registry (model.KindInfoOf(kind).Fields) and the spec's types, so a
// kind added to the registry gets its form without a page of its own.
type formField struct {
	// Name is the input's name: the spec field's JSON name, dotted for a
	// field of a nested object (https.source).
	Name  string
	Label string
	// Input is text, password, number, checkbox, list, textarea or select.
	Input    string
	Value    string
	Checked  bool
	Options  []string
	Required bool
	// ReadOnly: an identity field of an item being edited, which an
	// update may not change.
	ReadOnly bool
	// Set: a secret that is stored (shown as "kept if left empty"),
	// never its value.
	Set   bool
	Hint  string
	Error string
}

// fieldChoices are the values a select offers, by field name.
var fieldChoices = map[string][]string{
	"shell":        model.Shells,
	"type":         {model.RRA, model.RRAAAA, model.RRCNAME, model.RRMX, model.RRTXT, model.RRSRV},
	"https.source": {"", model.HTTPSAcme, model.HTTPSOwn},
}

// fieldHints say a word about a field where its name alone does not.
var fieldHints = map[string]string{
	"docroot":      "relative to the order's directory; web by default",
	"fqdn":         "the record's name, within the order's domains",
	"ttl":          "seconds; 3600 when left empty",
	"owner":        "the owning role; the database's name when left empty",
	"schedule":     "five cron fields, e.g. */15 * * * *",
	"command":      "run in the account's home, without a shell",
	"php_version":  "e.g. 8.2; the host's newest when left empty",
	"https.source": "acme: a certificate obtained for the site; own: yours, below",
	"https.cert":   "PEM chain, leaf first (own certificates only)",
	"https.key":    "PEM private key (own certificates only)",
}

// secretFields are never shown back: a form leaves them empty, and an
// empty one keeps what is stored.
var secretFields = []string{"password", "https.key"}

// hiddenFields are not offered in forms: a password is set through its
// field and only ever stored hashed.
var hiddenFields = []string{"password_hash"}

// specField finds the spec's field with JSON name name, in the spec or an
// embedded struct.
func specField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if sf, ok := specField(f.Type, name); ok {
				sf.Index = append([]int{i}, sf.Index...)
				return sf, true
			}
			continue
		}
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// kindFields builds the inputs of kind's form, filled from spec (nil for
// a new item; a redacted spec for an edit, whose identity fields are then
// read-only), with errs beside their fields.
func kindFields(kind model.Kind, spec *model.Spec, errs fieldErrors) []formField {
	ki := model.KindInfoOf(kind)
	var v reflect.Value
	if spec != nil {
		v = reflect.ValueOf(*spec)
	}
	var out []formField
	for _, name := range ki.Fields {
		if slices.Contains(hiddenFields, name) {
			continue
		}
		sf, ok := specField(reflect.TypeOf(model.Spec{}), name)
		if !ok {
			continue
		}
		var fv reflect.Value
		if v.IsValid() {
			fv = v.FieldByIndex(sf.Index)
		}
		req := slices.Contains(ki.Required, name)
		ro := spec != nil && slices.Contains(ki.Identity, name)
		fs := inputsFor(name, sf.Type, fv, req, ro, spec == nil, errs)
		if name == "password" && spec != nil && spec.PasswordHash != "" {
			fs[0].Set = true
		}
		out = append(out, fs...)
	}
	return out
}

func inputsFor(name string, t reflect.Type, v reflect.Value, required, readOnly, isNew bool, errs fieldErrors) []formField {
	f := formField{Name: name, Label: label(name), Required: required, ReadOnly: readOnly, Hint: fieldHints[name], Error: errs[name]}
	has := v.IsValid()
	switch {
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		// A nested object (web-conf's https): its fields, dotted.
		var ev reflect.Value
		if has && !v.IsNil() {
			ev = v.Elem()
		}
		var out []formField
		for i := range t.Elem().NumField() {
			sf := t.Elem().Field(i)
			tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			var sv reflect.Value
			if ev.IsValid() {
				sv = ev.Field(i)
			}
			out = append(out, inputsFor(name+"."+tag, sf.Type, sv, false, readOnly, isNew, errs)...)
		}
		if e := errs[name]; e != "" && len(out) > 0 {
			out[0].Error = e
		}
		return out
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Bool:
		f.Input = "checkbox"
		f.Checked = !has || v.IsNil() || v.Elem().Bool() // on unless set off
	case t.Kind() == reflect.Bool:
		f.Input = "checkbox"
		f.Checked = has && v.Bool()
	case t.Kind() == reflect.Slice:
		f.Input = "list"
		if f.Hint == "" {
			f.Hint = "separate several with commas"
		}
		if has {
			f.Value = strings.Join(v.Interface().([]string), ", ")
		}
	case t.Kind() == reflect.Int:
		f.Input = "number"
		if has && v.Int() != 0 {
			f.Value = strconv.FormatInt(v.Int(), 10)
		}
	default:
		f.Input = "text"
		if has {
			f.Value = v.String()
		}
		switch {
		case slices.Contains(secretFields, name):
			f.Input = "password"
			f.Set = f.Value != ""
			f.Value = ""
			if name == "https.key" {
				f.Input = "secret-textarea"
			}
		case name == "https.cert":
			f.Input = "textarea"
		case fieldChoices[name] != nil:
			f.Input = "select"
			f.Options = fieldChoices[name]
		}
	}
	return []formField{f}
}

// label makes a field's name readable: server_names → server names.
func label(name string) string {
	if _, sub, ok := strings.Cut(name, "."); ok {
		name = sub
	}
	s := strings.ReplaceAll(name, "_", " ")
	switch s {
	case "fqdn":
		return "name (FQDN)"
	case "ttl":
		return "TTL"
	case "php":
		return "PHP"
	case "hsts":
		return "HSTS"
	case "redirect http":
		return "redirect HTTP to HTTPS"
	}
	return s
}

// formSpec reads kind's form into a spec, as the API would get it; old is
// the stored spec of an edited item (nil for a new one), whose secrets an
// empty field keeps. A value that is not even of its field's type (a TTL
// that is not a number) is a field error.
func formSpec(kind model.Kind, form url.Values, old *model.Spec) (model.Spec, error) {
	obj := map[string]any{}
	for _, f := range kindFields(kind, old, nil) {
		key, sub, nested := strings.Cut(f.Name, ".")
		raw := strings.TrimSpace(form.Get(f.Name))
		if slices.Contains(secretFields, f.Name) {
			raw = form.Get(f.Name) // a password keeps its spaces
		}
		var val any
		switch f.Input {
		case "checkbox":
			val = form.Get(f.Name) != ""
		case "list":
			var items []string
			for _, p := range strings.Split(raw, ",") {
				if p = strings.TrimSpace(p); p != "" {
					items = append(items, p)
				}
			}
			if len(items) > 0 {
				val = items
			}
		case "number":
			if raw != "" {
				n, err := strconv.Atoi(raw)
				if err != nil {
					return model.Spec{}, &model.FieldError{Field: "spec." + f.Name, Message: fmt.Sprintf("%q is not a whole number", raw)}
				}
				val = n
			}
		default:
			if raw == "" && f.Set && f.Name == "https.key" {
				raw = model.KeySet
			}
			if raw != "" {
				val = raw
			}
		}
		if val == nil {
			continue
		}
		if !nested {
			obj[key] = val
			continue
		}
		m, _ := obj[key].(map[string]any)
		if m == nil {
			m = map[string]any{}
			obj[key] = m
		}
		m[sub] = val
	}
	// A nested object with nothing but false switches is left out (web-conf
	// without HTTPS).
	for k, v := range obj {
		if m, ok := v.(map[string]any); ok {
			empty := true
			for _, x := range m {
				if b, isBool := x.(bool); !isBool || b {
					empty = false
				}
			}
			if empty {
				delete(obj, k)
			}
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return model.Spec{}, err
	}
	var s model.Spec
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return model.Spec{}, &model.FieldError{Field: "spec", Message: err.Error()}
	}
	return s, nil
}

// formField names the form input a panel error's field belongs to:
// spec.https.source → https.source; spec.databases[1] → databases.
func errorField(field string) string {
	f := strings.TrimPrefix(field, "spec.")
	if i := strings.IndexAny(f, "[ "); i >= 0 {
		f = f[:i]
	}
	return f
}
