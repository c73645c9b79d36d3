package model

import (
	"strconv"
	"strings"
)

// DNS record types ferry serves.
const (
	RRA     = "A"
	RRAAAA  = "AAAA"
	RRCNAME = "CNAME"
	RRMX    = "MX"
	RRTXT   = "TXT"
	RRSRV   = "SRV"
)

// TTL bounds for DNS records, in seconds. MinTTL is low enough for a move's
// lowered TTL (MoveTTL) and high enough not to hammer resolvers.
const (
	MinTTL     = 30
	MaxTTL     = 604800
	DefaultTTL = 3600
	MoveTTL    = 300
)

// NormalizeDNSValue checks a record's value for its type and returns it in
// canonical form: addresses as netip prints them, names lower case without
// the trailing dot, MX as "pref name", SRV as "prio weight port target".
func NormalizeDNSValue(typ, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch typ {
	case RRA, RRAAAA:
		a, err := ParseAddr(v)
		if err != nil {
			return "", err
		}
		if typ == RRA && !a.Is4() {
			return "", errorString("%q is not an IPv4 address", v)
		}
		if typ == RRAAAA && (!a.Is6() || a.Is4In6()) {
			return "", errorString("%q is not an IPv6 address", v)
		}
		return a.String(), nil
	case RRCNAME:
		return normalizeName(v, 1, false, true)
	case RRMX:
		f := strings.Fields(v)
		if len(f) != 2 {
			return "", errorString("MX value must be \"preference host\", like \"10 mail.example.org\"")
		}
		pref, err := uint16Field("preference", f[0])
		if err != nil {
			return "", err
		}
		host, err := normalizeName(f[1], 1, false, false)
		if err != nil {
			return "", errorString("MX host %v", err)
		}
		return strconv.Itoa(pref) + " " + host, nil
	case RRTXT:
		if v == "" {
			return "", errorString("TXT value is empty")
		}
		if len(v) > 4000 {
			return "", errorString("TXT value is longer than 4000 bytes")
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f {
				return "", errorString("TXT value contains a control character")
			}
		}
		return v, nil
	case RRSRV:
		f := strings.Fields(v)
		if len(f) != 4 {
			return "", errorString("SRV value must be \"priority weight port target\", like \"10 5 5060 sip.example.org\"")
		}
		var nums [3]int
		for i, name := range []string{"priority", "weight", "port"} {
			n, err := uint16Field(name, f[i])
			if err != nil {
				return "", err
			}
			nums[i] = n
		}
		target := "."
		if f[3] != "." {
			t, err := normalizeName(f[3], 1, false, false)
			if err != nil {
				return "", errorString("SRV target %v", err)
			}
			target = t
		}
		return strconv.Itoa(nums[0]) + " " + strconv.Itoa(nums[1]) + " " + strconv.Itoa(nums[2]) + " " + target, nil
	}
	return "", errorString("unknown record type %q (A, AAAA, CNAME, MX, TXT, SRV)", typ)
}

func uint16Field(name, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 || strings.HasPrefix(s, "+") {
		return 0, errorString("%s %q must be a number from 0 to 65535", name, s)
	}
	return n, nil
}

// ValidateTTL checks a record's TTL against MinTTL and MaxTTL.
func ValidateTTL(ttl int) error {
	if ttl < MinTTL || ttl > MaxTTL {
		return errorString("must be from %d to %d seconds, got %d", MinTTL, MaxTTL, ttl)
	}
	return nil
}

// InZone reports whether name is zone or below it.
func InZone(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}
