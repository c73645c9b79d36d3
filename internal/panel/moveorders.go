package panel

import (
	"context"
	"fmt"

	"ferry/internal/model"
	"ferry/internal/store"
)

// The changes a move makes to orders, each in the caller's transaction (the
// move engine's step) and each with its audit entry.

// CreateLimboOrderTx makes the limbo order that holds o's items on the old
// host while o moves: same identifier, member and host, in transfer-limbo.
func (p *Panel) CreateLimboOrderTx(ctx context.Context, tx store.Tx, c Caller, o model.Order) (model.Order, error) {
	limbo := model.Order{Identifier: o.Identifier, Member: o.Member, Host: o.Host, State: model.OrderTransferLimbo}
	if err := tx.CreateOrder(ctx, &limbo); err != nil {
		return model.Order{}, fmt.Errorf("limbo order: %w", err)
	}
	if err := p.audit(ctx, tx, c, AuditOrderCreate, orderObject(limbo.ID), limbo.ID, nil, limbo); err != nil {
		return model.Order{}, err
	}
	return limbo, nil
}

// SetOrderHostTx records that o now lives on host (a move's prepare, or
// its abort putting it back).
func (p *Panel) SetOrderHostTx(ctx context.Context, tx store.Tx, c Caller, o *model.Order, host string) error {
	before := *o
	o.Host = host
	if err := tx.UpdateOrder(ctx, o); err != nil {
		return err
	}
	return p.audit(ctx, tx, c, AuditOrderUpdate, orderObject(o.ID), o.ID, before, *o)
}

// RetireLimboOrderTx marks a move's limbo order deleted without touching
// its items or directory (an abort: the directory is the order's own).
func (p *Panel) RetireLimboOrderTx(ctx context.Context, tx store.Tx, c Caller, limbo *model.Order) error {
	before := *limbo
	limbo.State = model.OrderDeleted
	if err := tx.UpdateOrder(ctx, limbo); err != nil {
		return err
	}
	return p.audit(ctx, tx, c, AuditOrderDelete, orderObject(limbo.ID), limbo.ID, before, *limbo)
}

func orderObject(id int64) string { return fmt.Sprintf("order/%d", id) }
