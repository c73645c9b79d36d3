//go:build lab

package movetask

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/model"
)

// TestMoveDBResyncCopiesChangedRows changes rows of MariaDB tables on the
// old host (and one on the new host) between syncs: a table with a
// usable primary key is brought level row by row, sending only what
// changed, and ends equal to the old host's, its AUTO_INCREMENT counter
// too; a table with a trigger or without a primary key, or with most of
// its rows changed, is copied whole; a parent row replaced on the new
// host does not cascade into its child rows there.
func TestMoveDBResyncCopiesChangedRows(t *testing.T) {
	ml := newMoveLab(t)
	web1, web2 := ml.web1, ml.web2
	p := ml.mysqlMove(9, `CREATE TABLE big (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40), d DATETIME, n DECIMAL(10,2) NULL, b BLOB NULL) ENGINE=InnoDB;
INSERT INTO big (v, d, n, b) SELECT CONCAT('v', seq), '2026-01-01' + INTERVAL seq MINUTE, IF(seq % 7 = 0, NULL, seq / 4), IF(seq % 3 = 0, UNHEX('00FF27'), NULL) FROM seq_1_to_5000;
CREATE TABLE child (id INT PRIMARY KEY, big_id INT NOT NULL, FOREIGN KEY (big_id) REFERENCES big (id) ON DELETE CASCADE) ENGINE=InnoDB;
INSERT INTO child SELECT seq, seq FROM seq_1_to_2500;
CREATE TABLE comp (k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, ts TIMESTAMP(3), bin VARBINARY(8), v INT, PRIMARY KEY (k, ts, bin)) ENGINE=InnoDB;
INSERT INTO comp SELECT CONCAT(CHAR(seq % 26 + 97), 'ü😀', seq), '2026-03-01 00:00:00.123' + INTERVAL seq SECOND, UNHEX(HEX(seq % 256)), seq FROM seq_1_to_3000;
INSERT INTO comp VALUES ('', '2026-03-01 00:00:00', '', 0), ('x''y\\z', '2026-03-01 00:00:00', UNHEX('00'), 1);
CREATE TABLE trig (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
INSERT INTO trig SELECT seq, seq FROM seq_1_to_3000;
CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(40)) ENGINE=InnoDB;
CREATE TRIGGER trig_log AFTER UPDATE ON trig FOR EACH ROW INSERT INTO log (msg) VALUES (CONCAT('trig ', NEW.id));
CREATE TABLE nokey (v INT) ENGINE=InnoDB;
INSERT INTO nokey SELECT seq FROM seq_1_to_3000`)

	settle := func() { time.Sleep(3 * time.Second) }
	// copied maps each copied table to how: "whole" or the changed,
	// added and removed rows.
	copied := func(r model.MoveSyncDBResult) map[string]string {
		out := map[string]string{}
		for _, s := range r.Tables {
			switch {
			case !s.Copied || s.Kind != "":
			case s.ByRows != nil:
				out[s.Table] = strings.Join([]string{itoa(s.ByRows.Changed), itoa(s.ByRows.Added), itoa(s.ByRows.Removed)}, "/")
			default:
				out[s.Table] = "whole"
			}
		}
		return out
	}
	sync := func(what string, final bool, listed int) model.MoveSyncDBResult {
		var sd model.MoveSyncDBResult
		p.Final = final
		web1.task(model.TaskMoveSyncDB, p, &sd)
		t.Logf("%s: copied %v, %d tables by rows (%d rows), %d summed, %d listed, %d bytes, %.3fs, steps %v", what, copied(sd), sd.TablesByRows, sd.RowsByRows, sd.TablesSummed, sd.TablesListed, sd.Bytes, sd.Seconds, sd.Steps)
		if sd.Steps["db.stamps"] <= 0 {
			t.Errorf("%s: no step times in the report: %v", what, sd.Steps)
		}
		if sd.TablesListed != listed {
			t.Errorf("%s: %d tables listed row by row instead of summed, want %d", what, sd.TablesListed, listed)
		}
		for _, s := range sd.Tables {
			if s.Kind == "" && (s.Rows < 0 || s.Checksum == "" || s.Rows != s.NewRows || s.Checksum != s.NewChecksum) {
				t.Errorf("%s: the report says %+v", what, s)
			}
		}
		return sd
	}
	equal := func(what string) {
		t.Helper()
		var v model.MoveVerifyResult
		web1.task(model.TaskMoveVerify, p, &v)
		if !reflect.DeepEqual(v.Old, v.New) {
			for i := range v.Old {
				if i >= len(v.New) || !reflect.DeepEqual(v.Old[i], v.New[i]) {
					t.Errorf("%s: %s differs on web2", what, v.Old[i].Object())
				}
			}
		}
		for _, q := range []string{"SHOW CREATE TABLE big", "SELECT COUNT(*), SUM(big_id) FROM child", "SELECT HEX(k), ts, HEX(bin) FROM comp ORDER BY 1, 2, 3 LIMIT 3"} {
			if a, b := web1.sql("mysql", "shop", q), web2.sql("mysql", "shop", q); a != b {
				t.Errorf("%s: %s\nweb1: %s\nweb2: %s", what, q, a, b)
			}
		}
	}

	settle()
	sd := sync("first sync", false, 0)
	for _, tb := range []string{"big", "child", "comp", "trig", "log", "nokey"} {
		if copied(sd)[tb] != "whole" {
			t.Errorf("first sync: %s copied %q, want whole", tb, copied(sd)[tb])
		}
	}

	// On the old host: 100 rows of big changed, 2 deleted (one with
	// child rows, which cascade there), 3 inserted and the last of them
	// deleted, so that the AUTO_INCREMENT counter lies past the last row;
	// rows of comp changed;
	// the trigger's table, the trigger's log and the table without a key
	// written too.
	settle()
	web1.sql("mysql", "shop", `UPDATE big SET v = CONCAT(v, ' changed'), b = UNHEX('27') WHERE id % 50 = 0;
DELETE FROM big WHERE id IN (7, 4001);
INSERT INTO big (v) VALUES ('new 1'), ('new 2'), ('new 3');
DELETE FROM big ORDER BY id DESC LIMIT 1;
UPDATE comp SET v = -v WHERE v % 100 = 1;
UPDATE trig SET v = 0 WHERE id <= 5;
UPDATE nokey SET v = 0 WHERE v <= 5`)
	sd = sync("rows changed on web1", false, 3)
	want := map[string]string{"big": "100/2/2", "child": "0/0/1", "comp": "31/0/0", "trig": "whole", "log": "whole", "nokey": "whole"}
	if got := copied(sd); !reflect.DeepEqual(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	if sd.TablesByRows != 3 || sd.RowsByRows != 136 {
		t.Errorf("%d tables by rows, %d rows; want 3 and 136", sd.TablesByRows, sd.RowsByRows)
	}
	equal("after the rows changed on web1")

	// Someone tried the site on the new host: its change is undone, and
	// big's row replaced there keeps its child rows.
	settle()
	web2.sql("mysql", "shop", "UPDATE big SET v = 'on web2' WHERE id = 10; DELETE FROM comp WHERE v = 5")
	web1.sql("mysql", "shop", "UPDATE big SET n = 1 WHERE id = 11")
	sd = sync("rows changed on both hosts", false, 3)
	if got, want := copied(sd), map[string]string{"big": "2/0/0", "comp": "0/1/0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	equal("after rows changed on both hosts")

	// Most rows changed: the table is copied whole. In the final sync
	// the row copy is checked by the sums at once.
	settle()
	web1.sql("mysql", "shop", "UPDATE big SET v = CONCAT(v, '+'); UPDATE comp SET v = v + 1 WHERE v % 500 = 0")
	sd = sync("final sync, most of big changed", true, 2)
	if got, want := copied(sd), map[string]string{"big": "whole", "comp": "7/0/0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("copied %v, want %v", got, want)
	}
	equal("after the final sync")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
