package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"ferry/internal/model"
)

// phpFPM is one PHP-FPM version installed on the host: the directory its
// master includes pools from, the binary that tests its configuration, and
// the file holding its master's pid.
type phpFPM struct {
	Version string
	PoolDir string
	Binary  string
	PidFile string
}

// fpmBinaryPrefix starts the name of each version's PHP-FPM binary
// (Debian's php-fpm8.2).
const fpmBinaryPrefix = "php-fpm"

// fpmBinaryVersion returns the version a PHP-FPM binary's file name
// carries ("php-fpm8.2" → "8.2"), or false for any other name.
func fpmBinaryVersion(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, fpmBinaryPrefix)
	if !ok {
		return "", false
	}
	v, err := model.ParsePHPVersion(rest)
	if err != nil || v != rest {
		return "", false
	}
	return v, true
}

// discoverPHP finds the PHP-FPM versions installed on the host, oldest
// first. A version counts when both its configuration directory
// <root>/<X.Y>/fpm/pool.d and its binary php-fpm<X.Y> in one of binDirs
// exist: Debian keeps /etc/php/X.Y after its packages are removed (but not
// purged), and a binary without its pool directory has nowhere to put a
// site's pool. pidFile is the pid file's pattern, {version} standing for
// X.Y. What cannot be read counts as not installed.
func discoverPHP(root string, binDirs []string, pidFile string) []phpFPM {
	binaries := map[string]string{}
	for _, dir := range binDirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			v, ok := fpmBinaryVersion(e.Name())
			if !ok || binaries[v] != "" {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				binaries[v] = p
			}
		}
	}
	var found []phpFPM
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		v, err := model.ParsePHPVersion(e.Name())
		if err != nil || v != e.Name() || binaries[v] == "" {
			continue
		}
		pools := filepath.Join(root, v, "fpm", "pool.d")
		if fi, err := os.Stat(pools); err != nil || !fi.IsDir() {
			continue
		}
		found = append(found, phpFPM{Version: v, PoolDir: pools, Binary: binaries[v], PidFile: strings.ReplaceAll(pidFile, "{version}", v)})
	}
	slices.SortFunc(found, func(a, b phpFPM) int { return model.ComparePHPVersions(a.Version, b.Version) })
	return found
}

// PHPVersions lists the PHP-FPM versions installed on this host, oldest
// first, as the node reports them to the control plane.
func (a *Applier) PHPVersions() []string {
	var vs []string
	for _, p := range a.phpFPMs() {
		vs = append(vs, p.Version)
	}
	return vs
}

func (a *Applier) phpFPMs() []phpFPM {
	return discoverPHP(a.cfg.PHPRoot, a.cfg.FPMBinDirs, a.cfg.FPMPidFile)
}

// sitePHP returns the PHP-FPM a web-conf with spec s runs under: its own
// version, or the host's newest. A version the host lacks is an error
// naming the versions it has.
func sitePHP(s model.Spec, installed []phpFPM) (phpFPM, error) {
	versions := make([]string, len(installed))
	for i, p := range installed {
		versions[i] = p.Version
	}
	v, err := model.CheckPHPVersion(s.PHPVersion, versions)
	if err != nil {
		want := "PHP-FPM"
		if s.PHPVersion != "" {
			want = "php" + s.PHPVersion + "-fpm"
		}
		return phpFPM{}, fmt.Errorf("this host %w; install %s, or choose one it has with ferry item update --php-version", err, want)
	}
	i := slices.IndexFunc(installed, func(p phpFPM) bool { return p.Version == v })
	return installed[i], nil
}

// poolFiles returns the pool files named name.conf in every installed
// version's pool directory, by version. A file that cannot be looked at
// counts as there: removing it then fails loudly rather than leaving it
// behind unnoticed.
func poolFiles(installed []phpFPM, name string) map[string]string {
	files := map[string]string{}
	for _, p := range installed {
		f := filepath.Join(p.PoolDir, name+".conf")
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			files[p.Version] = f
		}
	}
	return files
}
