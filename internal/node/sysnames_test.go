package node

import (
	"slices"
	"strings"
	"testing"
)

const testPasswd = `root:x:0:0:root:/root:/bin/bash
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
alice:x:10001:10001::/srv/ferry/members/a.example/alice:/bin/bash
bob:x:10002:10002::/srv/ferry/members/b.example/bob/:/bin/bash
mallory:x:10003:10003::/srv/ferry/members-evil/mallory:/bin/bash
broken:x:10004
`

const testGroup = `root:x:0:
www-data:x:33:
alice:x:10001:
staff:x:50:alice
nogroup:x:65534:
odd:x:notanumber:
`

func TestSystemNamesAreTheHostsOwn(t *testing.T) {
	got := systemNames([]byte(testPasswd), []byte(testGroup), "/srv/ferry/members")
	want := []string{"daemon", "mallory", "nogroup", "root", "staff", "www-data"}
	if !slices.Equal(got, want) {
		t.Fatalf("systemNames = %q, want %q", got, want)
	}
}

func TestSystemNamesReadsLongLines(t *testing.T) {
	// A group with thousands of members makes a line longer than a
	// scanner's default buffer; the names after it must still be read.
	long := "big:x:100:" + strings.Repeat("member,", 20000) + "last\n"
	got := systemNames(nil, []byte(long+"after:x:101:\n"), "/srv/ferry/members")
	if !slices.Equal(got, []string{"after", "big"}) {
		t.Fatalf("systemNames = %q, want [after big]", got)
	}
}

// Whatever the files hold, the names are sorted, distinct, non-empty and
// free of the separators of the files they came from.
func FuzzSystemNames(f *testing.F) {
	f.Add(testPasswd, testGroup)
	f.Add("", "")
	f.Add(":::::::", "::1000:")
	f.Add("a:x:1:1::/srv/ferry/members:/bin/sh\r\n", "g:x:-1:\n")
	f.Fuzz(func(t *testing.T, passwd, group string) {
		got := systemNames([]byte(passwd), []byte(group), "/srv/ferry/members")
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("names %q are not sorted and distinct", got)
		}
		for _, n := range got {
			if n == "" || strings.ContainsAny(n, ":\n") {
				t.Fatalf("bad name %q in %q", n, got)
			}
		}
	})
}
