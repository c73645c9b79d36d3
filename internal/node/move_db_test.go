package node

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
	got := env.m.mysqlDumpArgv("shop", "orders")
	want := []string{"mariadb-dump", "--socket=/run/mysqld/mysqld.sock", "--user=root", "--single-transaction", "--quick",
		"--skip-lock-tables", "--skip-triggers", "--no-tablespaces", "--default-character-set=utf8mb4", "--hex-blob", "shop", "orders"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mariadb-dump:\n got %q\nwant %q", got, want)
	}
	got, err := env.m.pgDumpArgv("blog", []string{"public.posts", "app.tags"})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"runuser", "-u", "postgres", "--", "pg_dump", "--clean", "--if-exists", "--no-owner", "--no-privileges",
		"-d", "blog", "-t", `"public"."posts"`, "-t", `"app"."tags"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_dump:\n got %q\nwant %q", got, want)
	}
	if got := env.m.psqlArgv("blog"); strings.Join(got, " ") != "runuser -u postgres -- psql -X -q -A -t -F \t -v ON_ERROR_STOP=1 -d blog" {
		t.Errorf("psql %q", got)
	}
}

func TestPgSumSQLQuotes(t *testing.T) {
	q, err := pgSumSQL("public.order-lines")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"nodot", "public.", "o'brien.x"} {
		if _, err := pgSumSQL(bad); err == nil {
			t.Errorf("pgSumSQL(%q) accepted", bad)
		}
	}
	for _, want := range []string{`SELECT 'public.order-lines', r.n, r.s,`, `FROM "public"."order-lines" AS t`, `'"public"."order-lines"'::regclass`} {
		if !strings.Contains(q, want) {
			t.Errorf("pgSumSQL lacks %s:\n%s", want, q)
		}
	}
}

func TestCheckTableName(t *testing.T) {
	for _, ok := range []string{"wp_posts", "Orders", "cache-data", "a$b", "_x", "0day"} {
		if err := checkTableName("db", ok); err != nil {
			t.Errorf("checkTableName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a`b", `a"b`, "a.b", "a;b", "-x", "$x", strings.Repeat("a", 65), "é"} {
		if err := checkTableName("db", bad); err == nil {
			t.Errorf("checkTableName(%q) passed", bad)
		}
	}
}
