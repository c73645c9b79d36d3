package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
)

// Several control plane replicas share one PostgreSQL store. What they
// need of it beyond transactions is here: a lock that one replica holds
// while it lives (the leader's, and each replica's own, so that others can
// tell it is alive), and wake-ups that reach every replica.
//
// The locks are PostgreSQL session advisory locks held on a connection of
// their own. PostgreSQL ends a session, and frees its locks, as soon as
// the connection closes: a replica killed with SIGKILL loses its locks at
// once, a replica on a machine that vanished when the server's TCP
// keepalive gives up on it. A SQLite store serves one process: there every
// TryLock succeeds and AliveLock says nothing.

// Lock is a named lock the process holds until Release, or until the
// connection that holds it dies.
type Lock interface {
	// Check says whether the lock is still held: it reaches the database
	// through the lock's own connection.
	Check(ctx context.Context) error
	// Release frees the lock.
	Release() error
}

// advisory lock classes, the first key of pg_try_advisory_lock(int, int).
// 7210 and 7211 are migrate's and HoldersOf's.
const (
	lockClassNamed = 7212
)

// lockKey maps a lock's name, in the store's schema, onto the second key.
func (s *sqlStore) lockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(s.space + "/" + name))
	return int32(h.Sum32())
}

// wakeChannel is the PostgreSQL channel that carries the store's
// wake-ups: one per schema, so that stores sharing a database keep apart.
func (s *sqlStore) wakeChannel() string {
	h := fnv.New32a()
	h.Write([]byte(s.space))
	return fmt.Sprintf("ferry_wake_%08x", h.Sum32())
}

// TryLock takes the lock called name if no live process holds it, and
// returns (nil, nil) if one does.
func (s *sqlStore) TryLock(ctx context.Context, name string) (Lock, error) {
	if !s.d.pg {
		return localLock{}, nil
	}
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, $2)", lockClassNamed, s.lockKey(name)).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !got {
		return nil, conn.Close()
	}
	l := &pgLock{s: s, conn: conn, name: name, key: s.lockKey(name)}
	s.locksMu.Lock()
	if s.locks == nil {
		s.locks = map[*pgLock]bool{}
	}
	s.locks[l] = true
	s.locksMu.Unlock()
	return l, nil
}

// Held says whether a live process holds the lock called name. On SQLite
// it returns ErrNoLocks: one process, nothing to ask.
func (s *sqlStore) Held(ctx context.Context, name string) (bool, error) {
	if !s.d.pg {
		return false, ErrNoLocks
	}
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2`, int64(lockClassNamed), int64(uint32(s.lockKey(name)))).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up lock %s: %w", name, err)
	}
	return n > 0, nil
}

// ErrNoLocks says that the store keeps no locks between processes.
var ErrNoLocks = errors.New("the store keeps no locks between processes")

type localLock struct{}

func (localLock) Check(context.Context) error { return nil }
func (localLock) Release() error              { return nil }

type pgLock struct {
	s    *sqlStore
	conn *sql.Conn
	name string
	key  int32
}

func (l *pgLock) Check(ctx context.Context) error {
	if err := l.conn.PingContext(ctx); err != nil {
		return fmt.Errorf("lock %s lost: %w", l.name, err)
	}
	return nil
}

func (l *pgLock) Release() error {
	l.s.locksMu.Lock()
	defer l.s.locksMu.Unlock()
	if !l.s.locks[l] {
		return nil
	}
	delete(l.s.locks, l)
	// An unlock returns the connection to the pool clean; when it fails,
	// the connection is dropped, and the lock ends with its session.
	_, err := l.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1, $2)", lockClassNamed, l.key)
	if err != nil {
		l.drop()
		return nil
	}
	return l.conn.Close()
}

// drop closes the lock's connection instead of returning it to the pool.
func (l *pgLock) drop() {
	l.conn.Raw(func(any) error { return driver.ErrBadConn })
	l.conn.Close()
}

// maxWakePayload keeps a NOTIFY under PostgreSQL's 8000-byte limit.
const maxWakePayload = 7000

// Wake tells every process listening on the store (Listen) that the
// things called keys changed. On SQLite it does nothing: one process, which
// woke its own waiters already.
func (s *sqlStore) Wake(ctx context.Context, keys ...string) error {
	if !s.d.pg || len(keys) == 0 {
		return nil
	}
	var b strings.Builder
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		_, err := s.write.ExecContext(ctx, "SELECT pg_notify($1, $2)", s.wakeChannel(), b.String())
		b.Reset()
		return err
	}
	for _, k := range keys {
		if k == "" || strings.Contains(k, "\n") || len(k) > maxWakePayload {
			continue
		}
		if b.Len()+len(k)+1 > maxWakePayload {
			if err := flush(); err != nil {
				return fmt.Errorf("wake: %w", err)
			}
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("wake: %w", err)
	}
	return nil
}

// Listen calls fn with every key any process passes to Wake, until ctx
// ends. ready, when not nil, is called once the listener is in place. It
// returns only with an error: ctx's when it ends, or the connection's. On
// SQLite it waits for ctx.
func (s *sqlStore) Listen(ctx context.Context, ready func(), fn func(key string)) error {
	if !s.d.pg {
		if ready != nil {
			ready()
		}
		<-ctx.Done()
		return ctx.Err()
	}
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer func() {
		// The session's LISTEN must not outlive this call in the pool.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "LISTEN "+s.wakeChannel()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if ready != nil {
		ready()
	}
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("listen: the PostgreSQL driver gave a %T", dc)
		}
		for {
			n, err := pc.Conn().WaitForNotification(ctx)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			for _, k := range strings.Split(n.Payload, "\n") {
				fn(k)
			}
		}
	})
}
