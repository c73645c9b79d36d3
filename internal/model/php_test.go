package model_test

import (
	"strings"
	"testing"

	"ferry/internal/model"
)

func TestParsePHPSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"128M", 128 << 20, true},
		{"128m", 128 << 20, true},
		{"2G", 2 << 30, true},
		{"512k", 512 << 10, true},
		{"1048576", 1 << 20, true},
		{"", 0, false},
		{"M", 0, false},
		{"-1", 0, false},
		{"0", 0, false},
		{"0M", 0, false},
		{"+5M", 0, false},
		{"1.5G", 0, false},
		{"1T", 0, false},
		{"64 M", 0, false},
		{"64MB", 0, false},
		{"9999999999999G", 0, false},
	} {
		got, err := model.ParsePHPSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParsePHPSize(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestFormatPHPSize(t *testing.T) {
	for n, want := range map[int64]string{128 << 20: "128M", 1 << 30: "1G", 1536 << 20: "1536M", 3 << 10: "3K", 1000: "1000"} {
		if got := model.FormatPHPSize(n); got != want {
			t.Errorf("FormatPHPSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParsePHPVersion(t *testing.T) {
	for in, want := range map[string]string{"8.2": "8.2", "php8.3": "8.3", "7.4": "7.4", "8.10": "8.10",
		"8": "", "8.": "", ".2": "", "08.2": "", "8.02": "", "0.1": "", "8.2.26": "", "8.2 ": "", "php-8.2": "", "8.x": "", "": "", "1234.1": ""} {
		got, err := model.ParsePHPVersion(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParsePHPVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestPHPVersionOrder(t *testing.T) {
	got := model.SortPHPVersions([]string{"8.10", "7.4", "8.2", "8.9", "8.2"})
	if strings.Join(got, " ") != "7.4 8.2 8.9 8.10" {
		t.Errorf("sorted: %v", got)
	}
	if n := model.NewestPHPVersion([]string{"8.9", "8.10", "7.4"}); n != "8.10" {
		t.Errorf("newest: %s", n)
	}
	if n := model.NewestPHPVersion(nil); n != "" {
		t.Errorf("newest of none: %q", n)
	}
}

func TestCheckPHPVersion(t *testing.T) {
	for _, c := range []struct {
		v         string
		installed []string
		want, err string
	}{
		{"", []string{"8.2", "8.3"}, "8.3", ""},
		{"8.2", []string{"8.2", "8.3"}, "8.2", ""},
		{"8.4", []string{"8.3", "8.2"}, "", "has no PHP 8.4 (it has PHP-FPM 8.2, 8.3)"},
		{"8.2", nil, "", "has no PHP-FPM installed"},
	} {
		got, err := model.CheckPHPVersion(c.v, c.installed)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if got != c.want || msg != c.err {
			t.Errorf("CheckPHPVersion(%q, %v) = %q, %q; want %q, %q", c.v, c.installed, got, msg, c.want, c.err)
		}
	}
}

func TestPHPSettingsEffective(t *testing.T) {
	for _, c := range []struct {
		in, want model.PHPSettings
	}{
		{model.PHPSettings{}, model.PHPSettings{MemoryLimit: "128M", UploadMaxFilesize: "2M", PostMaxSize: "8M", MaxChildren: 5}},
		{model.PHPSettings{UploadMaxFilesize: "64M"}, model.PHPSettings{MemoryLimit: "128M", UploadMaxFilesize: "64M", PostMaxSize: "64M", MaxChildren: 5}},
		{model.PHPSettings{PHPVersion: "8.3", MemoryLimit: "1G", UploadMaxFilesize: "4M", PostMaxSize: "6M", MaxChildren: 20},
			model.PHPSettings{PHPVersion: "8.3", MemoryLimit: "1G", UploadMaxFilesize: "4M", PostMaxSize: "6M", MaxChildren: 20}},
	} {
		if got := c.in.Effective(); got != c.want {
			t.Errorf("%+v.Effective() = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// An accepted size is positive, written canonically it reads back as the
// same number of bytes, and the canonical form is a fixed point.
func FuzzParsePHPSize(f *testing.F) {
	fuzzString(f, []string{"128M", "1g", "512k", "1048576", "-1", "1.5G", "0x10M", "１M", "9223372036854775807"}, func(t *testing.T, s string) {
		n, err := model.ParsePHPSize(s)
		if err != nil {
			return
		}
		if n <= 0 {
			t.Fatalf("%q → %d", s, n)
		}
		c := model.FormatPHPSize(n)
		again, err := model.ParsePHPSize(c)
		if err != nil || again != n {
			t.Fatalf("%q → %d → %q → %d, %v", s, n, c, again, err)
		}
		if strings.ContainsAny(c, " \t\n\"';") {
			t.Fatalf("%q → %q carries config syntax", s, c)
		}
	})
}

// An accepted version is two short numbers joined by a dot, safe as a path
// element and a file name suffix, and a fixed point.
func FuzzParsePHPVersion(f *testing.F) {
	fuzzString(f, []string{"8.2", "php8.3", "8.10", "8.2.26", "../8.2", "8.2/", "08.2", "８.２"}, func(t *testing.T, s string) {
		v, err := model.ParsePHPVersion(s)
		if err != nil {
			return
		}
		if strings.Trim(v, "0123456789.") != "" || strings.Count(v, ".") != 1 || len(v) > 7 {
			t.Fatalf("%q → %q", s, v)
		}
		if again, err := model.ParsePHPVersion(v); err != nil || again != v {
			t.Fatalf("%q → %q → %q, %v", s, v, again, err)
		}
		if model.ComparePHPVersions(v, v) != 0 {
			t.Fatalf("%q does not equal itself", v)
		}
	})
}
