package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Paths of the programs a lab host runs.
const (
	sshdPath     = "/usr/sbin/sshd"
	mariadbdPath = "/usr/sbin/mariadbd"
	pgBin        = "/usr/lib/postgresql/15/bin"
	phpFPMPath   = "/usr/sbin/php-fpm8.2"
	apachePath   = "/usr/sbin/apache2"
	cronPath     = "/usr/sbin/cron"
	knotdPath    = "/usr/sbin/knotd"
	pgDataDir    = "/var/lib/postgresql/15/main"
	pgConfDir    = "/etc/postgresql/15/main"
	phpFPMSocket = "/run/php/php8.2-fpm.sock"
	serviceLogs  = "/var/log/ferry-lab"
)

// requiredTools are the programs Up needs; `make lab-deps` installs them.
var requiredTools = []string{
	"nsenter", "cp", "ssh-keygen", "nft", "mariadb-install-db",
	sshdPath, mariadbdPath, pgBin + "/postgres", pgBin + "/initdb",
	phpFPMPath, apachePath, cronPath, knotdPath, "knotc",
	postfixMaster, "postfix", "postmap", dovecotPath, "doveadm",
}

// checkTools reports the required programs and mount points that are missing.
func checkTools() error {
	var missing []string
	for _, t := range requiredTools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	for _, c := range coveredPaths {
		if c.Target == nodeStateDir {
			continue // ferry's own; Up makes it
		}
		if fi, err := os.Stat(c.Target); err != nil || !fi.IsDir() {
			missing = append(missing, c.Target+"/")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (run `make lab-deps`)", ErrMissingTools, strings.Join(missing, ", "))
	}
	return nil
}

// hostDir returns the directory of a host inside the lab directory.
func hostDir(labDir, name string) string {
	return filepath.Join(labDir, "hosts", name)
}

// prepareHost builds a host's private tree under its directory (a copy of
// /etc with the host's own configuration and keys, fresh data directories,
// empty /run, /tmp, /home, /root) and its spec file. It runs on the machine,
// before the host's first process starts.
func prepareHost(ctx context.Context, log *slog.Logger, h HostSpec, all []HostSpec, st *State) (initSpec, error) {
	dir := hostDir(st.Dir, h.Name)
	p := &preparer{ctx: ctx, log: log, dir: dir}
	web, dns := hasRole(h.Roles, RoleWeb), hasRole(h.Roles, RoleDNS)

	p.mkdir("", 0o755, "root", "root")
	p.run("cp", "-a", "/etc", filepath.Join(dir, "etc"))
	p.write("etc/hostname", h.Name+"\n", 0o644)
	p.write("etc/hosts", renderHosts(h, all, controlAddrOf(st)), 0o644)

	// ssh: the machine's host keys stay behind; the host gets its own.
	if keys, err := filepath.Glob(filepath.Join(dir, "etc/ssh/ssh_host_*")); err == nil {
		for _, k := range keys {
			p.remove(k)
		}
	}
	p.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@"+h.Name,
		"-f", filepath.Join(dir, "etc/ssh/ssh_host_ed25519_key"))
	p.write("etc/ssh/sshd_config", renderSSHD(h), 0o644)
	p.mkdir("etc/ssh/ssh_config.d", 0o755, "root", "root")
	p.write("etc/ssh/ssh_config.d/ferry-lab.conf", renderSSHClient(h), 0o644)

	p.mkdir("root", 0o700, "root", "root")
	p.mkdir("home", 0o755, "root", "root")
	p.mkdir("tmp", 0o1777, "root", "root")
	p.run("cp", "-a", "/var/www", filepath.Join(dir, "www"))
	p.makeRun(web, dns)
	p.mkdir("log", 0o755, "root", "root")
	p.mkdir("log/ferry-lab", 0o750, "root", "adm")
	p.mkdir("cron", 0o755, "root", "root")
	p.mkdir("cron/crontabs", 0o1730, "root", "crontab")
	p.mkdir("mysql", 0o755, "mysql", "mysql")
	p.mkdir("postgresql", 0o755, "postgres", "postgres")
	p.mkdir("knot", 0o770, "knot", "knot")
	p.mkdir("ferry-node", 0o700, "root", "root")
	if !web {
		p.mkdir("postfix-spool", 0o755, "root", "root")
		p.mkdir("postfix-lib", 0o755, "postfix", "postfix")
		p.mkdir("dovecot-lib", 0o755, "root", "root")
	}

	services := []serviceSpec{{Name: ServiceSSH, Argv: []string{sshdPath, "-D", "-e", "-f", "/etc/ssh/sshd_config"}, Autostart: true}}
	if web {
		p.prepareWeb(h)
		p.prepareMail(h)
		services = append(services,
			serviceSpec{Name: ServiceMariaDB, Argv: []string{mariadbdPath}, Autostart: true},
			serviceSpec{Name: ServicePostgres, User: "postgres", StopSignal: syscall.SIGINT, Autostart: true,
				Argv: []string{pgBin + "/postgres", "-D", pgDataDir, "-c", "config_file=" + pgConfDir + "/postgresql.conf"}},
			serviceSpec{Name: ServicePHP, Argv: []string{phpFPMPath, "--nodaemonize", "--fpm-config", "/etc/php/8.2/fpm/php-fpm.conf"}, Autostart: true},
			serviceSpec{Name: ServiceApache, Argv: []string{apachePath, "-DFOREGROUND"}, Env: apacheEnv, Autostart: true},
			serviceSpec{Name: ServiceCron, Argv: []string{cronPath, "-f"}, Autostart: true},
			serviceSpec{Name: ServiceDovecot, Argv: []string{dovecotPath, "-F"}, Autostart: true},
			serviceSpec{Name: ServicePostfix, Argv: []string{postfixMaster, "-d"}, Autostart: true},
		)
	}
	if dns {
		p.prepareDNS(h, st)
		services = append(services, serviceSpec{Name: ServiceKnot, Argv: []string{knotdPath, "-c", "/etc/knot/knot.conf"}, Autostart: true})
	}
	// The agent's command needs a token from the control plane; it is given
	// when the agent is started.
	services = append(services, serviceSpec{Name: ServiceAgent})
	if p.err != nil {
		return initSpec{}, fmt.Errorf("prepare %s: %w", h.Name, p.err)
	}

	spec := initSpec{
		Name:     h.Name,
		Address:  h.Address,
		Services: services,
		Control:  filepath.Join(dir, "ctl.sock"),
		LogDir:   serviceLogs,
	}
	for _, c := range coveredPaths {
		spec.Mounts = append(spec.Mounts, mountSpec{Source: filepath.Join(dir, c.Src), Target: c.Target})
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return initSpec{}, fmt.Errorf("prepare %s: %w", h.Name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "host.json"), data, 0o600); err != nil {
		return initSpec{}, fmt.Errorf("prepare %s: %w", h.Name, err)
	}
	return spec, nil
}

// apacheEnv is what Debian's /etc/apache2/envvars would set.
var apacheEnv = []string{
	"APACHE_RUN_USER=www-data",
	"APACHE_RUN_GROUP=www-data",
	"APACHE_PID_FILE=/run/apache2/apache2.pid",
	"APACHE_RUN_DIR=/run/apache2",
	"APACHE_LOCK_DIR=/run/lock/apache2",
	"APACHE_LOG_DIR=/var/log/apache2",
}

// makeRun makes the host's /run tree, empty but for the directories its
// services keep their sockets, pid and lock files in: as a boot makes it
// on a real server, where /run is a fresh tmpfs.
func (p *preparer) makeRun(web, dns bool) {
	p.mkdir("run", 0o755, "root", "root")
	p.mkdir("run/lock", 0o1777, "root", "root")
	p.mkdir("run/sshd", 0o755, "root", "root")
	if web {
		p.mkdir("run/mysqld", 0o755, "mysql", "mysql")
		p.mkdir("run/postgresql", 0o2775, "postgres", "postgres")
		p.mkdir("run/php", 0o755, "root", "root")
		p.mkdir("run/apache2", 0o755, "root", "root")
		p.mkdir("run/lock/apache2", 0o755, "www-data", "root")
		p.mkdir("run/dovecot", 0o755, "root", "root")
	}
	if dns {
		p.mkdir("run/knot", 0o755, "knot", "knot")
	}
}

// prepareWeb gives a web host fresh MariaDB and PostgreSQL data directories,
// their configuration, and Apache with PHP-FPM on the host's address.
func (p *preparer) prepareWeb(h HostSpec) {
	p.mkdir("log/mysql", 0o2750, "mysql", "adm")
	p.mkdir("log/postgresql", 0o1775, "postgres", "postgres")
	p.mkdir("log/apache2", 0o750, "root", "adm")

	p.write("etc/mysql/mariadb.conf.d/99-ferry-lab.cnf", renderMariaDB(h), 0o644)
	p.run("mariadb-install-db", "--user=mysql", "--datadir="+filepath.Join(p.dir, "mysql"),
		"--auth-root-authentication-method=socket", "--skip-test-db",
		"--innodb-log-file-size="+mariadbLogFileSize,
		// Its temporary files are named after its pid, which is 1 in every
		// host being prepared: each needs a directory of its own.
		"--tmpdir="+filepath.Join(p.dir, "tmp"))

	p.mkdir("postgresql/15", 0o755, "postgres", "postgres")
	p.runAs("postgres", pgBin+"/initdb", "-D", filepath.Join(p.dir, "postgresql/15/main"),
		"--encoding=UTF8", "--locale=C.UTF-8", "--auth=peer", "--no-sync")
	// Debian keeps the configuration in /etc/postgresql, as here.
	for _, f := range []string{"postgresql.conf", "pg_hba.conf", "pg_ident.conf"} {
		p.remove(filepath.Join(p.dir, "postgresql/15/main", f))
	}
	p.mkdir("etc/postgresql/15/main/conf.d", 0o755, "postgres", "postgres")
	p.write("etc/postgresql/15/main/conf.d/ferry-lab.conf", renderPostgres(h), 0o644)
	p.write("etc/postgresql/15/main/pg_hba.conf", renderPgHBA(), 0o640)
	p.write("etc/postgresql/15/main/pg_ident.conf", renderPgIdent(), 0o640)
	p.chown("etc/postgresql/15/main/pg_hba.conf", "postgres", "postgres")
	p.chown("etc/postgresql/15/main/pg_ident.conf", "postgres", "postgres")

	p.write("etc/apache2/ports.conf", renderApachePorts(h), 0o644)
	p.write("etc/apache2/conf-available/ferry-lab.conf", renderApacheLab(h), 0o644)
	p.symlink("../conf-available/ferry-lab.conf", "etc/apache2/conf-enabled/ferry-lab.conf")
	p.symlink("../conf-available/php8.2-fpm.conf", "etc/apache2/conf-enabled/php8.2-fpm.conf")
	// mod_ssl (with its session cache), mod_headers and mod_rewrite for
	// HTTPS sites, their HSTS header and their HTTP redirect.
	for _, m := range []string{"proxy.load", "proxy.conf", "proxy_fcgi.load", "setenvif.load", "setenvif.conf",
		"socache_shmcb.load", "ssl.load", "ssl.conf", "headers.load", "rewrite.load"} {
		p.symlink("../mods-available/"+m, "etc/apache2/mods-enabled/"+m)
	}
}

// prepareDNS gives the dns host Knot with the lab's TSIG key and zones.
func (p *preparer) prepareDNS(h HostSpec, st *State) {
	p.write("etc/knot/knot.conf", renderKnot(h, *st.TSIG, st.Zones), 0o640)
	// For the host's agent, which sends Knot updates signed with it.
	p.mkdir("etc/ferry-lab", 0o700, "root", "root")
	p.write("etc/ferry-lab/tsig.secret", st.TSIG.Secret+"\n", 0o600)
	p.chown("etc/knot/knot.conf", "root", "knot")
	for _, z := range st.Zones {
		p.writeZone(z, h.Address)
	}
}

// writeZone writes a test zone's starting zone file for Knot.
func (p *preparer) writeZone(zone, nsAddr string) {
	f := "knot/" + strings.TrimSuffix(zone, ".") + ".zone"
	p.write(f, renderZone(zone, nsAddr), 0o640)
	p.chown(f, "knot", "knot")
}

// preparer runs the steps of prepareHost and keeps the first error, so that
// the steps read as a list.
type preparer struct {
	ctx context.Context
	log *slog.Logger
	dir string
	err error
}

func (p *preparer) path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(p.dir, rel)
}

func (p *preparer) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *preparer) mkdir(rel string, mode os.FileMode, owner, group string) {
	if p.err != nil {
		return
	}
	path := p.path(rel)
	if err := os.MkdirAll(path, 0o755); err != nil {
		p.fail(err)
		return
	}
	p.chown(path, owner, group)
	// Chmod after chown: chown clears the setgid bit.
	if err := os.Chmod(path, mode.Perm()|modeBits(mode)); err != nil {
		p.fail(err)
	}
}

// modeBits carries the setuid, setgid and sticky bits over to os.Chmod.
func modeBits(m os.FileMode) os.FileMode {
	var out os.FileMode
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	return out
}

func (p *preparer) write(rel, content string, mode os.FileMode) {
	if p.err != nil {
		return
	}
	path := p.path(rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.fail(err)
		return
	}
	// Remove first: the copy of /etc may hold a symlink at this name.
	_ = os.Remove(path)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		p.fail(err)
	}
}

func (p *preparer) remove(path string) {
	if p.err != nil {
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		p.fail(err)
	}
}

func (p *preparer) symlink(target, rel string) {
	if p.err != nil {
		return
	}
	path := p.path(rel)
	_ = os.Remove(path)
	if err := os.Symlink(target, path); err != nil {
		p.fail(err)
	}
}

func (p *preparer) chown(rel, owner, group string) {
	if p.err != nil {
		return
	}
	uid, gid, err := lookupIDs(owner, group)
	if err != nil {
		p.fail(err)
		return
	}
	if err := os.Lchown(p.path(rel), uid, gid); err != nil {
		p.fail(err)
	}
}

func (p *preparer) run(name string, args ...string) {
	p.runAs("", name, args...)
}

// runAs runs a program, as user when set, and fails with its output.
func (p *preparer) runAs(userName, name string, args ...string) {
	if p.err != nil {
		return
	}
	cmd := exec.CommandContext(p.ctx, name, args...)
	cmd.Dir = "/"
	// The program is PID 1 of a PID namespace of its own and dies with the
	// process that runs Up: when Up is killed, nothing it started (such as
	// the server mariadb-install-db runs) goes on writing into the lab
	// directory while Down removes it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	if userName != "" {
		uid, gid, err := lookupIDs(userName, userName)
		if err != nil {
			p.fail(err)
			return
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	t0 := time.Now()
	defer func() {
		p.log.Debug("prepare step", "dir", p.dir, "cmd", name, "took", time.Since(t0).Round(time.Millisecond))
	}()
	out, err := cmd.CombinedOutput()
	if cerr := p.ctx.Err(); cerr != nil {
		p.fail(fmt.Errorf("%s: %w", name, cerr))
		return
	}
	if err != nil {
		p.fail(fmt.Errorf("%s: %w: %s", name, err, excerpt(string(out), 1200)))
	}
}

// lookupIDs finds a user's and a group's numeric ids on the machine; hosts
// start with a copy of the machine's /etc, so they are the same there.
func lookupIDs(owner, group string) (int, int, error) {
	u, err := user.Lookup(owner)
	if err != nil {
		return 0, 0, fmt.Errorf("look up user: %w", err)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, 0, fmt.Errorf("look up group: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("user %s: %w", owner, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, 0, fmt.Errorf("group %s: %w", group, err)
	}
	return uid, gid, nil
}

// tail returns at most the last n bytes of s, trimmed.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// excerpt shortens s to about n bytes, keeping its start and its end, where
// programs tend to say what went wrong.
func excerpt(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n/2] + "\n…\n" + s[len(s)-n/2:]
}

// controlAddrOf is the control plane address of a lab.
func controlAddrOf(st *State) string {
	return Config{Subnet: st.Subnet}.controlAddress()
}
