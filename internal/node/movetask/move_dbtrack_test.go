package movetask

import (
	"slices"
	"testing"
)

func TestSyncStateUnchanged(t *testing.T) {
	prev := syncedTable{Rows: 3, Checksum: "11-aaaa", NewRows: 3, NewChecksum: "11-bbbb", OldSince: 1000, NewWritten: 900, NewAt: 950}
	old := dbStamps{Now: 1010, Tables: map[string]tableStamp{"t": {Written: 990, Def: "aaaa"}}}
	cur := dbStamps{Now: 1011, Tables: map[string]tableStamp{"t": {Written: 900, Def: "bbbb"}}}
	tests := []struct {
		name  string
		edit  func(p *syncedTable, o, n *tableStamp, oldNow, curNow *int64)
		known bool
	}{
		{"neither host wrote since", func(*syncedTable, *tableStamp, *tableStamp, *int64, *int64) {}, true},
		{"old host wrote after the last sync began", func(_ *syncedTable, o, _ *tableStamp, _, _ *int64) { o.Written = 1000 }, false},
		{"old host wrote a second before it began", func(_ *syncedTable, o, _ *tableStamp, _, _ *int64) { o.Written = 999 }, false},
		{"old host does not know", func(_ *syncedTable, o, _ *tableStamp, _, _ *int64) { o.Written = -1 }, false},
		{"new host wrote since", func(_ *syncedTable, _, n *tableStamp, _, _ *int64) { n.Written = 960 }, false},
		{"new host restarted", func(_ *syncedTable, _, n *tableStamp, _, _ *int64) { n.Written = -1 }, false},
		{"new host's stamp in the second its sums began", func(p *syncedTable, _, n *tableStamp, _, _ *int64) { p.NewWritten, n.Written = 949, 949 }, false},
		{"new host's clock unknown at its sums", func(p *syncedTable, _, _ *tableStamp, _, _ *int64) { p.NewAt = -1 }, false},
		{"definition changed here", func(_ *syncedTable, o, _ *tableStamp, _, _ *int64) { o.Def = "cccc" }, false},
		{"definition changed there", func(_ *syncedTable, _, n *tableStamp, _, _ *int64) { n.Def = "cccc" }, false},
		{"old clock went back", func(_ *syncedTable, _, _ *tableStamp, oldNow, _ *int64) { *oldNow = 999 }, false},
		{"new clock went back", func(_ *syncedTable, _, _ *tableStamp, _, curNow *int64) { *curNow = 949 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, o, n := prev, old.Tables["t"], cur.Tables["t"]
			oldNow, curNow := old.Now, cur.Now
			tt.edit(&p, &o, &n, &oldNow, &curNow)
			st := syncState{Tables: map[string]syncedTable{"t": p}}
			known := st.unchanged(dbStamps{Now: oldNow, Tables: map[string]tableStamp{"t": o}}, dbStamps{Now: curNow, Tables: map[string]tableStamp{"t": n}})
			if _, ok := known["t"]; ok != tt.known {
				t.Errorf("known %v, want %v", ok, tt.known)
			}
		})
	}
	// A table gone on either host, or new, is never known.
	st := syncState{Tables: map[string]syncedTable{"t": prev}}
	if k := st.unchanged(dbStamps{Now: 1010, Tables: map[string]tableStamp{}}, cur); len(k) != 0 {
		t.Errorf("gone on the old host: known %v", k)
	}
	if k := st.unchanged(old, dbStamps{Now: 1011}); len(k) != 0 {
		t.Errorf("no stamps from the new host: known %v", k)
	}
	if k := (syncState{}).unchanged(old, cur); len(k) != 0 {
		t.Errorf("no state: known %v", k)
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
