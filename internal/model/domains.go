package model

import (
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"
)

// ValidateClaimableDomain checks a domain that an order may hold or the
// co-op may serve as a zone: a valid name of at least two labels that is
// not itself a public suffix (co.uk, github.io), which belongs to nobody.
// It returns the domain normalized.
func ValidateClaimableDomain(s string) (string, error) {
	d, err := NormalizeDomain(s, 2)
	if err != nil {
		return "", err
	}
	if ps, icann := publicsuffix.PublicSuffix(d); ps == d && (icann || strings.Contains(ps, ".")) {
		return "", errorString("%q is a public suffix: names under it belong to whoever registers them, not to one member", d)
	}
	return d, nil
}

// Zone is a DNS zone the co-op's dns hosts serve; admins keep the list.
type Zone struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// DomainClaim is one domain held by an order: its identifier or a domain
// added to it.
type DomainClaim struct {
	Domain  string     `json:"domain"`
	OrderID int64      `json:"order_id"`
	Order   string     `json:"order"`
	Member  string     `json:"member"`
	State   OrderState `json:"state"`
}

// Suffixes returns name and every domain above it with at least two
// labels, most specific first: the domains that could hold name.
func Suffixes(name string) []string {
	name = strings.TrimPrefix(name, "*.")
	var out []string
	for {
		if strings.Count(name, ".") < 1 {
			return out
		}
		out = append(out, name)
		_, rest, ok := strings.Cut(name, ".")
		if !ok {
			return out
		}
		name = rest
	}
}

// HolderOf returns the claim that holds name: the most specific claimed
// domain that name equals or lies under. Claims of one domain by several
// orders (an order and its transfer-limbo twin) are all of one member; the
// first is returned.
func HolderOf(name string, claims []DomainClaim) (DomainClaim, bool) {
	for _, d := range Suffixes(name) {
		for _, c := range claims {
			if c.Domain == d {
				return c, true
			}
		}
	}
	return DomainClaim{}, false
}
