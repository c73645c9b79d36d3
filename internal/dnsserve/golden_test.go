package dnsserve

import (
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden zone files in testdata/zones")

// TestZoneGolden builds zones from testdata/zones/*.json (a Sync argument)
// and compares each with its .zone file: the zone as a transfer sends it.
func TestZoneGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/zones/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var zones map[string][]Record
			if err := json.Unmarshal(data, &zones); err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{StateDir: t.TempDir(), NS: []string{"ns1.ferry.test", "ns2.ferry.test"},
				Hostmaster: "dns.admin@ferry.test", Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			s.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
			if err := s.Sync(t.Context(), zones); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, name := range sortedZones(s) {
				z := (*s.zones.Load())[name]
				for _, l := range lines(append([]dns.RR{z.soa}, z.xfr...)) {
					b.WriteString(l + "\n")
				}
			}
			golden := strings.TrimSuffix(in, ".json") + ".zone"
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("zone data differs from %s (go test -run TestZoneGolden -update rewrites it)\n got:\n%s\nwant:\n%s", golden, b.String(), want)
			}
		})
	}
}

func sortedZones(s *Server) []string {
	return slices.Sorted(maps.Keys(*s.zones.Load()))
}
