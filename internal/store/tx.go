package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// tx is a Tx over a database/sql transaction, or, for Read, over the
// pool itself.
type tx struct {
	d     dialect
	tx    querier
	write bool
	// bare is set for Read: there is no transaction, so every statement
	// is its own, and a write is refused before it reaches the database.
	bare bool
	// held is set on PostgreSQL while the savepoint of the last step that
	// succeeded is still open: the next step releases it in the same
	// round trip as it makes its own, and the commit releases the last.
	held bool
	// depth counts the steps running, so that only an outermost step
	// leaves its savepoint for the next one to release.
	depth int
	// known holds the members and hosts need found and locked in this
	// transaction ("hosts/web1"): the lock lasts until the end, so they
	// cannot have gone since.
	known map[string]bool
}

// querier is a *sql.Tx, or a *sql.DB for Read.
type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if t.bare {
		return nil, ErrReadWrite
	}
	return t.tx.ExecContext(ctx, t.d.rebind(q), t.d.args(args)...)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), t.d.args(args)...)
}

// execOne runs a statement that must touch a row, or fails with
// sql.ErrNoRows.
func (t *tx) execOne(ctx context.Context, q string, args ...any) error {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}

// insert runs an INSERT … RETURNING id and returns the new row's id.
func (t *tx) insert(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := t.queryRow(ctx, q+" RETURNING id", args...).Scan(&id)
	return id, err
}

// step runs fn as one step of the transaction, inside a savepoint: when fn
// fails, nothing it wrote stays and the transaction goes on (PostgreSQL
// would otherwise refuse every later statement). The error is named what
// and mapped by failed, with dangling for a broken foreign key.
func (t *tx) step(ctx context.Context, what string, dangling error, fn func() error) error {
	if t.bare {
		return fmt.Errorf("%s: %w", what, ErrReadWrite)
	}
	begin := "SAVEPOINT ferry_step"
	if t.held {
		// One round trip instead of two: PostgreSQL runs both.
		begin = "RELEASE SAVEPOINT ferry_step; SAVEPOINT ferry_step"
		t.held = false
	}
	if _, err := t.tx.ExecContext(ctx, begin); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	t.depth++
	err := fn()
	t.depth--
	if err != nil {
		// The rollback drops the locks taken since the savepoint.
		clear(t.known)
		_, rerr := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT ferry_step")
		if rerr == nil {
			_, rerr = t.tx.ExecContext(ctx, "RELEASE SAVEPOINT ferry_step")
		}
		if rerr != nil {
			err = errors.Join(err, rerr)
		}
		return failed(err, what, dangling)
	}
	if t.d.pg && t.depth == 0 {
		t.held = true // released by the next step, or by the commit
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT ferry_step"); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// create runs an INSERT … RETURNING id as a step and returns the new id.
func (t *tx) create(ctx context.Context, what string, dangling error, q string, args ...any) (int64, error) {
	var id int64
	err := t.step(ctx, what, dangling, func() (err error) {
		id, err = t.insert(ctx, q, args...)
		return err
	})
	return id, err
}

// change runs one statement that must touch a row as a step.
func (t *tx) change(ctx context.Context, what string, dangling error, q string, args ...any) error {
	return t.step(ctx, what, dangling, func() error { return t.execOne(ctx, q, args...) })
}

// failed wraps the error of a write named what: no row changed becomes
// ErrNotFound, a duplicate key ErrConflict, and a broken foreign key
// dangling (see missing).
func failed(err error, what string, dangling error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = ErrNotFound
	case classify(err) == uniqueViolation:
		err = ErrConflict
	case classify(err) == foreignKeyViolation && dangling != nil:
		err = dangling
	}
	return fmt.Errorf("%s: %w", what, err)
}

// missing is the error of a write that refers to a row that does not exist.
func missing(what string) error { return fmt.Errorf("no such %s: %w", what, ErrNotFound) }

// inUse is the error of deleting a row that live rows still name.
func inUse(what string) error { return fmt.Errorf("still has %s: %w", what, ErrInUse) }

// get reads the one row q selects. Inside Update on PostgreSQL it locks the
// row until the transaction ends, so that a read-modify-write in one Update
// cannot lose another's write.
func get[T any](ctx context.Context, t *tx, scan func(scanner) (T, error), what, q string, args ...any) (T, error) {
	if t.write && t.d.pg {
		q += " FOR NO KEY UPDATE"
	}
	v, err := scan(t.queryRow(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// list reads every row q selects. It returns an empty slice, not nil, when
// there are none.
func list[T any](ctx context.Context, t *tx, scan func(scanner) (T, error), what, q string, args ...any) ([]T, error) {
	rows, err := t.tx.QueryContext(ctx, t.d.rebind(q), t.d.args(args)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// where collects the conditions of a list query.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col IN (…)" for a non-empty vals.
func in[T any](w *where, col string, vals []T) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+strings.Repeat("?, ", len(vals)-1)+"?)", args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// likeEscaper escapes LIKE's wildcards, with \ as the escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// contains is a LIKE pattern, for use with ESCAPE '\', that matches any
// text containing s.
func contains(s string) string { return "%" + likeEscaper.Replace(s) + "%" }
