package apply

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files from what the code renders")

// checkGolden compares got with the golden file, or rewrites the file with
// -update. A missing golden file with nothing to compare is fine: it says
// the case renders no such file.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if got == nil {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if os.IsNotExist(err) && got == nil {
		return
	}
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the code renders (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestWebConfGolden renders each testdata/webconf/*.json (an order and a
// web-conf item) into its vhost and PHP-FPM pool files.
func TestWebConfGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/webconf/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(in, ".json")
		t.Run(filepath.Base(name), func(t *testing.T) {
			var tc struct {
				Order model.Order `json:"order"`
				Item  model.Item  `json:"item"`
			}
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			if err := DecodeStrict(data, &tc); err != nil {
				t.Fatal(err)
			}
			if err := tc.Order.Validate(); err != nil {
				t.Fatal(err)
			}
			spec, err := normalizedSpec(tc.Item, tc.Order.Identifier)
			if err != nil {
				t.Fatal(err)
			}
			tc.Item.Spec = spec
			// The golden host has PHP 8.2 alone: a site that names no
			// version runs under it.
			a := New(Config{})
			st := a.site(tc.Order, tc.Item, tc.Item.Spec.SitePHPVersion([]string{"8.2"}))
			if h := tc.Item.Spec.HTTPS; h != nil {
				st.TLS = a.siteHTTPS(&st, h) // as once its certificate is installed
			}
			vhost, pool, err := st.render()
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".vhost.golden", vhost)
			checkGolden(t, name+".pool.golden", pool)
		})
	}
}

// TestCrontabGolden applies the change in each testdata/crontab/*.op.json to
// the crontab in the .before file next to it.
func TestCrontabGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/crontab/*.op.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(in, ".op.json")
		t.Run(filepath.Base(name), func(t *testing.T) {
			var change struct {
				ID       int64  `json:"id"`
				Schedule string `json:"schedule"`
				Command  string `json:"command"`
				Op       string `json:"op"`
			}
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &change); err != nil {
				t.Fatal(err)
			}
			spec := model.Spec{Login: "rosa", Schedule: change.Schedule, Command: change.Command}
			if err := spec.Normalize(model.KindScheduledJob, "example.org"); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(name + ".before")
			if err != nil {
				t.Fatal(err)
			}
			tab, err := ParseCrontab(string(before))
			if err != nil {
				t.Fatal(err)
			}
			switch change.Op {
			case "ensure", "disable":
				tab.set(cronJob{ID: change.ID, Line: cronLine(spec.Schedule, spec.Command, change.Op == "disable")})
			case "delete":
				tab.remove(change.ID)
			default:
				t.Fatalf("unknown op %q", change.Op)
			}
			got := tab.String()
			checkGolden(t, name+".golden", []byte(got))

			// Rendering is stable: what it wrote parses back to itself.
			again, err := ParseCrontab(got)
			if err != nil {
				t.Fatalf("parse rendered crontab: %v", err)
			}
			if again.String() != got {
				t.Errorf("render(parse(render)) differs:\n%s", again.String())
			}
		})
	}
}
