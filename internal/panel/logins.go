package panel

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"ferry/internal/model"
	"ferry/internal/store"
	"ferry/internal/totp"
)

// loginCost is the bcrypt cost of a web login's password: a check took
// 200 to 277 ms on the 2-core test machine under a load average of about
// 8 (cost 10: 65 ms), which the web UI's attempt limits multiply.
const loginCost = 11

// ErrCodeNeeded: the name and password were right and the login takes a
// TOTP code, which was not given. It is an ErrUnauthenticated.
var ErrCodeNeeded = fmt.Errorf("%w: a code from the authenticator app is needed", ErrUnauthenticated)

// errBadLogin is the one answer to a wrong name, password or code, so
// that the answer does not tell which names exist.
var errBadLogin = fmt.Errorf("%w: wrong login name, password or code", ErrUnauthenticated)

// dummyHash is compared against when the name is unknown, so that an
// unknown name takes as long to refuse as a wrong password. It is made
// when a panel is (New), not when the program starts: every ferry process
// would otherwise pay for a bcrypt hash, a move's forced command on each
// of its ssh commands among them.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such login, no such password"), loginCost)
	return h
})

// LoginInput is what an admin gives to make a web login or set its
// password: a member's login (Role member, Member set) or an admin's.
type LoginInput struct {
	Name     string
	Role     model.TokenRole
	Member   string
	Password string
}

// LoginInfo is a web login as an admin lists it: its name, the token it
// acts as, and whether it takes TOTP codes.
type LoginInfo struct {
	model.Login
	Token model.Token
	TOTP  bool
}

// SetLoginPassword makes the web login in.Name, acting as a new token of
// in.Role (and in.Member), or sets the password of the login of that
// name. A login whose token was revoked gets a new one. Setting a
// password ends the login's web sessions. Admins only; audited (without
// the password).
func (p *Panel) SetLoginPassword(ctx context.Context, c Caller, in LoginInput) (model.Login, error) {
	if !c.IsAdmin() {
		return model.Login{}, forbidden("only admins set login passwords")
	}
	if err := model.ValidateLoginName(in.Name); err != nil {
		return model.Login{}, &model.FieldError{Field: "name", Message: err.Error()}
	}
	if err := model.ValidateLoginPassword(in.Password); err != nil {
		return model.Login{}, err
	}
	tok := model.Token{Name: model.LoginTokenName(in.Name), Role: in.Role, Member: in.Member}
	if err := tok.Validate(); err != nil {
		return model.Login{}, err
	}
	if tok.Role == model.RoleNode {
		return model.Login{}, &model.FieldError{Field: "role", Message: "a login is for an admin or a member, not a node"}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), loginCost)
	if err != nil {
		return model.Login{}, err
	}
	now := p.Now()
	var l model.Login
	err = p.store.Update(ctx, func(tx store.Tx) error {
		if tok.Member != "" {
			if _, err := tx.GetMember(ctx, tok.Member); err != nil {
				return fmt.Errorf("member %q: %w", tok.Member, err)
			}
		}
		cur, err := tx.GetLogin(ctx, in.Name)
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if exists {
			old, err := tx.GetToken(ctx, cur.TokenID)
			if err != nil {
				return err
			}
			if _, cerr := callerOf(ctx, tx, old); cerr == nil {
				if old.Role != tok.Role || old.Member != tok.Member {
					return &model.FieldError{Field: "name", Message: fmt.Sprintf("login %q is %s's already; pick another name, or revoke its token %q first", in.Name, loginOwner(old), old.Name)}
				}
				tok = old
			}
			if _, err := tx.DeleteWebSessionsOfToken(ctx, cur.TokenID); err != nil {
				return err
			}
		}
		if tok.ID == 0 {
			secret, err := newSecret() // known to nobody: the login acts as this token
			if err != nil {
				return err
			}
			tok.Hash, tok.CreatedAt = HashToken(secret), now
			if exists {
				// The old token of that name was revoked, so the name is free.
				if err := tx.CreateToken(ctx, &tok); err != nil {
					return fmt.Errorf("token of login %q: %w", in.Name, err)
				}
			} else if err := tx.CreateToken(ctx, &tok); errors.Is(err, store.ErrConflict) {
				return &model.FieldError{Field: "name", Message: fmt.Sprintf("a live token is named %q already; pick another login name", tok.Name)}
			} else if err != nil {
				return fmt.Errorf("token of login %q: %w", in.Name, err)
			}
			if err := p.audit(ctx, tx, c, AuditTokenCreate, fmt.Sprintf("token/%d", tok.ID), 0, nil, tok); err != nil {
				return err
			}
		}
		l = model.Login{Name: in.Name, TokenID: tok.ID, PasswordHash: string(hash), CreatedAt: now, UpdatedAt: now}
		if exists {
			l.CreatedAt, l.TOTPSecret = cur.CreatedAt, cur.TOTPSecret
			if err := tx.UpdateLogin(ctx, &l); err != nil {
				return err
			}
		} else if err := tx.CreateLogin(ctx, &l); err != nil {
			return fmt.Errorf("login %q: %w", in.Name, err)
		}
		return p.audit(ctx, tx, c, AuditLoginPassword, "login/"+in.Name, 0, nil, l)
	})
	return l, err
}

func loginOwner(t model.Token) string {
	if t.Member != "" {
		return "member " + t.Member
	}
	return "an " + string(t.Role)
}

// PasswordLogin checks a login name, password and (when the login takes
// them) TOTP code, and returns the caller the login acts as. Every wrong
// answer is the same ErrUnauthenticated; a right password without a code
// the login needs is ErrCodeNeeded.
func (p *Panel) PasswordLogin(ctx context.Context, name, password, code string) (Caller, error) {
	var l model.Login
	var c Caller
	err := p.store.View(ctx, func(tx store.Tx) error {
		var err error
		if l, err = tx.GetLogin(ctx, name); err != nil {
			return err
		}
		t, err := tx.GetToken(ctx, l.TokenID)
		if err != nil {
			return err
		}
		c, err = callerOf(ctx, tx, t)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrUnauthenticated) || model.ValidateLoginName(name) != nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return Caller{}, errBadLogin
	}
	if err != nil {
		return Caller{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(l.PasswordHash), []byte(password)) != nil {
		return Caller{}, errBadLogin
	}
	if l.TOTPSecret != "" {
		if code == "" {
			return Caller{}, ErrCodeNeeded
		}
		if _, ok := totp.Check(l.TOTPSecret, code, p.Now()); !ok {
			return Caller{}, errBadLogin
		}
	}
	return c, nil
}

// LoginOf returns the web login c acts as; ErrNotFound when c is a token
// of its own (logged in with an API token).
func (p *Panel) LoginOf(ctx context.Context, c Caller) (model.Login, error) {
	var out model.Login
	err := p.store.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = loginOfTx(ctx, tx, c)
		return err
	})
	return out, err
}

func loginOfTx(ctx context.Context, tx store.Tx, c Caller) (model.Login, error) {
	ls, err := tx.ListLogins(ctx)
	if err != nil {
		return model.Login{}, err
	}
	for _, l := range ls {
		if c.TokenID != 0 && l.TokenID == c.TokenID {
			return l, nil
		}
	}
	return model.Login{}, fmt.Errorf("a web login of token %q: %w", c.Name, store.ErrNotFound)
}

// ChangeOwnPassword sets the password of the login c acts as, once the
// current one is given right. The login's other web sessions end.
func (p *Panel) ChangeOwnPassword(ctx context.Context, c Caller, current, next string) error {
	if err := model.ValidateLoginPassword(next); err != nil {
		return &model.FieldError{Field: "new_password", Message: err.(*model.FieldError).Message}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), loginCost)
	if err != nil {
		return err
	}
	return p.store.Update(ctx, func(tx store.Tx) error {
		l, err := loginOfTx(ctx, tx, c)
		if err != nil {
			return err
		}
		if bcrypt.CompareHashAndPassword([]byte(l.PasswordHash), []byte(current)) != nil {
			return &model.FieldError{Field: "current_password", Message: "is not your current password"}
		}
		l.PasswordHash, l.UpdatedAt = string(hash), p.Now()
		if err := tx.UpdateLogin(ctx, &l); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditLoginPassword, "login/"+l.Name, 0, nil, l)
	})
}

// SetOwnTOTP turns TOTP codes on for the login c acts as, with secret,
// once code shows that the authenticator app holds it; an empty secret
// turns them off, once the password is given right.
func (p *Panel) SetOwnTOTP(ctx context.Context, c Caller, secret, code, password string) error {
	if secret != "" {
		if _, ok := totp.Check(secret, code, p.Now()); !ok {
			return &model.FieldError{Field: "code", Message: "is not the code the app shows for this secret now; check the phone's clock and type the newest code"}
		}
	}
	return p.store.Update(ctx, func(tx store.Tx) error {
		l, err := loginOfTx(ctx, tx, c)
		if err != nil {
			return err
		}
		if secret == "" && bcrypt.CompareHashAndPassword([]byte(l.PasswordHash), []byte(password)) != nil {
			return &model.FieldError{Field: "password", Message: "is not your current password"}
		}
		before := l.TOTPSecret != ""
		l.TOTPSecret, l.UpdatedAt = secret, p.Now()
		if err := tx.UpdateLogin(ctx, &l); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditLoginTOTP, "login/"+l.Name, 0, map[string]bool{"totp": before}, map[string]bool{"totp": secret != ""})
	})
}

// EndAllSessions ends every web session of c's token or login, this one
// too ("log out everywhere"), and says how many ended.
func (p *Panel) EndAllSessions(ctx context.Context, c Caller) (int, error) {
	var n int
	err := p.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if n, err = tx.DeleteWebSessionsOfToken(ctx, c.TokenID); err != nil {
			return err
		}
		return p.audit(ctx, tx, c, AuditLoginLogoutAll, fmt.Sprintf("token/%d", c.TokenID), 0, nil, map[string]int{"sessions": n})
	})
	return n, err
}

// ListLogins lists the web logins with their tokens. Admins only.
func (p *Panel) ListLogins(ctx context.Context, c Caller) ([]LoginInfo, error) {
	if !c.IsAdmin() {
		return nil, forbidden("only admins list logins")
	}
	var out []LoginInfo
	err := p.store.View(ctx, func(tx store.Tx) error {
		ls, err := tx.ListLogins(ctx)
		if err != nil {
			return err
		}
		for _, l := range ls {
			t, err := tx.GetToken(ctx, l.TokenID)
			if err != nil {
				return err
			}
			out = append(out, LoginInfo{Login: l, Token: t, TOTP: l.TOTPSecret != ""})
		}
		return nil
	})
	return out, err
}
