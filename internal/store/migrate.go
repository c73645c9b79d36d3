package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// migrationFiles are the schema's steps, NNNN_name.sql, applied in order.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one step of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations reads the embedded steps, checking that they are numbered
// 1, 2, 3, … with no gap or repeat.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: want the name %04d_something.sql", e.Name(), len(ms)+1)
		}
		text, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}
	return ms, nil
}

// migrate applies the steps the database has not had yet, in one
// transaction, and records each in schema_migrations. It refuses a database
// that a newer ferry has migrated further.
func (s *sqlStore) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return s.inTx(ctx, true, func(t *tx) error {
		if t.d.pg {
			// Replicas starting together take turns. (7210, 0) is the
			// schema's lock; HoldersOf locks identities as (7211, hash).
			if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(7210, 0)"); err != nil {
				return fmt.Errorf("lock schema: %w", err)
			}
		}
		_, err := t.exec(ctx, t.d.columns.Replace(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at {{time}} NOT NULL
		)`))
		if err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var have int
		if err := t.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have > len(ms) {
			return fmt.Errorf("database schema is at version %d, newer than this ferry's %d", have, len(ms))
		}
		for _, m := range ms[have:] {
			// Without arguments, both drivers run every statement of the text.
			if _, err := t.tx.ExecContext(ctx, t.d.columns.Replace(m.sql)); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			_, err := t.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, now())
			if err != nil {
				return fmt.Errorf("record migration %d: %w", m.version, err)
			}
		}
		return nil
	})
}

// Ready says whether the database answers within its context and holds
// the schema this ferry's migrations make, neither older nor newer: what
// a replica needs before a load balancer sends it requests.
func (s *sqlStore) Ready(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var have int
	if err := s.read.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return fmt.Errorf("the %s store does not answer: %w", s.d.name, err)
	}
	if have != len(ms) {
		return fmt.Errorf("%w: the %s store's schema is at version %d, this ferry's at %d", ErrSchema, s.d.name, have, len(ms))
	}
	return nil
}
