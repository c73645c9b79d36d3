package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestStatOf(t *testing.T) {
	for _, tc := range []struct {
		in            []float64
		med, min, max float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
	} {
		s := statOf(tc.in)
		if s.Median != tc.med || s.Min != tc.min || s.Max != tc.max || len(s.Runs) != len(tc.in) || s.Runs[0] != tc.in[0] {
			t.Errorf("statOf(%v) = %+v, want median %g min %g max %g and the runs in their order", tc.in, s, tc.med, tc.min, tc.max)
		}
	}
}

// Each ratio is taken within its pair, and the verdict follows the goal's
// direction.
func TestComparisonRatiosArePairwise(t *testing.T) {
	c := Comparison{Ratio: "ferry/plain", Goal: 1.05, Better: "<=", Pairs: []Pair{{10, 10}, {22, 20}, {5, 5}}}
	c.summarise()
	if c.Ratios.Median != 1 || c.Ratios.Max != 1.1 || !c.Met {
		t.Errorf("time ratios %+v met %v, want median 1, max 1.1, met", c.Ratios, c.Met)
	}
	c = Comparison{Ratio: "plain/ferry", Goal: 5, Better: ">=", Pairs: []Pair{{2, 8}, {1, 6}, {2, 9}}}
	c.summarise()
	if c.Ratios.Median != 4.5 || c.Met {
		t.Errorf("speed-ups %+v met %v, want median 4.5, not met", c.Ratios, c.Met)
	}
}

// The tree has the files and the size asked for, the same for the same
// seed, and churn changes the share of files asked for.
func TestTreeIsDeterministicAndChurnChangesOnePercent(t *testing.T) {
	spec := TreeSpec{Files: 1200, Bytes: 6 << 20, Seed: 7}
	a, b := layout(spec), layout(spec)
	if len(a.files) != spec.Files || a.bytes > spec.Bytes || a.bytes < spec.Bytes-int64(spec.Files) {
		t.Fatalf("layout: %d files, %d bytes; want %d files, about %d bytes", len(a.files), a.bytes, spec.Files, spec.Bytes)
	}
	for i := range a.files {
		if a.files[i] != b.files[i] {
			t.Fatalf("file %d differs between two layouts of one seed: %+v %+v", i, a.files[i], b.files[i])
		}
	}
	root := t.TempDir()
	tr, err := writeTree(root, spec, os.Getuid(), os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, f := range tr.files {
		data, err := os.ReadFile(filepath.Join(root, f.rel))
		if err != nil || int64(len(data)) != f.size {
			t.Fatalf("%s: %d bytes, %v; want %d", f.rel, len(data), err, f.size)
		}
		before[f.rel] = data
	}
	n, _, err := churn(root, tr, spec.Seed, 0, 1)
	if err != nil || n != 12 {
		t.Fatalf("churn changed %d files (%v), want 12", n, err)
	}
	changed := 0
	for _, f := range tr.files {
		data, _ := os.ReadFile(filepath.Join(root, f.rel))
		fi, _ := os.Stat(filepath.Join(root, f.rel))
		if !bytes.Equal(data, before[f.rel]) || !fi.ModTime().Equal(treeEpoch) {
			changed++
			if fi.ModTime().Equal(treeEpoch) {
				t.Errorf("%s changed but kept its modification time: rsync's quick check would miss it", f.rel)
			}
		}
	}
	if changed != 12 {
		t.Errorf("%d files differ after churn, want 12", changed)
	}
}

func TestTableRowsHaveNoCharactersToEscape(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.tsv")
	rows, err := writeTableTSV(p, DBSpec{Tables: 1, Seed: 3}, 0, 64<<10)
	if err != nil || rows == 0 {
		t.Fatalf("%d rows, %v", rows, err)
	}
	data, _ := os.ReadFile(p)
	if int64(len(data)) < 64<<10 {
		t.Errorf("%d bytes, want at least %d", len(data), 64<<10)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if f := bytes.Split(line, []byte("\t")); len(f) != 6 || bytes.ContainsAny(line, "\\'\"\r") {
			t.Fatalf("row %d: %q: want 6 fields and nothing to escape", i, line)
		}
	}
}
