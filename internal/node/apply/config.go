package apply

import (
	"log/slog"
	"slices"

	"ferry/internal/node/hostexec"
)

// Config says where the host keeps what items become. The zero value of a
// field means Debian 12's standard location or command (DefaultConfig), so
// Config{} is right for a stock Debian server.
type Config struct {
	// MembersRoot holds the members' order directories.
	MembersRoot string

	// ApacheSitesAvailable is where vhost files are written; each is enabled
	// by a symlink in ApacheSitesEnabled (a2ensite's way). Set it to "none"
	// to write vhost files straight into ApacheSitesEnabled.
	ApacheSitesAvailable string
	// ApacheSitesEnabled is the directory Apache includes.
	ApacheSitesEnabled string
	// Apachectl is the command that tests and reloads Apache; "configtest"
	// and "-k graceful" are appended.
	Apachectl []string

	// PHPRoot holds one directory per PHP version, named X.Y, each with
	// the fpm/pool.d its PHP-FPM master includes pools from (Debian's
	// /etc/php layout). A version counts as installed when its directory
	// there and its binary in FPMBinDirs both exist.
	PHPRoot string
	// FPMBinDirs are searched for each version's PHP-FPM binary,
	// php-fpmX.Y, which config-tests that version (-t).
	FPMBinDirs []string
	// FPMPidFile holds a PHP-FPM master's pid, signalled to reload;
	// {version} in it stands for the version (X.Y).
	FPMPidFile string
	// FPMSocketDir is where pools listen.
	FPMSocketDir string

	// WebUser and WebGroup are who Apache runs as: they own PHP-FPM's
	// sockets, and the group reads the sites' files.
	WebUser  string
	WebGroup string

	// MySQLSocket is MariaDB's unix socket; ferry connects as root, which
	// Debian's unix_socket authentication lets in for uid 0.
	MySQLSocket string

	// PgDSN is how ferry reaches PostgreSQL as a superuser.
	PgDSN string
	// PgPsql is run with SQL on stdin when the server refuses PgDSN's login
	// (Debian's peer authentication refuses root as postgres). Set it to
	// []string{"none"} to turn the fallback off.
	PgPsql []string

	// HTTPS holds where sites' certificates live and where ACME
	// certificates come from (webconf_https.go).
	HTTPS HTTPSConfig

	// Mail holds where the host's Postfix and Dovecot read the mail items
	// (mail.go).
	Mail MailConfig

	// LockFile is flocked while an item is applied, so that two processes
	// (the agent and a `ferry node apply` by hand) never change the host's
	// shared configs at once.
	LockFile string

	// Logger gets one record per applied item; nil means slog.Default().
	Logger *slog.Logger `json:"-"`

	// Runner runs the host's commands; nil runs them on this host. Tests
	// give a fake host.
	Runner hostexec.Runner `json:"-"`
}

// DefaultConfig returns Debian 12's standard locations and commands.
func DefaultConfig() Config {
	return Config{
		MembersRoot:          "/home/members",
		ApacheSitesAvailable: "/etc/apache2/sites-available",
		ApacheSitesEnabled:   "/etc/apache2/sites-enabled",
		Apachectl:            []string{"apachectl"},
		PHPRoot:              "/etc/php",
		FPMBinDirs:           []string{"/usr/sbin", "/usr/local/sbin"},
		FPMPidFile:           "/run/php/php{version}-fpm.pid",
		FPMSocketDir:         "/run/php",
		WebUser:              "www-data",
		WebGroup:             "www-data",
		MySQLSocket:          "/run/mysqld/mysqld.sock",
		PgDSN:                "host=/run/postgresql user=postgres dbname=postgres sslmode=disable",
		PgPsql:               []string{"runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres"},
		LockFile:             "/run/lock/ferry-node.lock",
		HTTPS: HTTPSConfig{
			TLSDir:       "/etc/ferry/tls",
			ChallengeDir: "/var/www/ferry-acme-challenge",
			AccountDir:   "/var/lib/ferry-node/acme",
		},
	}
}

// WithDefaults fills c's zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	argv := func(v *[]string, def []string) {
		if len(*v) == 0 {
			*v = def
		}
		*v = slices.Clone(*v)
	}
	str(&c.MembersRoot, d.MembersRoot)
	str(&c.ApacheSitesAvailable, d.ApacheSitesAvailable)
	str(&c.ApacheSitesEnabled, d.ApacheSitesEnabled)
	argv(&c.Apachectl, d.Apachectl)
	str(&c.PHPRoot, d.PHPRoot)
	argv(&c.FPMBinDirs, d.FPMBinDirs)
	str(&c.FPMPidFile, d.FPMPidFile)
	str(&c.FPMSocketDir, d.FPMSocketDir)
	str(&c.WebUser, d.WebUser)
	str(&c.WebGroup, d.WebGroup)
	str(&c.MySQLSocket, d.MySQLSocket)
	str(&c.PgDSN, d.PgDSN)
	argv(&c.PgPsql, d.PgPsql)
	str(&c.LockFile, d.LockFile)
	dm := DefaultMailConfig()
	str(&c.Mail.StateDir, dm.StateDir)
	str(&c.Mail.PostfixDir, dm.PostfixDir)
	str(&c.Mail.DovecotUsers, dm.DovecotUsers)
	str(&c.Mail.MailboxDomain, dm.MailboxDomain)
	argv(&c.Mail.Postmap, dm.Postmap)
	argv(&c.Mail.PostfixReload, dm.PostfixReload)
	argv(&c.Mail.DovecotReload, dm.DovecotReload)
	argv(&c.Mail.FlushQueue, dm.FlushQueue)
	if c.Mail.Settle == 0 {
		c.Mail.Settle = dm.Settle
	}
	str(&c.HTTPS.TLSDir, d.HTTPS.TLSDir)
	str(&c.HTTPS.ChallengeDir, d.HTTPS.ChallengeDir)
	str(&c.HTTPS.AccountDir, d.HTTPS.AccountDir)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Runner == nil {
		c.Runner = hostexec.Local{}
	}
	return c
}
