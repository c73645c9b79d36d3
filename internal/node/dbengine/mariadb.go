package dbengine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"ferry/internal/model"
	"ferry/internal/node/hostexec"
)

// MariaDB is the MariaDB engine ("mysql"): mysql-db and mysql-user items,
// and a move's loads as a temporary account.
type MariaDB struct{ h Host }

// Name is "mysql".
func (MariaDB) Name() string { return "mysql" }

// Kinds are mysql-db and mysql-user.
func (MariaDB) Kinds() []model.Kind { return []model.Kind{model.KindMySQLDB, model.KindMySQLUser} }

// Apply makes a mysql-db or mysql-user item.
func (e MariaDB) Apply(ctx context.Context, kind model.Kind, s model.Spec, what Op) (string, error) {
	if kind == model.KindMySQLUser {
		return e.applyUser(ctx, s, what)
	}
	return e.applyDB(ctx, s, what)
}

// Dump writes part's tables and sequences (a MariaDB sequence is a table),
// each made again with its rows; with part nil, every table.
func (e MariaDB) Dump(db string, part *DumpPart) []string {
	if part == nil {
		return e.dumpArgv(db)
	}
	argv := e.dumpArgv(db, slices.Concat(part.Tables, part.Sequences)...)
	if part.Where != "" {
		// The options go before the database's name.
		at := slices.Index(argv, "--") - 1
		argv = slices.Insert(argv, at, "--no-create-info", "--skip-disable-keys", "--where="+part.Where)
	}
	return argv
}

// dumpArgv dumps tables of db, one consistent snapshot, rows streamed
// without buffering, without triggers (they are made again, object by
// object, with a definer of the order's own), with rows up to the
// protocol's largest packet (Debian's mysqldump.cnf says 16M). The load
// takes no LOCK TABLES: a table whose rows load under one fails with
// "Table … was not locked" when another load makes, beside it, a table
// whose foreign key refers to it. The table names come after "--", so a
// name starting with "-" stays a name.
func (e MariaDB) dumpArgv(db string, tables ...string) []string {
	argv := []string{"mariadb-dump", "--socket=" + e.h.MySQLSocket, "--user=root",
		"--single-transaction", "--quick", "--skip-lock-tables", "--skip-add-locks", "--skip-triggers", "--no-tablespaces",
		"--default-character-set=utf8mb4", "--hex-blob", "--max-allowed-packet=1G", db, "--"}
	return append(argv, tables...)
}

// Check accepts every move database: MariaDB needs no more than its name.
func (MariaDB) Check(model.MoveDB) error { return nil }

// MySQLConn opens a connection to MariaDB over its unix socket as root;
// Debian's unix_socket authentication lets uid 0 in without a password.
// Its sessions run in UTC, so that a TIMESTAMP reads the same on hosts
// whose clocks are set to different time zones (sums, row lists).
func (h Host) MySQLConn(ctx context.Context) (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "unix"
	c.Addr = h.MySQLSocket
	c.Timeout = 5 * time.Second
	c.Params = map[string]string{"time_zone": "'+00:00'"}
	connector, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("connect to mariadb: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mariadb is not reachable at %s: %w", h.MySQLSocket, err)
	}
	return db, nil
}

func (e MariaDB) applyDB(ctx context.Context, s model.Spec, what Op) (string, error) {
	name := s.Name
	if what == Disable {
		// A database has no login of its own: its mysql-user items are
		// what a member disables to shut it.
		return fmt.Sprintf("database %s kept; access to it goes through its mysql-user items", name), nil
	}
	db, err := e.h.MySQLConn(ctx)
	if err != nil {
		return "", err
	}
	defer db.Close()
	ident, err := MySQLIdent(name)
	if err != nil {
		return "", err
	}
	if what == Delete {
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

func (e MariaDB) applyUser(ctx context.Context, s model.Spec, what Op) (string, error) {
	account, err := MySQLAccount(s.Name)
	if err != nil {
		return "", err
	}
	db, err := e.h.MySQLConn(ctx)
	if err != nil {
		return "", err
	}
	defer db.Close()
	switch what {
	case Delete:
		if _, err := db.ExecContext(ctx, "DROP USER IF EXISTS "+account); err != nil {
			return "", fmt.Errorf("drop mariadb user %s: %w", s.Name, err)
		}
		return fmt.Sprintf("mariadb user %s dropped", s.Name), nil
	case Disable:
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

// Load makes a temporary account with every right on db and returns the
// mariadb client that loads stdin as it.
func (e MariaDB) Load(ctx context.Context, _ int64, db model.MoveDB, name, password string, stdin io.Reader) (hostexec.Cmd, func() error, error) {
	drop, err := e.loadAccount(ctx, db.Name, name, password)
	if err != nil {
		return hostexec.Cmd{}, nil, err
	}
	return hostexec.Cmd{
		Argv: []string{"mariadb", "--no-defaults", "--protocol=socket", "--socket=" + e.h.MySQLSocket,
			"--user=" + name, "--sandbox", "--batch", "--silent", "--default-character-set=utf8mb4", "--max-allowed-packet=1G", db.Name},
		Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/", "MYSQL_PWD=" + password},
		Stdin: stdin,
	}, drop, nil
}

// loadAccount makes a MariaDB account with every right on db and no
// other, and returns how to drop it.
func (e MariaDB) loadAccount(ctx context.Context, db, name, password string) (func() error, error) {
	conn, err := e.h.MySQLConn(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := MySQLAccount(name)
	if err != nil {
		conn.Close()
		return nil, err
	}
	pw, err := MySQLString(password)
	if err != nil {
		conn.Close()
		return nil, err
	}
	grantDB, err := MySQLGrantDB(db)
	if err != nil {
		conn.Close()
		return nil, err
	}
	drop := func() error {
		defer conn.Close()
		_, err := conn.ExecContext(context.WithoutCancel(ctx), "DROP USER IF EXISTS "+acct)
		return err
	}
	if _, err := conn.ExecContext(ctx, "CREATE USER "+acct+" IDENTIFIED BY "+pw); err != nil {
		conn.Close()
		return nil, fmt.Errorf("make temporary account: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "GRANT ALL PRIVILEGES ON "+grantDB+".* TO "+acct); err != nil {
		return nil, errors.Join(fmt.Errorf("grant temporary account: %w", err), drop())
	}
	// A row as large as the old host holds must fit one statement here:
	// max_allowed_packet is read when a connection opens, and only as a
	// server-wide value. It is an upper bound (memory is taken as packets
	// need it), so it is raised to the protocol's largest, and said so.
	var packet int64
	if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.max_allowed_packet").Scan(&packet); err != nil {
		return nil, errors.Join(fmt.Errorf("read max_allowed_packet: %w", err), drop())
	}
	if packet < 1<<30 {
		if _, err := conn.ExecContext(ctx, "SET GLOBAL max_allowed_packet = 1073741824"); err != nil {
			return nil, errors.Join(fmt.Errorf("raise max_allowed_packet: %w", err), drop())
		}
		e.h.Log.Info("move load: raised the server's max_allowed_packet so that every row of the old host fits (until the server restarts)", "database", db, "from", packet, "to", 1<<30)
	}
	return drop, nil
}

// DropLoadAccounts sweeps the server's accounts once, whatever the
// databases.
func (e MariaDB) DropLoadAccounts(ctx context.Context, prefix string, _ []model.MoveDB) ([]string, error) {
	var removed []string
	var errs []error
	names, err := e.loadAccounts(ctx, prefix)
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		acct, err := MySQLAccount(n)
		if err == nil {
			if err = e.exec(ctx, "DROP USER IF EXISTS "+acct); err == nil {
				removed = append(removed, "mariadb account "+n)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// loadAccounts names the accounts starting with prefix.
func (e MariaDB) loadAccounts(ctx context.Context, prefix string) ([]string, error) {
	conn, err := e.h.MySQLConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT User FROM mysql.user WHERE Host = 'localhost' AND User LIKE ?", strings.ReplaceAll(prefix, "_", `\_`)+"%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// exec runs one statement as root.
func (e MariaDB) exec(ctx context.Context, q string) error {
	conn, err := e.h.MySQLConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, q)
	return err
}
