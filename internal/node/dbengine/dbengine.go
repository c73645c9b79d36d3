// Package dbengine holds the database engines of a node: one interface,
// Engine, with a MariaDB and a PostgreSQL implementation. The appliers
// (package apply) make their database items through it, and the move
// tasks (package movetask) their loads and the sweep of a move's
// temporary load accounts. Every command goes through the host's runner
// (package hostexec), so the engines run against a fake host in tests.
//
// Adding an engine is one entry in engines plus its implementation.
package dbengine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"ferry/internal/model"
	"ferry/internal/node/hostexec"
)

// Op is what an item's pending state asks of its database objects.
type Op int

const (
	// Ensure makes the item so: insert, update, restore.
	Ensure Op = iota
	// Disable keeps the item but out of use.
	Disable
	// Delete removes the item and what it left behind.
	Delete
)

// Engine is one database server on the host: how the appliers make the
// items of its kinds, and how a move loads into it as a temporary
// account and sweeps those accounts afterwards.
type Engine interface {
	// Name is the engine's name as model.KindInfo.Engine and
	// model.MoveDB.Engine spell it ("mysql", "pgsql").
	Name() string
	// Kinds are the item kinds whose objects the engine makes.
	Kinds() []model.Kind
	// Apply makes, disables or deletes what an item of kind with spec s
	// stands for, and says what it did.
	Apply(ctx context.Context, kind model.Kind, s model.Spec, what Op) (string, error)
	// Check validates what the engine needs of a move's database beyond
	// its name.
	Check(db model.MoveDB) error
	// Dump returns the command that writes part of db (nil: the whole
	// database) to its stdout as SQL that Load takes.
	Dump(db string, part *DumpPart) []string
	// Load makes the temporary account name (with password) that may
	// reach db and nothing else, and returns the command that loads
	// stdin into db as it and how to drop the account.
	Load(ctx context.Context, moveID int64, db model.MoveDB, name, password string, stdin io.Reader) (hostexec.Cmd, func() error, error)
	// DropLoadAccounts removes the accounts starting with prefix that
	// loads into dbs left behind, and names them.
	DropLoadAccounts(ctx context.Context, prefix string, dbs []model.MoveDB) ([]string, error)
}

// DumpPart is the part of a database that a dump writes.
type DumpPart struct {
	// Tables are written (MariaDB: made again with their rows;
	// PostgreSQL: their rows alone), as the engine names them
	// (PostgreSQL: quoted and qualified).
	Tables []string
	// Sequences are written with their values (PostgreSQL: quoted and
	// qualified).
	Sequences []string
	// Where (MariaDB) writes only the rows of Tables that match it, as
	// INSERT statements without the tables' definitions or key switches,
	// so that they can load inside a transaction.
	Where string
}

// Host is what an engine needs of the host it runs on.
type Host struct {
	// Runner runs every command.
	Runner hostexec.Runner
	// MySQLSocket is MariaDB's unix socket; ferry connects as root.
	MySQLSocket string
	// PgDSN is how ferry reaches PostgreSQL as a superuser.
	PgDSN string
	// PgPsql is run with SQL on stdin when the server refuses PgDSN's
	// login; "none" as its first word turns that off.
	PgPsql []string
	// RunAsPostgres prefixes commands that must run as the postgres user
	// (psql for a move's temporary roles).
	RunAsPostgres []string
	// Log receives what the engines do.
	Log *slog.Logger
}

// run runs argv through the host's runner (hostexec.Run).
func (h Host) run(ctx context.Context, stdin []byte, argv ...string) (string, error) {
	return hostexec.Run(ctx, h.Runner, stdin, argv...)
}

// PsqlArgv runs psql as the postgres user on database db, unaligned and
// without headers, tab-separated, stopping at the first error.
func (h Host) PsqlArgv(db string) []string {
	return append(slices.Clone(h.RunAsPostgres), "psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db)
}

// engines are the engines by name, each made for a host.
var engines = map[string]func(Host) Engine{
	"mysql": func(h Host) Engine { return MariaDB{h} },
	"pgsql": func(h Host) Engine { return PostgreSQL{h} },
}

// order is the order in which engines are swept.
var order = []string{"mysql", "pgsql"}

// Names are the engines' names, in the order a move sweeps them.
func Names() []string { return slices.Clone(order) }

// New returns the engine called name (model.MoveDB.Engine) on host h.
func New(name string, h Host) (Engine, error) {
	mk, ok := engines[name]
	if !ok {
		return nil, fmt.Errorf("unknown database engine %q", name)
	}
	return mk(h), nil
}

// ForKind returns the engine on host h that makes items of kind, and
// false when kind is no database kind.
func ForKind(kind model.Kind, h Host) (Engine, bool) {
	for _, name := range order {
		e := engines[name](h)
		if slices.Contains(e.Kinds(), kind) {
			return e, true
		}
	}
	return nil, false
}
