package model

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// PHPSettings are a web-conf's PHP: which PHP-FPM version its pool runs
// under and the pool's limits. They apply only to a site with PHP; every
// field left empty takes the default named beside it.
type PHPSettings struct {
	// PHPVersion is the PHP-FPM version (major.minor, "8.2") the site's
	// pool runs under; empty means the newest its host has.
	PHPVersion string `json:"php_version,omitempty"`
	// MemoryLimit is PHP's memory_limit for one request (DefaultMemoryLimit).
	MemoryLimit string `json:"memory_limit,omitempty"`
	// UploadMaxFilesize is the largest file one upload may carry
	// (DefaultUploadMaxFilesize).
	UploadMaxFilesize string `json:"upload_max_filesize,omitempty"`
	// PostMaxSize is the largest request body, uploads included; at least
	// UploadMaxFilesize (default: the larger of DefaultPostMaxSize and
	// UploadMaxFilesize).
	PostMaxSize string `json:"post_max_size,omitempty"`
	// MaxChildren is how many PHP processes the pool may run at once
	// (DefaultMaxChildren, at most MaxMaxChildren).
	MaxChildren int `json:"max_children,omitempty"`
}

// Defaults and bounds of a web-conf's PHP settings. The sizes are PHP's own
// defaults; MaxChildren bounds what one site may take of a shared host.
const (
	DefaultMemoryLimit       = "128M"
	DefaultUploadMaxFilesize = "2M"
	DefaultPostMaxSize       = "8M"
	DefaultMaxChildren       = 5
	MaxMaxChildren           = 50
)

// Bounds of the PHP size settings, in bytes.
const (
	minPHPMemory = 16 << 20
	maxPHPMemory = 4 << 30
	minPHPPost   = 1 << 10
	maxPHPPost   = 4 << 30
)

// phpFields are the spec fields of PHPSettings (their JSON names).
var phpFields = []string{"php_version", "memory_limit", "upload_max_filesize", "post_max_size", "max_children"}

func (p *PHPSettings) setFields(add func(string, bool)) {
	add("php_version", p.PHPVersion != "")
	add("memory_limit", p.MemoryLimit != "")
	add("upload_max_filesize", p.UploadMaxFilesize != "")
	add("post_max_size", p.PostMaxSize != "")
	add("max_children", p.MaxChildren != 0)
}

// normalize checks the settings of a site with PHP (php) or without, and
// writes the sizes set as PHP writes them ("64M"). Fields left empty stay
// empty, so that they follow the defaults (Effective); the version is the
// host's to decide.
func (p *PHPSettings) normalize(php bool) error {
	if !php {
		var set []string
		p.setFields(func(name string, s bool) {
			if s {
				set = append(set, name)
			}
		})
		if len(set) > 0 {
			return fieldErr(set[0], "applies only to a site with PHP (php is false)")
		}
		return nil
	}
	if p.PHPVersion != "" {
		v, err := ParsePHPVersion(p.PHPVersion)
		if err != nil {
			return at("php_version", err)
		}
		p.PHPVersion = v
	}
	for _, f := range []struct {
		name   string
		v      *string
		lo, hi int64
	}{
		{"memory_limit", &p.MemoryLimit, minPHPMemory, maxPHPMemory},
		{"upload_max_filesize", &p.UploadMaxFilesize, minPHPPost, maxPHPPost},
		{"post_max_size", &p.PostMaxSize, minPHPPost, maxPHPPost},
	} {
		if *f.v == "" {
			continue
		}
		n, err := ParsePHPSize(*f.v)
		if err != nil {
			return at(f.name, err)
		}
		if n < f.lo || n > f.hi {
			return fieldErr(f.name, "%s is out of bounds: must be %s to %s", *f.v, FormatPHPSize(f.lo), FormatPHPSize(f.hi))
		}
		*f.v = FormatPHPSize(n)
	}
	e := p.Effective()
	upload, _ := ParsePHPSize(e.UploadMaxFilesize)
	post, _ := ParsePHPSize(e.PostMaxSize)
	if post < upload {
		return fieldErr("post_max_size", "%s is less than upload_max_filesize %s: an upload that large could never arrive; make post_max_size at least %s",
			e.PostMaxSize, e.UploadMaxFilesize, e.UploadMaxFilesize)
	}
	if p.MaxChildren < 0 || p.MaxChildren > MaxMaxChildren {
		return fieldErr("max_children", "must be 1 to %d, got %d", MaxMaxChildren, p.MaxChildren)
	}
	return nil
}

// Effective returns the settings with the defaults filled in for the
// fields left empty (all but the version): an upload_max_filesize above
// DefaultPostMaxSize raises the default post_max_size to it.
func (p PHPSettings) Effective() PHPSettings {
	if p.MemoryLimit == "" {
		p.MemoryLimit = DefaultMemoryLimit
	}
	if p.UploadMaxFilesize == "" {
		p.UploadMaxFilesize = DefaultUploadMaxFilesize
	}
	if p.PostMaxSize == "" {
		p.PostMaxSize = DefaultPostMaxSize
		upload, err := ParsePHPSize(p.UploadMaxFilesize)
		if def, _ := ParsePHPSize(DefaultPostMaxSize); err == nil && upload > def {
			p.PostMaxSize = p.UploadMaxFilesize
		}
	}
	if p.MaxChildren == 0 {
		p.MaxChildren = DefaultMaxChildren
	}
	return p
}

// ParsePHPSize reads a size as php.ini writes it: a whole number of bytes,
// or of K, M or G (either case). Unlike PHP it refuses what PHP would
// quietly misread: signs, spaces, fractions, other suffixes, overflow.
func ParsePHPSize(s string) (int64, error) {
	if s == "" {
		return 0, errorString("is empty; give a size like 64M")
	}
	num, shift := s, 0
	switch s[len(s)-1] {
	case 'k', 'K':
		num, shift = s[:len(s)-1], 10
	case 'm', 'M':
		num, shift = s[:len(s)-1], 20
	case 'g', 'G':
		num, shift = s[:len(s)-1], 30
	}
	if num == "" || len(num) > 12 || strings.TrimLeft(num, "0123456789") != "" {
		return 0, errorString("%q is not a size: give a whole number with K, M or G, like 64M", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, errorString("%q is not a size: give a positive whole number with K, M or G, like 64M", s)
	}
	return n << shift, nil
}

// FormatPHPSize writes n bytes as php.ini would, in the largest unit that
// holds it whole.
func FormatPHPSize(n int64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{30, "G"}, {20, "M"}, {10, "K"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// ParsePHPVersion reads a PHP version as a site chooses it and a host's
// PHP-FPM names it: major.minor ("8.2", or "php8.2"), both numbers without
// leading zeros. A patch level ("8.2.26") is refused: a host has one PHP
// per minor version.
func ParsePHPVersion(s string) (string, error) {
	v := strings.TrimPrefix(s, "php")
	major, minor, ok := strings.Cut(v, ".")
	if !ok || !phpVersionPart(major) || !phpVersionPart(minor) || major == "0" {
		return "", errorString("%q is not a PHP version: give major.minor, like 8.2", s)
	}
	return v, nil
}

// phpVersionPart is one number of a version: digits, no leading zero, at
// most three of them.
func phpVersionPart(s string) bool {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	return strings.TrimLeft(s, "0123456789") == ""
}

// ComparePHPVersions orders two versions ParsePHPVersion accepted by their
// numbers: 8.10 comes after 8.9.
func ComparePHPVersions(a, b string) int {
	num := func(v string) (int, int) {
		x, y, _ := strings.Cut(v, ".")
		i, _ := strconv.Atoi(x)
		j, _ := strconv.Atoi(y)
		return i, j
	}
	ai, aj := num(a)
	bi, bj := num(b)
	return cmp.Or(cmp.Compare(ai, bi), cmp.Compare(aj, bj))
}

// SortPHPVersions sorts versions oldest first and drops duplicates.
func SortPHPVersions(vs []string) []string {
	vs = slices.Clone(vs)
	slices.SortFunc(vs, ComparePHPVersions)
	return slices.Compact(vs)
}

// NewestPHPVersion returns the newest of versions, or "" when there are none.
func NewestPHPVersion(versions []string) string {
	if len(versions) == 0 {
		return ""
	}
	return slices.MaxFunc(versions, ComparePHPVersions)
}

// CheckPHPVersion says whether a site with PHP version v (empty: the
// newest) can run on a host with versions installed, and returns the
// version it would run. An error names both.
func CheckPHPVersion(v string, installed []string) (string, error) {
	if len(installed) == 0 {
		return "", errorString("has no PHP-FPM installed")
	}
	if v == "" {
		return NewestPHPVersion(installed), nil
	}
	if !slices.Contains(installed, v) {
		return "", errorString("has no PHP %s (it has PHP-FPM %s)", v, strings.Join(SortPHPVersions(installed), ", "))
	}
	return v, nil
}

// SitePHPVersion is the PHP version the web-conf with spec s runs on a
// host with versions installed: its own, or the host's newest; "" when it
// has no PHP or nothing is known.
func (s *Spec) SitePHPVersion(installed []string) string {
	if s.PHP != nil && !*s.PHP {
		return ""
	}
	if s.PHPVersion != "" {
		return s.PHPVersion
	}
	return NewestPHPVersion(installed)
}
