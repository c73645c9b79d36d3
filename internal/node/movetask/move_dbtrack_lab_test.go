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
	copiedOf := func(r model.MoveSyncDBResult) []string {
		var out []string
		for _, s := range r.Tables {
			if s.Copied && s.Kind == "" {
				out = append(out, s.Table)
			}
		}
		return out
	}
	sync := func(what string) model.MoveSyncDBResult {
		var sd model.MoveSyncDBResult
		web1.task(model.TaskMoveSyncDB, p, &sd)
		t.Logf("%s: summed %d, copied %q, %.3fs", what, sd.TablesSummed, copiedOf(sd), sd.Seconds)
		return sd
	}

	// A new host without tables: everything copied, nothing summed
	// before; the report's sums are those the new host holds.
	settle()
	sd := sync("first sync")
	if got := copiedOf(sd); !slices.Equal(got, []string{"a", "b", "c"}) || sd.TablesSummed != 0 {
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
	if sd = sync("nothing changed, just after the copy"); len(copiedOf(sd)) != 0 {
		t.Errorf("copied %q, want nothing", copiedOf(sd))
	}

	// A row changed on the old host: that table is copied, the other
	// InnoDB table is neither summed nor copied; the Aria table, which
	// has no stamps, is summed.
	settle()
	web1.sql("mysql", "shop", "UPDATE a SET v = 'changed' WHERE id = 7")
	sd = sync("after a row of a changed on web1")
	if got := copiedOf(sd); !slices.Equal(got, []string{"a"}) {
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
	if got := copiedOf(sd); !slices.Equal(got, []string{"b"}) {
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
	if got := copiedOf(sd); len(got) != 0 || sd.TablesSummed != 1 {
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
	if got := copiedOf(sd); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("copied %q, want a and b", got)
	}
	if got := web2.sql("mysql", "shop", "SHOW CREATE TABLE a"); !strings.Contains(got, "`w` int") {
		t.Errorf("a on web2 lacks the new column: %s", got)
	}
	web1.task(model.TaskMoveVerify, p, &v)
	if !reflect.DeepEqual(v.Old, v.New) {
		t.Errorf("verify after the re-sync:\nold %+v\nnew %+v", v.Old, v.New)
	}
}

// mysqlMove makes database shop (with its account shopuser) on both
// hosts, its tables (schema) on web1 alone, and the keys of move id of it
// from web1 to web2, and returns the move's task payload.
func (ml *moveLab) mysqlMove(id int64, schema string) model.MoveTaskPayload {
	web1, web2 := ml.web1, ml.web2
	const dir = "/home/members/coop/sites/example.net"
	web1.run("mkdir", "-p", dir+"/web")
	web2.run("mkdir", "-p", "/home/members/coop/sites")
	for _, h := range []*moveLabHost{web1, web2} {
		h.sql("mysql", "", "CREATE DATABASE shop; CREATE USER shopuser@localhost; GRANT ALL ON shop.* TO shopuser@localhost")
	}
	web1.sql("mysql", "shop", schema)
	p := model.MoveTaskPayload{
		MoveID:    id,
		Order:     model.Order{ID: 4, Identifier: "example.net", Member: "coop", Host: "web1"},
		OrderDir:  dir,
		FromAddr:  web1.addr,
		ToAddr:    web2.addr,
		Databases: []model.MoveDB{{Engine: "mysql", Name: "shop", Users: []string{"shopuser"}}},
	}
	var kg model.MoveKeygenResult
	web1.task(model.TaskMoveKeygen, p, &kg)
	p.PublicKey = kg.PublicKey
	var au model.MoveAuthorizeResult
	web2.task(model.TaskMoveAuthorize, p, &au)
	p.HostKey = au.HostKey
	return p
}
