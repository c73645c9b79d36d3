package model_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

const orderDomain = "example.org"

func ptr[T any](v T) *T { return &v }

// kindFields are the spec fields each kind takes, as DESIGN.md describes
// the kinds, written out here apart from the model's own list.
var kindFields = map[model.Kind][]string{
	"user-account":         {"login", "shell", "password", "password_hash"},
	"web-conf":             {"login", "server_names", "docroot", "php", "https", "php_version", "memory_limit", "upload_max_filesize", "post_max_size", "max_children"},
	"dns":                  {"zone", "fqdn", "type", "value", "ttl"},
	"mysql-db":             {"name"},
	"mysql-user":           {"name", "password", "password_hash", "databases"},
	"pgsql-db":             {"name", "owner", "password", "password_hash"},
	"scheduled-job":        {"login", "schedule", "command"},
	"hosting-order-access": {"login"},
	"mailbox":              {"login", "quota_mb"},
	"email-address":        {"address", "login", "forward"},
}

// setField sets each spec field (by its JSON name) to a value that is valid
// wherever the field applies.
var setField = map[string]func(*model.Spec){
	"login":               func(s *model.Spec) { s.Login = "alice" },
	"shell":               func(s *model.Spec) { s.Shell = "/bin/sh" },
	"password":            func(s *model.Spec) { s.Password = "correct horse" },
	"password_hash":       func(s *model.Spec) { s.PasswordHash = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19" },
	"server_names":        func(s *model.Spec) { s.ServerNames = []string{"example.org"} },
	"docroot":             func(s *model.Spec) { s.Docroot = "web" },
	"php":                 func(s *model.Spec) { s.PHP = ptr(false) },
	"https":               func(s *model.Spec) { s.HTTPS = &model.HTTPSSpec{Source: "acme"} },
	"php_version":         func(s *model.Spec) { s.PHPVersion = "8.2" },
	"memory_limit":        func(s *model.Spec) { s.MemoryLimit = "256M" },
	"upload_max_filesize": func(s *model.Spec) { s.UploadMaxFilesize = "4M" },
	"post_max_size":       func(s *model.Spec) { s.PostMaxSize = "16M" },
	"max_children":        func(s *model.Spec) { s.MaxChildren = 8 },
	"zone":                func(s *model.Spec) { s.Zone = "example.org" },
	"fqdn":                func(s *model.Spec) { s.FQDN = "www.example.org" },
	"type":                func(s *model.Spec) { s.Type = "A" },
	"value":               func(s *model.Spec) { s.Value = "192.0.2.1" },
	"ttl":                 func(s *model.Spec) { s.TTL = 300 },
	"name":                func(s *model.Spec) { s.Name = "shop" },
	"owner":               func(s *model.Spec) { s.Owner = "shop" },
	"databases":           func(s *model.Spec) { s.Databases = []string{"shop"} },
	"schedule":            func(s *model.Spec) { s.Schedule = "@daily" },
	"command":             func(s *model.Spec) { s.Command = "true" },
	"address":             func(s *model.Spec) { s.Address = "info@example.org" },
	"forward":             func(s *model.Spec) { s.Forward = []string{"bob@example.net"} },
	"quota_mb":            func(s *model.Spec) { s.QuotaMB = 500 },
}

// minimalSpec is the smallest valid spec of kind k.
func minimalSpec(k model.Kind) model.Spec {
	var s model.Spec
	for _, f := range map[model.Kind][]string{
		"user-account":         {"login"},
		"web-conf":             {"login", "server_names"},
		"dns":                  {"type", "value"},
		"mysql-db":             {"name"},
		"mysql-user":           {"name", "password"},
		"pgsql-db":             {"name"},
		"scheduled-job":        {"login", "schedule", "command"},
		"hosting-order-access": {"login"},
		"mailbox":              {"login"},
		"email-address":        {"address", "login"},
	}[k] {
		setField[f](&s)
	}
	return s
}

func TestSpecFieldListsCoverSpec(t *testing.T) {
	var tags []string
	st := reflect.TypeFor[model.Spec]()
	for _, f := range reflect.VisibleFields(st) {
		if f.Anonymous {
			continue // its fields are the spec's, inlined
		}
		tags = append(tags, strings.Split(f.Tag.Get("json"), ",")[0])
	}
	for _, tag := range tags {
		if setField[tag] == nil {
			t.Errorf("spec field %q has no setter in this test", tag)
		}
	}
	if len(kindFields) != len(model.Kinds) {
		t.Errorf("the test knows %d kinds, the model %d", len(kindFields), len(model.Kinds))
	}
	for _, k := range model.Kinds {
		if kindFields[k] == nil {
			t.Errorf("kind %s has no field list in this test", k)
		}
	}
}

// Every field a kind does not take is refused and named as spec.<field>;
// every field it takes is accepted.
func TestSpecNormalizeFieldsPerKind(t *testing.T) {
	for _, k := range model.Kinds {
		for field, set := range setField {
			t.Run(string(k)+"/"+field, func(t *testing.T) {
				s := minimalSpec(k)
				if field == "password_hash" {
					s.Password = ""
				}
				set(&s)
				if k == "user-account" && field == "password_hash" {
					s.PasswordHash = "$6$salt$" + strings.Repeat("x", 86)
				}
				if k == "pgsql-db" && field == "password_hash" {
					s.PasswordHash = scramSample
				}
				err := s.Normalize(k, orderDomain)
				if slices.Contains(kindFields[k], field) {
					if err != nil {
						t.Errorf("%s with %s: %v", k, field, err)
					}
					return
				}
				wantField(t, err, "spec."+field)
			})
		}
	}
}

func TestSpecNormalizeUnknownKind(t *testing.T) {
	for _, k := range []model.Kind{"", "ftp", "User-Account", "email", "Mailbox"} {
		s := model.Spec{Login: "alice"}
		wantField(t, s.Normalize(k, orderDomain), "kind")
	}
}

// webConfPHP is a web-conf with PHP settings p.
func webConfPHP(p model.PHPSettings) model.Spec {
	return model.Spec{Login: "alice", ServerNames: []string{"example.org"}, PHPSettings: p}
}

// specCases are specs by kind, with what Normalize must make of each: the
// canonical spec, or an error naming a spec field. A function, so that no
// run sees another's normalized slices.
func specCases() map[model.Kind][]validateCase[model.Spec] {
	return map[model.Kind][]validateCase[model.Spec]{
		"user-account": {
			{name: "shell defaults to bash",
				in:   model.Spec{Login: "alice"},
				want: model.Spec{Login: "alice", Shell: "/bin/bash"}},
			{name: "nologin shell kept",
				in:   model.Spec{Login: "alice", Shell: "/usr/sbin/nologin"},
				want: model.Spec{Login: "alice", Shell: "/usr/sbin/nologin"}},
			{name: "sha512crypt hash kept",
				in:   model.Spec{Login: "alice", PasswordHash: "$6$rounds=5000$salt$" + strings.Repeat("A", 86)},
				want: model.Spec{Login: "alice", Shell: "/bin/bash", PasswordHash: "$6$rounds=5000$salt$" + strings.Repeat("A", 86)}},
			{name: "yescrypt hash kept",
				in:   model.Spec{Login: "alice", PasswordHash: "$y$j9T$abcdefghijklmnop$" + strings.Repeat("z", 43)},
				want: model.Spec{Login: "alice", Shell: "/bin/bash", PasswordHash: "$y$j9T$abcdefghijklmnop$" + strings.Repeat("z", 43)}},
			{name: "login missing", in: model.Spec{}, field: "spec.login"},
			{name: "login reserved", in: model.Spec{Login: "root"}, field: "spec.login"},
			{name: "login upper case", in: model.Spec{Login: "Alice"}, field: "spec.login"},
			{name: "shell not allowed", in: model.Spec{Login: "alice", Shell: "/bin/zsh"}, field: "spec.shell"},
			{name: "shell relative", in: model.Spec{Login: "alice", Shell: "bash"}, field: "spec.shell"},
			{name: "password too short", in: model.Spec{Login: "alice", Password: "1234567"}, field: "spec.password"},
			{name: "password too long", in: model.Spec{Login: "alice", Password: strings.Repeat("p", 129)}, field: "spec.password"},
			{name: "password beyond bcrypt's 72 bytes", in: model.Spec{Login: "alice", Password: strings.Repeat("p", 73)}, field: "spec.password"},
			{name: "password and hash",
				in: model.Spec{Login: "alice", Password: "correct horse", PasswordHash: "$6$salt$" + strings.Repeat("x", 86)}, field: "spec.password"},
			{name: "plain text as hash", in: model.Spec{Login: "alice", PasswordHash: "hunter2hunter2hunter2"}, field: "spec.password_hash"},
			{name: "md5crypt hash", in: model.Spec{Login: "alice", PasswordHash: "$1$saltsalt$" + strings.Repeat("x", 22)}, field: "spec.password_hash"},
			{name: "hash with a colon", in: model.Spec{Login: "alice", PasswordHash: "$6$salt$" + strings.Repeat("x", 40) + ":0:0"}, field: "spec.password_hash"},
			{name: "hash with a newline", in: model.Spec{Login: "alice", PasswordHash: "$6$salt$" + strings.Repeat("x", 40) + "\nroot"}, field: "spec.password_hash"},
		},
		"web-conf": {
			{name: "defaults",
				in:   model.Spec{Login: "alice", ServerNames: []string{"Example.ORG.", "www.bücher.example"}},
				want: model.Spec{Login: "alice", ServerNames: []string{"example.org", "www.xn--bcher-kva.example"}, Docroot: "web", PHP: ptr(true)}},
			{name: "docroot cleaned, php off, https",
				in:   model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "./web/public/", PHP: ptr(false), HTTPS: &model.HTTPSSpec{Source: " ACME", HSTS: true}},
				want: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "web/public", PHP: ptr(false), HTTPS: &model.HTTPSSpec{Source: "acme", HSTS: true}}},
			{name: "https all empty is none",
				in:   model.Spec{Login: "alice", ServerNames: []string{"example.org"}, HTTPS: &model.HTTPSSpec{}},
				want: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "web", PHP: ptr(true)}},
			{name: "https own",
				in:   model.Spec{Login: "alice", ServerNames: []string{"example.org"}, HTTPS: &model.HTTPSSpec{Source: "own", Cert: "C", Key: "K", RedirectHTTP: true}},
				want: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "web", PHP: ptr(true), HTTPS: &model.HTTPSSpec{Source: "own", Cert: "C", Key: "K", RedirectHTTP: true}}},
			{name: "https no source", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, HTTPS: &model.HTTPSSpec{HSTS: true}}, field: "spec.https.source"},
			{name: "https unknown source", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, HTTPS: &model.HTTPSSpec{Source: "letsencrypt"}}, field: "spec.https.source"},
			{name: "https acme with a cert", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, HTTPS: &model.HTTPSSpec{Source: "acme", Cert: "C"}}, field: "spec.https.cert"},
			{name: "https own without cert", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, HTTPS: &model.HTTPSSpec{Source: "own", Key: "K"}}, field: "spec.https.cert"},
			{name: "https own without key", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, HTTPS: &model.HTTPSSpec{Source: "own", Cert: "C"}}, field: "spec.https.key"},
			{name: "https own cert too long", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, HTTPS: &model.HTTPSSpec{Source: "own", Cert: strings.Repeat("C", model.MaxPEMSize+1), Key: "K"}}, field: "spec.https.cert"},
			{name: "login missing", in: model.Spec{ServerNames: []string{"example.org"}}, field: "spec.login"},
			{name: "login reserved", in: model.Spec{Login: "www-data", ServerNames: []string{"example.org"}}, field: "spec.login"},
			{name: "no server names", in: model.Spec{Login: "alice"}, field: "spec.server_names"},
			{name: "51 server names", in: model.Spec{Login: "alice", ServerNames: manyNames(51)}, field: "spec.server_names"},
			{name: "server name twice after normalizing",
				in: model.Spec{Login: "alice", ServerNames: []string{"example.org", "EXAMPLE.org."}}, field: "spec.server_names"},
			{name: "server name one label", in: model.Spec{Login: "alice", ServerNames: []string{"localhost"}}, field: "spec.server_names"},
			{name: "server name wildcard", in: model.Spec{Login: "alice", ServerNames: []string{"*.example.org"}}, field: "spec.server_names"},
			{name: "server name underscore", in: model.Spec{Login: "alice", ServerNames: []string{"a_b.example.org"}}, field: "spec.server_names"},
			{name: "server name empty", in: model.Spec{Login: "alice", ServerNames: []string{""}}, field: "spec.server_names"},
			{name: "docroot outside web", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "logs"}, field: "spec.docroot"},
			{name: "docroot web-like sibling", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "web2"}, field: "spec.docroot"},
			{name: "docroot escapes", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "web/../logs"}, field: "spec.docroot"},
			{name: "docroot absolute", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "/var/www"}, field: "spec.docroot"},
			{name: "docroot dot", in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "."}, field: "spec.docroot"},
			{name: "php settings canonical",
				in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, PHPSettings: model.PHPSettings{
					PHPVersion: "php8.3", MemoryLimit: "262144k", UploadMaxFilesize: "1g", PostMaxSize: "1024M", MaxChildren: 50}},
				want: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "web", PHP: ptr(true), PHPSettings: model.PHPSettings{
					PHPVersion: "8.3", MemoryLimit: "256M", UploadMaxFilesize: "1G", PostMaxSize: "1G", MaxChildren: 50}}},
			{name: "upload above the default post size alone",
				in:   model.Spec{Login: "alice", ServerNames: []string{"example.org"}, PHPSettings: model.PHPSettings{UploadMaxFilesize: "64M"}},
				want: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, Docroot: "web", PHP: ptr(true), PHPSettings: model.PHPSettings{UploadMaxFilesize: "64M"}}},
			{name: "php version with patch level", in: webConfPHP(model.PHPSettings{PHPVersion: "8.2.26"}), field: "spec.php_version"},
			{name: "php version one number", in: webConfPHP(model.PHPSettings{PHPVersion: "8"}), field: "spec.php_version"},
			{name: "php version leading zero", in: webConfPHP(model.PHPSettings{PHPVersion: "8.02"}), field: "spec.php_version"},
			{name: "php version path", in: webConfPHP(model.PHPSettings{PHPVersion: "../8.2"}), field: "spec.php_version"},
			{name: "memory limit unlimited", in: webConfPHP(model.PHPSettings{MemoryLimit: "-1"}), field: "spec.memory_limit"},
			{name: "memory limit too small", in: webConfPHP(model.PHPSettings{MemoryLimit: "8M"}), field: "spec.memory_limit"},
			{name: "memory limit too large", in: webConfPHP(model.PHPSettings{MemoryLimit: "5G"}), field: "spec.memory_limit"},
			{name: "memory limit fraction", in: webConfPHP(model.PHPSettings{MemoryLimit: "1.5G"}), field: "spec.memory_limit"},
			{name: "memory limit terabytes", in: webConfPHP(model.PHPSettings{MemoryLimit: "1T"}), field: "spec.memory_limit"},
			{name: "upload with a space", in: webConfPHP(model.PHPSettings{UploadMaxFilesize: "64 M"}), field: "spec.upload_max_filesize"},
			{name: "post below upload", in: webConfPHP(model.PHPSettings{UploadMaxFilesize: "64M", PostMaxSize: "32M"}), field: "spec.post_max_size"},
			{name: "post below the default upload", in: webConfPHP(model.PHPSettings{PostMaxSize: "1M"}), field: "spec.post_max_size"},
			{name: "max children too many", in: webConfPHP(model.PHPSettings{MaxChildren: 51}), field: "spec.max_children"},
			{name: "max children negative", in: webConfPHP(model.PHPSettings{MaxChildren: -1}), field: "spec.max_children"},
			{name: "php settings without php",
				in: model.Spec{Login: "alice", ServerNames: []string{"example.org"}, PHP: ptr(false), PHPSettings: model.PHPSettings{MemoryLimit: "64M"}}, field: "spec.memory_limit"},
		},
		"dns": {
			{name: "apex A with defaults",
				in:   model.Spec{Type: "a", Value: "192.0.2.1"},
				want: model.Spec{Zone: "example.org", FQDN: "example.org", Type: "A", Value: "192.0.2.1", TTL: 3600}},
			{name: "@ is the apex",
				in:   model.Spec{FQDN: "@", Type: "MX", Value: "10 Mail.Example.org."},
				want: model.Spec{Zone: "example.org", FQDN: "example.org", Type: "MX", Value: "10 mail.example.org", TTL: 3600}},
			{name: "AAAA with ttl",
				in:   model.Spec{FQDN: "WWW.Example.org.", Type: "aaaa", Value: "2001:DB8::1", TTL: 300},
				want: model.Spec{Zone: "example.org", FQDN: "www.example.org", Type: "AAAA", Value: "2001:db8::1", TTL: 300}},
			{name: "wildcard",
				in:   model.Spec{FQDN: "*.example.org", Type: "CNAME", Value: "example.org"},
				want: model.Spec{Zone: "example.org", FQDN: "*.example.org", Type: "CNAME", Value: "example.org", TTL: 3600}},
			{name: "dmarc",
				in:   model.Spec{FQDN: "_dmarc.example.org", Type: "TXT", Value: "v=DMARC1; p=none"},
				want: model.Spec{Zone: "example.org", FQDN: "_dmarc.example.org", Type: "TXT", Value: "v=DMARC1; p=none", TTL: 3600}},
			{name: "srv",
				in:   model.Spec{FQDN: "_SIP._tcp.example.org", Type: "SRV", Value: "10 5 5060 sip.example.org"},
				want: model.Spec{Zone: "example.org", FQDN: "_sip._tcp.example.org", Type: "SRV", Value: "10 5 5060 sip.example.org", TTL: 3600}},
			{name: "own zone, IDN",
				in:   model.Spec{Zone: "Bücher.example", FQDN: "www.bücher.example", Type: "A", Value: "192.0.2.1", TTL: 30},
				want: model.Spec{Zone: "xn--bcher-kva.example", FQDN: "www.xn--bcher-kva.example", Type: "A", Value: "192.0.2.1", TTL: 30}},
			{name: "longest ttl",
				in:   model.Spec{Type: "TXT", Value: "x", TTL: 604800},
				want: model.Spec{Zone: "example.org", FQDN: "example.org", Type: "TXT", Value: "x", TTL: 604800}},
			{name: "zone one label", in: model.Spec{Zone: "org", Type: "A", Value: "192.0.2.1"}, field: "spec.zone"},
			{name: "zone underscore", in: model.Spec{Zone: "_x.example.org", Type: "A", Value: "192.0.2.1"}, field: "spec.zone"},
			{name: "fqdn outside zone", in: model.Spec{FQDN: "www.example.net", Type: "A", Value: "192.0.2.1"}, field: "spec.fqdn"},
			{name: "fqdn only shares a suffix", in: model.Spec{FQDN: "notexample.org", Type: "A", Value: "192.0.2.1"}, field: "spec.fqdn"},
			{name: "fqdn parent of zone", in: model.Spec{FQDN: "org", Type: "A", Value: "192.0.2.1"}, field: "spec.fqdn"},
			{name: "fqdn relative", in: model.Spec{FQDN: "www", Type: "A", Value: "192.0.2.1"}, field: "spec.fqdn"},
			{name: "fqdn inner underscore", in: model.Spec{FQDN: "a_b.example.org", Type: "A", Value: "192.0.2.1"}, field: "spec.fqdn"},
			{name: "fqdn inner wildcard", in: model.Spec{FQDN: "a.*.example.org", Type: "A", Value: "192.0.2.1"}, field: "spec.fqdn"},
			{name: "CNAME at apex", in: model.Spec{Type: "CNAME", Value: "example.net"}, field: "spec.fqdn"},
			{name: "type missing", in: model.Spec{Value: "192.0.2.1"}, field: "spec.type"},
			{name: "type unknown", in: model.Spec{Type: "NS", Value: "ns1.example.org"}, field: "spec.type"},
			{name: "A with an IPv6 value", in: model.Spec{Type: "A", Value: "2001:db8::1"}, field: "spec.value"},
			{name: "AAAA with an IPv4 value", in: model.Spec{Type: "AAAA", Value: "192.0.2.1"}, field: "spec.value"},
			{name: "value missing", in: model.Spec{Type: "TXT"}, field: "spec.value"},
			{name: "MX bad preference", in: model.Spec{Type: "MX", Value: "70000 mx.example.org"}, field: "spec.value"},
			{name: "SRV bad port", in: model.Spec{FQDN: "_sip._tcp.example.org", Type: "SRV", Value: "10 5 99999 sip.example.org"}, field: "spec.value"},
			{name: "ttl too short", in: model.Spec{Type: "A", Value: "192.0.2.1", TTL: 29}, field: "spec.ttl"},
			{name: "ttl too long", in: model.Spec{Type: "A", Value: "192.0.2.1", TTL: 604801}, field: "spec.ttl"},
			{name: "ttl negative", in: model.Spec{Type: "A", Value: "192.0.2.1", TTL: -300}, field: "spec.ttl"},
		},
		"mysql-db": {
			{name: "name", in: model.Spec{Name: "shop"}, want: model.Spec{Name: "shop"}},
			{name: "name missing", in: model.Spec{}, field: "spec.name"},
			{name: "name reserved", in: model.Spec{Name: "mysql"}, field: "spec.name"},
			{name: "name upper case", in: model.Spec{Name: "Shop"}, field: "spec.name"},
			{name: "name with a quote", in: model.Spec{Name: "shop`x"}, field: "spec.name"},
		},
		"mysql-user": {
			{name: "user with grants and hash",
				in:   model.Spec{Name: "shop", Databases: []string{"shop", "shop_log"}, PasswordHash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"},
				want: model.Spec{Name: "shop", Databases: []string{"shop", "shop_log"}, PasswordHash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"}},
			{name: "user name of 32",
				in:   model.Spec{Name: "u" + strings.Repeat("x", 31), PasswordHash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"},
				want: model.Spec{Name: "u" + strings.Repeat("x", 31), PasswordHash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"}},
			{name: "user without a password", in: model.Spec{Name: "nopass"}, field: "spec.password"},
			{name: "user name of 33", in: model.Spec{Name: "u" + strings.Repeat("x", 32)}, field: "spec.name"},
			{name: "user reserved", in: model.Spec{Name: "root"}, field: "spec.name"},
			{name: "grant on a server database", in: model.Spec{Name: "shop", Databases: []string{"mysql"}}, field: "spec.databases"},
			{name: "grant on a bad name", in: model.Spec{Name: "shop", Databases: []string{"shop", "*"}}, field: "spec.databases"},
			{name: "hash lower-case hex", in: model.Spec{Name: "shop", PasswordHash: "*2470c0c06dee42fd1618bb99005adca2ec9d1e19"}, field: "spec.password_hash"},
			{name: "hash without star", in: model.Spec{Name: "shop", PasswordHash: "2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"}, field: "spec.password_hash"},
			{name: "old 16-digit hash", in: model.Spec{Name: "shop", PasswordHash: "5D2E19393CC5EF67"}, field: "spec.password_hash"},
			{name: "password too short", in: model.Spec{Name: "shop", Password: "short"}, field: "spec.password"},
		},
		"pgsql-db": {
			{name: "owner defaults to name", in: model.Spec{Name: "shop"}, want: model.Spec{Name: "shop", Owner: "shop"}},
			{name: "own owner and verifier",
				in:   model.Spec{Name: "shop", Owner: "shopper", PasswordHash: scramSample},
				want: model.Spec{Name: "shop", Owner: "shopper", PasswordHash: scramSample}},
			{name: "name reserved", in: model.Spec{Name: "template1"}, field: "spec.name"},
			{name: "owner reserved", in: model.Spec{Name: "shop", Owner: "postgres"}, field: "spec.owner"},
			{name: "owner bad", in: model.Spec{Name: "shop", Owner: "Shop-Owner"}, field: "spec.owner"},
			{name: "md5 hash", in: model.Spec{Name: "shop", PasswordHash: "md5" + strings.Repeat("0", 32)}, field: "spec.password_hash"},
			{name: "SCRAM-SHA-1", in: model.Spec{Name: "shop", PasswordHash: strings.Replace(scramSample, "256", "1", 1)}, field: "spec.password_hash"},
			{name: "SCRAM short key", in: model.Spec{Name: "shop", PasswordHash: scramSample[:len(scramSample)-4]}, field: "spec.password_hash"},
		},
		"hosting-order-access": {
			{name: "lower case", in: model.Spec{Login: " Alice "}, want: model.Spec{Login: "alice"}},
			{name: "login missing", in: model.Spec{}, field: "spec.login"},
			{name: "login bad", in: model.Spec{Login: "no spaces please"}, field: "spec.login"},
		},
		"scheduled-job": {
			{name: "schedule fields joined",
				in:   model.Spec{Login: "alice", Schedule: "  */5\t*  * * mon-fri ", Command: "php web/cron.php"},
				want: model.Spec{Login: "alice", Schedule: "*/5 * * * mon-fri", Command: "php web/cron.php"}},
			{name: "macro",
				in:   model.Spec{Login: "alice", Schedule: "@hourly", Command: "date +\\%s >> logs/cron.log"},
				want: model.Spec{Login: "alice", Schedule: "@hourly", Command: "date +\\%s >> logs/cron.log"}},
			{name: "login missing", in: model.Spec{Schedule: "@daily", Command: "true"}, field: "spec.login"},
			{name: "login reserved", in: model.Spec{Login: "root", Schedule: "@daily", Command: "true"}, field: "spec.login"},
			{name: "schedule missing", in: model.Spec{Login: "alice", Command: "true"}, field: "spec.schedule"},
			{name: "schedule six fields", in: model.Spec{Login: "alice", Schedule: "0 0 * * * *", Command: "true"}, field: "spec.schedule"},
			{name: "schedule out of range", in: model.Spec{Login: "alice", Schedule: "0 25 * * *", Command: "true"}, field: "spec.schedule"},
			{name: "schedule with a line break", in: model.Spec{Login: "alice", Schedule: "@daily\n* * * * * root", Command: "true"}, field: "spec.schedule"},
			{name: "command missing", in: model.Spec{Login: "alice", Schedule: "@daily"}, field: "spec.command"},
			{name: "command bare %", in: model.Spec{Login: "alice", Schedule: "@daily", Command: "date +%s"}, field: "spec.command"},
			{name: "command two lines", in: model.Spec{Login: "alice", Schedule: "@daily", Command: "true\n* * * * * root evil"}, field: "spec.command"},
		},
	}
}

func manyNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "s" + strings.Repeat("x", i) + ".example.org"
	}
	return names
}

func TestSpecNormalize(t *testing.T) {
	for _, all := range []map[model.Kind][]validateCase[model.Spec]{specCases(), mailCases()} {
		for k, cases := range all {
			t.Run(string(k), func(t *testing.T) {
				runValidate(t, func(s *model.Spec) error { return s.Normalize(k, orderDomain) }, cases)
			})
		}
	}
}

func TestSpecNormalizeWithoutOrderDomain(t *testing.T) {
	s := model.Spec{Type: "A", Value: "192.0.2.1"}
	wantField(t, s.Normalize("dns", ""), "spec.zone")
}

func TestSpecIdentities(t *testing.T) {
	for _, c := range []struct {
		kind model.Kind
		spec model.Spec
		want []string
	}{
		{"user-account", model.Spec{Login: "alice"}, []string{"login:alice"}},
		{"web-conf", model.Spec{ServerNames: []string{"example.org", "www.example.org"}}, []string{"server-name:example.org", "server-name:www.example.org"}},
		{"dns", model.Spec{FQDN: "example.org", Type: "A", Value: "192.0.2.1"}, []string{"dns:example.org A 192.0.2.1"}},
		{"mysql-db", model.Spec{Name: "shop"}, []string{"mysql-db:shop"}},
		{"mysql-user", model.Spec{Name: "shop"}, []string{"mysql-user:shop"}},
		{"pgsql-db", model.Spec{Name: "shop"}, []string{"pgsql-db:shop"}},
		{"scheduled-job", model.Spec{Login: "alice", Schedule: "@daily", Command: "true"}, []string{"cron:alice @daily true"}},
	} {
		if got := c.spec.Identities(c.kind); !slices.Equal(got, c.want) {
			t.Errorf("%s identities = %q, want %q", c.kind, got, c.want)
		}
	}
	// A MariaDB and a PostgreSQL database of the same name do not clash.
	s := model.Spec{Name: "shop"}
	if slices.Equal(s.Identities("mysql-db"), s.Identities("pgsql-db")) {
		t.Error("mysql-db and pgsql-db share an identity")
	}
}

func TestSpecRedacted(t *testing.T) {
	s := model.Spec{Login: "alice", Password: "correct horse", PasswordHash: "$2a$10$x", ServerNames: []string{"example.org"}}
	r := s.Redacted()
	if r.Password != "" || r.PasswordHash != "(set)" {
		t.Errorf("redacted spec still shows secrets: %+v", r)
	}
	r.ServerNames[0] = "changed"
	if s.ServerNames[0] != "example.org" {
		t.Error("Redacted shares its slices with the original")
	}
	if (model.Spec{}).Redacted().PasswordHash != "" {
		t.Error("Redacted claims a hash is set where none is")
	}
}

// cloneSpec copies s deeply, so Normalize on the copy leaves s alone.
func cloneSpec(s model.Spec) model.Spec {
	s.ServerNames = slices.Clone(s.ServerNames)
	s.Databases = slices.Clone(s.Databases)
	if s.PHP != nil {
		s.PHP = ptr(*s.PHP)
	}
	return s
}
