package model_test

import (
	"strings"
	"testing"

	"ferry/internal/model"
)

// longName joins labels of the given lengths ("a"s, "b"s, …) with dots.
func longName(lens ...int) string {
	labels := make([]string, len(lens))
	for i, n := range lens {
		labels[i] = strings.Repeat(string(rune('a'+i)), n)
	}
	return strings.Join(labels, ".")
}

var (
	label63 = strings.Repeat("a", 63)
	name253 = longName(63, 63, 63, 61) // the longest name DNS can carry
	name254 = longName(63, 63, 63, 62)
)

// domainCases are site identifiers and server names (NormalizeDomain with
// at least two labels).
var domainCases = append([]normCase{
	{"example.org", "example.org"},
	{"www.example.org", "www.example.org"},
	{"Example.ORG", "example.org"},
	{"example.org.", "example.org"},
	{"WWW.Example.Org.", "www.example.org"},
	{"a-b.example", "a-b.example"},
	{"a--b-c.example", "a--b-c.example"}, // hyphens at 2-3 are not reserved
	{"123.example", "123.example"},
	{"1a.2b.example", "1a.2b.example"},
	{"bücher.example", "xn--bcher-kva.example"},
	{"BÜCHER.example", "xn--bcher-kva.example"},
	{"xn--bcher-kva.example", "xn--bcher-kva.example"},
	{"XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"},
	{"münchen.de", "xn--mnchen-3ya.de"},
	{"例え.テスト", "xn--r8jz45g.xn--zckzah"},
	{"ｅｘａｍｐｌｅ.org", "example.org"},       // full-width letters map to ASCII
	{"例え。テスト", "xn--r8jz45g.xn--zckzah"}, // ideographic full stop is a dot
	{"☃.example", "xn--n3h.example"},     // UTS 46 lookup takes symbols IDNA 2008 registration refuses
	{label63 + ".example", label63 + ".example"},
	{name253, name253},
	{name253 + ".", name253},
}, refuse(
	"",
	".",
	"..",
	"example",  // one label where two are needed
	"example.", // still one label
	".example.org",
	"example..org",
	"example.org..",
	"-example.org",
	"example-.org",
	"example.-org",
	"ab--cd.example", // "--" at 3-4 is reserved for A-labels
	strings.Repeat("a", 64)+".example",
	name254,
	name254+".",
	strings.Repeat("ü", 60)+".example", // a 64+ character A-label
	"_dmarc.example.org",               // underscores only in DNS owner names
	"a_b.example.org",
	"example_.org",
	"*.example.org", // wildcards only in DNS owner names
	"example.123",   // numeric top-level label
	"192.0.2.1",
	"example.0",
	"exa mple.org",
	" example.org",
	"example.org ",
	"exa\tmple.org",
	"example.org\n",
	"exa\x00mple.org",
	"exa\x7fmple.org",
	"ex@mple.org",
	"example.org/path",
	"example.org:80",
	"b\xfccher.example", // Latin-1, not UTF-8
	"\xff.example",
	"xn--zz.example",   // invalid punycode
	"xn--.example",     // empty A-label
	"aش.example",       // mixes right-to-left and left-to-right
	"a\u200db.example", // zero-width joiner out of context
	strings.Repeat("a.", 600)+"org",
)...)

func TestNormalizeDomain(t *testing.T) {
	runNorm(t, func(s string) (string, error) { return model.NormalizeDomain(s, 2) }, domainCases)
}

func TestNormalizeDomainSingleLabel(t *testing.T) {
	runNorm(t, func(s string) (string, error) { return model.NormalizeDomain(s, 1) }, append([]normCase{
		{"localhost", "localhost"},
		{"Web1.", "web1"},
		{"bücher", "xn--bcher-kva"},
		{"example.org", "example.org"},
	}, refuse("", ".", "123", "-a", "a_b", "*")...))
}

var memberNameCases = append(keep(
	"alice", "a", "0", "a-b", "co-op-2", "1st", strings.Repeat("m", 32),
), refuse(
	"", "Alice", "-alice", "alice-", "a_b", "a.b", "a b", "ä", "alice\n",
	strings.Repeat("m", 33),
)...)

func TestValidateMemberName(t *testing.T) {
	runNorm(t, checker(model.ValidateMemberName), memberNameCases)
}

var hostNameCases = append(keep(
	"web1", "dns1", "w", "web-2", "1", label63,
), refuse(
	"", "Web1", "-web", "web-", "web_1", "web1.example.org", "web 1", "wéb",
	strings.Repeat("a", 64),
)...)

func TestValidateHostName(t *testing.T) {
	runNorm(t, checker(model.ValidateHostName), hostNameCases)
}

var loginCases = append(keep(
	"alice", "a", "_svc", "_", "a-b", "a_b", "a1", "shop-2024",
	"a"+strings.Repeat("b", 31),
), refuse(
	"", "1alice", "-alice", "Alice", "aLice", "a.b", "a b", "alice$", "alice\n",
	"a"+strings.Repeat("b", 32),
	"ålice",
	// system accounts
	"root", "daemon", "bin", "sys", "nobody", "www-data", "sshd", "mysql",
	"postgres", "ferry", "_apt", "admin", "sudo", "mail", "backup",
	"adm", "systemd-timesync", "systemd-coredump", "postfix", "dovecot", "shadow",
)...)

func TestValidateLogin(t *testing.T) {
	runNorm(t, checker(model.ValidateLogin), loginCases)
}

var databaseNameCases = append(keep(
	"shop", "s", "shop_db", "shop2", "a_", "a"+strings.Repeat("b", 62),
), refuse(
	"", "1shop", "_shop", "shop-db", "Shop", "shop db", "shop.db", "shop;drop",
	"shöp", "a"+strings.Repeat("b", 63),
	// server-internal names
	"mysql", "information_schema", "performance_schema", "sys", "postgres",
	"template0", "template1", "root", "test",
)...)

func TestValidateDatabaseName(t *testing.T) {
	runNorm(t, checker(model.ValidateDatabaseName), databaseNameCases)
}

var tokenNameCases = append(keep(
	"ci", "Deploy", "alice@example.org", "node.web1", "a_b-c", "0",
	"t"+strings.Repeat("x", 63),
), refuse(
	"", ".ci", "-ci", "_ci", "@ci", "a b", "a/b", "a:b", "a\nb", "tök",
	"t"+strings.Repeat("x", 64),
)...)

func TestValidateTokenName(t *testing.T) {
	runNorm(t, checker(model.ValidateTokenName), tokenNameCases)
}

var relPathCases = append([]normCase{
	{"web", "web"},
	{"web/", "web"},
	{"./web", "web"},
	{"web/.", "web"},
	{"web//public", "web/public"},
	{"web/./public/", "web/public"},
	{"web/a..b", "web/a..b"},
	{"web/...", "web/..."},
	{".well-known", ".well-known"},
	{"web/sp ace", "web/sp ace"},
	{"web/ünï", "web/ünï"},
	{"web\\..\\x", "web\\..\\x"}, // backslash is a file name byte on Linux
	{strings.Repeat("a", 1024), strings.Repeat("a", 1024)},
}, refuse(
	"",
	".",
	"./",
	"./.",
	"/",
	"/web",
	"//web",
	"/home/members/alice",
	"..",
	"../web",
	"web/..",
	"a/../b",
	"web/../../etc",
	"web/./../x",
	"web/\x00",
	"web\nlogs",
	"web\rx",
	"web\tx",
	"web\x1b[31m",
	"web\x7f",
	strings.Repeat("a", 1025),
)...)

func TestCleanRelPath(t *testing.T) {
	runNorm(t, model.CleanRelPath, relPathCases)
}

func TestParseAddr(t *testing.T) {
	runNorm(t, func(s string) (string, error) {
		a, err := model.ParseAddr(s)
		if err != nil {
			return "", err
		}
		return a.String(), nil
	}, append([]normCase{
		{"192.0.2.1", "192.0.2.1"},
		{"127.0.1.3", "127.0.1.3"},
		{"2001:DB8::1", "2001:db8::1"},
		{"2001:0db8:0:0:0:0:0:1", "2001:db8::1"},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
	}, refuse("", "192.0.2", "192.0.2.256", "01.2.3.4", "192.0.2.1/24", "fe80::1%eth0", "example.org", " 192.0.2.1")...))
}

func TestServiceLabelsAnywhereInDNSNames(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"sel._domainkey.Example.org", "sel._domainkey.example.org"},
		{"_sip._tcp.example.org", "_sip._tcp.example.org"},
		{"_dmarc.bücher.example", "_dmarc.xn--bcher-kva.example"},
	} {
		s := model.Spec{FQDN: c.in, Type: "TXT", Value: "v=DKIM1; p=abc"}
		zone := "example.org"
		if strings.Contains(c.in, "bücher") {
			zone = "bücher.example"
		}
		s.Zone = zone
		if err := s.Normalize(model.KindDNS, zone); err != nil || s.FQDN != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.in, s.FQDN, err, c.want)
		}
	}
	for _, bad := range []string{"a._b c.example.org", "x.example._org", "_-x.example.org"} {
		s := model.Spec{FQDN: bad, Type: "TXT", Value: "x"}
		if err := s.Normalize(model.KindDNS, "example.org"); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
