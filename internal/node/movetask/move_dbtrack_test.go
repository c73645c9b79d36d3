package movetask

import (
	"slices"
	"strings"
	"testing"

	"ferry/internal/model"
)

func TestSyncStateUnchanged(t *testing.T) {
	prev := syncedTable{Rows: 3, Checksum: "11-aaaa", NewRows: 3, NewChecksum: "11-bbbb", OldSince: 1000, NewWritten: 900, NewAt: 950}
	old := dbStamps{Now: 1010, Tables: map[string]tableStamp{"t": {Written: 990, Def: "aaaa"}}}
	cur := dbStamps{Now: 1011, Tables: map[string]tableStamp{"t": {Written: 900, Def: "bbbb"}}}
	tests := []struct {
		name  string
		edit  func(p *syncedTable, o, n *tableStamp, oldNow, curNow *int64)
		known [2]bool // on the old host, on the new host
	}{
		{"neither host wrote since", func(*syncedTable, *tableStamp, *tableStamp, *int64, *int64) {}, [2]bool{true, true}},
		{"old host wrote after the last sync began", func(_ *syncedTable, o, _ *tableStamp, _, _ *int64) { o.Written = 1000 }, [2]bool{false, true}},
		{"old host wrote a second before it began", func(_ *syncedTable, o, _ *tableStamp, _, _ *int64) { o.Written = 999 }, [2]bool{false, true}},
		{"old host does not know", func(_ *syncedTable, o, _ *tableStamp, _, _ *int64) { o.Written = -1 }, [2]bool{false, true}},
		{"new host wrote since", func(_ *syncedTable, _, n *tableStamp, _, _ *int64) { n.Written = 960 }, [2]bool{true, false}},
		{"new host restarted", func(_ *syncedTable, _, n *tableStamp, _, _ *int64) { n.Written = -1 }, [2]bool{true, false}},
		{"new host's stamp in the second its sums began", func(p *syncedTable, _, n *tableStamp, _, _ *int64) { p.NewWritten, n.Written = 949, 949 }, [2]bool{true, false}},
		{"new host's clock unknown at its sums", func(p *syncedTable, _, _ *tableStamp, _, _ *int64) { p.NewAt = -1 }, [2]bool{true, false}},
		{"definition changed here", func(_ *syncedTable, o, _ *tableStamp, _, _ *int64) { o.Def = "cccc" }, [2]bool{false, true}},
		{"definition changed there", func(_ *syncedTable, _, n *tableStamp, _, _ *int64) { n.Def = "cccc" }, [2]bool{true, false}},
		{"old clock went back", func(_ *syncedTable, _, _ *tableStamp, oldNow, _ *int64) { *oldNow = 999 }, [2]bool{false, true}},
		{"new clock went back", func(_ *syncedTable, _, _ *tableStamp, _, curNow *int64) { *curNow = 949 }, [2]bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, o, n := prev, old.Tables["t"], cur.Tables["t"]
			oldNow, curNow := old.Now, cur.Now
			tt.edit(&p, &o, &n, &oldNow, &curNow)
			st := syncState{Tables: map[string]syncedTable{"t": p}}
			ok, nk := st.unchanged(dbStamps{Now: oldNow, Tables: map[string]tableStamp{"t": o}}, dbStamps{Now: curNow, Tables: map[string]tableStamp{"t": n}}, true)
			_, onOld := ok["t"]
			_, onNew := nk["t"]
			if got := [2]bool{onOld, onNew}; got != tt.known {
				t.Errorf("known on the old and the new host %v, want %v", got, tt.known)
			}
		})
	}
	// A table gone on either host, or new, is never known.
	st := syncState{Tables: map[string]syncedTable{"t": prev}}
	if a, b := st.unchanged(dbStamps{Now: 1010, Tables: map[string]tableStamp{}}, cur, true); len(a)+len(b) != 0 {
		t.Errorf("gone on the old host: known %v, %v", a, b)
	}
	if a, b := st.unchanged(old, dbStamps{Now: 1011}, true); len(a)+len(b) != 0 {
		t.Errorf("no stamps from the new host: known %v, %v", a, b)
	}
	if a, b := (syncState{}).unchanged(old, cur, true); len(a)+len(b) != 0 {
		t.Errorf("no state: known %v, %v", a, b)
	}
}

func TestSyncStateUnchangedCounters(t *testing.T) {
	prev := syncedTable{Rows: 3, Checksum: "11-aaaa", NewRows: 3, NewChecksum: "11-bbbb", OldCounters: "3/0/0/3/16384/100", NewCounters: "3/0/0/3/20000/200", NewAt: -1}
	old := dbStamps{Now: 1010, Tables: map[string]tableStamp{"t": {Written: -1, Def: "aaaa", Counters: "3/0/0/3/16384/100"}}}
	cur := dbStamps{Now: 1011, Tables: map[string]tableStamp{"t": {Written: -1, Def: "bbbb", Counters: "3/0/0/3/20000/200"}}}
	tests := []struct {
		name  string
		edit  func(p *syncedTable, o, n *tableStamp)
		final bool
		known bool // on both hosts
	}{
		{"neither host wrote since", func(*syncedTable, *tableStamp, *tableStamp) {}, false, true},
		{"the final sync trusts no counters", func(*syncedTable, *tableStamp, *tableStamp) {}, true, false},
		{"old host updated a row", func(_ *syncedTable, o, _ *tableStamp) { o.Counters = "3/1/0/3/16384/100" }, false, false},
		{"new host deleted a row", func(_ *syncedTable, _, n *tableStamp) { n.Counters = "3/0/1/2/20000/200" }, false, false},
		{"old host truncated", func(_ *syncedTable, o, _ *tableStamp) { o.Counters = "3/0/0/3/16390/100" }, false, false},
		{"old host cannot count", func(_ *syncedTable, o, _ *tableStamp) { o.Counters = "" }, false, false},
		{"new host cannot count", func(_ *syncedTable, _, n *tableStamp) { n.Counters = "" }, false, false},
		{"no counters kept", func(p *syncedTable, o, n *tableStamp) {
			p.OldCounters, p.NewCounters, o.Counters, n.Counters = "", "", "", ""
		}, false, false},
		{"definition changed here", func(_ *syncedTable, o, _ *tableStamp) { o.Def = "cccc" }, false, false},
		{"definition changed there", func(_ *syncedTable, _, n *tableStamp) { n.Def = "cccc" }, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, o, n := prev, old.Tables["t"], cur.Tables["t"]
			tt.edit(&p, &o, &n)
			st := syncState{Tables: map[string]syncedTable{"t": p}}
			ok, nk := st.unchanged(dbStamps{Now: old.Now, Tables: map[string]tableStamp{"t": o}}, dbStamps{Now: cur.Now, Tables: map[string]tableStamp{"t": n}}, !tt.final)
			_, onOld := ok["t"]
			_, onNew := nk["t"]
			if onOld != onNew || onOld != tt.known {
				t.Errorf("known on the old host %v, on the new host %v, want %v on both", onOld, onNew, tt.known)
			}
		})
	}
}

func TestCountedState(t *testing.T) {
	oldSt := dbStamps{Tables: map[string]tableStamp{"a": {Counters: "o-a"}, "b": {Counters: "o-b"}, "c": {Counters: "o-c"}, "d": {}}}
	curSt := dbStamps{Tables: map[string]tableStamp{"a": {Counters: "n-a"}, "b": {Counters: "n-b"}, "c": {Counters: "n-c"}, "d": {Counters: "n-d"}}}
	afterSt := dbStamps{Tables: map[string]tableStamp{"a": {Counters: "after-a"}, "b": {Counters: "after-b"}, "c": {Counters: "after-c"}, "d": {Counters: "after-d"}}}
	sums := []model.TableSum{
		{Table: "a", Rows: 1, Checksum: "x-1", NewRows: 1, NewChecksum: "x-1"},
		{Table: "b", Rows: 1, Checksum: "x-1", NewRows: 1, NewChecksum: "x-1", Copied: true},
		{Table: "c", Rows: 1, Checksum: "x-1", NewRows: 1, NewChecksum: "y-1"},
		{Table: "d", Rows: 1, Checksum: "x-1", NewRows: 1, NewChecksum: "x-1"},
		{Kind: "sequence", Table: "a", Rows: 1, Checksum: "s", NewRows: 1, NewChecksum: "s"},
	}
	st := countedState(oldSt, curSt, afterSt, sums)
	want := map[string][2]string{"a": {"o-a", "n-a"}, "b": {"o-b", "after-b"}}
	if len(st.Tables) != len(want) {
		t.Fatalf("kept %+v, want tables a and b alone (c differs, d has no counters here)", st.Tables)
	}
	for name, w := range want {
		if s := st.Tables[name]; s.OldCounters != w[0] || s.NewCounters != w[1] || s.Rows != 1 || s.NewChecksum != "x-1" {
			t.Errorf("table %s kept as %+v, want counters %q", name, s, w)
		}
	}
}

func TestTablesOf(t *testing.T) {
	st := dbStamps{Tables: map[string]tableStamp{"b": {}, "a": {}, "c": {}}}
	if got := tablesOf(st, map[string]syncedTable{"b": {}}); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("tablesOf: %q", got)
	}
	if got := tablesOf(st, map[string]syncedTable{"a": {}, "b": {}, "c": {}}); got == nil || len(got) != 0 {
		t.Errorf("all known: %#v, want an empty list (no table summed)", got)
	}
	if got := tablesOf(dbStamps{}, nil); got != nil {
		t.Errorf("no stamps: %#v, want nil (every table summed)", got)
	}
}

func TestParseStamps(t *testing.T) {
	st, err := parseStamps("shop", []byte(`{"now":1000,"tables":{"a":{"written":990,"def":"aaaa"},"b c":{"written":-1}}}`))
	if err != nil || st.Now != 1000 || st.Tables["a"].Written != 990 || st.Tables["b c"].Written != -1 || len(st.Tables) != 2 {
		t.Fatalf("parseStamps: %+v, %v", st, err)
	}
	for _, bad := range []struct{ in, want string }{
		{`[]`, "cannot unmarshal"},
		{`{"tables":{}}`, "no clock"},
		{`{"now":1000,"tables":{"":{"written":1}}}`, "cannot be copied"},
		{`{"now":1000,"tables":{"a":{"written":1001}}}`, "table a: stamp 1001 out of range"},
		{`{"now":1000,"tables":{"a":{"written":-2}}}`, "out of range"},
		{`{"now":1000,"tables":{"a":{"written":-1,"counters":"` + strings.Repeat("1/", 101) + `"}}}`, "table a: counters of 202 bytes"},
	} {
		if _, err := parseStamps("shop", []byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parseStamps(%s): %v, want an error saying %q", bad.in, err, bad.want)
		}
	}
}

// FuzzParseStamps holds the reader of the new host's stamps to its
// promises whatever the new host prints: no panic, and what passes has a
// clock, names a table can have and stamps within range.
func FuzzParseStamps(f *testing.F) {
	for _, s := range []string{`{"now":1000,"tables":{"a":{"written":990,"def":"aaaa"}}}`, `{"now":1,"tables":null}`, `{}`, `{"now":5,"tables":{"\u0000":{"written":1}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		st, err := parseStamps("shop", out)
		if err != nil {
			return
		}
		if st.Now <= 0 || st.Tables == nil {
			t.Fatalf("parseStamps(%q): %+v passed", out, st)
		}
		for name, s := range st.Tables {
			if checkObjectName("shop", name) != nil || s.Written < -1 || s.Written > st.Now || len(s.Counters) > maxCounters {
				t.Fatalf("parseStamps(%q): table %q %+v passed", out, name, s)
			}
		}
	})
}
