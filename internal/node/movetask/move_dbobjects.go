package movetask

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"ferry/internal/model"
	"ferry/internal/node/dbengine"
)

// A MariaDB database is more than its tables: views, triggers, stored
// procedures and functions, events, and its own default character set and
// collation. The old host reads each with SHOW CREATE; the new host makes
// it again as root, under a definer that is one of the order's own
// accounts, never the one the old host named (which could be root).

// mysqlObject is one object of a MariaDB database other than a table.
type mysqlObject struct {
	Kind string `json:"kind"` // view, trigger, procedure, function, event, database
	Name string `json:"name"`
	// Table (trigger) is the table it fires on.
	Table string `json:"table,omitempty"`
	// Create is what SHOW CREATE printed; for the database, its default
	// character set and collation as "CHARSET COLLATION".
	Create    string `json:"create"`
	SQLMode   string `json:"sql_mode,omitempty"`
	TimeZone  string `json:"time_zone,omitempty"`
	Charset   string `json:"character_set_client,omitempty"`
	Collation string `json:"collation_connection,omitempty"`
	// Enabled (event) says the event is enabled on the old host.
	Enabled bool `json:"enabled,omitempty"`
	// Grant (grant) is a table's, its columns' or a routine's privileges
	// for one of the order's users.
	Grant *mysqlGrant `json:"grant,omitempty"`
}

// mysqlGrant is what one of the order's users may do with one table (and
// its columns) or one routine, beyond the whole-database grant its
// mysql-user item gives.
type mysqlGrant struct {
	User string `json:"user"` // at localhost
	// On is "table" (Object is a table, Columns its column privileges),
	// "procedure" or "function".
	On      string   `json:"on"`
	Object  string   `json:"object"`
	Privs   []string `json:"privs,omitempty"`
	Columns []string `json:"columns,omitempty"` // "Select\x00col"
}

// mysqlObjectsRequest is what the old host sends with ferry-objects.
type mysqlObjectsRequest struct {
	Drop   []mysqlObject `json:"drop,omitempty"`
	Create []mysqlObject `json:"create,omitempty"`
	// Final makes events enabled on the old host enabled here too.
	Final bool `json:"final,omitempty"`
}

// mysqlObjectsReply says what the new host did beyond the request's words.
type mysqlObjectsReply struct {
	Notes []string `json:"notes,omitempty"`
}

// The order in which objects are made: a view may call a function, a
// trigger or an event may use all of them.
var mysqlObjectRank = map[string]int{"database": 0, "function": 1, "procedure": 2, "view": 3, "trigger": 4, "event": 5, "grant": 6}

// mysqlObjects reads every object of database db other than its tables.
// It reads them with db as the default database, so that SHOW CREATE names
// the objects and what they refer to in db without the database's name.
func mysqlObjects(ctx context.Context, pool *sql.DB, db string) ([]mysqlObject, error) {
	dbq, err := dbengine.MySQLIdent(db)
	if err != nil {
		return nil, err
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "USE "+dbq); err != nil {
		return nil, fmt.Errorf("database %s: %w", db, err)
	}
	var objs []mysqlObject
	var cs, coll string
	if err := conn.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db).Scan(&cs, &coll); err != nil {
		return nil, fmt.Errorf("database %s: character set: %w", db, err)
	}
	objs = append(objs, mysqlObject{Kind: "database", Name: db, Create: cs + " " + coll})

	type named struct{ kind, name, table, status string }
	var list []named
	queries := []struct{ kind, q string }{
		{"view", "SELECT 'view', TABLE_NAME, '', '' FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME"},
		{"trigger", "SELECT 'trigger', TRIGGER_NAME, EVENT_OBJECT_TABLE, '' FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"},
		{"routine", "SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME, '', '' FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME"},
		{"event", "SELECT 'event', EVENT_NAME, '', STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME"},
	}
	for _, q := range queries {
		rows, err := conn.QueryContext(ctx, q.q, db)
		if err != nil {
			return nil, fmt.Errorf("database %s: list %ss: %w", db, q.kind, err)
		}
		for rows.Next() {
			var n named
			if err := rows.Scan(&n.kind, &n.name, &n.table, &n.status); err != nil {
				rows.Close()
				return nil, fmt.Errorf("database %s: list %ss: %w", db, q.kind, err)
			}
			list = append(list, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("database %s: list %ss: %w", db, q.kind, err)
		}
	}
	for _, n := range list {
		if _, ok := mysqlObjectRank[n.kind]; !ok {
			return nil, fmt.Errorf("database %s: %s %s: ferry cannot copy a %s (only procedures and functions among routines)", db, n.kind, n.name, n.kind)
		}
		nq, err := dbengine.MySQLIdent(n.name)
		if err != nil {
			return nil, err
		}
		show, err := showCreate(ctx, conn, "SHOW CREATE "+strings.ToUpper(n.kind)+" "+nq)
		if err != nil {
			return nil, fmt.Errorf("database %s: definition of %s %s: %w", db, n.kind, n.name, err)
		}
		o := mysqlObject{Kind: n.kind, Name: n.name, Table: n.table, SQLMode: show["sql_mode"], TimeZone: show["time_zone"],
			Charset: show["character_set_client"], Collation: show["collation_connection"], Enabled: n.status == "ENABLED"}
		for _, col := range []string{"Create View", "SQL Original Statement", "Create Procedure", "Create Function", "Create Event"} {
			if v, ok := show[col]; ok {
				o.Create = v
			}
		}
		if o.Create == "" {
			return nil, fmt.Errorf("database %s: %s %s: the server shows no definition", db, n.kind, n.name)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// mysqlPrivileges are the table, column and routine privileges a grant may
// carry, as the grant tables spell them.
var mysqlPrivileges = map[string]bool{
	"Select": true, "Insert": true, "Update": true, "Delete": true, "Create": true, "Drop": true,
	"References": true, "Index": true, "Alter": true, "Create View": true, "Show view": true,
	"Trigger": true, "Delete versioning rows": true, "Execute": true, "Alter Routine": true, "Grant": true,
}

// mysqlGrants reads the table-, column- and routine-level grants on db: as
// objects for the order's users (so that they are compared and copied),
// and as notes for every other account, whose grants stay behind.
func mysqlGrants(ctx context.Context, conn *sql.DB, db string, users []string) (objs []mysqlObject, foreign []string, err error) {
	byKey := map[string]*mysqlGrant{}
	var keys []string
	add := func(user, host, on, object string) *mysqlGrant {
		if host != "localhost" || !slices.Contains(users, user) {
			note := fmt.Sprintf("grant on %s %s.%s to %s@%s not carried: not one of the order's mysql-users", on, db, object, user, host)
			if !slices.Contains(foreign, note) {
				foreign = append(foreign, note)
			}
			return nil
		}
		k := user + "\x00" + on + "\x00" + object
		g, ok := byKey[k]
		if !ok {
			g = &mysqlGrant{User: user, On: on, Object: object}
			byKey[k] = g
			keys = append(keys, k)
		}
		return g
	}
	queries := []string{
		"SELECT User, Host, 'table', Table_name, Table_priv, '' FROM mysql.tables_priv WHERE Db = ?",
		"SELECT User, Host, 'table', Table_name, Column_priv, Column_name FROM mysql.columns_priv WHERE Db = ?",
		"SELECT User, Host, LOWER(Routine_type), Routine_name, Proc_priv, '' FROM mysql.procs_priv WHERE Db = ?",
	}
	for _, q := range queries {
		rows, err := conn.QueryContext(ctx, q, db)
		if err != nil {
			return nil, nil, fmt.Errorf("database %s: read grants: %w", db, err)
		}
		for rows.Next() {
			var user, host, on, object, privs, column string
			if err := rows.Scan(&user, &host, &on, &object, &privs, &column); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("database %s: read grants: %w", db, err)
			}
			g := add(user, host, on, object)
			if g == nil || privs == "" {
				continue
			}
			for _, p := range strings.Split(privs, ",") {
				if column != "" {
					g.Columns = append(g.Columns, p+"\x00"+column)
				} else {
					g.Privs = append(g.Privs, p)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("database %s: read grants: %w", db, err)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		g := byKey[k]
		slices.Sort(g.Privs)
		slices.Sort(g.Columns)
		if len(g.Privs) == 0 && len(g.Columns) == 0 {
			continue
		}
		objs = append(objs, mysqlObject{Kind: "grant", Name: g.User + " on " + g.On + " " + g.Object, Create: g.text(), Grant: g})
	}
	return objs, foreign, nil
}

// text is the grant's privileges in one canonical line, for its checksum.
func (g *mysqlGrant) text() string {
	return strings.Join(g.Privs, ",") + ";" + strings.ReplaceAll(strings.Join(g.Columns, ","), "\x00", " ")
}

// statements are what gives the grant on this host: two revokes of what
// the user had on the object (either may find nothing), then the grant.
func (g *mysqlGrant) statements(db string, users []string) ([]string, error) {
	if !slices.Contains(users, g.User) {
		return nil, fmt.Errorf("%s is not one of the order's mysql-users", g.User)
	}
	acct, err := dbengine.MySQLAccount(g.User)
	if err != nil {
		return nil, err
	}
	// Below the database level a name is no pattern: no escaping.
	dbq, err := dbengine.MySQLIdent(db)
	if err != nil {
		return nil, err
	}
	oq, err := dbengine.MySQLIdent(g.Object)
	if err != nil {
		return nil, err
	}
	on := dbq + "." + oq
	switch g.On {
	case "table":
	case "procedure", "function":
		on = strings.ToUpper(g.On) + " " + on
	default:
		return nil, fmt.Errorf("a grant on a %q", g.On)
	}
	var privs []string
	withGrant := ""
	for _, p := range g.Privs {
		switch {
		case p == "Grant":
			withGrant = " WITH GRANT OPTION"
		case mysqlPrivileges[p]:
			privs = append(privs, strings.ToUpper(p))
		default:
			return nil, fmt.Errorf("privilege %q", p)
		}
	}
	for _, pc := range g.Columns {
		p, col, ok := strings.Cut(pc, "\x00")
		cq, err := dbengine.MySQLIdent(col)
		if !ok || err != nil || !mysqlPrivileges[p] || g.On != "table" {
			return nil, fmt.Errorf("column privilege %q", pc)
		}
		privs = append(privs, strings.ToUpper(p)+" ("+cq+")")
	}
	if len(privs) == 0 {
		return nil, errors.New("no privileges")
	}
	return []string{"REVOKE ALL PRIVILEGES ON " + on + " FROM " + acct, "REVOKE GRANT OPTION ON " + on + " FROM " + acct,
		"GRANT " + strings.Join(privs, ", ") + " ON " + on + " TO " + acct + withGrant}, nil
}

// showCreate runs a SHOW CREATE statement and returns its one row by
// column name.
func showCreate(ctx context.Context, conn *sql.Conn, q string) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("no such object")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, c := range cols {
		out[c] = vals[i].String
	}
	return out, rows.Err()
}

// mysqlObjectSum is an object's line in the sums: the checksum covers its
// definition without the definer (mapped on the new host) and, for an
// event, without whether it is enabled (kept disabled there until cutover).
func mysqlObjectSum(db string, o mysqlObject) (model.TableSum, error) {
	def := o.Create
	if o.Kind != "database" && o.Kind != "grant" {
		d, err := splitDefiner(o.Create)
		if err != nil {
			return model.TableSum{}, fmt.Errorf("database %s: %s %s: %w", db, o.Kind, o.Name, err)
		}
		def = d.head + d.rest
		if o.Kind == "trigger" {
			if rest, err := triggerRest(d.rest, db, o.Name); err == nil {
				def = d.head + rest
			}
		}
		if o.Kind == "event" {
			def = eventStatusRe.ReplaceAllString(def, "$1")
		}
	}
	return model.TableSum{DB: db, Kind: o.Kind, Table: o.Name, Checksum: shortHash(o.SQLMode + "\n" + o.TimeZone + "\n" + def)}, nil
}

// definerSplit is a CREATE statement cut around its DEFINER clause.
type definerSplit struct {
	head    string // "CREATE " or "CREATE ALGORITHM=MERGE "
	user    string // the definer's user name
	host    string // its host; "" for a role
	rest    string // " SQL SECURITY DEFINER VIEW `v` AS …", " TRIGGER `t` …"
	definer string // the clause's value as written
}

var algorithmRe = regexp.MustCompile(`^CREATE (ALGORITHM=(?:UNDEFINED|MERGE|TEMPTABLE) )?DEFINER=`)

// splitDefiner cuts what SHOW CREATE prints around DEFINER=`u`@`h`.
func splitDefiner(create string) (definerSplit, error) {
	m := algorithmRe.FindStringSubmatchIndex(create)
	if m == nil {
		return definerSplit{}, errors.New("its definition does not start with CREATE … DEFINER=")
	}
	d := definerSplit{head: create[:m[1]-len("DEFINER=")]}
	s := create[m[1]:]
	user, n, ok := backtickIdent(s)
	if !ok {
		return definerSplit{}, errors.New("its DEFINER is not a quoted account")
	}
	d.user = user
	used := n
	if strings.HasPrefix(s[n:], "@") {
		host, n2, ok := backtickIdent(s[n+1:])
		if !ok {
			return definerSplit{}, errors.New("its DEFINER's host is not quoted")
		}
		d.host = host
		used = n + 1 + n2
	}
	d.definer = s[:used]
	d.rest = s[used:]
	return d, nil
}

// backtickIdent reads one `quoted` identifier at the start of s and returns
// it unquoted with the bytes it took.
func backtickIdent(s string) (string, int, bool) {
	if !strings.HasPrefix(s, "`") {
		return "", 0, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '`' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), i + 1, true
	}
	return "", 0, false
}

// triggerHeadRe is the start of what follows a trigger's DEFINER clause
// as its author may have typed it.
var triggerHeadRe = regexp.MustCompile(`(?i)^\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?`)

// unquotedIdentRe is a MariaDB identifier without backticks.
var unquotedIdentRe = regexp.MustCompile(`^[0-9A-Za-z_$\x{80}-\x{FFFF}]+`)

// triggerRest spells the part of a trigger's CREATE statement after its
// DEFINER clause with its head in one form, " TRIGGER `name` …", whatever
// case, spaces, quoting or IF NOT EXISTS its author used. The name must
// be name, qualified (if at all) with database db, the one the trigger
// is made in: a name qualified with another would reach past it.
func triggerRest(rest, db, name string) (string, error) {
	m := triggerHeadRe.FindStringIndex(rest)
	if m == nil {
		return "", fmt.Errorf("its definition does not make trigger %s", name)
	}
	s := rest[m[1]:]
	ident := func() (string, bool) {
		if v, n, ok := backtickIdent(s); ok {
			s = s[n:]
			return v, true
		}
		v := unquotedIdentRe.FindString(s)
		s = s[len(v):]
		return v, v != ""
	}
	first, ok := ident()
	if !ok {
		return "", fmt.Errorf("its definition does not make trigger %s", name)
	}
	got := first
	if strings.HasPrefix(s, ".") {
		s = s[1:]
		if got, ok = ident(); !ok || db == "" || first != db {
			return "", fmt.Errorf("its definition makes trigger %s in another database", name)
		}
	}
	body := strings.TrimLeft(s, " \t\r\n")
	if got != name || len(body) == len(s) {
		return "", fmt.Errorf("its definition does not make trigger %s", name)
	}
	nq, err := dbengine.MySQLIdent(name)
	if err != nil {
		return "", err
	}
	return " TRIGGER " + nq + " " + body, nil
}

// eventStatusRe finds an event's status in SHOW CREATE EVENT's text (which
// always prints the ON COMPLETION clause before it).
var eventStatusRe = regexp.MustCompile(`( ON COMPLETION (?:NOT )?PRESERVE) (?:ENABLE|DISABLE ON SLAVE|DISABLE)\b`)

// mysqlObjectStatement builds the statement that makes o on the new host:
// CREATE OR REPLACE with definer, and checks that the rest names o itself,
// so the old host's text can make nothing else.
func mysqlObjectStatement(db string, o mysqlObject, definer string, enable bool) (string, error) {
	d, err := splitDefiner(o.Create)
	if err != nil {
		return "", err
	}
	nq, err := dbengine.MySQLIdent(o.Name)
	if err != nil {
		return "", err
	}
	if !utf8.ValidString(o.Name) {
		return "", errors.New("its name is not UTF-8")
	}
	var want []string
	switch o.Kind {
	case "view":
		want = []string{" SQL SECURITY DEFINER VIEW " + nq + " AS ", " SQL SECURITY INVOKER VIEW " + nq + " AS "}
	case "trigger":
		// SHOW CREATE TRIGGER prints the statement as its author typed
		// it; its head is spelled again the one way.
		if d.rest, err = triggerRest(d.rest, db, o.Name); err != nil {
			return "", err
		}
		want = []string{" TRIGGER " + nq + " "}
	case "event":
		want = []string{" " + strings.ToUpper(o.Kind) + " " + nq + " "}
	case "procedure", "function":
		k := strings.ToUpper(o.Kind)
		want = []string{" " + k + " " + nq + "(", " AGGREGATE " + k + " " + nq + "("}
	default:
		return "", fmt.Errorf("kind %q is not made this way", o.Kind)
	}
	if !slices.ContainsFunc(want, func(p string) bool { return strings.HasPrefix(d.rest, p) }) {
		return "", fmt.Errorf("its definition does not make %s %s", o.Kind, o.Name)
	}
	if strings.ContainsRune(d.rest, 0) {
		return "", errors.New("its definition holds a NUL byte")
	}
	rest := d.rest
	if o.Kind == "event" {
		status := "DISABLE"
		if enable {
			status = "ENABLE"
		}
		if !eventStatusRe.MatchString(rest) {
			return "", errors.New("its definition has no ON COMPLETION … ENABLE|DISABLE")
		}
		rest = eventStatusRe.ReplaceAllString(rest, "$1 "+status)
	}
	return "CREATE OR REPLACE " + strings.TrimPrefix(d.head, "CREATE ") + "DEFINER=" + definer + rest, nil
}

// mapDefiner returns the definer object o gets on this host and, when it
// is not the one the old host named, a note saying so. Only the order's
// own accounts granted the database (users) may stand there: one of them
// named by the old host stays, any other is replaced by the first of them.
func mapDefiner(db string, o mysqlObject, users []string) (string, string, error) {
	d, err := splitDefiner(o.Create)
	if err != nil {
		return "", "", err
	}
	if d.host == "localhost" && slices.Contains(users, d.user) {
		acct, err := dbengine.MySQLAccount(d.user)
		return acct, "", err
	}
	if len(users) == 0 {
		return "", "", fmt.Errorf("%s %s.%s runs as %s, which is not one of the order's mysql-users, and no mysql-user of the order is granted %s to run it instead; add one",
			o.Kind, db, o.Name, d.definer, db)
	}
	acct, err := dbengine.MySQLAccount(users[0])
	if err != nil {
		return "", "", err
	}
	return acct, fmt.Sprintf("%s %s.%s: definer %s is not one of the order's mysql-users; it runs as %s@localhost on the new host", o.Kind, db, o.Name, d.definer, users[0]), nil
}

var (
	sqlModeRe  = regexp.MustCompile(`^[A-Z0-9_,]*$`)
	charsetRe  = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	timeZoneRe = regexp.MustCompile(`^[A-Za-z0-9_/+:-]{1,64}$`)
)

// mysqlSession opens one session with this host's MariaDB as root, whose
// settings last until done is called.
func (m *mover) mysqlSession(ctx context.Context) (c *sql.Conn, done func(), err error) {
	pool, err := m.a.MySQLConn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if c, err = pool.Conn(ctx); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return c, func() { c.Close(); pool.Close() }, nil
}

// receiveObjects makes and drops the objects the old host sends on stdin
// in database db, and writes a mysqlObjectsReply to stdout.
func (m *mover) receiveObjects(ctx context.Context, db model.MoveDB, stdin io.Reader, stdout io.Writer) error {
	if db.Engine != "mysql" {
		return receiveRefused("%s objects: only mysql databases are sent object by object", db.Engine)
	}
	var req mysqlObjectsRequest
	dec := json.NewDecoder(io.LimitReader(stdin, 256<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("database %s: read objects: %w", db.Name, err)
	}
	c, done, err := m.mysqlSession(ctx)
	if err != nil {
		return err
	}
	defer done()
	dbq, err := dbengine.MySQLIdent(db.Name)
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "USE "+dbq); err != nil {
		return fmt.Errorf("database %s: %w", db.Name, err)
	}
	var reply mysqlObjectsReply
	for _, o := range req.Drop {
		nq, err := dbengine.MySQLIdent(o.Name)
		if err != nil {
			return err
		}
		if o.Kind == "grant" {
			if err := m.revokeGrant(ctx, c, db, o); err != nil {
				return err
			}
			continue
		}
		if r, ok := mysqlObjectRank[o.Kind]; !ok || r == 0 {
			return receiveRefused("drop %s %q: not an object ferry drops", o.Kind, o.Name)
		}
		if _, err := c.ExecContext(ctx, "DROP "+strings.ToUpper(o.Kind)+" IF EXISTS "+nq); err != nil {
			return fmt.Errorf("database %s: drop %s %s: %w", db.Name, o.Kind, o.Name, err)
		}
	}
	create := slices.Clone(req.Create)
	slices.SortStableFunc(create, func(a, b mysqlObject) int { return mysqlObjectRank[a.Kind] - mysqlObjectRank[b.Kind] })
	var views []mysqlObject
	for _, o := range create {
		if o.Kind == "view" {
			views = append(views, o)
			continue
		}
		if len(views) > 0 {
			if err := m.makeViews(ctx, c, db, views, &reply); err != nil {
				return err
			}
			views = nil
		}
		if err := m.makeObject(ctx, c, db, o, req.Final, &reply); err != nil {
			return err
		}
	}
	if len(views) > 0 {
		if err := m.makeViews(ctx, c, db, views, &reply); err != nil {
			return err
		}
	}
	return json.NewEncoder(stdout).Encode(reply)
}

// makeViews makes views in an order that works: a view on another view
// waits for it, however they are named.
func (m *mover) makeViews(ctx context.Context, c *sql.Conn, db model.MoveDB, views []mysqlObject, reply *mysqlObjectsReply) error {
	for len(views) > 0 {
		var left []mysqlObject
		var lastErr error
		for _, v := range views {
			if err := m.makeObject(ctx, c, db, v, false, reply); err != nil {
				left = append(left, v)
				lastErr = err
			}
		}
		if len(left) == len(views) {
			return lastErr
		}
		views = left
	}
	return nil
}

// makeObject makes one object with the session settings it was made with.
func (m *mover) makeObject(ctx context.Context, c *sql.Conn, db model.MoveDB, o mysqlObject, final bool, reply *mysqlObjectsReply) error {
	what := fmt.Sprintf("database %s: %s %s", db.Name, o.Kind, o.Name)
	if o.Kind == "grant" {
		if o.Grant == nil {
			return fmt.Errorf("%s: no privileges sent", what)
		}
		stmts, err := o.Grant.statements(db.Name, db.Users)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for i, q := range stmts {
			if _, err := c.ExecContext(ctx, q); err != nil && !(i < 2 && isNoSuchGrant(err)) {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		return nil
	}
	if o.Kind == "database" {
		cs, coll, ok := strings.Cut(o.Create, " ")
		if !ok || !charsetRe.MatchString(cs) || !charsetRe.MatchString(coll) {
			return fmt.Errorf("%s: character set %q", what, o.Create)
		}
		dbq, err := dbengine.MySQLIdent(db.Name)
		if err != nil {
			return err
		}
		if _, err := c.ExecContext(ctx, "ALTER DATABASE "+dbq+" CHARACTER SET "+cs+" COLLATE "+coll); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if !sqlModeRe.MatchString(o.SQLMode) || (o.Charset != "" && !charsetRe.MatchString(o.Charset)) ||
		(o.Collation != "" && !charsetRe.MatchString(o.Collation)) || (o.TimeZone != "" && !timeZoneRe.MatchString(o.TimeZone)) {
		return fmt.Errorf("%s: session settings %q %q %q %q", what, o.SQLMode, o.Charset, o.Collation, o.TimeZone)
	}
	definer, note, err := mapDefiner(db.Name, o, db.Users)
	if err != nil {
		return err
	}
	stmt, err := mysqlObjectStatement(db.Name, o, definer, final && o.Enabled)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	set := []string{"SET SESSION sql_mode = '" + o.SQLMode + "'"}
	if o.Charset != "" {
		set = append(set, "SET SESSION character_set_client = "+o.Charset)
	}
	if o.Collation != "" {
		set = append(set, "SET SESSION collation_connection = "+o.Collation)
	}
	if o.TimeZone != "" {
		tz, err := dbengine.MySQLString(o.TimeZone)
		if err != nil {
			return err
		}
		set = append(set, "SET SESSION time_zone = "+tz)
	}
	for _, s := range set {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %s: %w", what, s, err)
		}
	}
	if _, err := c.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if note != "" {
		reply.Notes = append(reply.Notes, note)
	}
	if o.Kind == "event" && o.Enabled && !final {
		reply.Notes = append(reply.Notes, fmt.Sprintf("event %s.%s is kept disabled on the new host until cutover", db.Name, o.Name))
	}
	return nil
}

// revokeGrant takes away a grant gone on the old host. Only its name is
// sent ("user on table t"); the user must be one of the order's.
func (m *mover) revokeGrant(ctx context.Context, c *sql.Conn, db model.MoveDB, o mysqlObject) error {
	user, rest, ok := strings.Cut(o.Name, " on ")
	on, object, ok2 := strings.Cut(rest, " ")
	if !ok || !ok2 {
		return receiveRefused("grant %q: not user on kind object", o.Name)
	}
	g := mysqlGrant{User: user, On: on, Object: object, Privs: []string{"Select"}}
	stmts, err := g.statements(db.Name, db.Users)
	if err != nil {
		return fmt.Errorf("database %s: grant %s: %w", db.Name, o.Name, err)
	}
	for _, q := range stmts[:2] {
		if _, err := c.ExecContext(ctx, q); err != nil && !isNoSuchGrant(err) {
			return fmt.Errorf("database %s: revoke %s: %w", db.Name, o.Name, err)
		}
	}
	return nil
}

// isNoSuchGrant reports MariaDB's "there is no such grant" errors: a revoke
// of nothing.
func isNoSuchGrant(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1141 || me.Number == 1147 || me.Number == 1403)
}

// planObjects returns the objects of database db to make on the new host
// (missing there, defined differently, triggers of tables about to be
// copied, which the copy drops with their table, and, in the final sync,
// every enabled event) and those to drop there (gone here).
func planObjects(db string, objs []mysqlObject, cur []model.TableSum, copiedTables []string, full, final bool) (create, drop []mysqlObject) {
	have := map[string]model.TableSum{}
	for _, s := range cur {
		have[s.Key()] = s
	}
	inOld := map[string]bool{}
	for _, o := range objs {
		k := model.TableSum{DB: db, Kind: o.Kind, Table: o.Name}.Key()
		inOld[k] = true
		n, ok := have[k]
		want, err := mysqlObjectSum(db, o)
		switch {
		case full, !ok, err != nil, n.Checksum != want.Checksum,
			o.Kind == "trigger" && slices.Contains(copiedTables, o.Table),
			o.Kind == "event" && final && o.Enabled:
			create = append(create, o)
		}
	}
	for _, s := range cur {
		if s.Kind != "" && s.Kind != "database" && !inOld[s.Key()] {
			drop = append(drop, mysqlObject{Kind: s.Kind, Name: s.Table})
		}
	}
	return create, drop
}

// sendObjects makes the planned objects on the new host and returns its
// notes.
func (m *mover) sendObjects(ctx context.Context, t moveTarget, db model.MoveDB, req mysqlObjectsRequest) ([]string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	remote := receiveObjects + " " + db.Engine + " " + db.Name
	errOut, err := m.runStreaming(ctx, t.command(remote), strings.NewReader(string(body)), func(s string, newline bool) {
		out.WriteString(s)
		if newline {
			out.WriteByte('\n')
		}
	})
	if err != nil {
		return nil, fmt.Errorf("objects of %s on %s: %s", db.Name, t.host(), failureText(err, errOut))
	}
	var reply mysqlObjectsReply
	if err := json.Unmarshal([]byte(out.String()), &reply); err != nil {
		return nil, fmt.Errorf("objects of %s on %s: %w", db.Name, t.host(), err)
	}
	return reply.Notes, nil
}
