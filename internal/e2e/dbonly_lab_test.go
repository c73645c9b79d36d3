//go:build lab

package e2e

import (
	"strings"
	"testing"
	"time"

	"ferry/internal/labtest"
	"ferry/internal/model"
)

// An order of accounts and databases alone, whose databases hold more than
// tables, moves end to end; a view changed on the new host fails verify by
// name, and a sync mends it.
func TestLabMoveDatabasesOnlyOrderWithEveryObject(t *testing.T) {
	e := labtest.New(t)
	const domain = "golf.example"
	e.Ferry("", "member", "add", "golf")
	e.Ferry("", "order", "add", domain, "--member", "golf", "--host", "web1")
	e.Ferry(labtest.UserPassword+"\n", "item", "add", domain, "user-account", "--login", "golf", "--password-file", "-")
	e.Ferry("", "item", "add", domain, "mysql-db", "--name", "golf_db")
	e.Ferry(labtest.DBPassword+"\n", "item", "add", domain, "mysql-user", "--name", "golf", "--database", "golf_db", "--password-file", "-")
	e.Ferry("", "item", "add", domain, "pgsql-db", "--name", "golf_pg", "--password", labtest.PgSQLPassword)
	for _, it := range e.WaitItems(domain, time.Minute) {
		if it.State != model.StateActive {
			t.Fatalf("item %d (%s) is %s: %s", it.ID, it.Kind, it.State, it.Message)
		}
	}
	// Made by root, as an admin's phpMyAdmin would: root is the definer.
	e.MustOn("web1", "mariadb", "golf_db", "-e", "CREATE TABLE `score card` (id INT PRIMARY KEY, strokes INT);\n"+
		"CREATE TABLE log (msg VARCHAR(50));\n"+
		"INSERT INTO `score card` VALUES (1, 72), (2, 80);\n"+
		"CREATE VIEW `best round` AS SELECT MIN(strokes) AS s FROM `score card`;\n"+
		"CREATE TRIGGER `after card` AFTER INSERT ON `score card` FOR EACH ROW INSERT INTO log VALUES (CONCAT('card ', NEW.id));\n"+
		"CREATE FUNCTION par() RETURNS INT DETERMINISTIC RETURN 72;")
	// A database the site's config names that no item registers.
	e.MustOn("web1", "mariadb", "-e", "CREATE DATABASE golf_legacy; CREATE TABLE golf_legacy.scores (n INT); INSERT INTO golf_legacy.scores VALUES (99)")
	e.WriteFile("web1", model.OrderDir("golf", domain)+"/web/wp-config.php", "<?php define('DB_NAME', 'golf_legacy');\n", "golf")
	psql := func(host, q string) string {
		return strings.TrimSpace(e.MustOn(host, "runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", "golf_pg", "-c", q))
	}
	psql("web1", "SET ROLE golf_pg; CREATE SCHEMA club; CREATE TYPE club.tee AS ENUM ('red', 'yellow', 'white'); "+
		"CREATE TABLE club.rounds (id serial PRIMARY KEY, tee club.tee); INSERT INTO club.rounds (tee) VALUES ('red'), ('white'); "+
		"CREATE VIEW club.whites AS SELECT id FROM club.rounds WHERE tee = 'white'")

	// web1's node measures the order (every 10 s in the lab): the plan
	// knows its size before any sync.
	var plan string
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(time.Second) {
		plan = e.Ferry("", "move", "plan", domain, "--to", "web2")
		if strings.Contains(plan, "golf_legacy") || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("plan:\n%s", plan)
	if !strings.Contains(plan, "nothing stops the move") || !strings.Contains(plan, "files and databases measured on web1") ||
		!strings.Contains(plan, "web/wp-config.php names mysql database golf_legacy, which no item of the order registers") {
		t.Fatalf("move plan:\n%s", plan)
	}
	e.Ferry("", "move", "start", domain, "--to", "web2", "--include-unregistered")
	e.Ferry("", "move", "sync", domain)
	report := e.Ferry("", "move", "verify", domain)
	for _, want := range []string{"view golf_db.best round", "trigger golf_db.after card", "function golf_db.par", "enum golf_pg.club.tee", "view golf_pg.club.whites",
		"view golf_db.best round: definer `root`@`localhost` is not one of the order's mysql-users; it runs as golf@localhost on the new host"} {
		if !strings.Contains(report, want) {
			t.Errorf("verify report lacks %q:\n%s", want, report)
		}
	}
	if got := strings.TrimSpace(e.MustOn("web2", "mariadb", "-N", "golf_db", "-e", "SELECT s FROM `best round`; SELECT par(); SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'golf_db'")); got != "72\n72\ngolf@localhost" {
		t.Errorf("objects on web2: %q", got)
	}
	if got := psql("web2", "SELECT id FROM club.whites"); got != "2" {
		t.Errorf("club.whites on web2: %q", got)
	}

	// Someone changes a view on the new host: verify fails and names it.
	e.MustOn("web2", "mariadb", "golf_db", "-e", "CREATE OR REPLACE VIEW `best round` AS SELECT MAX(strokes) AS s FROM `score card`")
	out, _, code := e.FerryCode("", "move", "verify", domain)
	if code == 0 || !strings.Contains(out, "problem:") || !strings.Contains(out, "view golf_db.best round") {
		t.Errorf("verify after a view changed on web2: exit %d\n%s", code, out)
	}
	e.Ferry("", "move", "sync", domain)
	e.Ferry("", "move", "verify", domain)

	cut := e.Ferry("", "move", "cutover", domain, "--skip-ttl-wait")
	t.Logf("cutover:\n%s", cut)
	e.Ferry("", "move", "cleanup", domain, "--skip-ttl-wait")
	// The trigger fires on web2, as the order's own user.
	e.MustOn("web2", "mariadb", "golf_db", "-e", "INSERT INTO `score card` VALUES (3, 70)")
	if got := strings.TrimSpace(e.MustOn("web2", "mariadb", "-N", "golf_db", "-e", "SELECT msg FROM log")); got != "card 3" {
		t.Errorf("the trigger on web2 wrote %q", got)
	}
	if got := strings.TrimSpace(e.MustOn("web2", "mariadb", "-N", "-e", "SELECT n FROM golf_legacy.scores")); got != "99" {
		t.Errorf("the adopted database on web2: %q", got)
	}
	e.WaitNothingOn("web1", "golf", "golf_db", model.OrderDir("golf", domain))
	e.WaitNothingOn("web1", "golf", "golf_legacy", model.OrderDir("golf", domain))
	if dbs, _ := e.On("web1", "runuser", "-u", "postgres", "--", "psql", "-X", "-A", "-t", "-c", "SELECT datname FROM pg_database"); strings.Contains(dbs, "golf_pg") {
		t.Errorf("web1 still has golf_pg")
	}
}
