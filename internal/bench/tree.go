package bench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// TreeSpec describes a generated site tree: Files files of mixed sizes
// adding up to about Bytes, the same tree for the same Seed.
type TreeSpec struct {
	Files int
	Bytes int64
	Seed  uint64
}

// treeFile is one generated file, relative to the tree's root.
type treeFile struct {
	rel  string
	size int64
	mode os.FileMode
	// link names a hard link made to the file, "" for none.
	link string
}

// tree is a generated tree's layout.
type tree struct {
	files []treeFile
	dirs  []string
	// symlinks maps a link (relative) to its relative target.
	symlinks map[string]string
	bytes    int64
}

// treeEpoch is the modification time of every generated file: fixed, so
// that a churned file is newer than anything generated.
var treeEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// rngFor returns a generator for one purpose of one seed; the same
// arguments give the same numbers.
func rngFor(seed uint64, purpose string, n uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], n)
	copy(key[16:], purpose)
	return rand.NewChaCha8(key)
}

// layout plans the tree: sizes drawn from four bands (as a site holds many
// small scripts and pages, fewer images and a few large downloads), then
// scaled so that the total is spec.Bytes; a hundred files a directory, two
// levels deep; every 500th file also hard-linked, every 1000th symlinked.
func layout(spec TreeSpec) tree {
	r := rand.New(rngFor(spec.Seed, "layout", 0))
	type band struct {
		upTo     float64
		min, max int64
		ext      []string
	}
	bands := []band{
		{0.55, 100, 8 << 10, []string{".php", ".css", ".js", ".html", ".txt"}},
		{0.90, 8 << 10, 64 << 10, []string{".png", ".js", ".json", ".svg"}},
		{0.99, 64 << 10, 512 << 10, []string{".jpg", ".png", ".webp"}},
		{1.00, 512 << 10, 8 << 20, []string{".pdf", ".zip", ".mp4"}},
	}
	t := tree{symlinks: map[string]string{}}
	raw := make([]int64, spec.Files)
	exts := make([]string, spec.Files)
	var sum int64
	for i := range raw {
		p := r.Float64()
		for _, b := range bands {
			if p <= b.upTo {
				raw[i] = b.min + r.Int64N(b.max-b.min+1)
				exts[i] = b.ext[r.IntN(len(b.ext))]
				break
			}
		}
		sum += raw[i]
	}
	scale := 1.0
	if sum > 0 {
		scale = float64(spec.Bytes) / float64(sum)
	}
	const perDir, dirsPerLevel = 100, 30
	seen := map[string]bool{}
	for i := range raw {
		d := i / perDir
		dir := fmt.Sprintf("web/files/a%02d/b%03d", d/dirsPerLevel, d)
		if !seen[dir] {
			seen[dir] = true
			t.dirs = append(t.dirs, dir)
		}
		f := treeFile{rel: fmt.Sprintf("%s/f%05d%s", dir, i, exts[i]), size: int64(float64(raw[i]) * scale), mode: 0o644}
		switch {
		case exts[i] == ".php":
			f.mode = 0o640
		case i%37 == 0:
			f.mode = 0o600
		}
		if i%500 == 250 {
			f.link = fmt.Sprintf("%s/hardlink%05d%s", dir, i, exts[i])
		}
		if i%1000 == 500 {
			t.symlinks[fmt.Sprintf("%s/latest%05d%s", dir, i, exts[i])] = filepath.Base(f.rel)
		}
		t.files = append(t.files, f)
		t.bytes += f.size
	}
	return t
}

// writeTree writes the tree spec describes under root, owned by uid:gid,
// and returns its layout. Contents come from a seeded generator per file,
// so two runs write the same bytes whatever the order of the writers.
func writeTree(root string, spec TreeSpec, uid, gid int) (tree, error) {
	t := layout(spec)
	for _, d := range append([]string{"web", "web/files"}, t.dirs...) {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return t, err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return t, err
		}
	}
	work := make(chan int)
	errs := make(chan error, len(t.files)+1)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for i := range work {
				if err := writeFile(root, t.files[i], rngFor(spec.Seed, "content", uint64(i)), buf, uid, gid); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range t.files {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return t, err
	}
	for l, target := range t.symlinks {
		p := filepath.Join(root, l)
		if err := os.Symlink(target, p); err != nil && !os.IsExist(err) {
			return t, err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return t, err
		}
	}
	return t, nil
}

func writeFile(root string, f treeFile, src io.Reader, buf []byte, uid, gid int) error {
	p := filepath.Join(root, f.rel)
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, f.mode)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, len(buf))
	if _, err := io.CopyBuffer(w, io.LimitReader(src, f.size), buf); err != nil {
		out.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chown(p, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(p, f.mode); err != nil {
		return err
	}
	if err := os.Chtimes(p, treeEpoch, treeEpoch); err != nil {
		return err
	}
	if f.link != "" {
		lp := filepath.Join(root, f.link)
		if err := os.Link(p, lp); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return nil
}

// churn changes pct percent of the tree's non-empty files (at least one)
// under root, as edits do: a block of up to 4 KiB rewritten at a random
// place, and a new modification time. round picks which files, so that
// each round changes others. It returns how many files and bytes it
// changed.
func churn(root string, t tree, seed uint64, round int, pct float64) (files int, bytes int64, err error) {
	r := rand.New(rngFor(seed, "churn", uint64(round)))
	want := max(1, int(float64(len(t.files))*pct/100+0.5))
	picked := map[int]bool{}
	mtime := treeEpoch.Add(time.Duration(round+1) * 24 * time.Hour)
	block := make([]byte, 4<<10)
	for tries := 0; len(picked) < want && tries < 20*want; tries++ {
		i := r.IntN(len(t.files))
		f := t.files[i]
		if picked[i] || f.size == 0 {
			continue
		}
		picked[i] = true
		n := min(int64(len(block)), f.size)
		off := r.Int64N(f.size - n + 1)
		fill(r, block[:n])
		p := filepath.Join(root, f.rel)
		fh, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return files, bytes, err
		}
		if _, err := fh.WriteAt(block[:n], off); err != nil {
			fh.Close()
			return files, bytes, err
		}
		if err := fh.Close(); err != nil {
			return files, bytes, err
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			return files, bytes, err
		}
		files++
		bytes += n
	}
	return files, bytes, nil
}

// fill fills b from r.
func fill(r *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}
