// Package cptest is the control plane's test kit: a store of its own per
// test, on SQLite or on the tests' PostgreSQL, a panel over it, a clock
// the test moves forward and a fake node agent, so that tests do not each
// open and wire their own. Its subpackage cpserver starts a whole control
// plane in the test's process.
package cptest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/panel"
	"ferry/internal/store"
	"ferry/internal/store/storetest"
)

// Quiet is a logger that drops everything.
func Quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// SQLite opens a store on a new SQLite file of the test's own, closed when
// the test ends.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "ferry.db"))
}

// Store opens a store of the test's own: on a new schema of the tests'
// PostgreSQL when FERRY_TEST_PG_URL names one (as the store conformance
// suite does), on a new SQLite file otherwise.
func Store(t testing.TB) store.Store {
	t.Helper()
	return open(t, StoreURL(t))
}

// StoreURL names a new, empty store of the test's own, as Store chooses
// it, for what opens the store itself (controlplane.Start); the schema
// or file goes when the test ends.
func StoreURL(t testing.TB) string {
	t.Helper()
	if os.Getenv("FERRY_TEST_PG_URL") != "" {
		return storetest.PostgresURL(t)
	}
	return filepath.Join(t.TempDir(), "ferry.db")
}

func open(t testing.TB, url string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Panel returns a quiet panel over st on the clock now (time.Now when nil).
func Panel(st store.Store, now func() time.Time) *panel.Panel {
	return panel.New(st, panel.Options{Now: now, Log: Quiet()})
}
