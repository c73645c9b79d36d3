package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"ferry/internal/model"
)

// ErrBulkDriver is BulkLoad's answer on a store that is not PostgreSQL.
var ErrBulkDriver = errors.New("bulk load needs a PostgreSQL store")

// BulkLoad writes orders, and the items items yields, straight into a
// PostgreSQL store with COPY, in one transaction: a fixture of a large
// co-op for benchmarks and load tests, in seconds where the API would take
// hours. It checks no rule and writes no audit entry; the members and
// hosts named must exist. items yields each item with the index of its
// order in orders (its OrderID is ignored) and must yield the same items
// each time it is called: it is read twice, once for the items and once
// for their identities. BulkLoad sets the orders' IDs and times and
// returns how many items it wrote.
func BulkLoad(ctx context.Context, s Store, orders []model.Order, items iter.Seq2[int, model.Item]) (int64, error) {
	ss, ok := s.(*sqlStore)
	if !ok || !ss.d.pg {
		return 0, ErrBulkDriver
	}
	conn, err := ss.write.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("bulk load: %w", err)
	}
	defer conn.Close()
	var n int64
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background())
		n, err = bulkLoad(ctx, tx, orders, items)
		if err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		// The planner needs the new sizes before the first query.
		_, err = c.Exec(ctx, "ANALYZE orders, items, item_identities")
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("bulk load: %w", err)
	}
	return n, nil
}

func bulkLoad(ctx context.Context, tx pgx.Tx, orders []model.Order, items iter.Seq2[int, model.Item]) (int64, error) {
	var firstOrder, firstItem int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(max(id), 0) + 1 FROM orders").Scan(&firstOrder); err != nil {
		return 0, err
	}
	if err := tx.QueryRow(ctx, "SELECT COALESCE(max(id), 0) + 1 FROM items").Scan(&firstItem); err != nil {
		return 0, err
	}
	at := now()
	for i := range orders {
		o := &orders[i]
		o.ID, o.CreatedAt, o.UpdatedAt = firstOrder+int64(i), at, at
		if o.State == "" {
			o.State = model.OrderActive
		}
	}
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"orders"}, []string{"id", "identifier", "member", "host", "state", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(orders) {
				return nil, nil
			}
			o := orders[i]
			i++
			return []any{o.ID, o.Identifier, o.Member, o.Host, string(o.State), at, at}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("orders: %w", err)
	}
	// Items, then their identities, each from one pass over items.
	itemRows, stopItems := pullRows(items, orders, firstItem, func(id int64, o model.Order, it model.Item) ([][]any, error) {
		spec, err := json.Marshal(it.Spec)
		if err != nil {
			return nil, err
		}
		host, state := it.Host, it.State
		if host == "" {
			host = o.Host
		}
		if state == "" {
			state = model.StateActive
		}
		return [][]any{{id, o.ID, host, string(it.Kind), string(state), it.Message, string(spec), at, at}}, nil
	})
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "order_id", "host", "kind", "state", "message", "spec", "created_at", "updated_at"}, itemRows)
	stopItems()
	if err != nil {
		return 0, fmt.Errorf("items: %w", err)
	}
	idRows, stopIDs := pullRows(items, orders, firstItem, func(id int64, _ model.Order, it model.Item) ([][]any, error) {
		var rows [][]any
		seen := map[string]bool{}
		for _, identity := range it.Spec.Identities(it.Kind) {
			if !seen[identity] {
				seen[identity] = true
				rows = append(rows, []any{identity, id, searchName(identity)})
			}
		}
		return rows, nil
	})
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"item_identities"}, []string{"identity", "item_id", "name"}, idRows)
	stopIDs()
	if err != nil {
		return 0, fmt.Errorf("item identities: %w", err)
	}
	for _, table := range []string{"orders", "items"} {
		if _, err := tx.Exec(ctx, "SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT max(id) FROM "+table+"))", table); err != nil {
			return 0, fmt.Errorf("%s ids: %w", table, err)
		}
	}
	return n, nil
}

// pullRows is a COPY source of the rows rows makes of each item items
// yields, the first item having id first; stop ends the pass early.
func pullRows(items iter.Seq2[int, model.Item], orders []model.Order, first int64,
	rows func(id int64, o model.Order, it model.Item) ([][]any, error)) (src pgx.CopyFromSource, stop func()) {
	next, stop := iter.Pull2(items)
	return &pullSource{next: next, orders: orders, id: first, first: first, rows: rows}, stop
}

// pullSource is pullRows's COPY source.
type pullSource struct {
	next      func() (int, model.Item, bool)
	orders    []model.Order
	id, first int64
	rows      func(int64, model.Order, model.Item) ([][]any, error)
	pending   [][]any
	err       error
}

func (p *pullSource) Next() bool {
	for len(p.pending) <= 1 {
		if len(p.pending) == 1 {
			return true
		}
		oi, it, ok := p.next()
		if !ok {
			return false
		}
		if oi < 0 || oi >= len(p.orders) {
			p.err = fmt.Errorf("item %d names order %d of %d", p.id-p.first, oi, len(p.orders))
			return false
		}
		p.pending, p.err = p.rows(p.id, p.orders[oi], it)
		p.id++
		if p.err != nil {
			return false
		}
		if len(p.pending) > 0 {
			return true
		}
	}
	return true
}

func (p *pullSource) Values() ([]any, error) {
	v := p.pending[0]
	p.pending = p.pending[1:]
	return v, nil
}

func (p *pullSource) Err() error { return p.err }
