package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"ferry/internal/model"
)

const itemCols = "id, order_id, host, kind, state, message, spec, created_at, updated_at"

func scanItem(s scanner) (model.Item, error) {
	var it model.Item
	var spec string
	err := s.Scan(&it.ID, &it.OrderID, &it.Host, &it.Kind, &it.State, &it.Message, &spec,
		timeCol{&it.CreatedAt}, timeCol{&it.UpdatedAt})
	if err != nil {
		return it, err
	}
	if err := json.Unmarshal([]byte(spec), &it.Spec); err != nil {
		return it, fmt.Errorf("item %d spec: %w", it.ID, err)
	}
	return it, nil
}

func (t *tx) CreateItem(ctx context.Context, it *model.Item) error {
	what := fmt.Sprintf("create %s item of order %d", it.Kind, it.OrderID)
	spec, err := t.itemSpec(ctx, what, it)
	if err != nil {
		return err
	}
	at := now()
	var id int64
	err = t.step(ctx, what, missing("order"), func() (err error) {
		id, err = t.insert(ctx, "INSERT INTO items (order_id, host, kind, state, message, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			it.OrderID, it.Host, it.Kind, it.State, it.Message, spec, at, at)
		if err != nil {
			return err
		}
		return t.claim(ctx, id, it, true)
	})
	if err != nil {
		return err
	}
	it.ID, it.CreatedAt, it.UpdatedAt = id, at, at
	return nil
}

func (t *tx) GetItem(ctx context.Context, id int64) (model.Item, error) {
	return get(ctx, t, scanItem, fmt.Sprintf("get item %d", id),
		"SELECT "+itemCols+" FROM items WHERE id = ?", id)
}

// ListItems lists the items f matches, by id.
func (t *tx) ListItems(ctx context.Context, f ItemFilter) ([]model.Item, error) {
	var w where
	if f.OrderID != 0 {
		w.add("order_id = ?", f.OrderID)
	}
	if f.Host != "" {
		w.add("host = ?", f.Host)
	}
	if f.Kind != "" {
		w.add("kind = ?", f.Kind)
	}
	in(&w, "state", f.States)
	if f.Member != "" {
		w.add("order_id IN (SELECT id FROM orders WHERE member = ?)", f.Member)
	}
	return list(ctx, t, scanItem, "list items",
		"SELECT "+itemCols+" FROM items"+w.String()+" ORDER BY id", w.args...)
}

func (t *tx) UpdateItem(ctx context.Context, it *model.Item) error {
	what := fmt.Sprintf("update item %d", it.ID)
	spec, err := t.itemSpec(ctx, what, it)
	if err != nil {
		return err
	}
	at := now()
	err = t.step(ctx, what, missing("order"), func() error {
		q := "UPDATE items SET order_id = ?, host = ?, kind = ?, state = ?, message = ?, spec = ?, updated_at = ? WHERE id = ?"
		if t.d.pg {
			// The identities go in the same round trip; claim then
			// only inserts them again.
			q = "WITH gone AS (DELETE FROM item_identities WHERE item_id = ?) " + q
			err := t.execOne(ctx, q, it.ID, it.OrderID, it.Host, it.Kind, it.State, it.Message, spec, at, it.ID)
			if err != nil {
				return err
			}
			return t.claim(ctx, it.ID, it, true)
		}
		err := t.execOne(ctx, q, it.OrderID, it.Host, it.Kind, it.State, it.Message, spec, at, it.ID)
		if err != nil {
			return err
		}
		return t.claim(ctx, it.ID, it, false)
	})
	if err != nil {
		return err
	}
	it.UpdatedAt = at
	return nil
}

// itemSpec checks that the item's host exists and returns its spec as
// JSON, for a write named what.
func (t *tx) itemSpec(ctx context.Context, what string, it *model.Item) (string, error) {
	spec, err := json.Marshal(it.Spec)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if it.Host == "" {
		return string(spec), nil // a kind no host holds (hosting-order-access)
	}
	return string(spec), t.need(ctx, what, host(it.Host))
}

// claim makes the identities of item id those its spec names; fresh says
// that it holds none yet (a new item, or ones deleted already).
func (t *tx) claim(ctx context.Context, id int64, it *model.Item, fresh bool) error {
	if !fresh {
		if _, err := t.exec(ctx, "DELETE FROM item_identities WHERE item_id = ?", id); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, identity := range it.Spec.Identities(it.Kind) {
		if seen[identity] {
			continue
		}
		seen[identity] = true
		_, err := t.exec(ctx, "INSERT INTO item_identities (identity, item_id, name) VALUES (?, ?, ?)",
			identity, id, searchName(identity))
		if err != nil {
			return err
		}
	}
	return nil
}

// searchName is the server name or DNS name inside an identity, as
// model.Spec.Identities writes them, or nil for other identities.
func searchName(identity string) any {
	if name, ok := strings.CutPrefix(identity, "server-name:"); ok {
		return name
	}
	if rest, ok := strings.CutPrefix(identity, "dns:"); ok {
		fqdn, _, _ := strings.Cut(rest, " ")
		return fqdn
	}
	return nil
}

// HoldersOf lists the items, but deleted ones, that claim identity, by id.
// Inside Update on PostgreSQL it also locks the identity until the
// transaction ends, so that two Updates cannot both find it free and both
// claim it.
func (t *tx) HoldersOf(ctx context.Context, identity string) ([]model.Holder, error) {
	if t.write && t.d.pg {
		if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(7211, hashtext(?))", identity); err != nil {
			return nil, fmt.Errorf("lock identity %s: %w", identity, err)
		}
	}
	return list(ctx, t, scanHolder, "holders of "+identity,
		`SELECT i.id, i.state FROM item_identities ii JOIN items i ON i.id = ii.item_id
		WHERE ii.identity = ? AND i.state <> ? ORDER BY i.id`, identity, model.StateDeleted)
}

func scanHolder(s scanner) (model.Holder, error) {
	var h model.Holder
	err := s.Scan(&h.ItemID, &h.State)
	return h, err
}
