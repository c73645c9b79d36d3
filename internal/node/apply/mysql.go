package apply

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"ferry/internal/model"
)

// MySQLConn opens a connection to MariaDB over its unix socket as root;
// Debian's unix_socket authentication lets uid 0 in without a password.
func (a *Applier) MySQLConn(ctx context.Context) (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "unix"
	c.Addr = a.cfg.MySQLSocket
	c.Timeout = 5 * time.Second
	connector, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("connect to mariadb: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mariadb is not reachable at %s: %w", a.cfg.MySQLSocket, err)
	}
	return db, nil
}

// MySQLIdent quotes a MariaDB identifier in backticks.
func MySQLIdent(s string) (string, error) {
	if s == "" || strings.ContainsRune(s, 0) {
		return "", hardf("%q cannot be a mariadb identifier", s)
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`", nil
}

// MySQLString quotes a MariaDB string literal. It refuses backslashes
// instead of escaping them, so the literal means the same whether or not the
// server runs with NO_BACKSLASH_ESCAPES.
func MySQLString(s string) (string, error) {
	if strings.ContainsAny(s, "\\\x00") {
		return "", hardf("%q cannot be a mariadb string literal", s)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}

// MySQLGrantDB quotes a database name for GRANT and REVOKE, where _ and %
// are wildcards unless escaped: a grant on my_db must not also open myXdb.
func MySQLGrantDB(name string) (string, error) {
	escaped := strings.NewReplacer(`_`, `\_`, `%`, `\%`).Replace(name)
	return MySQLIdent(escaped)
}

// MySQLAccount returns 'name'@'localhost'.
func MySQLAccount(name string) (string, error) {
	q, err := MySQLString(name)
	if err != nil {
		return "", err
	}
	return q + "@'localhost'", nil
}

func (a *Applier) applyMySQLDB(ctx context.Context, it model.Item, what op) (string, error) {
	name := it.Spec.Name
	if what == opDisable {
		// A database has no login of its own: its mysql-user items are
		// what a member disables to shut it.
		return fmt.Sprintf("database %s kept; access to it goes through its mysql-user items", name), nil
	}
	db, err := a.MySQLConn(ctx)
	if err != nil {
		return "", err
	}
	defer db.Close()
	ident, err := MySQLIdent(name)
	if err != nil {
		return "", err
	}
	if what == opDelete {
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ident); err != nil {
			return "", fmt.Errorf("drop mariadb database %s: %w", name, err)
		}
		return fmt.Sprintf("database %s dropped", name), nil
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+ident+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return "", fmt.Errorf("create mariadb database %s: %w", name, err)
	}
	return fmt.Sprintf("database %s ready", name), nil
}

func (a *Applier) applyMySQLUser(ctx context.Context, it model.Item, what op) (string, error) {
	s := it.Spec
	account, err := MySQLAccount(s.Name)
	if err != nil {
		return "", err
	}
	db, err := a.MySQLConn(ctx)
	if err != nil {
		return "", err
	}
	defer db.Close()
	switch what {
	case opDelete:
		if _, err := db.ExecContext(ctx, "DROP USER IF EXISTS "+account); err != nil {
			return "", fmt.Errorf("drop mariadb user %s: %w", s.Name, err)
		}
		return fmt.Sprintf("mariadb user %s dropped", s.Name), nil
	case opDisable:
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = 'localhost'", s.Name).Scan(&n); err != nil {
			return "", fmt.Errorf("look up mariadb user %s: %w", s.Name, err)
		}
		if n == 0 {
			return "", fmt.Errorf("cannot disable mariadb user %s: it does not exist", s.Name)
		}
		if _, err := db.ExecContext(ctx, "ALTER USER "+account+" ACCOUNT LOCK"); err != nil {
			return "", fmt.Errorf("lock mariadb user %s: %w", s.Name, err)
		}
		return fmt.Sprintf("mariadb user %s locked", s.Name), nil
	}
	hash, err := MySQLString(s.PasswordHash)
	if err != nil {
		return "", err
	}
	// CREATE … IF NOT EXISTS leaves an existing user as it was; ALTER then
	// makes it match the spec either way, and lifts a lock left by disable.
	if _, err := db.ExecContext(ctx, "CREATE USER IF NOT EXISTS "+account+" IDENTIFIED BY PASSWORD "+hash); err != nil {
		return "", fmt.Errorf("create mariadb user %s: %w", s.Name, err)
	}
	if _, err := db.ExecContext(ctx, "ALTER USER "+account+" IDENTIFIED BY PASSWORD "+hash+" ACCOUNT UNLOCK"); err != nil {
		return "", fmt.Errorf("update mariadb user %s: %w", s.Name, err)
	}
	if err := syncMySQLGrants(ctx, db, s.Name, account, s.Databases); err != nil {
		return "", err
	}
	if len(s.Databases) == 0 {
		return fmt.Sprintf("mariadb user %s ready, without databases", s.Name), nil
	}
	return fmt.Sprintf("mariadb user %s ready with all privileges on %s", s.Name, strings.Join(s.Databases, ", ")), nil
}

// syncMySQLGrants gives the user all privileges on each database it should
// have and revokes its grants on every other database.
func syncMySQLGrants(ctx context.Context, db *sql.DB, name, account string, want []string) error {
	rows, err := db.QueryContext(ctx, "SELECT Db FROM mysql.db WHERE User = ? AND Host = 'localhost'", name)
	if err != nil {
		return fmt.Errorf("read grants of mariadb user %s: %w", name, err)
	}
	var have []string // as stored: escaped patterns
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return fmt.Errorf("read grants of mariadb user %s: %w", name, err)
		}
		have = append(have, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read grants of mariadb user %s: %w", name, err)
	}
	unescape := strings.NewReplacer(`\_`, `_`, `\%`, `%`)
	for _, stored := range have {
		if slices.Contains(want, unescape.Replace(stored)) {
			continue
		}
		ident, err := MySQLIdent(stored)
		if err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "REVOKE ALL PRIVILEGES ON "+ident+".* FROM "+account); err != nil {
			return fmt.Errorf("revoke grants of mariadb user %s on %s: %w", name, stored, err)
		}
	}
	for _, d := range want {
		ident, err := MySQLGrantDB(d)
		if err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "GRANT ALL PRIVILEGES ON "+ident+".* TO "+account); err != nil {
			return fmt.Errorf("grant mariadb user %s all privileges on %s: %w", name, d, err)
		}
	}
	return nil
}
