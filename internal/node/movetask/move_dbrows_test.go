package movetask

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseRowList(t *testing.T) {
	head := `{"def":"0a1b2c3d","key":["id","k"],"charsets":["binary","utf8mb4"],"auto_increment":12,"triggers":0}`
	good := head + "\n31,6162\t00000000000000ff\n32,\t0123456789abcdef\nend 2\n"
	var got []rowEntry
	var h rowListHead
	err := parseRowList(strings.NewReader(good), func(x rowListHead) error { h = x; return nil }, func(e rowEntry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.Def != "0a1b2c3d" || !slices.Equal(h.Key, []string{"id", "k"}) || h.AutoIncrement != 12 {
		t.Errorf("head %+v", h)
	}
	if want := []rowEntry{{key: "31,6162", hash: 0xff}, {key: "32,", hash: 0x0123456789abcdef}}; !slices.Equal(got, want) {
		t.Errorf("rows %+v, want %+v", got, want)
	}
	for name, in := range map[string]string{
		"cut short":           head + "\n31,6162\t00000000000000ff\n",
		"no end":              head + "\n31,6162\t00000000000000ff",
		"end miscounted":      head + "\n31,6162\t00000000000000ff\nend 2\n",
		"end with sign":       head + "\n31,6162\t00000000000000ff\nend +1\n",
		"after the end":       head + "\nend 0\nx",
		"out of order":        head + "\n32,61\t00000000000000ff\n31,61\t00000000000000ff\nend 2\n",
		"a key twice":         head + "\n31,61\t00000000000000ff\n31,61\t00000000000000fe\nend 2\n",
		"lower-case key":      head + "\n3a,61\t00000000000000ff\nend 1\n",
		"upper-case hash":     head + "\n31,61\t00000000000000FF\nend 1\n",
		"short hash":          head + "\n31,61\tff\nend 1\n",
		"one column":          head + "\n31\t00000000000000ff\nend 1\n",
		"odd hex":             head + "\n311,61\t00000000000000ff\nend 1\n",
		"unknown head field":  `{"def":"x","key":[],"charsets":[],"rows":3}` + "\nend 0\n",
		"key without charset": `{"def":"x","key":["id"],"charsets":[]}` + "\nend 0\n",
		"odd charset":         `{"def":"x","key":["id"],"charsets":["utf8'"]}` + "\nend 0\n",
		"rows without key":    `{"def":"x","key":[],"charsets":[]}` + "\n31\t00000000000000ff\nend 1\n",
		"empty":               "",
	} {
		err := parseRowList(strings.NewReader(in), func(rowListHead) error { return nil }, func(rowEntry) error { return nil })
		if err == nil {
			t.Errorf("%s: parsed %q", name, in)
		}
	}
}

func FuzzParseRowList(f *testing.F) {
	f.Add(`{"def":"a","key":["id"],"charsets":["binary"],"auto_increment":3,"triggers":0}` + "\n31\t00000000000000ff\n32\t00000000000000fe\nend 2\n")
	f.Add(`{"def":"a","key":[],"charsets":[]}` + "\nend 0\n")
	f.Fuzz(func(t *testing.T, in string) {
		var keys []string
		err := parseRowList(strings.NewReader(in), func(h rowListHead) error {
			if len(h.Key) != len(h.Charsets) {
				t.Fatalf("head %+v", h)
			}
			return nil
		}, func(e rowEntry) error {
			keys = append(keys, e.key)
			return nil
		})
		if err != nil {
			return
		}
		if !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) {
			t.Fatalf("keys out of order or twice: %q", keys)
		}
		for _, k := range keys {
			if strings.ContainsAny(k, "'\\\n\t ") {
				t.Fatalf("key %q could leave its literal", k)
			}
		}
	})
}

func TestMergeRows(t *testing.T) {
	list := func(es ...rowEntry) func() (rowEntry, bool) {
		return func() (rowEntry, bool) {
			if len(es) == 0 {
				return rowEntry{}, false
			}
			e := es[0]
			es = es[1:]
			return e, true
		}
	}
	var ours, theirs []rowEntry
	for i := range 3000 {
		k := string(rune('A'+i/1000)) + strings.Repeat("0", 4) + string(rune('0'+i%10)) + string(rune('a'+i/10%26)) + string(rune('a'+i/260%26))
		ours = append(ours, rowEntry{key: k, hash: uint64(i)})
	}
	slices.SortFunc(ours, func(a, b rowEntry) int { return strings.Compare(a.key, b.key) })
	ours = slices.CompactFunc(ours, func(a, b rowEntry) bool { return a.key == b.key })
	theirs = slices.Clone(ours)
	theirs[10].hash++                                   // changed
	gone := theirs[20].key                              // only here: to send
	theirs = slices.Delete(theirs, 20, 21)              //
	extra := rowEntry{key: ours[30].key + "0", hash: 1} // only there: to delete
	theirs = slices.Insert(theirs, 30, extra)           // keeps the order
	d, err := mergeRows(list(ours...), list(theirs...))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.send, []string{ours[10].key, gone}) || !slices.Equal(d.del, []string{ours[10].key, extra.key}) {
		t.Errorf("send %q, delete %q", d.send, d.del)
	}
	if d.changed != 1 || d.added != 1 || d.removed != 1 || d.rows != int64(len(ours)) {
		t.Errorf("diff %+v", d)
	}
	// Half of the table changed: a whole copy is the better one.
	for i := range theirs {
		if i%2 == 0 {
			theirs[i].hash++
		}
	}
	if _, err := mergeRows(list(ours...), list(theirs...)); !errors.Is(err, errTooManyRows) {
		t.Errorf("half of the rows changed: %v, want errTooManyRows", err)
	}
}

func TestKeyChunks(t *testing.T) {
	h := rowListHead{Key: []string{"id", "k`x"}, Charsets: []string{"binary", "utf8mb4"}}
	lits, err := keyLiterals(h, []string{"31,", "3132,C3BC"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"(_binary X'31',_utf8mb4 X'')", "(_binary X'3132',_utf8mb4 X'C3BC')"}; !slices.Equal(lits, want) {
		t.Errorf("literals %q, want %q", lits, want)
	}
	chunks, err := keyChunks(h, lits, 60)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"(`id`,`k``x`) IN ((_binary X'31',_utf8mb4 X''))", "(`id`,`k``x`) IN ((_binary X'3132',_utf8mb4 X'C3BC'))"}
	if !slices.Equal(chunks, want) {
		t.Errorf("chunks %q, want %q", chunks, want)
	}
	if chunks, _ := keyChunks(h, lits, 1000); len(chunks) != 1 {
		t.Errorf("chunks %q, want one", chunks)
	}
	if _, err := keyLiterals(h, []string{"31"}); err == nil {
		t.Error("a key of one column for a key of two: no error")
	}
}

func TestRowDefinitionLeavesOutTheCounter(t *testing.T) {
	a := "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=4 DEFAULT CHARSET=utf8mb4"
	b := strings.Replace(a, "AUTO_INCREMENT=4", "AUTO_INCREMENT=900", 1)
	c := strings.Replace(a, "int(11)", "bigint(20)", 1)
	if rowDefinition(a) != rowDefinition(b) {
		t.Error("the counter changed the definition")
	}
	if rowDefinition(a) == rowDefinition(c) {
		t.Error("a column's type did not change the definition")
	}
}
