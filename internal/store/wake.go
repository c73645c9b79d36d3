package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// wakeChannel is the PostgreSQL notification channel that carries
// wake-ups between control plane processes on the store in schema:
// channels are per database, and one database may hold several stores.
func wakeChannel(schema string) string {
	ch := "ferry_wake_" + schema
	if len(ch) > 63 { // the longest identifier PostgreSQL keeps
		sum := sha256.Sum256([]byte(schema))
		ch = "ferry_wake_" + hex.EncodeToString(sum[:16])
	}
	return ch
}

// Waker is a store that carries short messages between the processes that
// share it: on PostgreSQL, LISTEN/NOTIFY. Several control plane replicas
// use it so that a change made through one wakes the node long-polls held
// by another. SQLite has one process and does not implement it.
type Waker interface {
	// Wake sends payload (under 8,000 bytes) to every listener, this
	// process's own included.
	Wake(ctx context.Context, payload string) error
	// ListenWake calls got with each payload sent, until ctx ends. On a
	// lost connection it calls lost with the error (wake-ups may have been
	// missed) and listens again after a pause. It holds one connection of
	// its own, outside the pool.
	ListenWake(ctx context.Context, got func(payload string), lost func(error))
}

// AsWaker returns s as a Waker, or nil when its driver has no way to
// reach other processes.
func AsWaker(s Store) Waker {
	if ss, ok := s.(*sqlStore); ok && ss.d.pg {
		return ss
	}
	return nil
}

// Wake sends payload on the wake channel.
func (s *sqlStore) Wake(ctx context.Context, payload string) error {
	if _, err := s.write.ExecContext(ctx, "SELECT pg_notify($1, $2)", s.wake, payload); err != nil {
		return fmt.Errorf("send wake-up: %w", err)
	}
	return nil
}

// ListenWake listens on the wake channel; see Waker.
func (s *sqlStore) ListenWake(ctx context.Context, got func(payload string), lost func(error)) {
	for ctx.Err() == nil {
		err := s.listen(ctx, got)
		if ctx.Err() != nil {
			return
		}
		lost(err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *sqlStore) listen(ctx context.Context, got func(string)) error {
	if s.pgcfg == nil {
		return errors.New("no connection settings")
	}
	conn, err := pgx.ConnectConfig(ctx, s.pgcfg.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.wake}.Sanitize()); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		got(n.Payload)
	}
}
