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
}

// kindRegistry holds every kind, in the order a host applies them.
var kindRegistry = []KindInfo{
	{Kind: KindUserAccount, Description: "a Unix account with its home in the order's directory",
		Fields: []string{"login", "shell", "password", "password_hash"}, Required: []string{"login"}, Identity: []string{"login"},
		Summary: func(s *Spec) string { return s.Login }},
	{Kind: KindMySQLDB, Description: "a MariaDB database",
		Fields: []string{"name"}, Required: []string{"name"}, Identity: []string{"name"},
		Summary: func(s *Spec) string { return s.Name }},
	{Kind: KindMySQLUser, Description: "a MariaDB user with all privileges on some of the order's databases",
		Fields: []string{"name", "password", "password_hash", "databases"}, Required: []string{"name"}, Identity: []string{"name"},
		Summary: func(s *Spec) string { return joinNonEmpty(" on ", s.Name, strings.Join(s.Databases, ",")) }},
	{Kind: KindPgSQLDB, Description: "a PostgreSQL database and its owner role",
		Fields: []string{"name", "owner", "password", "password_hash"}, Required: []string{"name"}, Identity: []string{"name", "owner"},
		Summary: func(s *Spec) string { return joinNonEmpty(" owned by ", s.Name, s.Owner) }},
	{Kind: KindWebConf, Description: "an Apache site with its own PHP-FPM pool, run as one of the order's accounts",
		Fields: []string{"login", "server_names", "docroot", "php", "https"}, Required: []string{"login", "server_names"},
		Summary: func(s *Spec) string { return joinNonEmpty(" as ", strings.Join(s.ServerNames, ","), s.Login) }},
	{Kind: KindScheduledJob, Description: "a line in one of the order's accounts' crontab",
		Fields: []string{"login", "schedule", "command"}, Required: []string{"login", "schedule", "command"},
		Summary: func(s *Spec) string { return s.Login + ": " + s.Schedule + " " + s.Command }},
	{Kind: KindDNS, Description: "a DNS record in a zone the co-op serves",
		Fields: []string{"zone", "fqdn", "type", "value", "ttl"}, Required: []string{"type", "value"}, Identity: []string{"zone", "fqdn", "type"},
		Summary: func(s *Spec) string { return fmt.Sprintf("%s %d %s %s", s.FQDN, s.TTL, s.Type, s.Value) }},
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
