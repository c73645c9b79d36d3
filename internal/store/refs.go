package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ref is a member or host that a row names. Orders, items, moves and tasks
// name them without a foreign key (see the first migration), so the store
// checks them itself.
type ref struct{ table, name string }

func member(name string) ref { return ref{"members", name} }
func host(name string) ref   { return ref{"hosts", name} }

// need fails with ErrNotFound, under what, unless every ref exists. On
// PostgreSQL it holds a key-share lock on each until the transaction ends,
// as a foreign key check does, so that a concurrent remove waits and then
// counts the new row.
func (t *tx) need(ctx context.Context, what string, refs ...ref) error {
	for _, r := range refs {
		key := r.table + "/" + r.name
		if t.known[key] {
			continue
		}
		q := "SELECT 1 FROM " + r.table + " WHERE name = ?"
		if t.d.pg && t.write {
			q += " FOR KEY SHARE"
		}
		var one int
		err := t.queryRow(ctx, q, r.name).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: no such %s %s: %w", what, strings.TrimSuffix(r.table, "s"), r.name, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if t.known == nil {
			t.known = map[string]bool{}
		}
		t.known[key] = true
	}
	return nil
}

// remove deletes the member or host r, unless live rows still name it:
// users counts them, with r's name for each of its placeholders, and what
// says what they are.
func (t *tx) remove(ctx context.Context, r ref, users, what string) error {
	clear(t.known)
	return t.step(ctx, "delete "+strings.TrimSuffix(r.table, "s")+" "+r.name, nil, func() error {
		lock := "SELECT 1 FROM " + r.table + " WHERE name = ?"
		if t.d.pg {
			lock += " FOR UPDATE" // waits for need's key-share locks
		}
		var one int
		if err := t.queryRow(ctx, lock, r.name).Scan(&one); err != nil {
			return err
		}
		args := make([]any, strings.Count(users, "?"))
		for i := range args {
			args[i] = r.name
		}
		var n int
		if err := t.queryRow(ctx, users, args...).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return inUse(fmt.Sprintf("%d live %s", n, what))
		}
		_, err := t.exec(ctx, "DELETE FROM "+r.table+" WHERE name = ?", r.name)
		return err
	})
}
