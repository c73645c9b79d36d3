package store

import (
	"context"
	"fmt"
)

// LimitSQLitePages caps a SQLite store's file at n pages (0: no cap beyond
// SQLite's own), as a full disk would, and returns how many pages it holds.
func LimitSQLitePages(ctx context.Context, st Store, n int) (int, error) {
	s := st.(*sqlStore)
	if n == 0 {
		n = 1 << 30
	}
	if _, err := s.write.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", n)); err != nil {
		return 0, err
	}
	var pages int
	err := s.write.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages)
	return pages, err
}

// IntegrityCheck runs SQLite's integrity check and returns its answer.
func IntegrityCheck(ctx context.Context, st Store) (string, error) {
	var ok string
	err := st.(*sqlStore).read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok)
	return ok, err
}
