package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"ferry/internal/store"
)

// Replicas on one PostgreSQL store: every replica answers every API call
// and works River's jobs (a phase run is one job, which River hands to one
// replica at a time); the work that must run once, the move engine's
// reconciler and the rebalance runner, runs on the replica that holds the
// store's leader lock. Each replica also holds a lock of its own name while
// it lives, so that the leader can tell a job a dead replica held from one
// a live replica works. See docs/operations.md.

// claimReplica names this replica and takes its locks: the name's, so
// that two live replicas never share one, and this start's own (the name
// and a random suffix, the job queue's client id), so that a job a replica
// was working when it died is not taken for a live one's after a replica
// of the same name starts again.
func (cp *ControlPlane) claimReplica(ctx context.Context, id string) error {
	var b [4]byte
	if id == "" {
		host, _ := os.Hostname()
		rand.Read(b[:])
		id = host + "-" + hex.EncodeToString(b[:])
	}
	l, err := cp.Store.TryLock(ctx, replicaLock(id))
	if err != nil {
		return fmt.Errorf("replica %s: %w", id, err)
	}
	if l == nil {
		return fmt.Errorf("replica %s: another live replica has that name (give each one its own --replica-id)", id)
	}
	rand.Read(b[:])
	instance := id + "-" + hex.EncodeToString(b[:])
	il, err := cp.Store.TryLock(ctx, instanceLock(instance))
	if err == nil && il == nil {
		err = fmt.Errorf("instance %s is taken", instance)
	}
	if err != nil {
		l.Release()
		return fmt.Errorf("replica %s: %w", id, err)
	}
	cp.ReplicaID, cp.Instance, cp.self = id, instance, []store.Lock{l, il}
	return nil
}

// alive says whether the replica start called instance (a job queue
// client id) still lives.
func (cp *ControlPlane) alive(ctx context.Context, instance string) (bool, error) {
	return cp.Store.Held(ctx, instanceLock(instance))
}

func instanceLock(instance string) string { return "instance/" + instance }

// Leading says whether this replica runs the singleton work now.
func (cp *ControlPlane) Leading() bool { return cp.leading.Load() }

// startLeading listens for the other replicas' wake-ups and runs the
// leader loop: every poll, a replica that does not lead tries to take the
// leader lock, and one that leads checks that it still holds it, stepping
// down (stopping the singleton work) when it lost it.
func (cp *ControlPlane) startLeading(ctx context.Context, poll time.Duration) {
	if poll <= 0 {
		poll = DefaultLeaderPoll
	}
	ctx, cp.stopLead = context.WithCancel(ctx)
	cp.leadDone = make(chan struct{})
	listening := make(chan struct{})
	go func() {
		defer close(cp.leadDone)
		go cp.Panel.ListenReplicas(ctx, poll, func() { close(listening) })
		t := time.NewTicker(poll)
		defer t.Stop()
		var held interface {
			Check(context.Context) error
			Release() error
		}
		for {
			switch {
			case cp.Engine.Stopped():
				// An engine that stopped works no phases: its replica
				// neither leads nor tries to.
				if held != nil {
					cp.log.Warn("replica: the move engine stopped; letting the lead go", "replica", cp.ReplicaID)
					cp.stepDown()
					held.Release()
					held = nil
				}
			case held == nil:
				l, err := cp.Store.TryLock(ctx, leaderLock)
				if err != nil && ctx.Err() == nil {
					cp.log.Warn("replica: take the lead", "replica", cp.ReplicaID, "err", err)
				}
				if l != nil {
					held = l
					cp.lead(ctx)
				}
			default:
				cctx, cancel := context.WithTimeout(ctx, poll)
				err := held.Check(cctx)
				cancel()
				if err != nil && ctx.Err() == nil {
					cp.log.Warn("replica: lost the lead", "replica", cp.ReplicaID, "err", err)
					cp.stepDown()
					held.Release()
					held = nil
				}
			}
			select {
			case <-ctx.Done():
				if held != nil {
					cp.stepDown()
					held.Release()
				}
				return
			case <-t.C:
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(poll):
	}
}

func (cp *ControlPlane) lead(ctx context.Context) {
	cp.log.Info("replica: leading", "replica", cp.ReplicaID)
	cp.leading.Store(true)
	cp.Engine.Lead()
	if cp.Rebalance != nil {
		cp.Rebalance.Start(ctx)
	}
}

func (cp *ControlPlane) stepDown() {
	cp.leading.Store(false)
	if cp.Rebalance != nil {
		cp.Rebalance.Stop()
	}
	cp.Engine.StepDown()
}

func (cp *ControlPlane) stopLeading() {
	if cp.stopLead != nil {
		cp.stopLead()
		<-cp.leadDone
		cp.stopLead = nil
	}
}
