package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ferry/internal/atomicfile"
)

// fileChange is one config file a change writes, links or removes.
type fileChange struct {
	path    string
	content []byte // the file's new content, when link is ""
	link    string // a symlink's target
	remove  bool
	mode    fs.FileMode // the new file's mode; 0 means 0644
}

// fileState is what was at a path before a change, to put it back.
type fileState struct {
	path    string
	exists  bool
	link    string
	content []byte
	mode    fs.FileMode
}

func readFileState(path string) (fileState, error) {
	st := fileState{path: path}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.exists, st.mode = true, fi.Mode()
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		st.link, err = os.Readlink(path)
	case fi.Mode().IsRegular():
		st.content, err = os.ReadFile(path)
	default:
		err = fmt.Errorf("%s is neither a file nor a symlink", path)
	}
	return st, err
}

// restore puts the path back as it was.
func (st fileState) restore() error {
	switch {
	case !st.exists:
		if err := os.Remove(st.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	case st.link != "":
		return replaceSymlink(st.path, st.link)
	default:
		return atomicfile.Write(st.path, st.content, st.mode.Perm())
	}
}

// applyFileChanges makes changes in order and returns a function that puts
// every path back as it was. If a change fails, what was done is undone.
func applyFileChanges(changes []fileChange) (undo func() error, err error) {
	var saved []fileState
	undo = func() error {
		var errs []error
		for i := len(saved) - 1; i >= 0; i-- {
			if err := saved[i].restore(); err != nil {
				errs = append(errs, fmt.Errorf("restore %s: %w", saved[i].path, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, c := range changes {
		st, err := readFileState(c.path)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("read %s: %w", c.path, err), undo())
		}
		saved = append(saved, st)
		switch {
		case c.remove:
			err = os.Remove(c.path)
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		case c.link != "":
			err = replaceSymlink(c.path, c.link)
		default:
			mode := c.mode
			if mode == 0 {
				mode = 0o644
			}
			err = atomicfile.Write(c.path, c.content, mode)
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("write %s: %w", c.path, err), undo())
		}
	}
	return undo, nil
}

// replaceSymlink makes path a symlink to target, replacing what was there.
func replaceSymlink(path, target string) error {
	tmp := filepath.Join(filepath.Dir(path), ".ferry-"+filepath.Base(path)+".tmp")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
