package apply

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"ferry/internal/model"
	"ferry/internal/node/hostexec"
)

// Bounds of the app config scan: it reads names, not data, and must stay
// quick on a site with a large tree.
const (
	scanMaxDepth   = 8
	scanMaxEntries = 200_000
	scanMaxFile    = 1 << 20
)

// appDatabase is a database an app config names.
type appDatabase struct {
	engine, name string
}

var (
	scanNameRe = regexp.MustCompile(`^[A-Za-z0-9_$-]{1,64}$`)

	wpNameRe = regexp.MustCompile(`define\s*\(\s*['"]DB_NAME['"]\s*,\s*['"]([^'"]+)['"]`)

	drupalDBRe     = regexp.MustCompile(`['"]database['"]\s*=>\s*['"]([^'"]+)['"]`)
	drupalDriverRe = regexp.MustCompile(`['"]driver['"]\s*=>\s*['"]([a-z]+)['"]`)
	drupalURLRe    = regexp.MustCompile(`\$db_url\s*=\s*['"]([a-z]+)://[^'"]*?/([^/'"?]+)['"]`)

	joomlaDBRe   = regexp.MustCompile(`(?m)^\s*(?:public|var)\s+\$db\s*=\s*['"]([^'"]+)['"]`)
	joomlaTypeRe = regexp.MustCompile(`(?m)^\s*(?:public|var)\s+\$dbtype\s*=\s*['"]([a-z]+)['"]`)

	envDBRe   = regexp.MustCompile(`(?m)^\s*(?:export\s+)?(?:DB_DATABASE|DB_NAME|DATABASE_NAME|MYSQL_DATABASE|POSTGRES_DB)\s*=\s*['"]?([^'"\s#]+)`)
	envConnRe = regexp.MustCompile(`(?m)^\s*(?:export\s+)?DB_CONNECTION\s*=\s*['"]?([a-z]+)`)
	envURLRe  = regexp.MustCompile(`(?m)^\s*(?:export\s+)?DATABASE_URL\s*=\s*['"]?([a-z0-9+]+)://[^\s'"]*?/([^/\s'"?#]+)`)
)

// engineOf maps an app's driver name to a move engine ("" for one ferry
// does not move, such as sqlite).
func engineOf(driver string) string {
	switch {
	case strings.Contains(driver, "mysql"), strings.Contains(driver, "mariadb"):
		return "mysql"
	case strings.Contains(driver, "pgsql"), strings.Contains(driver, "postgres"):
		return "pgsql"
	}
	return ""
}

// appConfigDatabases returns the databases an app config file names; base
// is the file's name, which says what app it is.
func appConfigDatabases(base, text string) []appDatabase {
	var out []appDatabase
	add := func(engine, name string) {
		if engine != "" && scanNameRe.MatchString(name) {
			out = append(out, appDatabase{engine, name})
		}
	}
	switch base {
	case "wp-config.php":
		for _, mm := range wpNameRe.FindAllStringSubmatch(text, -1) {
			add("mysql", mm[1])
		}
	case "settings.php", "settings.local.php":
		engine := "mysql"
		if mm := drupalDriverRe.FindStringSubmatch(text); mm != nil {
			engine = engineOf(mm[1])
		}
		for _, mm := range drupalDBRe.FindAllStringSubmatch(text, -1) {
			add(engine, mm[1])
		}
		for _, mm := range drupalURLRe.FindAllStringSubmatch(text, -1) {
			add(engineOf(mm[1]), mm[2])
		}
	case "configuration.php":
		engine := "mysql"
		if mm := joomlaTypeRe.FindStringSubmatch(text); mm != nil {
			engine = engineOf(mm[1])
		}
		for _, mm := range joomlaDBRe.FindAllStringSubmatch(text, -1) {
			add(engine, mm[1])
		}
	case ".env", ".env.local", ".env.production":
		engine := "mysql"
		if mm := envConnRe.FindStringSubmatch(text); mm != nil {
			engine = engineOf(mm[1])
		}
		for _, mm := range envDBRe.FindAllStringSubmatch(text, -1) {
			add(engine, mm[1])
		}
		for _, mm := range envURLRe.FindAllStringSubmatch(text, -1) {
			add(engineOf(mm[1]), mm[2])
		}
	}
	return out
}

// isAppConfig reports whether a file name is one the scan reads.
func isAppConfig(base string) bool {
	switch base {
	case "wp-config.php", "settings.php", "settings.local.php", "configuration.php", ".env", ".env.local", ".env.production":
		return true
	}
	return false
}

// ScanAppDatabases walks the order's web/ for app configs and returns the
// databases they name that are not among known, with the config's path
// relative to the order directory. Symlinks are not followed.
func ScanAppDatabases(orderDir string, known []model.MoveDB) ([]model.UnregisteredDB, error) {
	root := filepath.Join(orderDir, WebDir)
	isKnown := func(d appDatabase) bool {
		return slices.ContainsFunc(known, func(k model.MoveDB) bool { return k.Engine == d.engine && k.Name == d.name })
	}
	var found []model.UnregisteredDB
	entries := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return nil // an unreadable corner does not stop the scan
		}
		if entries++; entries > scanMaxEntries {
			return fs.SkipAll
		}
		rel, _ := filepath.Rel(orderDir, path)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "vendor":
				return fs.SkipDir
			}
			if strings.Count(rel, string(filepath.Separator)) >= scanMaxDepth {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !isAppConfig(d.Name()) {
			return nil
		}
		text, err := readSmallFile(path)
		if err != nil {
			return nil
		}
		for _, db := range appConfigDatabases(d.Name(), text) {
			if isKnown(db) {
				continue
			}
			e := model.UnregisteredDB{Engine: db.engine, Name: db.name, Config: hostexec.OneLine(rel, 300)}
			if !slices.Contains(found, e) {
				found = append(found, e)
			}
		}
		return nil
	})
	return found, err
}

// readSmallFile reads at most scanMaxFile bytes of a regular file, refusing
// to follow a symlink swapped in meanwhile.
func readSmallFile(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, scanMaxFile))
	return string(b), err
}
