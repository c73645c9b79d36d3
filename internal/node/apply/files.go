package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ferry/internal/atomicfile"
)

// FileChange is one config file a change writes, links or removes.
type FileChange struct {
	Path    string
	Content []byte // the file's new content, when link is ""
	Link    string // a symlink's target
	Remove  bool
	Mode    fs.FileMode // the new file's mode; 0 means 0644
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

// ApplyFileChanges makes changes in order and returns a function that puts
// every path back as it was. If a change fails, what was done is undone.
func ApplyFileChanges(changes []FileChange) (undo func() error, err error) {
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
		st, err := readFileState(c.Path)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("read %s: %w", c.Path, err), undo())
		}
		saved = append(saved, st)
		switch {
		case c.Remove:
			err = os.Remove(c.Path)
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
			// A write of this path cut short by a kill -9 left its
			// temporary file beside it; it goes with the file.
			if err == nil {
				err = atomicfile.RemoveLeftovers(c.Path)
			}
		case c.Link != "":
			err = replaceSymlink(c.Path, c.Link)
		default:
			mode := c.Mode
			if mode == 0 {
				mode = 0o644
			}
			err = atomicfile.Write(c.Path, c.Content, mode)
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("write %s: %w", c.Path, err), undo())
		}
	}
	return undo, nil
}

// replaceSymlink makes path a symlink to target, replacing what was there.
func replaceSymlink(path, target string) error {
	// Named as atomicfile names its temporary files, so that
	// atomicfile.RemoveLeftovers finds one a kill left behind.
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".link.tmp")
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
