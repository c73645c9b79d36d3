package movetask

import (
	"reflect"
	"strings"
	"testing"

	"ferry/internal/model"
)

func TestPlanTableCopy(t *testing.T) {
	sum := func(table string, rows int64, crc string) model.TableSum {
		return model.TableSum{DB: "shop", Table: table, Rows: rows, Checksum: crc}
	}
	old := []model.TableSum{sum("orders", 10, "1-a"), sum("users", 3, "2-b"), sum("carts", 0, "0-c"), sum("new", 1, "3-d")}
	cur := []model.TableSum{sum("orders", 10, "1-a"), sum("users", 3, "9-b"), sum("carts", 1, "0-c"), sum("gone", 5, "4-e")}
	tests := []struct {
		name       string
		old, cur   []model.TableSum
		full       bool
		copy, drop []string
	}{
		{"changed, counted, new and gone", old, cur, false, []string{"carts", "new", "users"}, []string{"gone"}},
		{"full copies every table", old, cur, true, []string{"carts", "new", "orders", "users"}, []string{"gone"}},
		{"equal sides copy nothing", old, old, false, nil, nil},
		{"an empty new side gets everything", old, nil, false, []string{"carts", "new", "orders", "users"}, nil},
		{"an empty old side drops everything", nil, cur, false, nil, []string{"carts", "gone", "orders", "users"}},
	}
	for _, tt := range tests {
		c, d := planTableCopy(tt.old, tt.cur, tt.full)
		if !reflect.DeepEqual(c, tt.copy) || !reflect.DeepEqual(d, tt.drop) {
			t.Errorf("%s: copy %q drop %q, want %q %q", tt.name, c, d, tt.copy, tt.drop)
		}
	}
}

func TestPgLoopback(t *testing.T) {
	for in, want := range map[string]string{
		"localhost": "localhost", "*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1",
		"127.0.1.12": "127.0.1.12", " 10.0.0.5 , localhost": "10.0.0.5", "": "", " , ": "",
	} {
		if got := pgLoopback(in); got != want {
			t.Errorf("pgLoopback(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMoveDumpArgv(t *testing.T) {
	env := newMoveTestEnv(t)
	got := env.m.mysqlDumpArgv("shop", "orders", "-x")
	want := []string{"mariadb-dump", "--socket=/run/mysqld/mysqld.sock", "--user=root", "--single-transaction", "--quick",
		"--skip-lock-tables", "--skip-triggers", "--no-tablespaces", "--default-character-set=utf8mb4", "--hex-blob",
		"--max-allowed-packet=1G", "shop", "--", "orders", "-x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mariadb-dump:\n got %q\nwant %q", got, want)
	}
	got = env.m.pgDumpArgv("blog")
	want = []string{"runuser", "-u", "postgres", "--", "pg_dump", "--no-owner", "--quote-all-identifiers", "-d", "blog"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_dump:\n got %q\nwant %q", got, want)
	}
	if got := env.m.psqlArgv("blog"); strings.Join(got, " ") != "runuser -u postgres -- psql -X -q -A -t -F \t -v ON_ERROR_STOP=1 -d blog" {
		t.Errorf("psql %q", got)
	}
}

func TestPgSumSQLQuotes(t *testing.T) {
	q, err := pgSumSQL(`"odd schema"."o'brien"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`SELECT json_build_array('"odd schema"."o''brien"', r.n,`, `FROM "odd schema"."o'brien" AS t`, `'"odd schema"."o''brien"'::regclass`} {
		if !strings.Contains(q, want) {
			t.Errorf("pgSumSQL lacks %s:\n%s", want, q)
		}
	}
	if _, err := pgSumSQL(`public."back\slash"`); err == nil {
		t.Error("a backslash went into a string literal")
	}
}

func TestCheckObjectName(t *testing.T) {
	for _, ok := range []string{"wp_posts", "a b", "a`b", `a"b`, "a.b", "a;b", "-x", "$x", "é", "new\nline"} {
		if err := checkObjectName("db", ok); err != nil {
			t.Errorf("checkObjectName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\x00b", strings.Repeat("a", 1025)} {
		if err := checkObjectName("db", bad); err == nil {
			t.Errorf("checkObjectName(%q) passed", bad)
		}
	}
}
func TestCloseOverReferences(t *testing.T) {
	edges := [][2]string{
		{"public.lines", "public.orders"}, // lines → orders
		{"public.orders", "public.users"},
		{"public.notes", "public.lines"},
		{"public.tags", "public.other"},
	}
	got := closeOverReferences([]string{"public.users"}, edges)
	want := []string{"public.lines", "public.notes", "public.orders", "public.users"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("closeOverReferences = %q, want %q", got, want)
	}
	if got := closeOverReferences([]string{"public.notes"}, edges); !reflect.DeepEqual(got, []string{"public.notes"}) {
		t.Errorf("a table nobody refers to: %q", got)
	}
}
