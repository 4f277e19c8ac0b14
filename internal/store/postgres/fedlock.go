package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"
)

// WithFederationLock runs fn holding the federation lock of the schema, a
// session-level advisory lock (lockClassFederation) that every replica on
// the database takes, so that federated applies run one at a time across
// replicas (store.Federation, docs/POSTGRES.md).
//
// Why a session lock on a connection of its own, and not a transaction
// lock: what it guards — finding the copies held, deciding, storing the new
// versions in an ingest, then settling them with Revoke, SetQuarantine and
// ExpireNow — is several transactions of the pool's other connections,
// each taking the change-log lock in turn. A transaction-level lock would
// need one transaction open, idle, across all of them, which the server's
// idle_in_transaction_session_timeout (60 s, set by the store) would end
// half-way, silently dropping the lock while fn still runs. The session
// lock is held by a connection that runs nothing else until fn returns,
// and it cannot deadlock with the change-log lock: it is always taken
// first, outside any transaction, and no holder of the change-log lock
// ever waits for it.
//
// Goroutines of this process first queue on fedLock, so that one
// connection at most per process waits for or holds the lock (many waiting
// would take the pool's connections from the holder's fn). A replica that
// vanishes while holding the lock loses its session as it loses its
// transactions (sessionDefaults: about a minute), and with it the lock; a
// waiter gives up after lock_timeout with ErrLockTimeout, naming the
// holder. When the lock cannot be given back (the connection broke), the
// connection is discarded rather than returned to the pool: its session
// ends and the lock with it.
func (s *Store) WithFederationLock(ctx context.Context, fn func() error) (err error) {
	select {
	case s.fedLock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("postgres: federation lock: %w", ctx.Err())
	}
	defer func() { <-s.fedLock }()
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: federation lock: %w", err)
	}
	discard := func() { _ = conn.Raw(func(any) error { return driver.ErrBadConn }) }
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema()))`, lockClassFederation); err != nil {
		// Whether the server granted it before the error (a cancelled
		// context) is not known: the session goes, and any lock with it.
		discard()
		return s.lockError(ctx, lockClassFederation, err)
	}
	defer func() {
		var released bool
		// A background context: the lock must be given back even when
		// ctx has ended.
		uerr := conn.QueryRowContext(context.Background(), `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`,
			lockClassFederation).Scan(&released)
		if uerr == nil && !released {
			uerr = fmt.Errorf("the session no longer held it")
		}
		if uerr != nil {
			discard()
			if err == nil {
				err = fmt.Errorf("postgres: federation lock of schema %s: give it back: %w", s.schema, uerr)
			}
		}
	}()
	return fn()
}
