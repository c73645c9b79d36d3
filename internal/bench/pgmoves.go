package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"ferry/internal/model"
	"ferry/internal/panel"
)

// The PostgreSQL site: an order of its own with a Unix account and a
// PostgreSQL database it owns, of the same shape as the MariaDB one.
const (
	pgOrder   = "pg.bench.test"
	pgLogin   = "benchpg"
	pgDB      = "bench_pg"
	pgPlainDB = "bench_plain_pg"
)

// pgFigures are the PostgreSQL database's figures, pair by pair.
type pgFigures struct {
	FirstDB, ResyncDB Comparison
}

// pgTableDDL makes table name as tableDDL does, in PostgreSQL's words.
func pgTableDDL(name string) string {
	return "CREATE TABLE " + name + ` (
  id integer NOT NULL PRIMARY KEY,
  author integer NOT NULL,
  created timestamp NOT NULL,
  title varchar(200) NOT NULL,
  body text NOT NULL,
  score double precision NOT NULL
);
CREATE INDEX ` + name + `_by_author ON ` + name + ` (author)`
}

// psql is argv running psql as the postgres user on db, stopping at the
// first error.
func psql(db string, more ...string) []string {
	return append([]string{"runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db}, more...)
}

// makePgSite creates the PostgreSQL order and its items on web1 and
// waits until web1's node has made them.
func (b *benchLab) makePgSite(ctx context.Context) error {
	if _, err := b.admin.CreateOrder(ctx, model.Order{Identifier: pgOrder, Member: siteMember, Host: "web1"}); err != nil {
		return err
	}
	for _, in := range []panel.ItemInput{
		{Kind: model.KindUserAccount, Spec: model.Spec{Login: pgLogin}},
		{Kind: model.KindPgSQLDB, Spec: model.Spec{Name: pgDB, Owner: pgLogin, Password: "bench-pass-456"}},
	} {
		in.Order = pgOrder
		if _, err := b.admin.CreateItem(ctx, in); err != nil {
			return fmt.Errorf("item %s: %w", in.Kind, err)
		}
	}
	return b.waitActive(ctx, pgOrder, 2*time.Minute)
}

// loadPgDB makes spec's tables in the PostgreSQL database on host, owned
// by the order's login, and fills them with the same rows as loadDB,
// each with COPY.
func (b *benchLab) loadPgDB(ctx context.Context, host string, spec DBSpec) (rows int, err error) {
	per := spec.Bytes / int64(spec.Tables)
	for i := range spec.Tables {
		inside := fmt.Sprintf("/tmp/ferry-bench-pg-%s.tsv", tableName(i))
		path, err := b.lab.Path(host, inside)
		if err != nil {
			return rows, err
		}
		n, err := writeTableTSV(path, spec, i, per)
		if err != nil {
			os.Remove(path)
			return rows, err
		}
		_, err = b.lab.Run(ctx, host, psql(spec.Name, "-c", "SET ROLE "+pgLogin, "-c", pgTableDDL(tableName(i)),
			"-c", `\copy `+tableName(i)+" FROM '"+inside+"'", "-c", "ANALYZE "+tableName(i))...)
		os.Remove(path)
		if err != nil {
			return rows, fmt.Errorf("table %s: %w", tableName(i), err)
		}
		rows += n
	}
	return rows, nil
}

// changePgTables changes n of spec's tables on host as changeTables does.
func (b *benchLab) changePgTables(ctx context.Context, host string, spec DBSpec, round, n int) ([]string, error) {
	names := changedTables(spec, round, n)
	for _, t := range names {
		q := fmt.Sprintf("UPDATE %s SET score = score + 1, title = left(title, 180) || ' r%d' WHERE id %% 50 = %d", t, round, round%50)
		if _, err := b.lab.Run(ctx, host, psql(spec.Name, "-c", q)...); err != nil {
			return names, err
		}
	}
	return names, nil
}

// pgRuns moves the PostgreSQL order from web1 to web2, runs times: a first
// sync and a re-sync after changed tables, each against pg_dump | psql on
// the same pair of hosts, then an abort, which brings the order back.
func (b *benchLab) pgRuns(ctx context.Context, o Options, db DBSpec) (pgFigures, error) {
	fig := pgFigures{
		FirstDB: Comparison{Name: "postgresql copy", Ratio: "plain/ferry", Goal: 3, Better: ">=",
			How: "ferry: db.seconds of the PostgreSQL order's sync report; plain: wall time of pg_dump --clean --if-exists | ssh | psql --single-transaction run on the old host"},
		ResyncDB: Comparison{Name: fmt.Sprintf("postgresql re-sync after %d of %d tables changed", o.ChangedTables, o.Tables), Ratio: "plain/ferry", Goal: 10, Better: ">=",
			How: "as for the PostgreSQL copy; the plain pipeline copies everything again"},
	}
	from, to := "web1", "web2"
	plain := "runuser -u postgres -- pg_dump --clean --if-exists " + pgDB + " | " + b.sshCmd() + " " + b.addr(to) +
		" 'runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d " + pgPlainDB + " >/dev/null'"
	pair := func(ferryFirst bool) (Pair, error) {
		var p Pair
		doFerry := func() error {
			flush(ctx)
			if _, err := b.ferry(ctx, "move", "sync", pgOrder); err != nil {
				return err
			}
			_, d, err := b.moveStatus(ctx, pgOrder)
			if err != nil {
				return err
			}
			s := lastSyncOf(d, false)
			if s == nil {
				return fmt.Errorf("move status of %s holds no sync report", pgOrder)
			}
			p.Ferry = s.DB.Seconds
			return nil
		}
		doPlain := func() error {
			flush(ctx)
			var err error
			p.Plain, err = b.timed(ctx, from, "bash", "-o", "pipefail", "-c", plain)
			return err
		}
		return p, inTurn(ferryFirst, doFerry, doPlain)
	}
	for run := range o.Runs {
		ferryFirst := run%2 == 0
		b.log.Info("postgresql run", "n", run+1, "of", o.Runs)
		if _, err := b.ferry(ctx, "move", "start", pgOrder, "--to", to); err != nil {
			return fig, err
		}
		if _, err := b.lab.Run(ctx, to, psql("postgres", "-c", "DROP DATABASE IF EXISTS "+pgPlainDB, "-c", "CREATE DATABASE "+pgPlainDB)...); err != nil {
			return fig, err
		}
		first, err := pair(ferryFirst)
		if err != nil {
			return fig, fmt.Errorf("postgresql run %d, first sync: %w", run+1, err)
		}
		fig.FirstDB.Pairs = append(fig.FirstDB.Pairs, first)
		if _, err := b.changePgTables(ctx, from, db, 2*run, o.ChangedTables); err != nil {
			return fig, err
		}
		re, err := pair(ferryFirst)
		if err != nil {
			return fig, fmt.Errorf("postgresql run %d, re-sync: %w", run+1, err)
		}
		fig.ResyncDB.Pairs = append(fig.ResyncDB.Pairs, re)
		if _, err := b.ferry(ctx, "move", "abort", pgOrder); err != nil {
			return fig, fmt.Errorf("postgresql run %d: %w", run+1, err)
		}
		if _, err := b.lab.Run(ctx, to, psql("postgres", "-c", "DROP DATABASE IF EXISTS "+pgPlainDB)...); err != nil {
			return fig, err
		}
		b.log.Info("postgresql run done", "n", run+1, "first_db", first.Ferry, "plain_dump", first.Plain, "resync_db", re.Ferry, "plain_dump_again", re.Plain)
	}
	fig.FirstDB.summarise()
	fig.ResyncDB.summarise()
	return fig, nil
}

// pgFiguresOf makes, fills and moves the PostgreSQL site.
func (b *benchLab) pgFiguresOf(ctx context.Context, o Options) (pgFigures, int, error) {
	if err := b.makePgSite(ctx); err != nil {
		return pgFigures{}, 0, fmt.Errorf("make the postgresql site: %w", err)
	}
	t0 := time.Now()
	db := DBSpec{Name: pgDB, Tables: o.Tables, Bytes: o.DBBytes, Seed: o.Seed}
	rows, err := b.loadPgDB(ctx, "web1", db)
	if err != nil {
		return pgFigures{}, rows, fmt.Errorf("load the postgresql database: %w", err)
	}
	o.Log.Info("postgresql database loaded", "tables", o.Tables, "rows", rows, "took", time.Since(t0).Round(time.Millisecond))
	fig, err := b.pgRuns(ctx, o, db)
	return fig, rows, err
}
