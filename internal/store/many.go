package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"ferry/internal/model"
)

// The methods below do for many rows what their one-row forms do for one
// (a move's prepare changes every item of an order). On PostgreSQL each is
// one step of a few statements, whatever the number of rows, where the
// one-row forms cost the rows' number of round trips; on SQLite, which runs
// in the process, they are the one-row forms in turn.

// CreateItems is CreateItem for several items: all are stored, or none.
func (t *tx) CreateItems(ctx context.Context, items []*model.Item) error {
	if len(items) == 0 {
		return nil
	}
	if !t.d.pg {
		return t.inTurn(ctx, len(items), func(i int) error { return t.CreateItem(ctx, items[i]) })
	}
	what := fmt.Sprintf("create %d items", len(items))
	cols, err := t.itemColumns(ctx, what, items)
	if err != nil {
		return err
	}
	at := now()
	var ids []int64
	err = t.step(ctx, what, missing("order"), func() error {
		var err error
		ids, err = t.insertMany(ctx, len(items), `INSERT INTO items (order_id, host, kind, state, message, spec, created_at, updated_at)
			SELECT o, h, k, s, m, sp, $7, $7
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x(o, h, k, s, m, sp, n)
			ORDER BY n RETURNING id`, cols.orders, cols.hosts, cols.kinds, cols.states, cols.messages, cols.specs, t.d.time(at))
		if err != nil {
			return err
		}
		return t.claimMany(ctx, ids, items)
	})
	if err != nil {
		return err
	}
	for i, it := range items {
		it.ID, it.CreatedAt, it.UpdatedAt = ids[i], at, at
	}
	return nil
}

// UpdateItems is UpdateItem for several items: all are written, or none.
func (t *tx) UpdateItems(ctx context.Context, items []*model.Item) error {
	if len(items) == 0 {
		return nil
	}
	if !t.d.pg {
		return t.inTurn(ctx, len(items), func(i int) error { return t.UpdateItem(ctx, items[i]) })
	}
	what := fmt.Sprintf("update %d items", len(items))
	ids := make([]int64, len(items))
	seen := map[int64]bool{}
	for i, it := range items {
		if seen[it.ID] {
			return fmt.Errorf("%s: item %d given twice", what, it.ID)
		}
		seen[it.ID] = true
		ids[i] = it.ID
	}
	cols, err := t.itemColumns(ctx, what, items)
	if err != nil {
		return err
	}
	at := now()
	err = t.step(ctx, what, missing("order"), func() error {
		res, err := t.tx.ExecContext(ctx, `WITH gone AS (DELETE FROM item_identities WHERE item_id = ANY($1))
			UPDATE items SET order_id = x.o, host = x.h, kind = x.k, state = x.s, message = x.m, spec = x.sp, updated_at = $8
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(id, o, h, k, s, m, sp)
			WHERE items.id = x.id`, ids, cols.orders, cols.hosts, cols.kinds, cols.states, cols.messages, cols.specs, t.d.time(at))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != int64(len(items)) {
			return missingItem(ctx, t, ids)
		}
		return t.claimMany(ctx, ids, items)
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		it.UpdatedAt = at
	}
	return nil
}

// inTurn runs one(i) for i from 0 to n-1 in one step, so that all of
// them stay or none.
func (t *tx) inTurn(ctx context.Context, n int, one func(i int) error) error {
	var failed error
	err := t.step(ctx, "", nil, func() error {
		for i := range n {
			if failed = one(i); failed != nil {
				return failed
			}
		}
		return nil
	})
	if failed != nil {
		return failed // named by the one-row form already
	}
	return err
}

// insertMany runs q, an INSERT of n rows in the order of a WITH
// ORDINALITY column, RETURNING id, and returns the ids in that order: the
// rows go in in that order, and identity values grow with each, so the
// ids sorted are the rows' in order.
func (t *tx) insertMany(ctx context.Context, n int, q string, args ...any) ([]int64, error) {
	ids, err := list(ctx, t, scanID, "insert", q, args...)
	if err != nil {
		return nil, err
	}
	if len(ids) != n {
		return nil, fmt.Errorf("%d ids for %d rows", len(ids), n)
	}
	slices.Sort(ids)
	return ids, nil
}

func scanID(s scanner) (int64, error) {
	var id int64
	err := s.Scan(&id)
	return id, err
}

// missingItem names the first of ids that is not in the store.
func missingItem(ctx context.Context, t *tx, ids []int64) error {
	var id int64
	err := t.tx.QueryRowContext(ctx, "SELECT x FROM unnest($1::bigint[]) AS x WHERE x NOT IN (SELECT id FROM items) LIMIT 1", ids).Scan(&id)
	if err != nil {
		return err
	}
	return fmt.Errorf("item %d: %w", id, ErrNotFound)
}

// itemColumns are the columns of items, one array each, as CreateItems
// and UpdateItems write them.
type itemColumns struct {
	orders                                []int64
	hosts, kinds, states, messages, specs []string
}

// itemColumns checks that the items' hosts exist and returns their
// columns, for a write named what.
func (t *tx) itemColumns(ctx context.Context, what string, items []*model.Item) (itemColumns, error) {
	var c itemColumns
	var hosts []ref
	for _, it := range items {
		spec, err := json.Marshal(it.Spec)
		if err != nil {
			return c, fmt.Errorf("%s: item %d: %w", what, it.ID, err)
		}
		if it.Host != "" && !slices.Contains(hosts, host(it.Host)) {
			hosts = append(hosts, host(it.Host))
		}
		c.orders = append(c.orders, it.OrderID)
		c.hosts = append(c.hosts, it.Host)
		c.kinds = append(c.kinds, string(it.Kind))
		c.states = append(c.states, string(it.State))
		c.messages = append(c.messages, it.Message)
		c.specs = append(c.specs, string(spec))
	}
	return c, t.need(ctx, what, hosts...)
}

// claimMany stores the identities of items, the item items[i] having id
// ids[i], in one statement; the items hold none yet.
func (t *tx) claimMany(ctx context.Context, ids []int64, items []*model.Item) error {
	var identities, names []string
	var owners []int64
	for i, it := range items {
		seen := map[string]bool{}
		for _, identity := range it.Spec.Identities(it.Kind) {
			if seen[identity] {
				continue
			}
			seen[identity] = true
			name, _ := searchName(identity).(string)
			identities, owners, names = append(identities, identity), append(owners, ids[i]), append(names, name)
		}
	}
	if len(identities) == 0 {
		return nil
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO item_identities (identity, item_id, name)
		SELECT i, o, NULLIF(n, '') FROM unnest($1::text[], $2::bigint[], $3::text[]) AS x(i, o, n)`, identities, owners, names)
	return err
}

// AppendAudits is AppendAudit for several entries, stored in the order
// given.
func (t *tx) AppendAudits(ctx context.Context, entries []*model.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if !t.d.pg {
		return t.inTurn(ctx, len(entries), func(i int) error { return t.AppendAudit(ctx, entries[i]) })
	}
	at := now()
	var (
		times                                     []time.Time
		actors, actions, objects, befores, afters []string
		orders                                    []int64
	)
	for _, e := range entries {
		when := at
		if !e.At.IsZero() {
			when = utc(e.At)
		}
		times = append(times, when)
		actors, actions, objects = append(actors, e.Actor), append(actions, e.Action), append(objects, e.Object)
		orders, befores, afters = append(orders, e.OrderID), append(befores, e.Before), append(afters, e.After)
	}
	var ids []int64
	err := t.step(ctx, fmt.Sprintf("append %d audit entries", len(entries)), nil, func() error {
		var err error
		ids, err = t.insertMany(ctx, len(entries), `INSERT INTO audit (at, actor, action, object, order_id, before_json, after_json)
			SELECT a, ac, act, ob, NULLIF(o, 0), b, af
			FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[]) WITH ORDINALITY AS x(a, ac, act, ob, o, b, af, n)
			ORDER BY n RETURNING id`, times, actors, actions, objects, orders, befores, afters)
		return err
	})
	if err != nil {
		return err
	}
	for i, e := range entries {
		e.ID, e.At = ids[i], times[i]
	}
	return nil
}

// HoldersOfAny is HoldersOf for several identities at once: the holders
// of each, by id, under its identity (none: no key). Inside Update on
// PostgreSQL it locks every identity as HoldersOf does, in one order, so
// that two of them cannot wait on each other.
func (t *tx) HoldersOfAny(ctx context.Context, identities []string) (map[string][]model.Holder, error) {
	out := map[string][]model.Holder{}
	if len(identities) == 0 {
		return out, nil
	}
	if !t.d.pg {
		for _, identity := range identities {
			hs, err := t.HoldersOf(ctx, identity)
			if err != nil {
				return nil, err
			}
			if len(hs) > 0 {
				out[identity] = hs
			}
		}
		return out, nil
	}
	what := fmt.Sprintf("holders of %d identities", len(identities))
	if t.write {
		// The locks are taken after the sort: a volatile function in the
		// select list runs after ORDER BY.
		if _, err := t.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7211, h)
			FROM (SELECT DISTINCT hashtext(x) AS h FROM unnest($1::text[]) AS x) s ORDER BY h`, identities); err != nil {
			return nil, fmt.Errorf("lock %s: %w", what, err)
		}
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT ii.identity, i.id, i.state FROM item_identities ii JOIN items i ON i.id = ii.item_id
		WHERE ii.identity = ANY($1) AND i.state <> $2 ORDER BY ii.identity, i.id`, identities, string(model.StateDeleted))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var identity string
		var h model.Holder
		if err := rows.Scan(&identity, &h.ItemID, &h.State); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out[identity] = append(out[identity], h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ItemsNamedAny is ItemsNamed for several names at once: the items of
// each name, by id, under that name (none: no key).
func (t *tx) ItemsNamedAny(ctx context.Context, names []string) (map[string][]model.Item, error) {
	out := map[string][]model.Item{}
	if len(names) == 0 {
		return out, nil
	}
	var w where
	in(&w, "ii.name", names)
	w.add("i.state <> ?", model.StateDeleted)
	rows, err := t.tx.QueryContext(ctx, t.d.rebind(`SELECT DISTINCT ii.name, i.id, i.order_id, i.host, i.kind, i.state, i.message, i.spec, i.created_at, i.updated_at
		FROM items i JOIN item_identities ii ON ii.item_id = i.id`+w.String()+" ORDER BY ii.name, i.id"), t.d.args(w.args)...)
	what := fmt.Sprintf("items of %d names", len(names))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		it, err := scanItem(namedRow{rows, &name})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out[name] = append(out[name], it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// namedRow scans a name, then what scanItem scans.
type namedRow struct {
	rows scanner
	name *string
}

func (r namedRow) Scan(dest ...any) error { return r.rows.Scan(append([]any{r.name}, dest...)...) }
