package apply

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"

	"ferry/internal/model"
	"ferry/internal/node/hostexec"
)

var (
	//go:embed templates/vhost.conf.tmpl
	vhostTemplateText string
	//go:embed templates/fpm-pool.conf.tmpl
	poolTemplateText string

	configFuncs   = template.FuncMap{"apache": ApacheQuote, "ini": iniQuote, "word": configWord}
	vhostTemplate = template.Must(template.New("vhost").Funcs(configFuncs).Parse(vhostTemplateText))
	poolTemplate  = template.Must(template.New("pool").Funcs(configFuncs).Parse(poolTemplateText))
)

// poolFilePrefix starts the name of every vhost and pool file ferry writes;
// it sorts after Debian's 000-default, which stays the default vhost.
const poolFilePrefix = "ferry-"

// site is what one web-conf puts into its vhost and pool files.
type site struct {
	Name         string // file and pool name, ferry-<identifier>-<item>
	Order        string
	ItemID       int64
	ServerName   string
	Aliases      []string
	DocumentRoot string
	AccessLog    string
	ErrorLog     string
	PHP          bool
	FPMSocket    string
	FPMHandler   string
	User, Group  string
	WebUser      string
	WebGroup     string
	OpenBasedir  string

	// PHPVersion is the PHP-FPM version the pool runs under, and PHPLimits
	// the pool's limits with the defaults filled in.
	PHPVersion string
	PHPLimits  model.PHPSettings
	// HTTPS (webconf_https.go): TLS is set once a certificate is
	// installed, and gives the site its *:443 vhost.
	TLS          *siteTLS
	RedirectHTTP bool
	ChallengeDir string
}

// SiteName names a web-conf's files. The identifier is there for the admin
// who lists the directory, cut so the name stays within NAME_MAX; the item
// id makes it unique.
func SiteName(o model.Order, id int64) string {
	ident := o.Identifier
	if len(ident) > 200 {
		ident = ident[:200]
	}
	return poolFilePrefix + ident + "-" + strconv.FormatInt(id, 10)
}

// site describes the files of web-conf item it, whose spec is normalized,
// with its pool run by PHP-FPM version phpVersion ("" for a site without
// PHP).
func (a *Applier) site(o model.Order, it model.Item, phpVersion string) site {
	s := it.Spec
	dir := a.OrderDir(o)
	// The socket is named by version and item id alone: a unix socket
	// path must stay under 108 bytes, however long the domain, and the
	// pool of a site changing version must not take the socket its old
	// version's pool still holds until that one is reloaded.
	sock := filepath.Join(a.cfg.FPMSocketDir, "ferry-php"+phpVersion+"-"+strconv.FormatInt(it.ID, 10)+".sock")
	return site{
		Name:         SiteName(o, it.ID),
		Order:        o.Identifier,
		ItemID:       it.ID,
		ServerName:   s.ServerNames[0],
		Aliases:      s.ServerNames[1:],
		DocumentRoot: filepath.Join(dir, s.Docroot),
		AccessLog:    filepath.Join(dir, logsDir, "access.log"),
		ErrorLog:     filepath.Join(dir, logsDir, "error.log"),
		PHP:          s.PHP != nil && *s.PHP,
		PHPVersion:   phpVersion,
		PHPLimits:    s.PHPSettings.Effective(),
		FPMSocket:    sock,
		FPMHandler:   "proxy:unix:" + sock + "|fcgi://localhost",
		User:         s.Login,
		Group:        s.Login,
		WebUser:      a.cfg.WebUser,
		WebGroup:     a.cfg.WebGroup,
		OpenBasedir:  dir + "/:/tmp/",
		RedirectHTTP: s.HTTPS != nil && s.HTTPS.RedirectHTTP,
	}
}

// render returns the vhost file, and with PHP the pool file.
func (s site) render() (vhost, pool []byte, err error) {
	var b bytes.Buffer
	if err := vhostTemplate.Execute(&b, s); err != nil {
		return nil, nil, fmt.Errorf("render vhost: %w", err)
	}
	vhost = bytes.Clone(b.Bytes())
	if !s.PHP {
		return vhost, nil, nil
	}
	b.Reset()
	if err := poolTemplate.Execute(&b, s); err != nil {
		return nil, nil, fmt.Errorf("render php-fpm pool: %w", err)
	}
	return vhost, b.Bytes(), nil
}

// ApacheQuote returns s as one double-quoted Apache argument. It refuses
// what such an argument cannot carry safely rather than escape it: the
// model's validators never let it through.
func ApacheQuote(s string) (string, error) {
	if err := model.ValidateConfigString(s); err != nil {
		return "", fmt.Errorf("%q cannot be written into an apache config: %w", s, err)
	}
	return `"` + s + `"`, nil
}

// iniQuote returns s as a double-quoted PHP-FPM ini value, refusing quotes,
// backslashes, variables and control characters.
func iniQuote(s string) (string, error) {
	if err := model.ValidateConfigString(s); err != nil {
		return "", fmt.Errorf("%q cannot be written into a php-fpm config: %w", s, err)
	}
	return `"` + s + `"`, nil
}

var wordRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// configWord passes a bare config word (a pool, user or group name).
func configWord(s string) (string, error) {
	if !wordRe.MatchString(s) {
		return "", fmt.Errorf("%q cannot be written into a config as a bare word", s)
	}
	return s, nil
}

// vhostPaths returns where a site's vhost file goes and the symlink that
// enables it ("" when vhosts are written straight into sites-enabled).
func (a *Applier) vhostPaths(name string) (file, link string) {
	if a.cfg.ApacheSitesAvailable == "none" {
		return filepath.Join(a.cfg.ApacheSitesEnabled, name+".conf"), ""
	}
	return filepath.Join(a.cfg.ApacheSitesAvailable, name+".conf"), filepath.Join(a.cfg.ApacheSitesEnabled, name+".conf")
}

func (a *Applier) applyWebConf(ctx context.Context, o model.Order, it model.Item, what op) (string, error) {
	installed := a.phpFPMs()
	php := it.Spec.PHP != nil && *it.Spec.PHP
	var fpm phpFPM // the version the site's pool runs under
	if php {
		var err error
		fpm, err = sitePHP(it.Spec, installed)
		if err != nil && what == opEnsure {
			return "", err
		}
	}
	st := a.site(o, it, fpm.Version)
	file, link := a.vhostPaths(st.Name)
	// The site's pool files in every version's pool directory: one when
	// it is where it belongs, another left in an older version's after
	// its version changed.
	pools := poolFiles(installed, st.Name)

	var changes []FileChange
	touched := map[string]bool{} // versions whose pools change: config-tested and reloaded
	written := false             // the site's pool is written into fpm's pool.d
	var msg string
	var https httpsPlan
	switch what {
	case opEnsure:
		if _, err := a.RequireUser(ctx, it.Spec.Login); err != nil {
			return "", err
		}
		var err error
		if https, err = a.planHTTPS(&st, o, it); err != nil {
			return "", err
		}
		st.TLS = https.tls
		changes = append(changes, https.changes...)
		vhost, pool, err := st.render()
		if err != nil {
			return "", hardf("%w", err)
		}
		changes = append(changes, FileChange{Path: file, Content: vhost})
		if link != "" {
			changes = append(changes, FileChange{Path: link, Link: file})
		}
		if pool != nil {
			changes = append(changes, FileChange{Path: filepath.Join(fpm.PoolDir, st.Name+".conf"), Content: pool})
			touched[fpm.Version], written = true, true
		}
		for v, f := range pools {
			if pool == nil || v != fpm.Version {
				changes = append(changes, FileChange{Path: f, Remove: true})
				touched[v] = true
			}
		}
		msg = fmt.Sprintf("site %s served from %s", st.ServerName, st.DocumentRoot)
		if st.PHP {
			msg += fmt.Sprintf(" with PHP %s as %s", fpm.Version, st.User)
		}
		if https.note != "" {
			msg += "; " + https.note
		}
	case opDisable:
		if link != "" {
			changes = append(changes, FileChange{Path: link, Remove: true})
		} else {
			changes = append(changes, FileChange{Path: file, Remove: true})
		}
		// A disabled site is not renewed; enabling it ensures it again.
		changes = append(changes, FileChange{Path: filepath.Join(a.tlsDir(st.Name), tlsSiteFile), Remove: true})
		msg = fmt.Sprintf("site %s disabled", st.ServerName)
	default:
		changes = append(changes, FileChange{Path: file, Remove: true})
		if link != "" {
			changes = append(changes, FileChange{Path: link, Remove: true})
		}
		for v, f := range pools {
			changes = append(changes, FileChange{Path: f, Remove: true})
			touched[v] = true
		}
		// The copy of the site's own vhost a move's site mode kept aside
		// goes with it (and so does a write of it a kill cut short):
		// nothing of a deleted site stays on the host.
		changes = append(changes, FileChange{Path: file + SiteModeKeep, Remove: true})
		// Reload even when the pool file is gone: a delete cut short after
		// removing it and before the reload left the pool running as the
		// site's login (and the login's deletion then fails).
		if fpm.Version != "" {
			touched[fpm.Version] = true
		}
		msg = fmt.Sprintf("site %s deleted", st.ServerName)
	}

	undo, err := ApplyFileChanges(changes)
	if err != nil {
		return "", err
	}
	fpms := fpmsOf(installed, touched)
	if err := a.checkWebConfig(ctx, fpms); err != nil {
		if uerr := undo(); uerr != nil {
			return "", fmt.Errorf("%w; and putting the previous files back failed: %v", err, uerr)
		}
		return "", err
	}
	// The configs passed their tests: from here on a failure is a reload
	// that did not happen, and applying again retries it. Only now is the
	// docroot handed to the site's login, so a site refused by the tests
	// leaves the order's other sites' files as they were.
	if what == opEnsure {
		if err := a.prepareWebDirs(ctx, o, it.Spec); err != nil {
			return "", err
		}
	}
	for _, p := range fpms {
		// A version the site's pool left (or a deleted site's) needs no
		// master running: with none, no pool of the site runs there.
		serves := written && p.Version == fpm.Version
		if err := reloadFPM(p.PidFile); err != nil && (serves || !errors.Is(err, errFPMNotRunning)) {
			return "", err
		}
	}
	if _, err := a.Run(ctx, nil, slices.Concat(a.cfg.Apachectl, []string{"-k", "graceful"})...); err != nil {
		return "", fmt.Errorf("apache graceful reload failed: %s", OutputOf(err))
	}
	switch {
	case what == opEnsure && https.obtain:
		// The site now answers its ACME challenges over HTTP.
		msg = a.ensureWithCert(ctx, o, it, st.Name, msg)
	case what == opDelete:
		if err := os.RemoveAll(a.tlsDir(st.Name)); err != nil {
			return "", fmt.Errorf("remove the site's certificate: %w", err)
		}
	}
	return msg, nil
}

// fpmsOf returns the installed versions that are in versions, oldest first.
func fpmsOf(installed []phpFPM, versions map[string]bool) []phpFPM {
	var out []phpFPM
	for _, p := range installed {
		if versions[p.Version] {
			out = append(out, p)
		}
	}
	return out
}

// checkWebConfig runs the config test of each PHP-FPM version whose pools
// the change touched, then Apache's.
func (a *Applier) checkWebConfig(ctx context.Context, fpms []phpFPM) error {
	for _, p := range fpms {
		if _, err := a.Run(ctx, nil, p.Binary, "-t"); err != nil {
			return fmt.Errorf("php-fpm %s config test failed: %s", p.Version, OutputOf(err))
		}
	}
	return a.CheckWebConfig(ctx)
}

// CheckWebConfig runs Apache's config test.
func (a *Applier) CheckWebConfig(ctx context.Context) error {
	if _, err := a.Run(ctx, nil, slices.Concat(a.cfg.Apachectl, []string{"configtest"})...); err != nil {
		return fmt.Errorf("apache configtest failed: %s", OutputOf(err))
	}
	return nil
}

// OutputOf returns what a failed command printed, or the error itself.
func OutputOf(err error) string {
	var ce *hostexec.CmdError
	if errors.As(err, &ce) && ce.Output != "" {
		return ce.Output
	}
	return err.Error()
}

// errFPMNotRunning is wrapped when a PHP-FPM master to reload is not
// running.
var errFPMNotRunning = errors.New("php-fpm is not running")

// reloadFPM asks the PHP-FPM master whose pid is in pidFile to reload
// gracefully (SIGUSR2).
func reloadFPM(pidFile string) error {
	data, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (no pid file %s)", errFPMNotRunning, pidFile)
	}
	if err != nil {
		return fmt.Errorf("reload php-fpm: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("reload php-fpm: pid file %s holds %q", pidFile, strings.TrimSpace(string(data)))
	}
	if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("%w (pid %d from %s is gone)", errFPMNotRunning, pid, pidFile)
		}
		return fmt.Errorf("reload php-fpm (pid %d): %w", pid, err)
	}
	return nil
}

// prepareWebDirs hands web/ and the docroot to the site's login with group
// WebGroup (setgid, so new files stay readable by Apache), and lets the
// login read the order's logs. It works through an os.Root on web/, which
// the login owns: a symlink the member planted there cannot lead ferry's
// chown outside it.
func (a *Applier) prepareWebDirs(ctx context.Context, o model.Order, s model.Spec) error {
	u, err := a.RequireUser(ctx, s.Login)
	if err != nil {
		return err
	}
	webGID, _, err := a.lookupGroup(ctx, a.cfg.WebGroup)
	if err != nil {
		return err
	}
	if webGID < 0 {
		return fmt.Errorf("group %s does not exist on this host", a.cfg.WebGroup)
	}
	dir := a.OrderDir(o)
	if err := os.Lchown(filepath.Join(dir, logsDir), -1, u.gid); err != nil {
		return fmt.Errorf("prepare logs directory: %w", err)
	}
	root, err := os.OpenRoot(filepath.Join(dir, WebDir))
	if err != nil {
		return fmt.Errorf("prepare web directory: %w", err)
	}
	defer root.Close()
	paths := []string{"."}
	if rel := strings.TrimPrefix(s.Docroot, WebDir); rel != "" {
		p := "."
		for _, part := range strings.Split(strings.TrimPrefix(rel, "/"), "/") {
			p = filepath.Join(p, part)
			paths = append(paths, p)
		}
	}
	for _, p := range paths {
		if err := root.Mkdir(p, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("make docroot %s: %w", s.Docroot, err)
		}
		fi, err := root.Lstat(p)
		if err != nil {
			return fmt.Errorf("make docroot %s: %w", s.Docroot, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("make docroot %s: %s is not a directory", s.Docroot, filepath.Join(WebDir, p))
		}
		if err := root.Lchown(p, u.uid, webGID); err != nil {
			return fmt.Errorf("make docroot %s: %w", s.Docroot, err)
		}
		if err := root.Chmod(p, 0o750|fs.ModeSetgid); err != nil {
			return fmt.Errorf("make docroot %s: %w", s.Docroot, err)
		}
	}
	return nil
}
