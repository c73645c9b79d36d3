//go:build lab

package movetask

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/lab"
	"ferry/internal/model"
	"ferry/internal/node/apply"
)

// TestMoveLab moves an order's files, tables and crontab from web1 to web2
// of a lab of its own, through the ferry binary as the agent would run the
// tasks (`ferry node task`) and as sshd runs the forced command, and looks
// at web2 as a user would. The package's TestMain (lab.Main) lets the test
// binary act as the hosts' first process.
func TestMoveLab(t *testing.T) {
	ml := newMoveLab(t)
	web1, web2 := ml.web1, ml.web2
	const dir = "/home/members/coop/sites/example.org"

	// Users exist on both hosts, with other uids on web2.
	web2.run("useradd", "-M", "-s", "/usr/sbin/nologin", "padding")
	for _, h := range []*moveLabHost{web1, web2} {
		h.run("useradd", "-M", "-s", "/bin/sh", "shopper")
		h.run("useradd", "-M", "-s", "/usr/sbin/nologin", "blogger")
	}
	if a, b := web1.run("id", "-u", "shopper"), web2.run("id", "-u", "shopper"); a == b {
		t.Fatalf("shopper has uid %s on both hosts; the test needs them to differ", a)
	}

	// The order on web1: a tree with owners, modes, a hard link, an ACL, an
	// xattr, a symlink, a set-user-ID file and app configs.
	web1.run("mkdir", "-p", dir+"/web/sub", dir+"/users", dir+"/logs", dir+"/web/old")
	web1.write(dir+"/web/index.html", "hello from the order\n")
	web1.write(dir+"/web/sub/data.txt", "data\n")
	web1.write(dir+"/web/acl.txt", "acl\n")
	web1.write(dir+"/web/suid", "#!/bin/sh\n")
	web1.write(dir+"/web/wp-config.php", "<?php define('DB_NAME', 'shop');\n")
	web1.write(dir+"/web/old/wp-config.php", "<?php define('DB_NAME', 'legacy');\n")
	web1.run("chown", "-R", "shopper:www-data", dir+"/web")
	web1.run("chmod", "0640", dir+"/web/sub/data.txt")
	web1.run("chmod", "2750", dir+"/web/sub")
	web1.run("chmod", "4755", dir+"/web/suid")
	web1.run("mknod", dir+"/web/null", "c", "1", "3")
	web1.run("truncate", "-s", "16M", dir+"/web/sparse.img")
	web1.run("ln", dir+"/web/index.html", dir+"/web/hardlink.html")
	web1.run("ln", "-s", "index.html", dir+"/web/link.html")
	web1.run("setfacl", "-m", "u:blogger:r", dir+"/web/acl.txt")
	web1.run("setfattr", "-n", "user.ferry", "-v", "moved", dir+"/web/sub/data.txt")
	web2.run("mkdir", "-p", "/home/members/coop/sites")
	web1.stdin("*/5 * * * * echo by hand\n", "crontab", "-u", "shopper", "-")

	// Databases on both; web2 has a table that web1 no longer has.
	for _, h := range []*moveLabHost{web1, web2} {
		h.sql("mysql", "", "CREATE DATABASE shop")
		h.sql("pgsql", "", "CREATE ROLE blogger; CREATE DATABASE blog OWNER blogger")
	}
	web1.sql("mysql", "shop", `CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, what VARCHAR(100), amount DECIMAL(10,2));
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100));
CREATE TABLE order_lines (id INT PRIMARY KEY, order_id INT, FOREIGN KEY (order_id) REFERENCES orders(id)) ENGINE=InnoDB;
INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace');
INSERT INTO orders (what, amount) SELECT CONCAT('order ', seq), seq * 1.5 FROM seq_1_to_500;
INSERT INTO order_lines SELECT seq, seq FROM seq_1_to_200;`)
	web2.sql("mysql", "shop", "CREATE TABLE stale (id INT)")
	// More than tables, with odd but legal names: views (one on another),
	// a trigger, a procedure, a function, events, the database's own
	// character set, a sequence, and a definer web2 does not have.
	for _, h := range []*moveLabHost{web1, web2} {
		h.sql("mysql", "", "CREATE USER shopuser@localhost; GRANT ALL ON shop.* TO shopuser@localhost")
	}
	web1.sql("mysql", "", "CREATE USER ghost@localhost; GRANT ALL ON shop.* TO ghost@localhost")
	web1.sql("mysql", "shop", "ALTER DATABASE shop CHARACTER SET latin1 COLLATE latin1_swedish_ci;\n"+
		"CREATE TABLE `odd-\"name` (id INT PRIMARY KEY, `we'ird col` VARCHAR(20), g INT AS (id * 2) VIRTUAL, FULLTEXT (`we'ird col`)) ENGINE=Aria;\n"+
		"CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, msg VARCHAR(100)) ENGINE=MyISAM;\n"+
		"INSERT INTO `odd-\"name` (id, `we'ird col`) VALUES (1, 'one'), (2, 'two');\n"+
		"CREATE SEQUENCE tickets START WITH 1000;\n"+
		"CREATE DEFINER=ghost@localhost VIEW `big orders` AS SELECT id, amount FROM orders WHERE amount > 100;\n"+
		"CREATE VIEW `a view on a view` AS SELECT COUNT(*) AS n FROM `big orders`;\n"+
		"CREATE DEFINER=ghost@localhost TRIGGER `audit-\"it` AFTER INSERT ON customers FOR EACH ROW INSERT INTO audit (msg) VALUES (CONCAT('new ', NEW.name));\n"+
		"CREATE PROCEDURE `add customer`(IN n VARCHAR(100)) INSERT INTO customers (id, name) SELECT MAX(id) + 1, n FROM customers;\n"+
		"CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;\n"+
		"CREATE EVENT tidy ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DO DELETE FROM audit;\n"+
		"CREATE EVENT later ON SCHEDULE AT '2031-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE DO DELETE FROM audit;")
	// A row larger than MariaDB's default max_allowed_packet (16M).
	web1.sql("mysql", "", "SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
	web1.sql("mysql", "shop", "CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB); INSERT INTO blobs SELECT 1, REPEAT('x', 17 * 1024 * 1024)")
	// Grants below the database: the order's user's are copied exactly,
	// another account's are named as left behind.
	web1.sql("mysql", "", "GRANT SELECT (name), UPDATE ON shop.customers TO shopuser@localhost WITH GRANT OPTION;\n"+
		"GRANT EXECUTE ON FUNCTION shop.twice TO shopuser@localhost;\n"+
		"CREATE USER report@localhost; GRANT SELECT ON shop.orders TO report@localhost")
	web1.sql("pgsql", "blog", `SET ROLE blogger;
CREATE TABLE posts (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE comments (id serial PRIMARY KEY, post_id int REFERENCES posts(id), body text);
INSERT INTO posts (title) SELECT 'post ' || g FROM generate_series(1, 50) g;
INSERT INTO comments (post_id, body) SELECT 1 + g % 50, 'comment ' || g FROM generate_series(1, 120) g;
CREATE SCHEMA "odd schema";
CREATE EXTENSION citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE SEQUENCE standalone START 100;
SELECT nextval('standalone');
CREATE TABLE "odd schema"."T 1" (id serial PRIMARY KEY, name citext, m mood, p posint);
CREATE TABLE log (id serial PRIMARY KEY, msg text);
COMMENT ON TABLE "odd schema"."T 1" IS 'the odd one';
CREATE VIEW v1 AS SELECT id, name FROM "odd schema"."T 1";
CREATE VIEW v2 AS SELECT * FROM v1 WHERE id > 1;
CREATE MATERIALIZED VIEW counts AS SELECT count(*) AS n FROM posts;
CREATE FUNCTION logit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log (msg) VALUES (NEW.name); RETURN NEW; END $$;
CREATE TRIGGER "log it" AFTER INSERT ON "odd schema"."T 1" FOR EACH ROW EXECUTE FUNCTION logit();
CREATE PROCEDURE bump(x int) LANGUAGE sql AS $$ UPDATE posts SET title = title WHERE id = x $$;
COMMENT ON FUNCTION logit() IS 'fires on insert';
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;
INSERT INTO "odd schema"."T 1" (name, m, p) VALUES ('Ada', 'happy', 1), ('Grace', 'ok', 2);`)

	p := model.MoveTaskPayload{
		MoveID:   7,
		Order:    model.Order{ID: 3, Identifier: "example.org", Member: "coop", Host: "web1"},
		OrderDir: dir,
		FromAddr: web1.addr,
		ToAddr:   web2.addr,
		Databases: []model.MoveDB{
			{Engine: "mysql", Name: "shop", Users: []string{"shopuser"}},
			{Engine: "pgsql", Name: "blog", Owner: "blogger"},
		},
		Logins:      []string{"shopper"},
		ServerNames: []string{"example.org"},
	}

	var kg model.MoveKeygenResult
	web1.task(model.TaskMoveKeygen, p, &kg)
	var kg2 model.MoveKeygenResult
	web1.task(model.TaskMoveKeygen, p, &kg2)
	if kg.PublicKey == "" || kg2.PublicKey != kg.PublicKey {
		t.Fatalf("keygen twice: %q, %q", kg.PublicKey, kg2.PublicKey)
	}
	p.PublicKey = kg.PublicKey
	var au model.MoveAuthorizeResult
	web2.task(model.TaskMoveAuthorize, p, &au)
	web2.task(model.TaskMoveAuthorize, p, &au)
	if got := strings.Count(web2.read("/root/.ssh/authorized_keys"), "ferry-move-7"); got != 1 {
		t.Errorf("authorize twice: %d lines of the move", got)
	}
	t.Logf("authorized_keys on web2: %s", web2.read("/root/.ssh/authorized_keys"))
	p.HostKey = au.HostKey

	// First sync.
	start := time.Now()
	var sf model.MoveSyncFilesResult
	web1.task(model.TaskMoveSyncFiles, p, &sf)
	t.Logf("sync files: %+v (wall %s)", sf, time.Since(start).Round(time.Millisecond))
	if sf.Files < 6 || sf.Percent != 100 {
		t.Errorf("first file sync: %+v", sf)
	}
	for _, f := range []string{"web/index.html", "web/sub", "web/sub/data.txt", "web/acl.txt", "web/link.html"} {
		a := web1.run("stat", "-c", "%U:%G %A %h %s", dir+"/"+f)
		b := web2.run("stat", "-c", "%U:%G %A %h %s", dir+"/"+f)
		if a != b {
			t.Errorf("%s: web1 %s, web2 %s", f, a, b)
		}
	}
	if web2.run("stat", "-c", "%i", dir+"/web/index.html") != web2.run("stat", "-c", "%i", dir+"/web/hardlink.html") {
		t.Error("the hard link arrived as two files")
	}
	if got := web2.run("stat", "-c", "%u", dir+"/web/index.html"); got != web2.run("id", "-u", "shopper") {
		t.Errorf("owner uid %s on web2: not mapped by name", got)
	}
	if got := web2.run("getfacl", "-c", "-p", dir+"/web/acl.txt"); !strings.Contains(got, "user:blogger:r--") {
		t.Errorf("ACL lost: %s", got)
	}
	if got := web2.run("getfattr", "--only-values", "-n", "user.ferry", dir+"/web/sub/data.txt"); got != "moved" {
		t.Errorf("xattr lost: %q", got)
	}
	if got := web2.run("stat", "-c", "%a", dir+"/web/suid"); got != "755" {
		t.Errorf("set-user-ID file arrived with mode %s, want 755", got)
	}
	if web2.exists(dir + "/web/null") {
		t.Error("a device file arrived on web2")
	}
	if want := []string{"web/null: device file, not copied", "web/suid: set-user-ID bit dropped on the new host"}; !slices.Equal(sf.NotCarried, want) {
		t.Errorf("the sync names as not carried %q, want %q", sf.NotCarried, want)
	}
	if got := web2.run("crontab", "-u", "shopper", "-l"); !strings.Contains(got, "*/5 * * * * echo by hand") {
		t.Errorf("crontab on web2: %q", got)
	}

	var sd model.MoveSyncDBResult
	web1.task(model.TaskMoveSyncDB, p, &sd)
	t.Logf("sync db: copied %d of %d tables, %d bytes, %.3fs, dropped %v, unregistered %v",
		sd.TablesCopied, len(sd.Tables), sd.Bytes, sd.Seconds, sd.Dropped, sd.Unregistered)
	if tables, _ := splitSums(sd.Tables); len(tables) != 11 || sd.TablesCopied+sd.ObjectsCopied != len(sd.Tables) || sd.TablesCopied != 11 {
		t.Errorf("first db sync: %d tables, copied %d of %d: %+v", len(tables), sd.TablesCopied, len(sd.Tables), sd)
	}
	if got := web2.sql("mysql", "shop", "SHOW FULL TABLES"); got != "a view on a view\tVIEW\naudit\tBASE TABLE\nbig orders\tVIEW\nblobs\tBASE TABLE\ncustomers\tBASE TABLE\nodd-\"name\tBASE TABLE\norder_lines\tBASE TABLE\norders\tBASE TABLE\ntickets\tSEQUENCE" {
		t.Errorf("tables on web2: %q", got)
	}
	t.Logf("sync notes: %q", sd.Notes)
	if got := web2.sql("mysql", "", "SHOW GRANTS FOR shopuser@localhost"); !strings.Contains(got, "GRANT SELECT (`name`), UPDATE ON `shop`.`customers` TO `shopuser`@`localhost` WITH GRANT OPTION") ||
		!strings.Contains(got, "GRANT EXECUTE ON FUNCTION `shop`.`twice` TO `shopuser`@`localhost`") {
		t.Errorf("grants of shopuser on web2:\n%s", got)
	}
	if !slices.Contains(sd.Notes, "grant on table shop.orders to report@localhost not carried: not one of the order's mysql-users") {
		t.Errorf("the sync does not say report's grant stays behind: %q", sd.Notes)
	}
	if got := web2.sql("mysql", "shop", "SELECT LENGTH(b) FROM blobs"); got != "17825792" {
		t.Errorf("the 17 MiB row on web2: length %q", got)
	}
	checkMySQLObjects(t, web2, "DISABLED")
	checkPgObjects(t, web2)
	if !slices.Equal(sd.Dropped, []string{"shop.stale"}) {
		t.Errorf("dropped %v, want shop.stale", sd.Dropped)
	}
	if want := []model.UnregisteredDB{{Engine: "mysql", Name: "legacy", Config: "web/old/wp-config.php"}}; !reflect.DeepEqual(sd.Unregistered, want) {
		t.Errorf("unregistered %+v", sd.Unregistered)
	}
	if got := web2.sql("mysql", "shop", "SELECT COUNT(*), SUM(amount) FROM orders"); got != "500\t187875.00" {
		t.Errorf("orders on web2: %q", got)
	}
	if got := web2.sql("pgsql", "blog", "SELECT count(*), pg_get_userbyid(relowner) FROM comments, pg_class WHERE relname = 'comments' GROUP BY 2"); got != "120\tblogger" {
		t.Errorf("comments on web2: %q", got)
	}
	if got := web2.sql("pgsql", "blog", "INSERT INTO posts (title) VALUES ('next') RETURNING id"); got != "51" {
		t.Errorf("the posts sequence on web2 gives id %q, want 51", got)
	}
	web2.sql("pgsql", "blog", "DELETE FROM posts WHERE id = 51; SELECT setval('posts_id_seq', 50)")
	if got := web2.sql("mysql", "", "SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'ferry\\_mv%'"); got != "0" {
		t.Errorf("temporary mariadb accounts left: %s", got)
	}
	if got := web2.sql("pgsql", "blog", "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'ferry\\_mv%'"); got != "0" {
		t.Errorf("temporary postgresql roles left: %s", got)
	}

	// Verify: equal. (The set-user-ID bit that the receiving side drops
	// is dropped in the dry run too.)
	var v model.MoveVerifyResult
	web1.task(model.TaskMoveVerify, p, &v)
	if len(v.FilesDiffering) != 0 {
		t.Errorf("files differing: %q", v.FilesDiffering)
	}
	if tables, _ := splitSums(v.Old); !reflect.DeepEqual(v.Old, v.New) || len(tables) != 11 {
		t.Errorf("tables differ:\nold %+v\nnew %+v", v.Old, v.New)
	}

	// A second sync moves nothing.
	web1.task(model.TaskMoveSyncFiles, p, &sf)
	if sf.Files != 0 {
		t.Errorf("second file sync transferred %d files", sf.Files)
	}
	web1.task(model.TaskMoveSyncDB, p, &sd)
	if sd.TablesCopied != 0 || len(sd.Dropped) != 0 {
		t.Errorf("second db sync: copied %d, dropped %v", sd.TablesCopied, sd.Dropped)
	}

	// A changed table alone is copied again (and, in PostgreSQL, the
	// tables whose foreign keys refer to it).
	web1.sql("mysql", "shop", "UPDATE customers SET name = 'Ada L.' WHERE id = 1")
	web1.sql("pgsql", "blog", "UPDATE posts SET title = 'first' WHERE id = 1")
	web1.write(dir+"/web/sub/new.txt", "new\n")
	web1.task(model.TaskMoveSyncFiles, p, &sf)
	if sf.Files != 1 {
		t.Errorf("file sync after one new file: %+v", sf)
	}
	web1.task(model.TaskMoveSyncDB, p, &sd)
	var copied []string
	for _, s := range sd.Tables {
		if s.Copied && s.Kind == "" {
			copied = append(copied, s.DB+"."+s.Table)
		}
	}
	// Rows alone changed: PostgreSQL copies the table and those whose
	// foreign keys refer to it.
	if want := []string{"shop.customers", "blog.public.comments", "blog.public.posts"}; !slices.Equal(copied, want) {
		t.Errorf("copied %q, want %q", copied, want)
	}
	if got := web2.sql("mysql", "shop", "SELECT name FROM customers WHERE id = 1"); got != "Ada L." {
		t.Errorf("customer on web2: %q", got)
	}
	web1.task(model.TaskMoveVerify, p, &v)
	if !reflect.DeepEqual(v.Old, v.New) {
		t.Errorf("tables differ after resync:\nold %+v\nnew %+v", v.Old, v.New)
	}
	// The trigger was copied again with its table, and web2 still has it.
	if got := web2.sql("mysql", "shop", "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'"); got != "1" {
		t.Errorf("triggers on web2 after the customers table was copied again: %s", got)
	}

	// The final sync enables on web2 the events enabled on web1.
	final := p
	final.Final = true
	web1.task(model.TaskMoveSyncDB, final, &sd)
	checkMySQLObjects(t, web2, "ENABLED")

	// A view or a trigger changed on web2 afterwards fails verify, by name.
	web2.sql("mysql", "shop", "CREATE OR REPLACE VIEW `big orders` AS SELECT id, amount FROM orders WHERE amount > 200")
	web2.sql("pgsql", "blog", `SET ROLE blogger; ALTER TABLE "odd schema"."T 1" DISABLE TRIGGER "log it"`)
	// And so does one PostgreSQL row changed by one character, by its
	// table.
	web2.sql("pgsql", "blog", "UPDATE comments SET body = 'comment 8' WHERE id = 7")
	web1.task(model.TaskMoveVerify, p, &v)
	var differ []string
	for i := range v.Old {
		if i < len(v.New) && v.Old[i] != v.New[i] {
			differ = append(differ, v.Old[i].Object())
		}
	}
	if want := []string{"view shop.big orders", "blog.public.comments", `trigger blog."log it" on "odd schema"."T 1"`}; len(v.Old) != len(v.New) || !slices.Equal(differ, want) {
		t.Errorf("after changing a view and a trigger on web2, verify finds %q differing, want %q", differ, want)
	}
	web1.task(model.TaskMoveSyncDB, p, &sd)
	web1.task(model.TaskMoveVerify, p, &v)
	if !reflect.DeepEqual(v.Old, v.New) {
		t.Errorf("a re-sync did not mend the changed view and trigger:\nold %+v\nnew %+v", v.Old, v.New)
	}

	// The forced command allows nothing else.
	ssh := []string{"ssh", "-F", "/dev/null", "-i", DefaultStateDir + "/moves/7/key", "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + DefaultStateDir + "/moves/7/known_hosts", "-o", "HostKeyAlias=ferry-move-7",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-b", web1.addr, "-l", "root", web2.addr}
	refused := func(stdin, cmd, why string) {
		t.Helper()
		out, code := web1.try(stdin, append(slices.Clone(ssh), cmd)...)
		if code != 3 || !strings.Contains(out, why) {
			t.Errorf("%q: exit %d: %s", cmd, code, out)
		}
	}
	refused("", "ls", "refused")
	refused("", "", "no command")
	refused("", "rsync --server --sender -lHogtpAXre.iLsfxCIvu . "+dir+"/", "--sender")
	refused("", "rsync --server -lHogtpAXre.iLsfxCIvu --delete . /tmp/", "outside the order directory")
	refused("", "rsync --server -lHogtpAXre.iLsfxCIvu --delete . "+dir+"/../other/", `".."`)
	refused("", "ferry-load mysql other", "not one of move 7's databases")
	refused("", "ferry-load mysql mysql", "not a database name")
	refused("", "ferry-crontab root", "not one of move 7's logins")
	refused("", "ferry-sums mysql shop; id", "only plain words")
	// A load that passes reaches its database and nothing more.
	if out, code := web1.try("CREATE DATABASE evil;\n", append(slices.Clone(ssh), "ferry-load mysql shop")...); code == 0 {
		t.Errorf("a load created a database: %s", out)
	}
	if out, code := web1.try("\\! touch /tmp/pwned\n", append(slices.Clone(ssh), "ferry-load mysql shop")...); code == 0 && web2.exists("/tmp/pwned") {
		t.Errorf("a load ran a shell command: %s", out)
	}
	if out, code := web1.try("RESET ROLE; CREATE ROLE evil SUPERUSER;\n", append(slices.Clone(ssh), "ferry-load pgsql blog")...); code == 0 {
		t.Errorf("a load made a superuser: %s", out)
	}
	// From another address the key is not let in at all.
	other := slices.Clone(ssh)
	other[slices.Index(other, web1.addr)] = strings.TrimSuffix(web1.addr, ".11") + ".99"
	if out, code := web1.try("", append(other, "ferry-sums mysql shop")...); code != 255 {
		t.Errorf("from another address: exit %d: %s", code, out)
	}

	// A sparse file that lost its holes on web2 fails verify, by name.
	web2.run("sh", "-c", "cp --sparse=never -p "+dir+"/web/sparse.img /tmp/full.img && mv /tmp/full.img "+dir+"/web/sparse.img")
	web1.task(model.TaskMoveVerify, p, &v)
	if !slices.ContainsFunc(v.FilesDiffering, func(f string) bool { return strings.HasPrefix(f, "web/sparse.img (sparse here") }) {
		t.Errorf("verify after web2's copy of a sparse file was filled: files differing %q", v.FilesDiffering)
	}

	ml.siteModes(p)

	// Revoke leaves no key behind on either host.
	var rv moveRevokeResult
	web2.task(model.TaskMoveRevoke, p, &rv)
	web1.task(model.TaskMoveRevoke, p, &rv)
	web2.task(model.TaskMoveRevoke, p, &rv)
	if strings.Contains(web2.read("/root/.ssh/authorized_keys"), "ferry-move") {
		t.Errorf("authorized_keys after revoke: %s", web2.read("/root/.ssh/authorized_keys"))
	}
	for _, h := range []*moveLabHost{web1, web2} {
		if h.exists(DefaultStateDir + "/moves/7") {
			t.Errorf("%s: move directory left after revoke", h.name)
		}
	}
}

// checkMySQLObjects looks at the shop database on h as a user would: every
// object is there, works, and runs as the order's own account; events are
// in state (DISABLED before cutover, ENABLED after).
func checkMySQLObjects(t *testing.T, h *moveLabHost, state string) {
	t.Helper()
	for q, want := range map[string]string{
		"SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'": "latin1\tlatin1_swedish_ci",
		"SELECT n FROM `a view on a view`": "434",
		"SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'shop' ORDER BY TABLE_NAME": "shopuser@localhost\nshopuser@localhost",
		"SELECT twice(21)": "42",
		"SELECT ROUTINE_NAME, ROUTINE_TYPE, DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop' ORDER BY 1": "add customer\tPROCEDURE\tshopuser@localhost\ntwice\tFUNCTION\tshopuser@localhost",
		"SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'":      "audit-\"it\tcustomers\tshopuser@localhost",
		"SELECT EVENT_NAME, STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop' ORDER BY 1":                      "later\tDISABLED\ntidy\t" + state,
		"SELECT `we'ird col`, g FROM `odd-\"name` ORDER BY id":                                                                 "one\t2\ntwo\t4",
		"SELECT next_not_cached_value FROM tickets":                                                                            "1000",
	} {
		if got := h.sql("mysql", "shop", q); got != want {
			t.Errorf("%s on %s: %s\ngot  %q\nwant %q", "shop", h.name, q, got, want)
		}
	}
}

// checkPgObjects looks at the blog database on h: schemas, types, an
// extension's type, sequences, views, a materialized view, a trigger that
// fires, comments and default privileges.
func checkPgObjects(t *testing.T, h *moveLabHost) {
	t.Helper()
	for q, want := range map[string]string{
		`SELECT name, m, p FROM "odd schema"."T 1" WHERE name = 'ada' ORDER BY id`: "Ada\thappy\t1",
		`SELECT * FROM v2`:                  "2\tGrace",
		`SELECT n FROM counts`:              "50",
		`SELECT last_value FROM standalone`: "100",
		`SELECT obj_description('"odd schema"."T 1"'::regclass, 'pg_class'), obj_description('logit'::regproc, 'pg_proc')`: "the odd one\tfires on insert",
		`SELECT extname FROM pg_extension WHERE extname = 'citext'`:                                                        "citext",
		`SELECT count(*) FROM pg_default_acl`:                                                                              "1",
		`SELECT proname, prokind FROM pg_proc WHERE proname IN ('bump', 'logit') ORDER BY 1`:                               "bump\tp\nlogit\tf",
	} {
		if got := h.sql("pgsql", "blog", q); got != want {
			t.Errorf("blog on %s: %s\ngot  %q\nwant %q", h.name, q, got, want)
		}
	}
}

// siteModes puts web1's vhost of the order in maintenance, proxy and
// normal, and fetches the site from web1 each time.
func (ml *moveLab) siteModes(p model.MoveTaskPayload) {
	t, web1, web2 := ml.t, ml.web1, ml.web2
	const vhost = `# Written by ferry for order example.org (item 12). Changes here are overwritten.
<VirtualHost *:80>
	ServerName "example.org"
	DocumentRoot "/home/members/coop/sites/example.org/web"
	<Directory "/home/members/coop/sites/example.org/web">
		Require all granted
	</Directory>
</VirtualHost>
`
	file := "/etc/apache2/sites-available/ferry-example.org-12.conf"
	for _, h := range []*moveLabHost{web1, web2} {
		h.write(file, vhost)
		h.run("ln", "-sf", file, "/etc/apache2/sites-enabled/ferry-example.org-12.conf")
		h.run("apachectl", "-k", "graceful")
	}
	web2.write(p.OrderDir+"/web/only-on-web2.txt", "web2\n")
	ml.fetchUntil(web1, "/index.html", 200, "hello from the order")

	p.Mode = siteModeMaintenance
	var res moveSiteModeResult
	web1.task(model.TaskMoveSiteMode, p, &res)
	web1.task(model.TaskMoveSiteMode, p, &res)
	if res.Changed {
		t.Error("maintenance twice changed the vhost again")
	}
	hdr := ml.fetchUntil(web1, "/index.html", 503, "moving to a new server")
	if hdr.Get("Retry-After") != "120" {
		t.Errorf("maintenance: Retry-After %q", hdr.Get("Retry-After"))
	}

	p.Mode = siteModeProxy
	web1.task(model.TaskMoveSiteMode, p, &res)
	ml.fetchUntil(web1, "/only-on-web2.txt", 200, "web2")

	p.Mode = siteModeNormal
	web1.task(model.TaskMoveSiteMode, p, &res)
	ml.fetchUntil(web1, "/only-on-web2.txt", 404, "")
	if got := web1.read(file); got != vhost {
		t.Errorf("normal: the site's vhost is not back as it was:\n%s", got)
	}
	if web1.exists(file + apply.SiteModeKeep) {
		t.Error("normal: the kept copy is still there")
	}
}

// moveLab is the test's own lab: web1 and web2, and the ferry binary where
// both see it.
type moveLab struct {
	t          *testing.T
	l          *lab.Lab
	ferry      string
	web1, web2 *moveLabHost
}

type moveLabHost struct {
	ml   *moveLab
	name string
	addr string
}

func newMoveLab(t *testing.T) *moveLab {
	l, bin := lab.UpOwn(t, lab.Config{Web: 2, NoDNS: true})
	ferry := filepath.Join(l.Dir(), "bin", "ferry")
	if err := os.MkdirAll(filepath.Dir(ferry), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ferry, data, 0o755); err != nil {
		t.Fatal(err)
	}
	ml := &moveLab{t: t, l: l, ferry: ferry}
	for _, name := range []string{"web1", "web2"} {
		h, err := l.Host(name)
		if err != nil {
			t.Fatal(err)
		}
		mh := &moveLabHost{ml: ml, name: name, addr: h.Address}
		if name == "web1" {
			ml.web1 = mh
		} else {
			ml.web2 = mh
		}
	}
	return ml
}

// try runs argv in the host with stdin and returns its combined output
// and exit code.
func (h *moveLabHost) try(stdin string, argv ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, err := h.ml.l.Command(ctx, h.name, argv...)
	if err != nil {
		h.ml.t.Fatal(err)
	}
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		h.ml.t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return strings.TrimSpace(string(out)), code
}

func (h *moveLabHost) stdin(stdin string, argv ...string) string {
	h.ml.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd, err := h.ml.l.Command(ctx, h.name, argv...)
	if err != nil {
		h.ml.t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	if err := cmd.Run(); err != nil {
		h.ml.t.Fatalf("%s: %s: %v: %s", h.name, strings.Join(argv, " "), err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

func (h *moveLabHost) run(argv ...string) string {
	h.ml.t.Helper()
	return h.stdin("", argv...)
}

// sql runs statements on the host's MariaDB or PostgreSQL as root and
// returns the tab-separated rows.
func (h *moveLabHost) sql(engine, db, q string) string {
	h.ml.t.Helper()
	if engine == "mysql" {
		argv := []string{"mariadb", "-N", "-B"}
		if db != "" {
			argv = append(argv, db)
		}
		return h.stdin(q, argv...)
	}
	if db == "" {
		db = "postgres"
	}
	return h.stdin(q, "runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db)
}

func (h *moveLabHost) path(inside string) string {
	p, err := h.ml.l.Path(h.name, inside)
	if err != nil {
		h.ml.t.Fatal(err)
	}
	return p
}

func (h *moveLabHost) write(inside, content string) {
	h.ml.t.Helper()
	if err := os.WriteFile(h.path(inside), []byte(content), 0o644); err != nil {
		h.ml.t.Fatal(err)
	}
}

func (h *moveLabHost) read(inside string) string {
	b, _ := os.ReadFile(h.path(inside))
	return string(b)
}

func (h *moveLabHost) exists(inside string) bool {
	_, err := os.Lstat(h.path(inside))
	return err == nil
}

// task runs a move task through `ferry node task` in the host and decodes
// its result into res; it returns the progress reports the task printed.
func (h *moveLabHost) task(kind string, p model.MoveTaskPayload, res any) (progress int) {
	h.ml.t.Helper()
	payload, _ := json.Marshal(p)
	reflect.ValueOf(res).Elem().SetZero() // no field of an earlier result survives
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd, err := h.ml.l.Command(ctx, h.name, h.ml.ferry, "node", "task", "--kind", kind, "--payload", "-")
	if err != nil {
		h.ml.t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(payload), &out, &errOut
	if err := cmd.Run(); err != nil {
		h.ml.t.Fatalf("%s %s: %v: %s", h.name, kind, err, errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), res); err != nil {
		h.ml.t.Fatalf("%s %s printed %q: %v", h.name, kind, out.String(), err)
	}
	h.ml.t.Logf("%s %s took %s", h.name, kind, time.Since(start).Round(time.Millisecond))
	for _, l := range strings.Split(errOut.String(), "\n") {
		if strings.HasPrefix(l, "progress {") {
			progress++
		}
	}
	return progress
}

// fetchUntil fetches http://<host>/path as example.org until it answers
// status with a body holding want, and returns the answer's headers.
func (ml *moveLab) fetchUntil(h *moveLabHost, path string, status int, want string) http.Header {
	ml.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	c := &http.Client{Timeout: 5 * time.Second}
	for {
		req, _ := http.NewRequest("GET", "http://"+h.addr+path, nil)
		req.Host = "example.org"
		resp, err := c.Do(req)
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == status && strings.Contains(string(body), want) {
				return resp.Header
			}
			err = fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			ml.t.Fatalf("%s%s: want %d %q: %v", h.addr, path, status, want, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
