package postgres

import "database/sql"

// Pool gives a store's connection pool, for tests that look at its
// sessions.
func Pool(s *Store) *sql.DB { return s.db.DB }

// LockClassChanges is the advisory lock class of the change-log writers,
// for tests that hold it from another connection.
const LockClassChanges = lockClassChanges
