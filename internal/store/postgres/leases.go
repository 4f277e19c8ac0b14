package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

// AcquireLease takes or renews the lease name for holder until now+ttl when
// it is free, expired at now, or already held by holder. One upsert decides,
// and PostgreSQL makes it safe between replicas without the change-log lock:
// of two inserts of a free lease, the second waits for the first to commit
// and then meets its row; an update locks the row and evaluates its WHERE on
// the newest version, so of two replicas taking an expired lease only the
// first finds it expired.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, errors.New("postgres: acquire lease: empty name or holder")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("postgres: acquire lease %q: ttl %s is not positive", name, ttl)
	}
	var got bool
	err := s.write(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
			WHERE leases.holder = excluded.holder OR leases.expires <= ?`,
			name, holder, sqlstore.ToNano(now.Add(ttl)), sqlstore.ToNano(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		got = n > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: acquire lease %q for %q: %w", name, holder, err)
	}
	return got, nil
}

// ReleaseLease gives the lease up if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	err := s.write(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: release lease %q of %q: %w", name, holder, err)
	}
	return nil
}
