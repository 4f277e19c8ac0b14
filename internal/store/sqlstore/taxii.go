package sqlstore

import (
	"context"
	"fmt"

	"github.com/hdnetwork/hdn/internal/store"
)

var _ store.TAXIIStatuses = (*Store)(nil)

// PutTAXIIStatus keeps s and lets the oldest statuses go until lim holds,
// in one transaction.
func (s *Store) PutTAXIIStatus(ctx context.Context, st store.TAXIIStatus, lim store.TAXIIStatusLimit) error {
	if st.ID == "" || st.Org == "" || len(st.Body) == 0 {
		return fmt.Errorf("%s: put TAXII status: no id, organisation or body", s.d.Name)
	}
	if lim.PerOrg < 1 || lim.OrgBytes < 1 || lim.Bytes < 1 || lim.MaxAge <= 0 {
		return fmt.Errorf("%s: put TAXII status: the limit %+v is not positive", s.d.Name, lim)
	}
	created := ToNano(st.Created)
	err := s.write(ctx, func(tx Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO taxii_statuses (id, org_id, created, size, body) VALUES (?, ?, ?, ?, ?)`,
			st.ID, st.Org, created, len(st.Body), st.Body); err != nil {
			return s.mapErr(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM taxii_statuses WHERE created <= ? AND id <> ?`,
			created-lim.MaxAge.Nanoseconds(), st.ID); err != nil {
			return err
		}
		// Newest first, a status goes when it is not the newest and the
		// ones up to it are over a bound. The bounds are checked first so
		// that a put within them reads no more than two sums.
		var count, orgBytes int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM taxii_statuses WHERE org_id = ?`, st.Org).Scan(&count, &orgBytes); err != nil {
			return err
		}
		if count > int64(lim.PerOrg) || orgBytes > lim.OrgBytes {
			if _, err := tx.ExecContext(ctx, `DELETE FROM taxii_statuses WHERE n IN (
				SELECT n FROM (SELECT n, ROW_NUMBER() OVER (ORDER BY n DESC) AS r, SUM(size) OVER (ORDER BY n DESC) AS total
					FROM taxii_statuses WHERE org_id = ?) x
				WHERE r > 1 AND (r > ? OR total > ?))`, st.Org, lim.PerOrg, lim.OrgBytes); err != nil {
				return err
			}
		}
		var all int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM taxii_statuses`).Scan(&all); err != nil {
			return err
		}
		if all > lim.Bytes {
			if _, err := tx.ExecContext(ctx, `DELETE FROM taxii_statuses WHERE n IN (
				SELECT n FROM (SELECT n, SUM(size) OVER (ORDER BY n DESC) AS total FROM taxii_statuses) x
				WHERE total > ? AND n <> (SELECT MAX(n) FROM taxii_statuses WHERE id = ?))`, lim.Bytes, st.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: put TAXII status %s: %w", s.d.Name, st.ID, err)
	}
	return nil
}

// TAXIIStatus returns the body of org's status id.
func (s *Store) TAXIIStatus(ctx context.Context, org, id string) ([]byte, error) {
	var body []byte
	err := s.db.QueryRowContext(ctx, `SELECT body FROM taxii_statuses WHERE id = ? AND org_id = ?`, id, org).Scan(&body)
	if err != nil {
		return nil, fmt.Errorf("%s: TAXII status %q: %w", s.d.Name, id, s.mapErr(err))
	}
	return body, nil
}
