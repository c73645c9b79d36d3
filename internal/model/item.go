package model

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is what an item makes real on its host.
type Kind string

// Item kinds.
const (
	KindUserAccount  Kind = "user-account"
	KindWebConf      Kind = "web-conf"
	KindDNS          Kind = "dns"
	KindMySQLDB      Kind = "mysql-db"
	KindMySQLUser    Kind = "mysql-user"
	KindPgSQLDB      Kind = "pgsql-db"
	KindScheduledJob Kind = "scheduled-job"
	// KindOrderAccess gives another member's web login access to one
	// order's items (kept by the control plane; no host applies it).
	KindOrderAccess  Kind = "hosting-order-access"
	KindMailbox      Kind = "mailbox"
	KindEmailAddress Kind = "email-address"
)

// Kinds lists every item kind, in the order a host applies them: accounts
// before the sites and jobs that run as them, databases before their users.
// It is the order of the kind registry (kinds.go).
var Kinds = kindNames()

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// HostBound reports whether items of kind k live on the order's web host
// and so are copied to the new host by a move. DNS items are served by the
// dns hosts and switch at cutover instead.
func (k Kind) HostBound() bool { return k != KindDNS && !KindInfoOf(k).ControlPlane }

// Item is one thing realised on a host for an order (a "red item").
type Item struct {
	ID        int64     `json:"id"`
	OrderID   int64     `json:"order_id"`
	Host      string    `json:"host"`
	Kind      Kind      `json:"kind"`
	State     State     `json:"state"`
	Message   string    `json:"message,omitempty"`
	Spec      Spec      `json:"spec"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Spec holds an item's kind-specific fields. Only the fields of the item's
// kind may be set; Normalize checks that and every field's value.
type Spec struct {
	// user-account; scheduled-job and web-conf use Login for the
	// user-account they run as (the site's PHP-FPM pool, the cron job).
	Login string `json:"login,omitempty"`
	Shell string `json:"shell,omitempty"`
	// Password is accepted on input only: Normalize turns it into
	// PasswordHash (bcrypt for Unix accounts, MariaDB's native hash, or a
	// PostgreSQL SCRAM verifier) and clears it.
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`

	// web-conf
	ServerNames []string `json:"server_names,omitempty"`
	Docroot     string   `json:"docroot,omitempty"`
	PHP         *bool    `json:"php,omitempty"`
	// PHPSettings are the site's PHP version and pool limits (php.go).
	PHPSettings

	// dns
	Zone  string `json:"zone,omitempty"`
	FQDN  string `json:"fqdn,omitempty"`
	Type  string `json:"type,omitempty"`
	Value string `json:"value,omitempty"`
	TTL   int    `json:"ttl,omitempty"`

	// mysql-db, pgsql-db, mysql-user: the database or user name.
	Name string `json:"name,omitempty"`
	// pgsql-db: the role that owns the database (defaults to Name).
	Owner string `json:"owner,omitempty"`
	// mysql-user: databases it gets all privileges on.
	Databases []string `json:"databases,omitempty"`

	// scheduled-job
	Schedule string `json:"schedule,omitempty"`
	Command  string `json:"command,omitempty"`

	// web-conf: HTTPS, nil when the site serves plain HTTP only (https.go).
	HTTPS *HTTPSSpec `json:"https,omitempty"`

	// email-address: the address; Login names the account whose mailbox
	// receives its mail, Forward the addresses it is sent on to (mail.go).
	Address string   `json:"address,omitempty"`
	Forward []string `json:"forward,omitempty"`
	// mailbox: Login is the account; QuotaMB its quota in MiB, 0 for none.
	QuotaMB int `json:"quota_mb,omitempty"`
}

// Shells a user-account may have.
var Shells = []string{"/bin/bash", "/bin/sh", "/usr/bin/bash", "/usr/bin/sh", "/usr/sbin/nologin", "/bin/false"}

func (s *Spec) setFields() []string {
	var f []string
	add := func(name string, set bool) {
		if set {
			f = append(f, name)
		}
	}
	add("login", s.Login != "")
	add("shell", s.Shell != "")
	add("password", s.Password != "")
	add("password_hash", s.PasswordHash != "")
	add("server_names", len(s.ServerNames) > 0)
	add("docroot", s.Docroot != "")
	add("php", s.PHP != nil)
	s.PHPSettings.setFields(add)
	add("https", s.HTTPS != nil)
	add("zone", s.Zone != "")
	add("fqdn", s.FQDN != "")
	add("type", s.Type != "")
	add("value", s.Value != "")
	add("ttl", s.TTL != 0)
	add("name", s.Name != "")
	add("owner", s.Owner != "")
	add("databases", len(s.Databases) > 0)
	add("schedule", s.Schedule != "")
	add("command", s.Command != "")
	add("address", s.Address != "")
	add("forward", len(s.Forward) > 0)
	add("quota_mb", s.QuotaMB != 0)
	return f
}

// Normalize checks the spec for kind k and rewrites it in canonical form:
// names lower case and punycoded, defaults filled in, a password replaced by
// its hash. orderDomain is the order's identifier, the default DNS zone.
// Errors are *FieldError with fields named spec.<field>.
func (s *Spec) Normalize(k Kind, orderDomain string) error {
	if !k.Valid() {
		return fieldErr("kind", "unknown item kind %q (%s)", k, kindList())
	}
	for _, f := range s.setFields() {
		if fields := KindInfoOf(k).Fields; !slices.Contains(fields, f) {
			return fieldErr("spec."+f, "does not apply to a %s item (it takes %s)", k, strings.Join(fields, ", "))
		}
	}
	if err := KindInfoOf(k).normalize(s, orderDomain); err != nil {
		return prefixField("spec", err)
	}
	return nil
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func (s *Spec) normalizeUserAccount(string) error {
	if err := at("login", ValidateLogin(s.Login)); err != nil {
		return err
	}
	if s.Shell == "" {
		s.Shell = "/bin/bash"
	}
	if !slices.Contains(Shells, s.Shell) {
		return fieldErr("shell", "%q is not an allowed shell (%s)", s.Shell, strings.Join(Shells, ", "))
	}
	return s.hashPassword(HashUnixPassword, ValidateUnixHash)
}

func (s *Spec) normalizeWebConf(string) error {
	if err := at("login", ValidateLogin(s.Login)); err != nil {
		return err
	}
	if len(s.ServerNames) == 0 {
		return fieldErr("server_names", "needs at least one name")
	}
	if len(s.ServerNames) > 50 {
		return fieldErr("server_names", "has more than 50 names")
	}
	seen := map[string]bool{}
	for i, n := range s.ServerNames {
		d, err := NormalizeDomain(n, 2)
		if err != nil {
			return at("server_names", errorString("%q %v", n, err))
		}
		if seen[d] {
			return fieldErr("server_names", "%q is listed twice", d)
		}
		seen[d] = true
		s.ServerNames[i] = d
	}
	if s.Docroot == "" {
		s.Docroot = "web"
	}
	p, err := CleanRelPath(s.Docroot)
	if err != nil {
		return at("docroot", err)
	}
	if p != "web" && !strings.HasPrefix(p, "web/") {
		return fieldErr("docroot", "must be web or a directory under web/, got %q", p)
	}
	if err := ValidateConfigString(p); err != nil {
		return at("docroot", err)
	}
	s.Docroot = p
	if s.PHP == nil {
		t := true
		s.PHP = &t
	}
	if err := s.PHPSettings.normalize(*s.PHP); err != nil {
		return err
	}
	return at("https", s.normalizeHTTPS())
}

func (s *Spec) normalizeMySQLDB(string) error {
	return at("name", ValidateDatabaseName(s.Name))
}

func (s *Spec) normalizeMySQLUser(string) error {
	if err := at("name", ValidateDatabaseName(s.Name)); err != nil {
		return err
	}
	if len(s.Name) > 32 {
		return fieldErr("name", "must be at most 32 characters for MariaDB")
	}
	for _, db := range s.Databases {
		if err := ValidateDatabaseName(db); err != nil {
			return at("databases", errorString("%q %v", db, err))
		}
	}
	if err := s.hashPassword(HashMySQLPassword, ValidateMySQLHash); err != nil {
		return err
	}
	if s.PasswordHash == "" {
		return fieldErr("password", "a mysql-user needs a password (or a password_hash); an account without one would let anyone in")
	}
	return nil
}

func (s *Spec) normalizePgSQLDB(string) error {
	if err := at("name", ValidateDatabaseName(s.Name)); err != nil {
		return err
	}
	if s.Owner == "" {
		s.Owner = s.Name
	}
	if err := at("owner", ValidateDatabaseName(s.Owner)); err != nil {
		return err
	}
	return s.hashPassword(HashPgSQLPassword, ValidatePgSQLHash)
}

func (s *Spec) normalizeScheduledJob(string) error {
	if err := at("login", ValidateLogin(s.Login)); err != nil {
		return err
	}
	if err := at("schedule", ValidateCronSchedule(s.Schedule)); err != nil {
		return err
	}
	s.Schedule = strings.Join(strings.Fields(s.Schedule), " ")
	return at("command", ValidateCronCommand(s.Command))
}

func (s *Spec) normalizeDNS(orderDomain string) error {
	if s.Zone == "" {
		s.Zone = orderDomain
	}
	z, err := NormalizeDomain(s.Zone, 2)
	if err != nil {
		return at("zone", err)
	}
	s.Zone = z
	if s.FQDN == "" || s.FQDN == "@" {
		s.FQDN = z
	}
	name, err := normalizeName(s.FQDN, 1, true, true)
	if err != nil {
		return at("fqdn", err)
	}
	if !InZone(strings.TrimPrefix(name, "*."), z) && name != "*."+z {
		return fieldErr("fqdn", "%q is not inside the zone %q", name, z)
	}
	s.FQDN = name
	s.Type = strings.ToUpper(s.Type)
	if s.Type == "" {
		return fieldErr("type", "is empty (A, AAAA, CNAME, MX, TXT, SRV)")
	}
	v, err := NormalizeDNSValue(s.Type, s.Value)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown record type") {
			return at("type", err)
		}
		return at("value", err)
	}
	s.Value = v
	if s.Type == RRCNAME && name == z {
		return fieldErr("fqdn", "a CNAME cannot sit at the zone apex %q", z)
	}
	if s.TTL == 0 {
		s.TTL = DefaultTTL
	}
	return at("ttl", ValidateTTL(s.TTL))
}

func (s *Spec) hashPassword(hash func(string) (string, error), check func(string) error) error {
	switch {
	case s.Password != "" && s.PasswordHash != "":
		return fieldErr("password", "give a password or a password_hash, not both")
	case s.Password != "":
		if len(s.Password) < 8 || len(s.Password) > 72 {
			return fieldErr("password", "must be 8 to 72 bytes long")
		}
		h, err := hash(s.Password)
		if err != nil {
			return fieldErr("password", "cannot be hashed: %v", err)
		}
		s.Password, s.PasswordHash = "", h
	case s.PasswordHash != "":
		return at("password_hash", check(s.PasswordHash))
	}
	return nil
}

// Identities are the names an item claims. No two live items may claim the
// same identity, except that one of the pair may be in transfer-limbo
// (CheckUnique).
func (s *Spec) Identities(k Kind) []string {
	if f := KindInfoOf(k).identities; f != nil {
		return f(s)
	}
	return nil
}

// CheckIdentityKept refuses an update of an item of kind k that changes
// one of its identity fields from old to s (both normalized).
func (s *Spec) CheckIdentityKept(k Kind, old Spec) error {
	for _, f := range KindInfoOf(k).Identity {
		was, now := old.field(f), s.field(f)
		if was != now {
			return fieldErr("spec."+f, "cannot change from %q to %q: it is the %s's identity on its host; delete the item and add a new one", was, now, k)
		}
	}
	return nil
}

// field returns the value of one identity field by its JSON name.
func (s *Spec) field(name string) string {
	switch name {
	case "login":
		return s.Login
	case "name":
		return s.Name
	case "owner":
		return s.Owner
	case "zone":
		return s.Zone
	case "fqdn":
		return s.FQDN
	case "type":
		return s.Type
	case "address":
		return s.Address
	}
	return ""
}

// Redacted returns the spec without secrets, as members and admins see it.
func (s Spec) Redacted() Spec {
	s.Password = ""
	if s.PasswordHash != "" {
		s.PasswordHash = "(set)"
	}
	s.ServerNames = slices.Clone(s.ServerNames)
	s.Databases = slices.Clone(s.Databases)
	s.Forward = slices.Clone(s.Forward)
	s.HTTPS = s.HTTPS.redacted()
	return s
}

// Holder is one live item that claims an identity, for CheckUnique.
type Holder struct {
	ItemID int64
	State  State
}

// ErrDuplicate is wrapped when an identity is already taken.
var ErrDuplicate = errors.New("already exists")

// CheckUnique applies the uniqueness rule to an item in state st that claims
// identity, given the other live items that claim it: at most one other, and
// then one of the two must be in transfer-limbo.
func CheckUnique(identity string, st State, others []Holder) error {
	var live []Holder
	for _, h := range others {
		if h.State.Live() {
			live = append(live, h)
		}
	}
	if len(live) == 0 {
		return nil
	}
	if len(live) == 1 && (st == StateTransferLimbo) != (live[0].State == StateTransferLimbo) {
		return nil
	}
	return fmt.Errorf("%w: %s is held by item %d", ErrDuplicate, identity, live[0].ItemID)
}

// IsDatabase reports whether it is the live database item of engine
// ("mysql" or "pgsql") called name.
func (it Item) IsDatabase(engine, name string) bool {
	return it.State != StateDeleted && it.Spec.Name == name && KindInfoOf(it.Kind).Engine == engine
}
