//go:build lab

package movetask

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
)

// TestMoveDBResyncKnowsChangedTables copies a MariaDB database to a new
// host that holds none of it, then changes rows on one host or the other
// between syncs: a re-sync copies the changed table, and only that one,
// and stops reading the rows of tables that neither host wrote to.
func TestMoveDBResyncKnowsChangedTables(t *testing.T) {
	ml := newMoveLab(t)
	web1, web2 := ml.web1, ml.web2
	p := ml.mysqlMove(8, `CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
CREATE TABLE c (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=Aria;
INSERT INTO a SELECT seq, CONCAT('a', seq) FROM seq_1_to_100;
INSERT INTO b SELECT seq, CONCAT('b', seq) FROM seq_1_to_100;
INSERT INTO c SELECT seq, CONCAT('c', seq) FROM seq_1_to_100;
CREATE VIEW av AS SELECT id FROM a`)

	// Stamps are whole seconds, trusted only once a margin has passed.
	settle := func() { time.Sleep(3 * time.Second) }
	sync := func(what string) model.MoveSyncDBResult {
		var sd model.MoveSyncDBResult
		web1.task(model.TaskMoveSyncDB, p, &sd)
		t.Logf("%s: summed %d, copied %q, %.3fs", what, sd.TablesSummed, copiedTables(sd), sd.Seconds)
		return sd
	}

	// A new host without tables: everything copied, nothing summed
	// before; the report's sums are those the new host holds.
	settle()
	sd := sync("first sync")
	if got := copiedTables(sd); !slices.Equal(got, []string{"a", "b", "c"}) || sd.TablesSummed != 0 {
		t.Errorf("first sync copied %q, summed %d; want a, b, c and 0", got, sd.TablesSummed)
	}
	for _, s := range sd.Tables {
		if s.Kind == "" && (s.Rows != 100 || s.NewRows != 100 || s.Checksum != s.NewChecksum) {
			t.Errorf("first sync reports %+v", s)
		}
	}
	if got := web2.sql("mysql", "shop", "SELECT COUNT(*), MAX(v) FROM b"); got != "100\tb99" {
		t.Errorf("b on web2: %q", got)
	}

	// The next sync sums again, on both hosts, what the new host's stamps
	// cannot vouch for yet: tables loaded within the margin before their
	// sums were taken.
	settle()
	if sd = sync("nothing changed, just after the copy"); len(copiedTables(sd)) != 0 {
		t.Errorf("copied %q, want nothing", copiedTables(sd))
	}

	// A row changed on the old host: that table is copied, the other
	// InnoDB table is neither summed nor copied; the Aria table, which
	// has no stamps, is summed.
	settle()
	web1.sql("mysql", "shop", "UPDATE a SET v = 'changed' WHERE id = 7")
	sd = sync("after a row of a changed on web1")
	if got := copiedTables(sd); !slices.Equal(got, []string{"a"}) {
		t.Errorf("copied %q, want a", got)
	}
	if sd.TablesSummed != 2 {
		t.Errorf("summed %d tables, want 2 (a, changed, and c, without stamps)", sd.TablesSummed)
	}
	if got := web2.sql("mysql", "shop", "SELECT v FROM a WHERE id = 7"); got != "changed" {
		t.Errorf("a row 7 on web2: %q", got)
	}

	// A row changed on the new host (someone tried the site there): the
	// table is copied again from the old host.
	settle()
	web2.sql("mysql", "shop", "UPDATE b SET v = 'on web2' WHERE id = 3")
	sd = sync("after a row of b changed on web2")
	if got := copiedTables(sd); !slices.Equal(got, []string{"b"}) {
		t.Errorf("copied %q, want b", got)
	}
	if got := web2.sql("mysql", "shop", "SELECT v FROM b WHERE id = 3"); got != "b3" {
		t.Errorf("b row 3 on web2 after the re-sync: %q, want b3", got)
	}

	// Nothing changed: nothing copied, and once the last copies have
	// settled only the table without stamps is summed.
	settle()
	sync("nothing changed")
	settle()
	sd = sync("nothing changed, settled")
	if got := copiedTables(sd); len(got) != 0 || sd.TablesSummed != 1 {
		t.Errorf("copied %q, summed %d; want nothing copied and 1 (c) summed", got, sd.TablesSummed)
	}

	// Verify still reads every row: a changed row is found.
	web1.sql("mysql", "shop", "UPDATE b SET v = 'late' WHERE id = 9")
	var v model.MoveVerifyResult
	web1.task(model.TaskMoveVerify, p, &v)
	var differ []string
	for i := range v.Old {
		if i < len(v.New) && !reflect.DeepEqual(v.Old[i], v.New[i]) {
			differ = append(differ, v.Old[i].Object())
		}
	}
	if !slices.Equal(differ, []string{"shop.b"}) {
		t.Errorf("verify after a row of b changed finds %q differing, want shop.b", differ)
	}

	// A definition changed on the old host counts as a change, even one
	// made in place, without rewriting a row.
	settle()
	web1.sql("mysql", "shop", "ALTER TABLE a ADD COLUMN w INT, ALGORITHM=INSTANT")
	sd = sync("after a's definition changed and b's row")
	if got := copiedTables(sd); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("copied %q, want a and b", got)
	}
	if got := web2.sql("mysql", "shop", "SHOW CREATE TABLE a"); !strings.Contains(got, "`w` int") {
		t.Errorf("a on web2 lacks the new column: %s", got)
	}
	ml.checkLevel(p, "after the re-sync")
}

// mysqlMove makes database shop (with its account shopuser) on both
// hosts, its tables (schema) on web1 alone, and the keys of move id of it
// from web1 to web2, and returns the move's task payload.
func (ml *moveLab) mysqlMove(id int64, schema string) model.MoveTaskPayload {
	return ml.dbMove(id, "example.net", model.MoveDB{Engine: "mysql", Name: "shop", Users: []string{"shopuser"}},
		"CREATE DATABASE shop; CREATE USER shopuser@localhost; GRANT ALL ON shop.* TO shopuser@localhost", schema)
}

// dbMove makes database db on both hosts (with the statements make), its
// tables (schema) on web1 alone, the directory of order ident on web1,
// and the keys of move id of it from web1 to web2, and returns the move's
// task payload.
func (ml *moveLab) dbMove(id int64, ident string, db model.MoveDB, make, schema string) model.MoveTaskPayload {
	for _, h := range []*moveLabHost{ml.web1, ml.web2} {
		h.sql(db.Engine, "", make)
	}
	ml.web1.sql(db.Engine, db.Name, schema)
	p := model.MoveTaskPayload{
		MoveID:    id,
		Order:     model.Order{ID: 4, Identifier: ident, Member: "coop", Host: "web1"},
		OrderDir:  "/home/members/coop/sites/" + ident,
		FromAddr:  ml.web1.addr,
		ToAddr:    ml.web2.addr,
		Databases: []model.MoveDB{db},
	}
	ml.web1.run("mkdir", "-p", p.OrderDir+"/web")
	ml.web2.run("mkdir", "-p", "/home/members/coop/sites")
	var kg model.MoveKeygenResult
	ml.web1.task(model.TaskMoveKeygen, p, &kg)
	p.PublicKey = kg.PublicKey
	var au model.MoveAuthorizeResult
	ml.web2.task(model.TaskMoveAuthorize, p, &au)
	p.HostKey = au.HostKey
	return p
}

// TestMoveDBResyncKnowsChangedPgTables copies a PostgreSQL database to a
// new host that holds none of it, then writes to one host or the other
// between syncs: a re-sync copies the written table, and only that one,
// and reads no rows of tables whose counters neither host changed; the
// final sync trusts no counter and sums every table.
func TestMoveDBResyncKnowsChangedPgTables(t *testing.T) {
	ml := newMoveLab(t)
	web1, web2 := ml.web1, ml.web2
	p := ml.pgMove(9, `SET ROLE blogger;
CREATE TABLE a (id int PRIMARY KEY, v text);
CREATE TABLE b (id int PRIMARY KEY, v text);
CREATE TABLE m (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (1000);
INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 100) g;
INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 100) g;
INSERT INTO m SELECT g, 'm' || g FROM generate_series(1, 100) g;`)

	sync := func(what string, p model.MoveTaskPayload) model.MoveSyncDBResult {
		var sd model.MoveSyncDBResult
		web1.task(model.TaskMoveSyncDB, p, &sd)
		t.Logf("%s: summed %d, copied %q, %.3fs", what, sd.TablesSummed, copiedTables(sd), sd.Seconds)
		return sd
	}
	// steady syncs until a sync copies nothing (the counters of the last
	// copy may reach the new host's statistics after that sync read them)
	// and returns that sync's report.
	steady := func(what string) model.MoveSyncDBResult {
		for i := 0; i < 3; i++ {
			if sd := sync(what, p); len(copiedTables(sd)) == 0 {
				return sd
			}
		}
		t.Fatalf("%s: three syncs in a row copied tables", what)
		return model.MoveSyncDBResult{}
	}
	all := []string{"public.a", "public.b", "public.m", "public.m1"}

	sd := sync("first sync", p)
	if got := copiedTables(sd); !slices.Equal(got, all) || sd.TablesSummed != 0 {
		t.Errorf("first sync copied %q, summed %d; want %q and 0", got, sd.TablesSummed, all)
	}
	// Nothing changed: the partitioned table alone, which has no counters
	// of its own, is summed.
	steady("nothing changed")
	if sd = steady("nothing changed, again"); sd.TablesSummed != 1 {
		t.Errorf("nothing changed: summed %d tables, want 1 (m)", sd.TablesSummed)
	}

	// Each write, on one host or the other, once the syncs before it
	// copied nothing: the tables the next sync copies, how many tables it
	// sums (-1: not checked), and what web2 holds then.
	for _, w := range []struct {
		what, host, sql string
		copied          []string
		summed          int
		query, want     string
	}{
		// The written table alone is summed (with m) and copied.
		{"a row of a changed on web1", "web1", "UPDATE a SET v = 'changed' WHERE id = 7",
			[]string{"public.a"}, 2, "SELECT v FROM a WHERE id = 7", "changed"},
		// Someone tried the site on the new host: the table is summed on
		// both hosts and copied again from the old one.
		{"a row of b changed on web2", "web2", "UPDATE b SET v = 'on web2' WHERE id = 3",
			[]string{"public.b"}, 2, "SELECT v FROM b WHERE id = 3", "b3"},
		// A partition's row: the partition and its parent.
		{"a row of m1 changed on web1", "web1", "UPDATE m SET v = 'moved' WHERE id = 5",
			[]string{"public.m", "public.m1"}, 2, "SELECT v FROM m WHERE id = 5", "moved"},
		// A TRUNCATE counts no row, but makes the table a new file.
		{"b emptied on web1", "web1", "TRUNCATE b",
			[]string{"public.b"}, 2, "SELECT count(*) FROM b", "0"},
		// A definition changed in place, no row written: the whole
		// database is loaded.
		{"a's definition changed on web1", "web1", "SET ROLE blogger; ALTER TABLE a ADD COLUMN w int",
			all, -1, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'a' AND column_name = 'w'", "1"},
	} {
		steady("before " + w.what)
		h := web1
		if w.host == "web2" {
			h = web2
		}
		h.sql("pgsql", "blog", w.sql)
		sd = sync("after "+w.what, p)
		if got := copiedTables(sd); !slices.Equal(got, w.copied) || w.summed >= 0 && sd.TablesSummed != w.summed {
			t.Errorf("after %s: copied %q, summed %d; want %q and %d", w.what, got, sd.TablesSummed, w.copied, w.summed)
		}
		if got := web2.sql("pgsql", "blog", w.query); got != w.want {
			t.Errorf("after %s: web2 answers %q to %s, want %q", w.what, got, w.query, w.want)
		}
	}

	// The final sync sums every table, changed or not.
	steady("before the final sync")
	final := p
	final.Final = true
	if sd = sync("final sync", final); sd.TablesSummed != len(all) || len(copiedTables(sd)) != 0 {
		t.Errorf("final sync: summed %d, copied %q; want %d and nothing", sd.TablesSummed, copiedTables(sd), len(all))
	}
	ml.checkLevel(p, "after the final sync")
}

// pgMove makes database blog (owned by role blogger) on both hosts, its
// tables (schema) on web1 alone, and the keys of move id of it from web1
// to web2, and returns the move's task payload.
func (ml *moveLab) pgMove(id int64, schema string) model.MoveTaskPayload {
	for _, h := range []*moveLabHost{ml.web1, ml.web2} {
		h.run("useradd", "-M", "-s", "/usr/sbin/nologin", "blogger")
	}
	return ml.dbMove(id, "example.com", model.MoveDB{Engine: "pgsql", Name: "blog", Owner: "blogger"},
		"CREATE ROLE blogger; CREATE DATABASE blog OWNER blogger", schema)
}

// copiedTables are the tables a sync reports copied.
func copiedTables(r model.MoveSyncDBResult) []string {
	var out []string
	for _, s := range r.Tables {
		if s.Copied && s.Kind == "" {
			out = append(out, s.Table)
		}
	}
	return out
}

// checkLevel runs verify of p and fails the test, saying when, unless
// every table and object is the same on both hosts.
func (ml *moveLab) checkLevel(p model.MoveTaskPayload, when string) {
	ml.t.Helper()
	var v model.MoveVerifyResult
	ml.web1.task(model.TaskMoveVerify, p, &v)
	if !reflect.DeepEqual(v.Old, v.New) {
		ml.t.Errorf("verify %s:\nold %+v\nnew %+v", when, v.Old, v.New)
	}
}
