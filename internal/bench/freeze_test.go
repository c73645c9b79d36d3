package bench

import (
	"strings"
	"testing"
)

func TestVmHWM(t *testing.T) {
	status := "Name:\tferry\nVmPeak:\t 1300000 kB\nVmHWM:\t   48212 kB\nVmRSS:\t   30000 kB\n"
	if kib, err := vmHWM(status); err != nil || kib != 48212 {
		t.Errorf("vmHWM = %d, %v; want 48212", kib, err)
	}
	for _, bad := range []string{"Name:\tferry\n", "VmHWM:\t 12 MB\n", "VmHWM:\tmany kB\n"} {
		if _, err := vmHWM(bad); err == nil {
			t.Errorf("vmHWM(%q) read a number", bad)
		}
	}
}

func FuzzVmHWM(f *testing.F) {
	f.Add("VmHWM:\t   48212 kB\n")
	f.Add("VmHWM: -1 kB")
	f.Fuzz(func(t *testing.T, s string) {
		kib, err := vmHWM(s)
		if err == nil && !strings.Contains(s, "VmHWM:") {
			t.Errorf("read %d from a status without VmHWM", kib)
		}
	})
}

func TestFreezeGoals(t *testing.T) {
	g := freezeGoals([]FreezeAt{{Name: "tiny", Seconds: 0.3}, {Name: "0.25x", Seconds: 0.8}, {Name: "1x", Seconds: 0.9}, {Name: "2x", Seconds: 1.6}})
	if len(g) != 2 || !g[0].Met || g[1].Met || g[1].Value != 2 {
		t.Errorf("goals %+v: want the tiny site's met and a doubling freeze not flat", g)
	}
}

func TestParseFreezeSizes(t *testing.T) {
	got, err := ParseFreezeSizes("0, 0.25,1,2")
	if err != nil || len(got) != 4 || got[1] != 0.25 {
		t.Errorf("ParseFreezeSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"a", "1,,2", "-1", "1,1", "NaN", "100"} {
		if _, err := ParseFreezeSizes(bad); err == nil {
			t.Errorf("ParseFreezeSizes(%q) took it", bad)
		}
	}
}

func FuzzParseFreezeSizes(f *testing.F) {
	f.Add("0,0.25,1,2")
	f.Add("1e400")
	f.Fuzz(func(t *testing.T, s string) {
		sizes, err := ParseFreezeSizes(s)
		if err != nil {
			return
		}
		for _, v := range sizes {
			if v < 0 || v > 16 || v != v {
				t.Errorf("%q gave the size %v", s, v)
			}
		}
	})
}
