package web

import (
	"errors"
	"fmt"
	"net/http"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/totp"
)

// accountData is the account page: the login the session acts as (none
// for an API token's session), and the forms' field errors.
type accountData struct {
	Login    string
	HasLogin bool
	TOTP     bool
	// NewSecret is a TOTP secret offered for turning codes on, with the
	// otpauth address an app reads.
	NewSecret string
	NewURI    string
	Errors    fieldErrors
}

// fieldErrors are a form's messages by field name, shown beside each.
type fieldErrors map[string]string

func (u *UI) accountData(r *http.Request, s *session) (accountData, error) {
	l, err := u.panel.LoginOf(r.Context(), s.caller)
	if errors.Is(err, store.ErrNotFound) {
		return accountData{}, nil
	}
	if err != nil {
		return accountData{}, err
	}
	return accountData{Login: l.Name, HasLogin: true, TOTP: l.TOTPSecret != ""}, nil
}

func (u *UI) account(w http.ResponseWriter, r *http.Request, s *session) {
	u.showAccount(w, r, s, http.StatusOK, nil, false)
}

// showAccount renders the account page; offerTOTP adds a new secret to
// turn codes on with.
func (u *UI) showAccount(w http.ResponseWriter, r *http.Request, s *session, status int, errs fieldErrors, offerTOTP bool) {
	d, err := u.accountData(r, s)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d.Errors = errs
	if offerTOTP && d.HasLogin && !d.TOTP {
		d.NewSecret = r.PostFormValue("secret")
		if d.NewSecret == "" {
			if d.NewSecret, err = totp.NewSecret(); err != nil {
				u.fail(w, r, s, err)
				return
			}
		}
		d.NewURI = totp.URI("ferry", d.Login, d.NewSecret)
	}
	u.render(w, r, s, status, "account", page{Title: "Your account", Nav: "account", Data: d})
}

// changePassword sets the session's login's password, once the current
// one is given right; the login's other sessions go on.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request, s *session) {
	next := r.PostFormValue("new_password")
	if next != r.PostFormValue("new_password2") {
		u.showAccount(w, r, s, http.StatusUnprocessableEntity, fieldErrors{"new_password2": "does not match the new password"}, false)
		return
	}
	if err := u.panel.ChangeOwnPassword(r.Context(), s.caller, r.PostFormValue("current_password"), next); err != nil {
		u.formFailed(w, r, s, err, func(fe fieldErrors) { u.showAccount(w, r, s, http.StatusUnprocessableEntity, fe, false) })
		return
	}
	u.redirect(w, r, s, "/account", "Your password is changed.")
}

func (u *UI) totpForm(w http.ResponseWriter, r *http.Request, s *session) {
	u.showAccount(w, r, s, http.StatusOK, nil, true)
}

// setTOTP turns codes on with the secret the page offered, once a code
// from it is typed.
func (u *UI) setTOTP(w http.ResponseWriter, r *http.Request, s *session) {
	secret := r.PostFormValue("secret")
	if _, err := totp.Code(secret, u.now()); err != nil {
		u.renderError(w, r, s, http.StatusBadRequest, "The secret of this form is not valid; open the account page again.")
		return
	}
	if err := u.panel.SetOwnTOTP(r.Context(), s.caller, secret, r.PostFormValue("code"), ""); err != nil {
		u.formFailed(w, r, s, err, func(fe fieldErrors) { u.showAccount(w, r, s, http.StatusUnprocessableEntity, fe, true) })
		return
	}
	u.redirect(w, r, s, "/account", "Codes are on: from now on, logging in asks for the code your app shows.")
}

func (u *UI) clearTOTP(w http.ResponseWriter, r *http.Request, s *session) {
	if err := u.panel.SetOwnTOTP(r.Context(), s.caller, "", "", r.PostFormValue("password")); err != nil {
		u.formFailed(w, r, s, err, func(fe fieldErrors) {
			fe["totp_password"] = fe["password"]
			u.showAccount(w, r, s, http.StatusUnprocessableEntity, fe, false)
		})
		return
	}
	u.redirect(w, r, s, "/account", "Codes are off: logging in asks for the password only.")
}

// logoutEverywhere ends every session of the session's login or token,
// this one included.
func (u *UI) logoutEverywhere(w http.ResponseWriter, r *http.Request, s *session) {
	n, err := u.panel.EndAllSessions(r.Context(), s.caller)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	u.showLogin(w, r, http.StatusOK, loginData{Next: "/", Notice: fmt.Sprintf("You are logged out everywhere (%d sessions ended).", n)})
}

// formFailed shows a field error of the panel beside its field (show),
// and any other error as the error page.
func (u *UI) formFailed(w http.ResponseWriter, r *http.Request, s *session, err error, show func(fieldErrors)) {
	var fe *model.FieldError
	if errors.As(err, &fe) {
		show(fieldErrors{fe.Field: fe.Message})
		return
	}
	u.fail(w, r, s, err)
}
