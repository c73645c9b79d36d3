package store

import "database/sql"

// DB returns the pool that Update uses, for a job queue that keeps its own
// tables beside ferry's (the move engine's River). On SQLite it is the one
// write connection, so the queue's writes and the store's take turns
// instead of failing on a busy database.
func (s *sqlStore) DB() *sql.DB { return s.write }
