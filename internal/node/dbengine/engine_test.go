package dbengine

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/hostexec/hostexectest"
)

// Every database kind of the kind registry is made by the engine the
// registry names, and the appliers find the MariaDB users' engine too.
func TestForKind(t *testing.T) {
	want := map[model.Kind]string{model.KindMySQLDB: "mysql", model.KindMySQLUser: "mysql", model.KindPgSQLDB: "pgsql"}
	for _, k := range model.Kinds {
		e, ok := ForKind(k, Host{})
		name := ""
		if ok {
			name = e.Name()
		}
		if name != want[k] {
			t.Errorf("ForKind(%s) = %q, want %q", k, name, want[k])
		}
		if reg := model.KindInfoOf(k).Engine; reg != "" && reg != name {
			t.Errorf("kind %s: the registry says engine %q, ForKind %q", k, reg, name)
		}
	}
	for _, n := range Names() {
		if e, err := New(n, Host{}); err != nil || e.Name() != n {
			t.Errorf("New(%q) = %v, %v", n, e, err)
		}
	}
	if _, err := New("oracle", Host{}); err == nil {
		t.Error("New(oracle) made an engine")
	}
}

func TestPostgreSQLCheck(t *testing.T) {
	pg := PostgreSQL{}
	if err := pg.Check(model.MoveDB{Name: "blog", Owner: "blog", Engine: "pgsql"}); err != nil {
		t.Errorf("check: %v", err)
	}
	if err := pg.Check(model.MoveDB{Name: "blog", Owner: "", Engine: "pgsql"}); err == nil || !strings.HasPrefix(err.Error(), `database blog: owner ""`) {
		t.Errorf("check without owner: %v", err)
	}
	if err := (MariaDB{}).Check(model.MoveDB{Name: "shop", Engine: "mysql"}); err != nil {
		t.Errorf("mariadb check: %v", err)
	}
}

// testHost is a fake host whose psql prints out for every command.
func testHost(out string) (*hostexectest.Host, Host) {
	fake := hostexectest.NewHost()
	fake.Answers["runuser"] = hostexectest.Answer{Stdout: out}
	return fake, Host{Runner: fake, RunAsPostgres: []string{"runuser", "-u", "postgres", "--"}}
}

// A load into a PostgreSQL database logs in over TCP as a temporary
// member of the owner, makes what it makes as the owner, and its drop
// hands what the role made to the owner.
func TestPostgreSQLLoad(t *testing.T) {
	fake, h := testHost("*\t5433\n")
	db := model.MoveDB{Name: "blog", Owner: "blog_owner", Engine: "pgsql"}
	cmd, drop, err := PostgreSQL{h}.Load(context.Background(), 7, db, "ferry_mv7_ab", "secret", strings.NewReader("INSERT 1;\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.StdinOf("runuser -u postgres -- psql"); got != "CREATE ROLE \"ferry_mv7_ab\" LOGIN PASSWORD 'secret' IN ROLE \"blog_owner\";\n"+
		"SELECT current_setting('listen_addresses'), current_setting('port');\n" {
		t.Errorf("role made with %q", got)
	}
	if got := strings.Join(cmd.Argv, " "); got != "psql -X -q -v ON_ERROR_STOP=1 --single-transaction -h 127.0.0.1 -p 5433 -U ferry_mv7_ab -d blog" {
		t.Errorf("load argv %q", got)
	}
	if !slices.Contains(cmd.Env, "PGPASSWORD=secret") || !slices.Contains(cmd.Env, "PGAPPNAME=ferry-move-7") {
		t.Errorf("load env %q", cmd.Env)
	}
	in, err := io.ReadAll(cmd.Stdin)
	if err != nil || string(in) != "SET ROLE \"blog_owner\";\nINSERT 1;\n" {
		t.Errorf("load stdin %q, %v", in, err)
	}
	fake.Ran()
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	calls := fake.CallsOf("runuser -u postgres -- psql")
	if len(calls) != 2 || calls[0].Stdin != "REASSIGN OWNED BY \"ferry_mv7_ab\" TO \"blog_owner\";\nDROP OWNED BY \"ferry_mv7_ab\";\n" ||
		calls[1].Stdin != "DROP ROLE IF EXISTS \"ferry_mv7_ab\";\n" {
		t.Errorf("drop ran %+v", calls)
	}
}

// A server that listens on no TCP address cannot take a password login:
// the load fails and the role it made is dropped at once.
func TestPostgreSQLLoadWithoutTCP(t *testing.T) {
	fake, h := testHost(", \t5432\n")
	db := model.MoveDB{Name: "blog", Owner: "blog", Engine: "pgsql"}
	_, _, err := PostgreSQL{h}.Load(context.Background(), 7, db, "ferry_mv7_ab", "secret", strings.NewReader(""))
	if err == nil || !strings.Contains(err.Error(), "postgresql listens on no TCP address") {
		t.Fatalf("load: %v", err)
	}
	if got := fake.StdinOf("runuser"); got != "DROP ROLE IF EXISTS \"ferry_mv7_ab\";\n" {
		t.Errorf("last psql read %q, want the role dropped", got)
	}
}

// The sweep asks each owner's first database for the move's roles and
// drops them from every database of that owner.
func TestPostgreSQLDropLoadAccounts(t *testing.T) {
	fake, h := testHost("")
	fake.Respond = func(argv []string, stdin string) (hostexectest.Answer, bool) {
		if strings.HasPrefix(stdin, "SELECT rolname") {
			return hostexectest.Answer{Stdout: "ferry_mv7_aa\nferry_mv7_bb\n"}, true
		}
		return hostexectest.Answer{}, false
	}
	dbs := []model.MoveDB{
		{Name: "blog", Owner: "ann", Engine: "pgsql"},
		{Name: "wiki", Owner: "bob", Engine: "pgsql"},
		{Name: "blog2", Owner: "ann", Engine: "pgsql"},
	}
	removed, err := PostgreSQL{h}.DropLoadAccounts(context.Background(), "ferry_mv7_", dbs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"postgresql role ferry_mv7_aa", "postgresql role ferry_mv7_bb", "postgresql role ferry_mv7_aa", "postgresql role ferry_mv7_bb"}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	var dbsAsked []string
	for _, c := range fake.CallsOf("runuser") {
		if strings.HasPrefix(c.Stdin, "SELECT rolname FROM pg_roles WHERE starts_with(rolname, 'ferry_mv7_');") {
			dbsAsked = append(dbsAsked, c.Argv[strings.LastIndex(c.Argv, " ")+1:])
		}
	}
	if !slices.Equal(dbsAsked, []string{"blog", "wiki"}) {
		t.Errorf("asked %q for roles, want blog and wiki", dbsAsked)
	}
	if got := fake.StdinOf("runuser -u postgres -- psql -X -q -A -t -F \t -v ON_ERROR_STOP=1 -d blog2"); !strings.Contains(got, "REASSIGN OWNED BY \"ferry_mv7_bb\" TO \"ann\";") {
		t.Errorf("blog2 got %q", got)
	}
}

// A failing psql is reported with the database it failed on; the sweep
// goes on with the other owners.
func TestPostgreSQLDropLoadAccountsFails(t *testing.T) {
	fake, h := testHost("")
	fake.Answers["runuser"] = hostexectest.Answer{Stderr: "psql: error: connection refused", Code: 2}
	dbs := []model.MoveDB{{Name: "blog", Owner: "ann", Engine: "pgsql"}, {Name: "wiki", Owner: "bob", Engine: "pgsql"}}
	removed, err := PostgreSQL{h}.DropLoadAccounts(context.Background(), "ferry_mv7_", dbs)
	if len(removed) != 0 || err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("removed %q, %v", removed, err)
	}
	var ee hostexectest.ExitError
	if !errors.As(err, &ee) || len(fake.CallsOf("runuser")) != 2 {
		t.Errorf("error %v after %d calls, want an exit error and both owners asked", err, len(fake.CallsOf("runuser")))
	}
}

func TestPsqlArgv(t *testing.T) {
	h := Host{RunAsPostgres: []string{"runuser", "-u", "postgres", "--"}}
	if got := strings.Join(h.PsqlArgv("blog"), " "); got != "runuser -u postgres -- psql -X -q -A -t -F \t -v ON_ERROR_STOP=1 -d blog" {
		t.Errorf("psql %q", got)
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

// A dump is one consistent snapshot whose table names stay names; a
// PostgreSQL dump of part of a database is of its rows alone.
func TestDump(t *testing.T) {
	h := Host{MySQLSocket: "/run/mysqld/mysqld.sock", RunAsPostgres: []string{"runuser", "-u", "postgres", "--"}}
	for _, tt := range []struct {
		engine string
		part   *DumpPart
		want   string
	}{
		{"mysql", &DumpPart{Tables: []string{"orders", "-x"}}, "mariadb-dump --socket=/run/mysqld/mysqld.sock --user=root --single-transaction --quick" +
			" --skip-lock-tables --skip-add-locks --skip-triggers --no-tablespaces --default-character-set=utf8mb4 --hex-blob --max-allowed-packet=1G shop -- orders -x"},
		{"mysql", nil, "mariadb-dump --socket=/run/mysqld/mysqld.sock --user=root --single-transaction --quick" +
			" --skip-lock-tables --skip-add-locks --skip-triggers --no-tablespaces --default-character-set=utf8mb4 --hex-blob --max-allowed-packet=1G shop --"},
		{"mysql", &DumpPart{Tables: []string{"orders"}, Where: "(`id`) IN ((_binary X'31'))"}, "mariadb-dump --socket=/run/mysqld/mysqld.sock --user=root --single-transaction --quick" +
			" --skip-lock-tables --skip-add-locks --skip-triggers --no-tablespaces --default-character-set=utf8mb4 --hex-blob --max-allowed-packet=1G" +
			" --no-create-info --skip-disable-keys --where=(`id`) IN ((_binary X'31')) shop -- orders"},
		{"pgsql", nil, "runuser -u postgres -- pg_dump --no-owner --quote-all-identifiers -d shop"},
		{"pgsql", &DumpPart{Tables: []string{`"public"."orders"`}, Sequences: []string{`"public"."orders_id_seq"`}},
			`runuser -u postgres -- pg_dump --data-only --no-owner --strict-names -d shop -t "public"."orders" -t "public"."orders_id_seq"`},
	} {
		e, err := New(tt.engine, h)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(e.Dump("shop", tt.part), " "); got != tt.want {
			t.Errorf("%s dump of %+v:\n got %s\nwant %s", tt.engine, tt.part, got, tt.want)
		}
	}
}
