package rebalance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"ferry/internal/model"
	"ferry/internal/move"
	"ferry/internal/store"
)

// ReadFleet reads the web hosts, the active orders and what the moves
// know about them in one transaction: an order's size is what the last
// sync of its newest measured move copied, and an order with a move in
// progress is busy. now decides which hosts count as online.
func ReadFleet(ctx context.Context, tx store.Tx, now time.Time) (Fleet, error) {
	var f Fleet
	hosts, err := tx.ListHosts(ctx)
	if err != nil {
		return f, err
	}
	for _, h := range hosts {
		if !h.HasRole(model.RoleWeb) {
			continue
		}
		f.Hosts = append(f.Hosts, Host{
			Name: h.Name, State: h.State, Capacity: h.DiskCapacity,
			Online:   h.LastSeen != nil && now.Sub(*h.LastSeen) <= move.HeartbeatMaxAge,
			DiskUsed: h.DiskUsed, DiskFree: h.DiskFree, Load: h.Load,
		})
	}
	moves, err := tx.ListMoves(ctx, store.MoveFilter{})
	if err != nil {
		return f, err
	}
	type size struct {
		bytes  int64
		source string
	}
	sizes := map[int64]size{}
	busy := map[int64]string{}
	for _, m := range moves { // by id: a newer move's figures win
		if m.Active() {
			busy[m.OrderID] = fmt.Sprintf("being moved from %s to %s (move %d, %s %s)", m.From, m.To, m.ID, m.Phase, m.Status)
		}
		var d move.Data
		if len(m.Data) == 0 || json.Unmarshal(m.Data, &d) != nil || len(d.Syncs) == 0 {
			continue
		}
		if s := d.Syncs[len(d.Syncs)-1]; s.Files.TotalBytes > 0 {
			sizes[m.OrderID] = size{s.Files.TotalBytes, fmt.Sprintf("measured by move %d's last sync", m.ID)}
		}
	}
	orders, err := tx.ListOrders(ctx, store.OrderFilter{State: model.OrderActive})
	if err != nil {
		return f, err
	}
	for _, o := range orders {
		s := sizes[o.ID]
		f.Orders = append(f.Orders, Order{ID: o.ID, Identifier: o.Identifier, Host: o.Host, Size: s.bytes, SizeSource: s.source, Busy: busy[o.ID]})
	}
	return f, nil
}
