package store

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestPoolSize(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		size    int
		bad     bool
	}{
		{in: "postgres://ferry@/ferry?host=/run/postgresql", out: "postgres://ferry@/ferry?host=/run/postgresql", size: DefaultPoolSize},
		{in: "postgres://ferry@db/ferry?pool_max_conns=4&search_path=s", out: "postgres://ferry@db/ferry?search_path=s", size: 4},
		{in: "postgres://ferry@db/ferry?pool_max_conns=0", bad: true},
		{in: "postgres://ferry@db/ferry?pool_max_conns=many", bad: true},
		{in: "postgres://ferry:secret@db/ferry?pool_max_conns=1001", bad: true},
	} {
		out, size, err := poolSize(tc.in)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "pool_max_conns") || strings.Contains(err.Error(), "secret") {
				t.Errorf("poolSize(%q) = %q, %d, %v; want an error naming pool_max_conns and not the password", tc.in, out, size, err)
			}
			continue
		}
		if err != nil || out != tc.out || size != tc.size {
			t.Errorf("poolSize(%q) = %q, %d, %v; want %q, %d", tc.in, out, size, err, tc.out, tc.size)
		}
	}
}

// A bad pool size stops Open before it connects anywhere.
func TestOpenRefusesBadPoolSize(t *testing.T) {
	_, err := Open(context.Background(), "postgres://ferry@127.0.0.1:1/ferry?pool_max_conns=-3")
	if err == nil || !strings.Contains(err.Error(), "pool_max_conns") || errors.Is(err, ErrSchema) {
		t.Fatalf("Open with pool_max_conns=-3: %v, want an error naming pool_max_conns", err)
	}
}

func FuzzPoolSize(f *testing.F) {
	f.Add("postgres://ferry@/ferry?host=/run/postgresql&pool_max_conns=8")
	f.Add("postgres://u:p@h/db?pool_max_conns=x")
	f.Add("postgres://%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		out, size, err := poolSize(raw)
		if err != nil {
			if strings.Contains(raw, ":") && len(raw) > 12 && strings.Contains(err.Error(), raw) {
				t.Fatalf("error repeats the URL: %v", err)
			}
			return
		}
		if size < 1 || size > 1000 {
			t.Fatalf("pool size %d out of range", size)
		}
		if u, err := url.Parse(out); err == nil && u.Query().Has("pool_max_conns") {
			t.Fatalf("%q still holds pool_max_conns", out)
		}
	})
}
