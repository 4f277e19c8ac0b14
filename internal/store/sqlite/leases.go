package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

// AcquireLease takes or renews the lease name for holder until now+ttl when
// it is free, expired at now, or already held by holder. One upsert decides:
// its update applies only when the row is holder's or expired, so two
// replicas racing for a free lease cannot both win (writes are serialised).
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, errors.New("sqlite: acquire lease: empty name or holder")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("sqlite: acquire lease %q: ttl %s is not positive", name, ttl)
	}
	var got bool
	err := s.write(ctx, func(tx *sql.Tx) error {
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
		return false, fmt.Errorf("sqlite: acquire lease %q for %q: %w", name, holder, err)
	}
	return got, nil
}

// ReleaseLease gives the lease up if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: release lease %q of %q: %w", name, holder, err)
	}
	return nil
}
