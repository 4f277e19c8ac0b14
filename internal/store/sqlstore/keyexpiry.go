package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/hdnetwork/hdn/internal/store"
)

// SetKeyExpiry makes a key expire at at (the zero time: never) and moves the
// authentication epoch, so that open streams of the key are checked again.
func (s *Store) SetKeyExpiry(ctx context.Context, id string, at time.Time) error {
	err := s.write(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE keys SET expires_at = ? WHERE id = ?`, OptNano(at), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return bumpAuthEpoch(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("%s: set expiry of key %q: %w", s.d.Name, id, err)
	}
	return nil
}
