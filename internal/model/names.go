package model

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

var (
	labelRe    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	svcLabelRe = regexp.MustCompile(`^_[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	memberRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	hostRe     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	loginRe    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	dbNameRe   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	tokenNmRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
)

var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(true), idna.Transitional(false))

// reservedLogins are system accounts a member may never take over.
var reservedLogins = map[string]bool{
	"root": true, "daemon": true, "bin": true, "sys": true, "sync": true, "games": true,
	"man": true, "lp": true, "mail": true, "news": true, "uucp": true, "proxy": true,
	"www-data": true, "backup": true, "list": true, "irc": true, "nobody": true,
	"systemd-network": true, "systemd-resolve": true, "messagebus": true, "sshd": true,
	"mysql": true, "postgres": true, "knot": true, "ferry": true, "_apt": true,
	"admin": true, "operator": true, "staff": true, "users": true, "sudo": true,
	"adm": true, "tty": true, "disk": true, "kmem": true, "dialout": true, "fax": true,
	"voice": true, "cdrom": true, "floppy": true, "tape": true, "audio": true, "dip": true,
	"src": true, "shadow": true, "utmp": true, "video": true, "sasl": true, "plugdev": true,
	"gnats": true, "nogroup": true, "input": true, "kvm": true, "render": true, "crontab": true,
	"ssl-cert": true, "postfix": true, "postdrop": true, "dovecot": true, "dovenull": true,
	"vmail": true, "opendkim": true, "redis": true, "memcache": true, "mariadb": true,
}

// reservedLoginPrefixes start the names of system accounts that packages
// create (systemd-timesync, systemd-coredump, …).
var reservedLoginPrefixes = []string{"systemd-"}

// reservedDatabases are server-internal databases and roles.
var reservedDatabases = map[string]bool{
	"mysql": true, "information_schema": true, "performance_schema": true, "sys": true,
	"postgres": true, "template0": true, "template1": true, "root": true, "test": true,
	"public": true, "none": true, "current_user": true, "session_user": true, "current_role": true,
}

// NormalizeDomain checks a domain name against RFC 1123 and returns it in
// lower case, international names as punycode (A-labels). minLabels is 2 for
// a site's identifier, 1 where a single label is allowed.
func NormalizeDomain(s string, minLabels int) (string, error) {
	return normalizeName(s, minLabels, false, false)
}

// normalizeName is NormalizeDomain with the DNS owner-name extras: a leading
// "*." wildcard and underscore labels (_sip._tcp, _dmarc).
func normalizeName(s string, minLabels int, wildcard, underscore bool) (string, error) {
	if s == "" {
		return "", errorString("is empty")
	}
	if len(s) > 253*4 {
		return "", errorString("is longer than 253 characters")
	}
	if !utf8.ValidString(s) {
		// IDNA would read each bad byte as U+FFFD and make an A-label of it.
		return "", errorString("is not valid UTF-8")
	}
	s = strings.TrimSuffix(s, ".")
	var prefix string
	if wildcard && strings.HasPrefix(s, "*.") {
		prefix, s = "*.", s[2:]
	}
	if underscore && strings.Contains("."+s, "._") {
		return normalizeServiceName(s, prefix, minLabels)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || unicode.IsSpace(r) {
			return "", errorString("contains a space or control character")
		}
	}
	a, err := idnaProfile.ToASCII(s)
	if err != nil {
		return "", errorString("is not a valid domain name (%v)", err)
	}
	a = strings.ToLower(a)
	labels := strings.Split(a, ".")
	if len(labels) < minLabels {
		return "", errorString("needs at least %d labels", minLabels)
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return "", errorString("has an invalid label %q (letters, digits and inner hyphens, 1 to 63 characters)", l)
		}
	}
	if labelRe.MatchString(labels[len(labels)-1]) && allDigits(labels[len(labels)-1]) {
		return "", errorString("has an all-numeric top-level label")
	}
	out := prefix + a
	if len(out) > 253 {
		return "", errorString("is longer than 253 characters")
	}
	return out, nil
}

// normalizeServiceName handles DNS owner names with underscore labels
// (_sip._tcp.example.org, sel._domainkey.example.org): those labels are
// checked as they are, the others as host-name labels, each on its own.
func normalizeServiceName(s, prefix string, minLabels int) (string, error) {
	labels := strings.Split(s, ".")
	if len(labels) < minLabels {
		return "", errorString("needs at least %d labels", minLabels)
	}
	if strings.HasPrefix(labels[len(labels)-1], "_") {
		return "", errorString("cannot end in a service label")
	}
	out := make([]string, len(labels))
	for i, l := range labels {
		if strings.HasPrefix(l, "_") {
			l = strings.ToLower(l)
			if !svcLabelRe.MatchString(l) {
				return "", errorString("has an invalid service label %q", l)
			}
			out[i] = l
			continue
		}
		a, err := normalizeName(l, 1, false, false)
		if err != nil {
			return "", err
		}
		out[i] = a
	}
	if allDigits(out[len(out)-1]) {
		return "", errorString("has an all-numeric top-level label")
	}
	name := prefix + strings.Join(out, ".")
	if len(name) > 253 {
		return "", errorString("is longer than 253 characters")
	}
	return name, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ValidateMemberName checks a member's short name: [a-z0-9-], 1 to 32.
func ValidateMemberName(s string) error {
	if !memberRe.MatchString(s) {
		return errorString("must be 1 to 32 lower-case letters, digits or inner hyphens")
	}
	return nil
}

// ValidateHostName checks a host's name: one DNS label.
func ValidateHostName(s string) error {
	if !hostRe.MatchString(s) {
		return errorString("must be one DNS label: lower-case letters, digits, inner hyphens, 1 to 63 characters")
	}
	return nil
}

// ValidateLogin checks a Unix login name and refuses system accounts.
func ValidateLogin(s string) error {
	if !loginRe.MatchString(s) {
		return errorString("must start with a lower-case letter or _, then up to 31 lower-case letters, digits, _ or -")
	}
	if reservedLogins[s] {
		return errorString("%q is a system account", s)
	}
	for _, p := range reservedLoginPrefixes {
		if strings.HasPrefix(s, p) {
			return errorString("%q is a system account name (names starting %q are the system's)", s, p)
		}
	}
	return nil
}

// ValidateConfigString checks a value that a node writes into a generated
// config file as one double-quoted argument (an Apache directive, a PHP-FPM
// ini value): no double quote, backslash, dollar sign (Apache and PHP-FPM
// expand ${VAR}) or control character. The node quotes with the same rule,
// so what the API accepts the node can always write.
func ValidateConfigString(s string) error {
	switch {
	case s == "":
		return errorString("is empty")
	case strings.ContainsAny(s, "\"\\$"):
		return errorString("%q holds a character a config file cannot carry (a double quote, backslash or $)", s)
	case hasControl(s):
		return errorString("contains a control character")
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// ValidateDatabaseName checks a MariaDB or PostgreSQL database or role name.
// The rule is the intersection of both servers' safe identifiers, so a name
// never needs quoting tricks.
func ValidateDatabaseName(s string) error {
	if !dbNameRe.MatchString(s) || len(s) > 63 {
		return errorString("must start with a lower-case letter, then up to 62 lower-case letters, digits or _")
	}
	if reservedDatabases[s] || strings.HasPrefix(s, "pg_") {
		return errorString("%q is reserved by the database server", s)
	}
	return nil
}

// ValidateTokenName checks a token's name, which the audit log shows as who.
func ValidateTokenName(s string) error {
	if !tokenNmRe.MatchString(s) {
		return errorString("must be 1 to 64 letters, digits, '.', '_', '@' or '-'")
	}
	return nil
}

// CleanRelPath checks a path relative to an order's directory: no absolute
// path, no "..", no control characters. It returns the cleaned path.
func CleanRelPath(s string) (string, error) {
	if s == "" {
		return "", errorString("is empty")
	}
	if len(s) > 1024 {
		return "", errorString("is longer than 1024 characters")
	}
	if hasControl(s) {
		return "", errorString("contains a control character")
	}
	if strings.HasPrefix(s, "/") {
		return "", errorString("must be relative to the order's directory, not absolute")
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return "", errorString("must not contain \"..\"")
		}
	}
	c := path.Clean(s)
	if c == "." {
		return "", errorString("must name a directory inside the order's directory")
	}
	return c, nil
}

// ParseAddr checks an IPv4 or IPv6 address.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, errorString("%q is not an IPv4 or IPv6 address", s)
	}
	return a, nil
}

// msgError is a validation message without a field; callers add the field.
type msgError struct{ msg string }

func (e *msgError) Error() string { return e.msg }

func errorString(format string, args ...any) error {
	return &msgError{msg: fmt.Sprintf(format, args...)}
}

// at puts a validation message under a field name.
func at(field string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*FieldError); ok {
		return prefixField(field, err)
	}
	return &FieldError{Field: field, Message: err.Error()}
}
