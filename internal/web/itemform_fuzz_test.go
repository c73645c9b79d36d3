package web

import (
	"errors"
	"net/url"
	"testing"

	"ferry/internal/model"
)

// FuzzFormSpec feeds item forms arbitrary values: every kind's form reads
// into a spec or a field error naming a spec field, never a panic, and
// never a field the kind does not take.
func FuzzFormSpec(f *testing.F) {
	f.Add("alice", "a, b,,c", "600", "on", "acme", "")
	f.Add("", "", "soon", "", "own", "(set)")
	f.Add("Bad Name!", ",", "-1", "x", "", "\x00")
	f.Fuzz(func(t *testing.T, text, list, number, check, choice, secret string) {
		for _, k := range model.Kinds {
			form := url.Values{}
			for _, fl := range kindFields(k, nil, nil) {
				switch fl.Input {
				case "list":
					form.Set(fl.Name, list)
				case "number":
					form.Set(fl.Name, number)
				case "checkbox":
					form.Set(fl.Name, check)
				case "select":
					form.Set(fl.Name, choice)
				case "password", "secret-textarea":
					form.Set(fl.Name, secret)
				default:
					form.Set(fl.Name, text)
				}
			}
			s, err := formSpec(k, form, nil)
			if err != nil {
				var fe *model.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%s: error %v is not a field error", k, err)
				}
				continue
			}
			if err := s.Normalize(k, "example.org"); err != nil {
				var fe *model.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%s: normalize error %v is not a field error", k, err)
				}
			}
		}
	})
}

func FuzzAuditTime(f *testing.F) {
	f.Add("2026-05-01T13:00")
	f.Add("yesterday")
	f.Fuzz(func(t *testing.T, v string) {
		tm, err := auditTime("from", v)
		if err == nil && v != "" && tm.IsZero() {
			t.Fatalf("%q read as the zero time without an error", v)
		}
	})
}
