package apply

import (
	"os"
	"path/filepath"
	"testing"
)

// A kill -9 between writing a config file's temporary copy and renaming it
// leaves the copy beside it; removing the file (a site's deletion) removes
// that leftover too, and a symlink's, so nothing of the site stays behind.
func TestRemovingAFileRemovesWhatAKilledWriteLeft(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ferry-a.example-7.conf")
	link := filepath.Join(dir, "enabled", "ferry-a.example-7.conf")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyFileChanges([]FileChange{{Path: conf, Content: []byte("x\n")}, {Path: link, Link: conf}}); err != nil {
		t.Fatal(err)
	}
	left := []string{
		filepath.Join(dir, ".ferry-a.example-7.conf.4022062574.tmp"),
		filepath.Join(dir, ".ferry-a.example-7.conf.ferry-normal.99.tmp"),
		filepath.Join(dir, "enabled", ".ferry-a.example-7.conf.link.tmp"),
	}
	for _, f := range left {
		if err := os.WriteFile(f, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(dir, ".ferry-b.example-8.conf.5.tmp")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyFileChanges([]FileChange{{Path: conf, Remove: true}, {Path: conf + SiteModeKeep, Remove: true}, {Path: link, Remove: true}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(left, conf, link) {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("%s is still there", f)
		}
	}
	if _, err := os.Lstat(other); err != nil {
		t.Errorf("another site's file went: %v", err)
	}
}
