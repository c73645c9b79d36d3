package model

import (
	"fmt"
	"slices"
	"strings"
)

// KindInfo is what the kind registry knows of one item kind: each kind is
// declared here once, and code that needs to know a kind's fields, which of
// them it cannot do without, or which make its identity looks it up here.
type KindInfo struct {
	Kind        Kind
	Description string
	// Fields are the spec fields the kind takes (their JSON names).
	Fields []string
	// Required are the fields an item of the kind cannot be added
	// without; Flags names the CLI flag of each, where it differs.
	Required []string
	// Identity are the fields that make an item what it is on its host:
	// changing one would make the node create a new account, database or
	// record and leave the old one behind, untracked. Update refuses them.
	Identity []string
	// Summary says in a few words which item of the kind a spec is, for
	// lists and messages.
	Summary func(s *Spec) string
	// Engine is the database engine ("mysql", "pgsql") of a kind that is
	// a database a move copies; empty for every other kind.
	Engine string
	// ControlPlane: the control plane alone keeps items of the kind; no
	// host applies them, so they are active once added and deleted at
	// once, a move leaves them with their order, and Kind.HostBound is
	// false.
	ControlPlane bool
	// NamesField is the field holding the domain names an item of the
	// kind claims (web-conf's server names, a DNS record's name); empty
	// when it claims none.
	NamesField string

	normalize  func(s *Spec, orderDomain string) error
	identities func(s *Spec) []string
	names      func(s *Spec) []string
	requires   func(s *Spec) []Ref
	leftBehind func(s *Spec, id int64) string
}

// Ref is an item of the same order that an item cannot exist without: the
// account a site or job runs as, the databases a MariaDB user is granted.
type Ref struct {
	// Field is the spec field that names it (spec.login).
	Field string
	// Kind and Name say which item; Identity is the identity that item
	// claims (Identities), which is how it is looked up.
	Kind     Kind
	Name     string
	Identity string
}

// kindRegistry holds every kind, in the order a host applies them.
var kindRegistry = []KindInfo{
	{Kind: KindUserAccount, Description: "a Unix account with its home in the order's directory",
		Fields: []string{"login", "shell", "password", "password_hash"}, Required: []string{"login"}, Identity: []string{"login"},
		Summary:    func(s *Spec) string { return s.Login },
		normalize:  (*Spec).normalizeUserAccount,
		identities: func(s *Spec) []string { return []string{loginIdentity(s.Login)} },
		leftBehind: func(s *Spec, _ int64) string {
			return fmt.Sprintf("the Unix user and group %s, its home and crontab", s.Login)
		}},
	{Kind: KindMySQLDB, Description: "a MariaDB database", Engine: "mysql",
		Fields: []string{"name"}, Required: []string{"name"}, Identity: []string{"name"},
		Summary:    func(s *Spec) string { return s.Name },
		normalize:  (*Spec).normalizeMySQLDB,
		identities: func(s *Spec) []string { return []string{mysqlDBIdentity(s.Name)} },
		leftBehind: func(s *Spec, _ int64) string { return fmt.Sprintf("the MariaDB database %s with its data", s.Name) }},
	{Kind: KindMySQLUser, Description: "a MariaDB user with all privileges on some of the order's databases",
		Fields: []string{"name", "password", "password_hash", "databases"}, Required: []string{"name"}, Identity: []string{"name"},
		Summary:    func(s *Spec) string { return joinNonEmpty(" on ", s.Name, strings.Join(s.Databases, ",")) },
		normalize:  (*Spec).normalizeMySQLUser,
		identities: func(s *Spec) []string { return []string{"mysql-user:" + s.Name} },
		requires: func(s *Spec) []Ref {
			refs := make([]Ref, len(s.Databases))
			for i, db := range s.Databases {
				refs[i] = Ref{Field: "spec.databases", Kind: KindMySQLDB, Name: db, Identity: mysqlDBIdentity(db)}
			}
			return refs
		},
		leftBehind: func(s *Spec, _ int64) string { return fmt.Sprintf("the MariaDB user %s and its grants", s.Name) }},
	{Kind: KindPgSQLDB, Description: "a PostgreSQL database and its owner role", Engine: "pgsql",
		Fields: []string{"name", "owner", "password", "password_hash"}, Required: []string{"name"}, Identity: []string{"name", "owner"},
		Summary:    func(s *Spec) string { return joinNonEmpty(" owned by ", s.Name, s.Owner) },
		normalize:  (*Spec).normalizePgSQLDB,
		identities: func(s *Spec) []string { return []string{"pgsql-db:" + s.Name} },
		leftBehind: func(s *Spec, _ int64) string {
			return fmt.Sprintf("the PostgreSQL database %s with its data, and the role %s", s.Name, s.Owner)
		}},
	{Kind: KindWebConf, Description: "an Apache site with its own PHP-FPM pool, run as one of the order's accounts",
		Fields: slices.Concat([]string{"login", "server_names", "docroot", "php", "https"}, phpFields), Required: []string{"login", "server_names"},
		NamesField: "spec.server_names",
		Summary:    func(s *Spec) string { return joinNonEmpty(" as ", strings.Join(s.ServerNames, ","), s.Login) },
		normalize:  (*Spec).normalizeWebConf,
		identities: func(s *Spec) []string {
			ids := make([]string, len(s.ServerNames))
			for i, n := range s.ServerNames {
				ids[i] = "server-name:" + n
			}
			return ids
		},
		names:    func(s *Spec) []string { return s.ServerNames },
		requires: requiresLogin,
		leftBehind: func(s *Spec, id int64) string {
			return fmt.Sprintf("the Apache vhost and PHP-FPM pool of item %d (server names %s)", id, strings.Join(s.ServerNames, ", "))
		}},
	{Kind: KindScheduledJob, Description: "a line in one of the order's accounts' crontab",
		Fields: []string{"login", "schedule", "command"}, Required: []string{"login", "schedule", "command"},
		Summary:    func(s *Spec) string { return s.Login + ": " + s.Schedule + " " + s.Command },
		normalize:  (*Spec).normalizeScheduledJob,
		identities: func(s *Spec) []string { return []string{"cron:" + s.Login + " " + s.Schedule + " " + s.Command} },
		requires:   requiresLogin,
		leftBehind: func(s *Spec, _ int64) string {
			return fmt.Sprintf("the line %q in %s's crontab", s.Schedule+" "+s.Command, s.Login)
		}},
	{Kind: KindMailbox, Description: "a Maildir mailbox in the home of one of the order's accounts, read over IMAP with the account's password",
		Fields: []string{"login", "quota_mb"}, Required: []string{"login"}, Identity: []string{"login"},
		Summary:    mailboxSummary,
		normalize:  (*Spec).normalizeMailbox,
		identities: func(s *Spec) []string { return []string{mailboxIdentity(s.Login)} },
		requires:   requiresLogin,
		leftBehind: func(s *Spec, _ int64) string {
			return fmt.Sprintf("the mailbox of %s (%s in its home) and its lines in the host's mail maps", s.Login, MailboxDir)
		}},
	{Kind: KindEmailAddress, Description: "an address at one of the order's domains, delivered to a mailbox of the order or forwarded",
		Fields: []string{"address", "login", "forward"}, Required: []string{"address"}, Identity: []string{"address"},
		NamesField: "spec.address",
		Summary:    emailAddressSummary,
		normalize:  (*Spec).normalizeEmailAddress,
		identities: func(s *Spec) []string { return []string{"email:" + s.Address} },
		names:      func(s *Spec) []string { return []string{EmailDomain(s.Address)} },
		requires: func(s *Spec) []Ref {
			if s.Login == "" {
				return nil
			}
			return []Ref{{Field: "spec.login", Kind: KindMailbox, Name: s.Login, Identity: mailboxIdentity(s.Login)}}
		},
		leftBehind: func(s *Spec, _ int64) string {
			return fmt.Sprintf("the address %s in the host's mail maps", s.Address)
		}},
	{Kind: KindDNS, Description: "a DNS record in a zone the co-op serves",
		Fields: []string{"zone", "fqdn", "type", "value", "ttl"}, Required: []string{"type", "value"}, Identity: []string{"zone", "fqdn", "type"},
		NamesField: "spec.fqdn",
		Summary:    func(s *Spec) string { return fmt.Sprintf("%s %d %s %s", s.FQDN, s.TTL, s.Type, s.Value) },
		normalize:  (*Spec).normalizeDNS,
		identities: func(s *Spec) []string { return []string{"dns:" + s.FQDN + " " + s.Type + " " + s.Value} },
		names:      func(s *Spec) []string { return []string{s.FQDN} },
		leftBehind: func(s *Spec, _ int64) string {
			return fmt.Sprintf("the record %s %s %s in the dns host's copy of zone %s, until its next zone update", s.FQDN, s.Type, s.Value, s.Zone)
		}},
	{Kind: KindOrderAccess, Description: "another member's web login, given access to this order's items (not to the order itself)",
		ControlPlane: true,
		Fields:       []string{"login"}, Required: []string{"login"}, Identity: []string{"login"},
		Summary:    func(s *Spec) string { return "access for " + s.Login },
		normalize:  (*Spec).normalizeOrderAccess,
		leftBehind: func(*Spec, int64) string { return "nothing: no host holds it" }},
}

func loginIdentity(login string) string { return "login:" + login }

func mysqlDBIdentity(name string) string { return "mysql-db:" + name }

// requiresLogin is the Ref of a kind that runs as one of the order's
// user-accounts.
func requiresLogin(s *Spec) []Ref {
	return []Ref{{Field: "spec.login", Kind: KindUserAccount, Name: s.Login, Identity: loginIdentity(s.Login)}}
}

// Names lists the domain names an item of kind k claims (NamesField says
// which field holds them).
func (s *Spec) Names(k Kind) []string {
	if f := KindInfoOf(k).names; f != nil {
		return f(s)
	}
	return nil
}

// Requires lists the items of the same order an item of kind k needs.
func (s *Spec) Requires(k Kind) []Ref {
	if f := KindInfoOf(k).requires; f != nil {
		return f(s)
	}
	return nil
}

// LeftBehind says what the item may have left on its host if it is
// forgotten rather than deleted.
func (it Item) LeftBehind() string {
	if f := KindInfoOf(it.Kind).leftBehind; f != nil {
		return f(&it.Spec, it.ID)
	}
	return "whatever the node made for it"
}

// KindInfoOf returns the registry's entry for k; an unknown kind has an
// empty one.
func KindInfoOf(k Kind) KindInfo {
	for _, ki := range kindRegistry {
		if ki.Kind == k {
			return ki
		}
	}
	return KindInfo{}
}

// MissingFields lists the required fields of kind k that s leaves unset,
// in the registry's order.
func (s *Spec) MissingFields(k Kind) []string {
	set := s.setFields()
	var missing []string
	for _, f := range KindInfoOf(k).Required {
		if !slices.Contains(set, f) {
			missing = append(missing, f)
		}
	}
	return missing
}

func kindNames() []Kind {
	ks := make([]Kind, len(kindRegistry))
	for i, ki := range kindRegistry {
		ks[i] = ki.Kind
	}
	return ks
}

// Summary says in a few words which item of kind k the spec is: the same
// words in the CLI, the web UI and the move's messages.
func (s *Spec) Summary(k Kind) string {
	if f := KindInfoOf(k).Summary; f != nil {
		return f(s)
	}
	return s.Name
}

// joinNonEmpty joins a and b with sep, or returns a alone when b is empty.
func joinNonEmpty(sep, a, b string) string {
	if b == "" {
		return a
	}
	return a + sep + b
}
