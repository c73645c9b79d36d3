package model

import (
	"fmt"
	"strings"
)

// RFC 5321 section 4.5.3.1: a local part is at most 64 octets and a path
// at most 256 octets with its angle brackets, so an address at most 254.
const (
	MaxLocalPart    = 64
	MaxEmailAddress = 254
	// MaxForwards is how many addresses one email-address may forward to.
	MaxForwards = 50
	// MaxQuotaMB is the largest mailbox quota, in MiB (1 TiB).
	MaxQuotaMB = 1 << 20
)

// atextSpecials are the characters besides letters and digits that RFC
// 5322's atext allows in a dot-atom local part.
const atextSpecials = "!#$%&'*+-/=?^_`{|}~"

// NormalizeEmailAddress checks an address as an SMTP server receives it
// (RFC 5321): a dot-atom local part of at most 64 octets, "@", a domain of
// at least two labels, at most 254 octets in all. It returns the address in
// lower case, the domain as punycode: mail servers look virtual addresses up
// without regard to case, so two addresses that differ only in case are one.
// A quoted local part, a domain literal ([192.0.2.1]) and a local part that
// starts with # (a comment in the host's lookup tables) are refused.
func NormalizeEmailAddress(s string) (string, error) {
	if s == "" {
		return "", errorString("is empty; give an address such as info@example.org")
	}
	if len(s) > MaxEmailAddress+64 {
		return "", errorString("is %d octets long; an address is at most %d (RFC 5321)", len(s), MaxEmailAddress)
	}
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return "", errorString("%q has no @: give local-part@domain", s)
	}
	local, domain := s[:i], s[i+1:]
	if err := checkLocalPart(local); err != nil {
		return "", errorString("%q: local part %v", s, err)
	}
	if strings.HasPrefix(domain, "[") {
		return "", errorString("%q: a domain literal is not accepted; give a domain name", s)
	}
	d, err := NormalizeDomain(domain, 2)
	if err != nil {
		return "", errorString("%q: domain %v", s, err)
	}
	out := strings.ToLower(local) + "@" + d
	if len(out) > MaxEmailAddress {
		return "", errorString("%q is %d octets long; an address is at most %d (RFC 5321)", s, len(out), MaxEmailAddress)
	}
	return out, nil
}

// checkLocalPart checks a dot-atom local part (RFC 5322 section 3.2.3).
func checkLocalPart(l string) error {
	switch {
	case l == "":
		return errorString("is empty")
	case len(l) > MaxLocalPart:
		return errorString("is %d octets long, more than %d (RFC 5321)", len(l), MaxLocalPart)
	case strings.HasPrefix(l, "\""):
		return errorString("is quoted; only a dot-atom local part is accepted")
	case l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, ".."):
		return errorString("%q starts or ends with a dot or has two in a row", l)
	case l[0] == '#':
		return errorString("%q starts with #", l)
	}
	for _, r := range l {
		ok := r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || strings.ContainsRune(atextSpecials, r))
		if !ok {
			return errorString("%q has %q, which a dot-atom does not allow (letters, digits and %s)", l, r, atextSpecials)
		}
	}
	return nil
}

// EmailDomain is the domain of a normalized address.
func EmailDomain(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

func (s *Spec) normalizeEmailAddress(string) error {
	a, err := NormalizeEmailAddress(s.Address)
	if err != nil {
		return at("address", err)
	}
	s.Address = a
	if s.Login == "" && len(s.Forward) == 0 {
		return fieldErr("login", "an email-address delivers to the mailbox of one of the order's accounts (login) or forwards (forward), or both; it has neither")
	}
	if s.Login != "" {
		if err := at("login", ValidateLogin(s.Login)); err != nil {
			return err
		}
	}
	if len(s.Forward) > MaxForwards {
		return fieldErr("forward", "has %d addresses, more than %d", len(s.Forward), MaxForwards)
	}
	seen := map[string]bool{}
	for i, f := range s.Forward {
		n, err := NormalizeEmailAddress(f)
		if err != nil {
			return at("forward", err)
		}
		if n == a {
			return fieldErr("forward", "%s forwards to itself: a mail loop", a)
		}
		if seen[n] {
			return fieldErr("forward", "%s is listed twice", n)
		}
		seen[n] = true
		s.Forward[i] = n
	}
	return nil
}

func (s *Spec) normalizeMailbox(string) error {
	if err := at("login", ValidateLogin(s.Login)); err != nil {
		return err
	}
	if s.QuotaMB < 0 || s.QuotaMB > MaxQuotaMB {
		return fieldErr("quota_mb", "must be from 1 to %d MiB, or left out for no quota; got %d", MaxQuotaMB, s.QuotaMB)
	}
	return nil
}

// mailboxIdentity is what a mailbox claims: one per account.
func mailboxIdentity(login string) string { return "mailbox:" + login }

// MailboxDir is where an account's mailbox lives, relative to its home.
const MailboxDir = "Maildir"

func emailAddressSummary(s *Spec) string {
	var to []string
	if s.Login != "" {
		to = append(to, "mailbox "+s.Login)
	}
	to = append(to, s.Forward...)
	return s.Address + " → " + strings.Join(to, ", ")
}

func mailboxSummary(s *Spec) string {
	if s.QuotaMB > 0 {
		return fmt.Sprintf("%s (quota %d MiB)", s.Login, s.QuotaMB)
	}
	return s.Login
}

// MailboxCheck is one folder of a mailbox as the two hosts of a move hold
// it (package maildir compares them).
type MailboxCheck struct {
	Account string `json:"account"`
	Folder  string `json:"folder"`
	// OldUIDValidity and NewUIDValidity are 0 where the host has no uid
	// list for the folder (or no folder).
	OldUIDValidity uint32 `json:"old_uidvalidity"`
	NewUIDValidity uint32 `json:"new_uidvalidity"`
	Old            int    `json:"old"` // messages on the old host
	New            int    `json:"new"` // messages on the new host
	// Missing are messages on the old host that the new host lacks (mail
	// that arrived since the last sync, before the final one); Extra are
	// messages only on the new host (expunged on the old since).
	Missing int `json:"missing,omitempty"`
	Extra   int `json:"extra,omitempty"`
	// Renumbered are messages that are on both hosts under different
	// UIDs, or UIDs that name different messages on the two hosts.
	Renumbered int `json:"renumbered,omitempty"`
}

// UIDValidityChanged says whether both hosts number the folder and give it
// different UIDVALIDITY values: every mail client would download it again.
func (c MailboxCheck) UIDValidityChanged() bool {
	return c.OldUIDValidity != 0 && c.NewUIDValidity != 0 && c.OldUIDValidity != c.NewUIDValidity
}

// Differs says whether a mail client would see the folder differently on
// the new host: another UIDVALIDITY, or messages under other UIDs.
func (c MailboxCheck) Differs() bool { return c.UIDValidityChanged() || c.Renumbered > 0 }
