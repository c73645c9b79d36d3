package movetask

import (
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
	"ferry/internal/node/dbengine"
)

func TestSplitDefiner(t *testing.T) {
	d, err := splitDefiner("CREATE ALGORITHM=MERGE DEFINER=`ro``ot`@`local host` SQL SECURITY DEFINER VIEW `v` AS select 1")
	if err != nil {
		t.Fatal(err)
	}
	if d.head != "CREATE ALGORITHM=MERGE " || d.user != "ro`ot" || d.host != "local host" || d.rest != " SQL SECURITY DEFINER VIEW `v` AS select 1" {
		t.Errorf("split %+v", d)
	}
	d, err = splitDefiner("CREATE DEFINER=`admins` PROCEDURE `p`() SELECT 1")
	if err != nil || d.user != "admins" || d.host != "" || d.rest != " PROCEDURE `p`() SELECT 1" {
		t.Errorf("a role definer: %+v %v", d, err)
	}
	for _, bad := range []string{"", "DROP TABLE x", "CREATE DEFINER=root@localhost VIEW", "CREATE DEFINER=`root", "CREATE DEFINER=`a`@`b"} {
		if _, err := splitDefiner(bad); err == nil {
			t.Errorf("splitDefiner(%q) passed", bad)
		}
	}
}

func TestMySQLObjectStatement(t *testing.T) {
	shop := "`shop`@'localhost'"
	tests := []struct {
		o      mysqlObject
		enable bool
		want   string // "" means refused
	}{
		{mysqlObject{Kind: "view", Name: "v 1", Create: "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v 1` AS select `t`.`id` AS `id` from `t`"},
			false, "CREATE OR REPLACE ALGORITHM=UNDEFINED DEFINER=" + shop + " SQL SECURITY DEFINER VIEW `v 1` AS select `t`.`id` AS `id` from `t`"},
		{mysqlObject{Kind: "trigger", Name: "trg`x", Create: "CREATE DEFINER=`root`@`localhost` TRIGGER `trg``x` AFTER INSERT ON `t` FOR EACH ROW SET @a = 1"},
			false, "CREATE OR REPLACE DEFINER=" + shop + " TRIGGER `trg``x` AFTER INSERT ON `t` FOR EACH ROW SET @a = 1"},
		{mysqlObject{Kind: "function", Name: "f", Create: "CREATE DEFINER=`root`@`localhost` FUNCTION `f`(x INT) RETURNS int(11)\n    DETERMINISTIC\nRETURN x*2"},
			false, "CREATE OR REPLACE DEFINER=" + shop + " FUNCTION `f`(x INT) RETURNS int(11)\n    DETERMINISTIC\nRETURN x*2"},
		// A trigger's text is kept as its author typed it: its head is
		// spelled again the one way.
		{mysqlObject{Kind: "trigger", Name: "trig_log", Create: "CREATE DEFINER=`root`@`localhost` trigger trig_log after update on t for each row insert into lg values ('x')"},
			false, "CREATE OR REPLACE DEFINER=" + shop + " TRIGGER `trig_log` after update on t for each row insert into lg values ('x')"},
		{mysqlObject{Kind: "trigger", Name: "t5", Create: "CREATE DEFINER=`root`@`localhost` Trigger  IF not EXISTS\n t5\n\tAFTER INSERT ON t FOR EACH ROW SET @a = 1"},
			false, "CREATE OR REPLACE DEFINER=" + shop + " TRIGGER `t5` AFTER INSERT ON t FOR EACH ROW SET @a = 1"},
		{mysqlObject{Kind: "trigger", Name: "t3", Create: "CREATE DEFINER=`root`@`localhost` trigger shopdb.t3 after delete on t for each row set @a = 1"},
			false, "CREATE OR REPLACE DEFINER=" + shop + " TRIGGER `t3` after delete on t for each row set @a = 1"},
		{mysqlObject{Kind: "trigger", Name: "t3", Create: "CREATE DEFINER=`root`@`localhost` trigger `shopdb`.`t3` after delete on t for each row set @a = 1"},
			false, "CREATE OR REPLACE DEFINER=" + shop + " TRIGGER `t3` after delete on t for each row set @a = 1"},
		{mysqlObject{Kind: "trigger", Name: "t3", Create: "CREATE DEFINER=`root`@`localhost` trigger mysql.t3 after delete on t for each row set @a = 1"}, false, ""},
		{mysqlObject{Kind: "trigger", Name: "t3", Create: "CREATE DEFINER=`root`@`localhost` trigger t3x after delete on t for each row set @a = 1"}, false, ""},
		{mysqlObject{Kind: "trigger", Name: "t3", Create: "CREATE DEFINER=`root`@`localhost` trigger t3"}, false, ""},
		{mysqlObject{Kind: "trigger", Name: "t3", Create: "CREATE DEFINER=`root`@`localhost` triggers t3 after delete on t for each row set @a = 1"}, false, ""},
		// Events wait disabled until cutover, then arrive as they were.
		{mysqlObject{Kind: "event", Name: "e", Enabled: true, Create: "CREATE DEFINER=`root`@`localhost` EVENT `e` ON SCHEDULE EVERY 1 HOUR STARTS '2026-12-03 11:57:30' ON COMPLETION NOT PRESERVE ENABLE DO DELETE FROM t"},
			false, "CREATE OR REPLACE DEFINER=" + shop + " EVENT `e` ON SCHEDULE EVERY 1 HOUR STARTS '2026-12-03 11:57:30' ON COMPLETION NOT PRESERVE DISABLE DO DELETE FROM t"},
		{mysqlObject{Kind: "event", Name: "e", Enabled: true, Create: "CREATE DEFINER=`root`@`localhost` EVENT `e` ON SCHEDULE EVERY 1 HOUR ON COMPLETION PRESERVE DISABLE ON SLAVE DO DELETE FROM t"},
			true, "CREATE OR REPLACE DEFINER=" + shop + " EVENT `e` ON SCHEDULE EVERY 1 HOUR ON COMPLETION PRESERVE ENABLE DO DELETE FROM t"},
		// The old host's text may make only the object it names.
		{mysqlObject{Kind: "view", Name: "v", Create: "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `mysql`.`v` AS select 1"}, false, ""},
		{mysqlObject{Kind: "view", Name: "v", Create: "CREATE DEFINER=`root`@`localhost` PROCEDURE `v`() SELECT 1"}, false, ""},
		{mysqlObject{Kind: "procedure", Name: "p", Create: "CREATE DEFINER=`root`@`localhost` PROCEDURE `q`() SELECT 1"}, false, ""},
		{mysqlObject{Kind: "trigger", Name: "t", Create: "GRANT ALL ON *.* TO `x`@`%`"}, false, ""},
		{mysqlObject{Kind: "database", Name: "d", Create: "utf8mb4 utf8mb4_bin"}, false, ""},
	}
	for _, tt := range tests {
		got, err := mysqlObjectStatement("shopdb", tt.o, shop, tt.enable)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s %s: made %q, want a refusal", tt.o.Kind, tt.o.Name, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s %s:\n got %q %v\nwant %q", tt.o.Kind, tt.o.Name, got, err, tt.want)
		}
	}
}

func TestMapDefiner(t *testing.T) {
	o := func(definer string) mysqlObject {
		return mysqlObject{Kind: "view", Name: "v", Create: "CREATE ALGORITHM=UNDEFINED DEFINER=" + definer + " SQL SECURITY DEFINER VIEW `v` AS select 1"}
	}
	users := []string{"shop", "shop_ro"}
	acct, note, err := mapDefiner("shopdb", o("`shop_ro`@`localhost`"), users)
	if err != nil || acct != "'shop_ro'@'localhost'" || note != "" {
		t.Errorf("the order's own user: %q %q %v", acct, note, err)
	}
	for _, foreign := range []string{"`root`@`localhost`", "`shop`@`%`", "`other`@`localhost`", "`shop`"} {
		acct, note, err := mapDefiner("shopdb", o(foreign), users)
		if err != nil || acct != "'shop'@'localhost'" || !strings.Contains(note, foreign) || !strings.Contains(note, "shop@localhost") {
			t.Errorf("definer %s: %q %q %v", foreign, acct, note, err)
		}
	}
	if _, _, err := mapDefiner("shopdb", o("`root`@`localhost`"), nil); err == nil || !strings.Contains(err.Error(), "view shopdb.v") || !strings.Contains(err.Error(), "add one") {
		t.Errorf("no user to stand in: %v", err)
	}
}

func TestPlanObjects(t *testing.T) {
	view := mysqlObject{Kind: "view", Name: "v", Create: "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1"}
	trg := mysqlObject{Kind: "trigger", Name: "trg", Table: "orders", Create: "CREATE DEFINER=`root`@`localhost` TRIGGER `trg` AFTER INSERT ON `orders` FOR EACH ROW SET @a = 1"}
	ev := mysqlObject{Kind: "event", Name: "e", Enabled: true, Create: "CREATE DEFINER=`root`@`localhost` EVENT `e` ON SCHEDULE EVERY 1 HOUR ON COMPLETION NOT PRESERVE ENABLE DO SET @a = 1"}
	sum := func(o mysqlObject) model.TableSum {
		s, err := mysqlObjectSum("shop", o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The new host's copy of the event is disabled: the same sum.
	evNew := ev
	evNew.Create = strings.Replace(ev.Create, "ENABLE", "DISABLE", 1)
	evNew.Create = strings.Replace(evNew.Create, "`root`", "`shop`", 1)
	if sum(ev).Checksum != sum(evNew).Checksum {
		t.Error("an event kept disabled under another definer counts as different")
	}
	changed := view
	changed.Create += " where 0"
	gone := model.TableSum{DB: "shop", Kind: "procedure", Table: "old_p", Checksum: "x"}
	cur := []model.TableSum{sum(changed), sum(trg), sum(evNew), gone}
	names := func(objs []mysqlObject) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.Kind+" "+o.Name)
		}
		return out
	}
	objs := []mysqlObject{view, trg, ev}
	create, drop := planObjects("shop", objs, cur, nil, false, false)
	if got := names(create); !slices.Equal(got, []string{"view v"}) {
		t.Errorf("create %q, want the changed view only", got)
	}
	if got := names(drop); !slices.Equal(got, []string{"procedure old_p"}) {
		t.Errorf("drop %q", got)
	}
	create, _ = planObjects("shop", objs, cur, []string{"orders"}, false, true)
	if got := names(create); !slices.Equal(got, []string{"view v", "trigger trg", "event e"}) {
		t.Errorf("copied table and final sync: create %q, want the view, the copied table's trigger and the enabled event", got)
	}
}

// The new host builds, from the old host's text, only a CREATE OR REPLACE
// of the named object under the definer it chose.
func FuzzMySQLObjectStatement(f *testing.F) {
	f.Add("view", "v", "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1", false)
	f.Add("trigger", "t`x", "CREATE DEFINER=`a`@`b` TRIGGER `t``x` AFTER INSERT ON `t` FOR EACH ROW SET @a = 1", false)
	f.Add("trigger", "t", "CREATE DEFINER=`a`@`b` trigger if not exists shopdb.t after insert on x for each row set @a = 1", false)
	f.Add("event", "e", "CREATE DEFINER=`root`@`localhost` EVENT `e` ON SCHEDULE EVERY 1 HOUR ON COMPLETION NOT PRESERVE ENABLE DO SET @a = 1", true)
	f.Add("procedure", "p", "CREATE DEFINER=`r` PROCEDURE `p`() SELECT 1", false)
	f.Add("function", "f", "CREATE DEFINER=`r`@`h` FUNCTION `f`(x INT) RETURNS INT RETURN x; DROP DATABASE mysql", false)
	const definer = "'shop'@'localhost'"
	f.Fuzz(func(t *testing.T, kind, name, create string, enable bool) {
		stmt, err := mysqlObjectStatement("shopdb", mysqlObject{Kind: kind, Name: name, Create: create}, definer, enable)
		if err != nil {
			return
		}
		q, qerr := dbengine.MySQLIdent(name)
		if qerr != nil {
			t.Fatalf("made %q for a name that cannot be quoted", stmt)
		}
		rest, ok := strings.CutPrefix(stmt, "CREATE OR REPLACE ")
		if !ok {
			t.Fatalf("%q does not start with CREATE OR REPLACE", stmt)
		}
		for _, alg := range []string{"ALGORITHM=UNDEFINED ", "ALGORITHM=MERGE ", "ALGORITHM=TEMPTABLE "} {
			rest = strings.TrimPrefix(rest, alg)
		}
		rest, ok = strings.CutPrefix(rest, "DEFINER="+definer+" ")
		if !ok {
			t.Fatalf("%q: not under the chosen definer", stmt)
		}
		want := map[string][]string{
			"view":      {"SQL SECURITY DEFINER VIEW " + q + " AS ", "SQL SECURITY INVOKER VIEW " + q + " AS "},
			"trigger":   {"TRIGGER " + q + " "},
			"event":     {"EVENT " + q + " "},
			"procedure": {"PROCEDURE " + q + "(", "AGGREGATE PROCEDURE " + q + "("},
			"function":  {"FUNCTION " + q + "(", "AGGREGATE FUNCTION " + q + "("},
		}[kind]
		if !slices.ContainsFunc(want, func(p string) bool { return strings.HasPrefix(rest, p) }) {
			t.Fatalf("%q makes something other than %s %s", stmt, kind, name)
		}
		if strings.ContainsRune(stmt, 0) {
			t.Fatalf("%q holds a NUL", stmt)
		}
	})
}

// A quoted identifier reads back as itself.
func FuzzBacktickIdent(f *testing.F) {
	for _, s := range []string{"a", "a`b", "``", "odd name", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := dbengine.MySQLIdent(s)
		if err != nil {
			return
		}
		got, n, ok := backtickIdent(q + " rest")
		if !ok || got != s || n != len(q) {
			t.Fatalf("backtickIdent(%q) = %q, %d, %v", q, got, n, ok)
		}
	})
}

func TestMySQLGrantStatements(t *testing.T) {
	g := mysqlGrant{User: "shop", On: "table", Object: "my_orders", Privs: []string{"Grant", "Update"}, Columns: []string{"Select\x00na`me"}}
	got, err := g.statements("my_db", []string{"shop"})
	want := []string{
		"REVOKE ALL PRIVILEGES ON `my_db`.`my_orders` FROM 'shop'@'localhost'",
		"REVOKE GRANT OPTION ON `my_db`.`my_orders` FROM 'shop'@'localhost'",
		"GRANT UPDATE, SELECT (`na``me`) ON `my_db`.`my_orders` TO 'shop'@'localhost' WITH GRANT OPTION",
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("statements:\n got %q %v\nwant %q", got, err, want)
	}
	r := mysqlGrant{User: "shop", On: "procedure", Object: "p", Privs: []string{"Execute"}}
	if got, err := r.statements("d", []string{"shop"}); err != nil || got[2] != "GRANT EXECUTE ON PROCEDURE `d`.`p` TO 'shop'@'localhost'" {
		t.Errorf("routine grant: %q %v", got, err)
	}
	for _, bad := range []mysqlGrant{
		{User: "root", On: "table", Object: "t", Privs: []string{"Select"}},                    // not the order's
		{User: "shop", On: "table", Object: "t", Privs: []string{"Super"}},                     // not a table privilege
		{User: "shop", On: "table", Object: "t", Privs: []string{"Select ON *.* TO x; GRANT"}}, // not a word
		{User: "shop", On: "database", Object: "t", Privs: []string{"Select"}},
		{User: "shop", On: "procedure", Object: "p", Columns: []string{"Select\x00c"}},
		{User: "shop", On: "table", Object: "t"},
	} {
		if got, err := bad.statements("d", []string{"shop"}); err == nil {
			t.Errorf("%+v made %q", bad, got)
		}
	}
}
