package labtest

import (
	"context"
	"path"
	"slices"
	"strings"
	"time"

	"ferry/internal/model"
	"ferry/internal/wire"
)

// trace is every name by which an order can be found on a host: what a
// move's cleanup, an abort or a deleted order must leave no trace of.
type trace struct {
	identifier  string
	dir         string
	logins      []string
	mysqlDBs    []string
	mysqlUsers  []string
	pgDBs       []string
	pgRoles     []string
	serverNames []string
	mailDomains []string
}

// traceOf gathers the names of an order from its items (any host, any
// state: a moved order's items carry the same names on both hosts).
func traceOf(identifier, dir string, items []model.Item) trace {
	t := trace{identifier: identifier, dir: dir}
	add := func(list *[]string, v string) {
		if v != "" && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for _, it := range items {
		s := it.Spec
		switch it.Kind {
		case model.KindUserAccount:
			add(&t.logins, s.Login)
		case model.KindMySQLDB:
			add(&t.mysqlDBs, s.Name)
		case model.KindMySQLUser:
			add(&t.mysqlUsers, s.Name)
		case model.KindPgSQLDB:
			add(&t.pgDBs, s.Name)
			add(&t.pgRoles, s.Owner)
		case model.KindWebConf:
			for _, n := range s.ServerNames {
				add(&t.serverNames, n)
			}
		case model.KindEmailAddress:
			add(&t.mailDomains, model.EmailDomain(s.Address))
		}
	}
	return t
}

// sqlList quotes names as a SQL list of string literals; lab names hold no
// quote.
func sqlList(names []string) string {
	return "'" + strings.Join(names, "','") + "'"
}

// leftovers lists what host still holds of the order: Unix users and
// groups, crontabs and mail spools, the order's directory, any file in /etc
// that names its directory or one of its server names (vhosts, pools,
// certificates, mail maps, the mail userdb), the node's mail state, a vhost, pool or crontab file named after its
// login, an HTTPS site's certificate directory, MariaDB databases, users
// and grants on its databases, PostgreSQL databases and roles.
func (e *Env) leftovers(host string, t trace) []string {
	var left []string
	for _, l := range t.logins {
		for _, db := range []string{"passwd", "group"} {
			if _, err := e.On(host, "getent", db, l); err == nil {
				left = append(left, db+" entry "+l)
			}
		}
		for _, f := range []string{"/var/spool/cron/crontabs/" + l, "/var/mail/" + l} {
			if _, err := e.On(host, "test", "-e", f); err == nil {
				left = append(left, f)
			}
		}
	}
	if _, err := e.On(host, "test", "-e", t.dir); err == nil {
		left = append(left, "directory "+t.dir)
	}
	grep := []string{"grep", "-rlsF", "-e", t.dir}
	for _, n := range append(slices.Clone(t.serverNames), t.mailDomains...) {
		grep = append(grep, "-e", n)
	}
	// The node's mail state (its maps are rendered from it, a moved
	// order's relay included) is outside /etc.
	if out, _ := e.On(host, append(slices.Clone(grep), "/var/lib/ferry-node/mail")...); strings.TrimSpace(out) != "" {
		left = append(left, "mail state naming the order: "+strings.Join(strings.Fields(out), ", "))
	}
	// passwd-, group-, shadow- and gshadow- (the account tools' backups)
	// are searched too: the node refreshes them when it deletes a user.
	if out, _ := e.On(host, append(grep, "/etc")...); strings.TrimSpace(out) != "" {
		left = append(left, "files in /etc naming the order: "+strings.Join(strings.Fields(out), ", "))
	}
	// /etc/ferry/tls holds an HTTPS site's certificate and key, in a
	// directory named like its vhost.
	if out, _ := e.On(host, "sh", "-c", "ls -a /etc/apache2/sites-available /etc/apache2/sites-enabled /etc/php/*/fpm/pool.d /var/spool/cron/crontabs /etc/ferry/tls 2>/dev/null"); out != "" {
		for _, f := range strings.Fields(out) {
			for _, l := range append(slices.Clone(t.logins), t.identifier) {
				if strings.Contains(f, l) {
					left = append(left, "config file "+f)
				}
			}
		}
	}
	if len(t.mysqlDBs) > 0 {
		if dbs, _ := e.On(host, "mariadb", "-N", "-e", "SHOW DATABASES"); dbs != "" {
			for _, db := range t.mysqlDBs {
				if slices.Contains(strings.Split(dbs, "\n"), db) {
					left = append(left, "MariaDB database "+db)
				}
			}
		}
		q := "SELECT CONCAT('grant to ', User, '@', Host, ' on ', Db) FROM mysql.db WHERE REPLACE(Db, '\\\\_', '_') IN (" + sqlList(t.mysqlDBs) + ")" +
			" UNION SELECT CONCAT('table grant to ', User, '@', Host, ' on ', Db, '.', Table_name) FROM mysql.tables_priv WHERE Db IN (" + sqlList(t.mysqlDBs) + ")" +
			" UNION SELECT CONCAT('routine grant to ', User, '@', Host, ' on ', Db, '.', Routine_name) FROM mysql.procs_priv WHERE Db IN (" + sqlList(t.mysqlDBs) + ")"
		if out, _ := e.On(host, "mariadb", "-N", "-e", q); strings.TrimSpace(out) != "" {
			left = append(left, "MariaDB "+strings.Join(strings.Split(strings.TrimSpace(out), "\n"), "; "))
		}
	}
	if len(t.mysqlUsers) > 0 {
		if out, _ := e.On(host, "mariadb", "-N", "-e", "SELECT CONCAT(User, '@', Host) FROM mysql.global_priv WHERE User IN ("+sqlList(t.mysqlUsers)+")"); strings.TrimSpace(out) != "" {
			left = append(left, "MariaDB users "+strings.Join(strings.Fields(out), ", "))
		}
	}
	if len(t.pgDBs) > 0 {
		q := "SELECT 'database ' || datname FROM pg_database WHERE datname IN (" + sqlList(t.pgDBs) + ") UNION SELECT 'role ' || rolname FROM pg_roles WHERE rolname IN (" + sqlList(append(slices.Clone(t.pgDBs), t.pgRoles...)) + ")"
		if out, _ := e.On(host, "runuser", "-u", "postgres", "--", "psql", "-X", "-A", "-t", "-c", q); strings.TrimSpace(out) != "" {
			left = append(left, "PostgreSQL "+strings.Join(strings.Split(strings.TrimSpace(out), "\n"), "; "))
		}
	}
	return left
}

// WaitNothingOn waits until host holds nothing of the order whose
// directory is dir: nothing named by login or db, and nothing named by any
// of the order's items (leftovers lists what is looked at). The order is
// found by its directory's last element, its identifier; an order already
// deleted is checked by the names given.
func (e *Env) WaitNothingOn(host, login, db, dir string) {
	e.T.Helper()
	identifier := path.Base(dir)
	items, _ := e.Admin.ListItems(context.Background(), wire.ItemQuery{Order: identifier})
	items = append(items, model.Item{Kind: model.KindUserAccount, Spec: model.Spec{Login: login}},
		model.Item{Kind: model.KindMySQLDB, Spec: model.Spec{Name: db}})
	t := traceOf(identifier, dir, items)
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := e.leftovers(host, t)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("%s still holds of order %s: %s", host, identifier, strings.Join(left, "; "))
		}
		time.Sleep(300 * time.Millisecond)
	}
}
