package apply

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRefreshAccountBackupsDropsDeletedUser(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	// As userdel leaves them: the database without the user, the backup
	// with it. group has no backup on this host and gets none.
	write("shadow", "root:*:1::::::\n", 0o640)
	write("shadow-", "root:*:1::::::\nc200:$2b$10$hash:1::::::\n", 0o640)
	write("passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
	write("passwd-", "root:x:0:0::/root:/bin/sh\nc200:x:1200:1200::/home/members/c200.example:/bin/sh\n", 0o644)
	write("group", "root:x:0:\n", 0o644)

	if err := refreshAccountBackups(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"shadow", "passwd"} {
		got, _ := os.ReadFile(filepath.Join(dir, name+"-"))
		want, _ := os.ReadFile(filepath.Join(dir, name))
		if string(got) != string(want) {
			t.Errorf("%s- = %q, want a copy of %s %q", name, got, name, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "shadow-")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("shadow- mode %v (%v), want 0640 kept", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "group-")); !os.IsNotExist(err) {
		t.Errorf("a backup the host did not have was made: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
