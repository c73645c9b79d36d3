package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"ferry/internal/atomicfile"
)

// accountFiles are the databases useradd, userdel and groupdel keep a backup
// of, named with a trailing "-": the file as it was before their last
// change.
var accountFiles = []string{"passwd", "shadow", "group", "gshadow"}

// refreshAccountBackups makes each existing backup a copy of its database as
// it is now. After userdel the backups still hold the deleted user, with its
// home (the order's directory) and its password hash, until some later
// change of any account; a host an order has left must not keep them. Each
// backup keeps its mode and owner (shadow- is root:shadow 0640) and is
// replaced atomically.
func refreshAccountBackups(dir string) error {
	if dir == "" {
		return nil
	}
	for _, name := range accountFiles {
		backup := filepath.Join(dir, name+"-")
		fi, err := os.Stat(backup)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("account backup: %w", err)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("account backup: %w", err)
		}
		uid, gid := -1, -1
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
		if err := atomicfile.WriteOwned(backup, data, fi.Mode().Perm(), uid, gid); err != nil {
			return fmt.Errorf("account backup %s: %w", backup, err)
		}
	}
	return nil
}
