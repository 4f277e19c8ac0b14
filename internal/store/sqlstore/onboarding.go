package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

func validStatus(st model.OrgStatus) bool {
	return st == model.OrgActive || st == model.OrgPending || st == model.OrgSuspended
}

// bumpAuthEpoch moves the authentication epoch, in the transaction that
// changed who may authenticate or what they see.
func bumpAuthEpoch(ctx context.Context, tx Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE auth_epoch SET n = n + 1 WHERE one = 1`)
	return err
}

// AuthEpoch returns the authentication epoch.
func (s *Store) AuthEpoch(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT n FROM auth_epoch WHERE one = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: auth epoch: %w", s.d.Name, err)
	}
	return n, nil
}

// SetOrgStatus moves an organisation to a status.
func (s *Store) SetOrgStatus(ctx context.Context, id string, status model.OrgStatus) error {
	if !validStatus(status) {
		return fmt.Errorf("%s: set org %q status: %q is not one of active, pending, suspended", s.d.Name, id, status)
	}
	err := s.write(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE orgs SET status = ? WHERE id = ?`, string(status), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return bumpAuthEpoch(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("%s: set org %q status: %w", s.d.Name, id, err)
	}
	return nil
}

// SetOrgPartner moves a customer to another partner and voids the
// customer's unused enrolment tokens (made by or for the old partner). It
// holds the change log's lock, so that the view floors it sets are the
// newest change as streams see it.
//
// The move changes who may see two sets of indicators: what the customer
// shares (its partner sees it), and what is shared at clear, green or amber
// with a group or list that names the old or the new partner (the partner's
// customers see it). Each of them gets an "updated" change entry, moves to
// the end of the change sequence and has its Touched time set to now, so
// that the new partner's and the customer's incremental pulls (TAXII
// added_after, MISP timestamp, since=) find what they may newly see; their
// Modified time stays. The view floors are set after those entries: a
// stream of the customer or of either partner that read them with its old
// view resets too.
func (s *Store) SetOrgPartner(ctx context.Context, customerID, partnerID string) error {
	err := s.writeChanges(ctx, func(tx Tx) error {
		var kind, pkind, old string
		if err := tx.QueryRowContext(ctx, `SELECT kind, COALESCE(partner_id, '') FROM orgs WHERE id = ?`, customerID).Scan(&kind, &old); err != nil {
			return fmt.Errorf("customer: %w", s.mapErr(err))
		}
		if policy.OrgKind(kind) != policy.Customer {
			return fmt.Errorf("%q is a %s, not a customer", customerID, kind)
		}
		if err := tx.QueryRowContext(ctx, `SELECT kind FROM orgs WHERE id = ?`, partnerID).Scan(&pkind); err != nil {
			return fmt.Errorf("partner: %w", s.mapErr(err))
		}
		if policy.OrgKind(pkind) != policy.Partner {
			return fmt.Errorf("%q is a %s, not a partner", partnerID, pkind)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET partner_id = ? WHERE id = ?`, partnerID, customerID); err != nil {
			return err
		}
		last, err := s.lastSeq(ctx, tx)
		if err != nil {
			return err
		}
		if old != partnerID {
			// A token expires when it was made: redeeming it is refused
			// as for any expired token. (Setting the same partner again
			// leaves the tokens alone.)
			if _, err := tx.ExecContext(ctx, `UPDATE enrol_tokens SET expires = created WHERE org_id = ? AND used IS NULL AND expires > created`, customerID); err != nil {
				return err
			}
			if last, err = s.touchMovedCustomer(ctx, tx, last, customerID, old, partnerID); err != nil {
				return err
			}
		}
		for _, org := range []string{customerID, old, partnerID} {
			if org == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = `+s.d.Greatest+`(meta.value, excluded.value)`, viewFloorKey+org, last); err != nil {
				return err
			}
		}
		return bumpAuthEpoch(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("%s: move customer %q to partner %q: %w", s.d.Name, customerID, partnerID, err)
	}
	return nil
}

// touchMovedCustomer writes the change entries of a customer's move from
// partner old ("" for none) to partner now (SetOrgPartner), after base, and
// returns the last sequence number written (base when none).
func (s *Store) touchMovedCustomer(ctx context.Context, tx Tx, base int64, customer, old, now string) (int64, error) {
	partners := []string{now}
	if old != "" {
		partners = append(partners, old)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
		SELECT :base + row_number() OVER (ORDER BY n), n, 'updated', :at
		FROM indicators i WHERE i.source = :customer
			OR (i.tlp IN ('clear','green','amber') AND (
				(i.audience_kind = 'group' AND EXISTS (SELECT 1 FROM group_members m
					WHERE m.group_id = i.audience_group AND m.org_id IN (`+s.d.TextArray(":partners")+`)))
				OR (i.audience_kind = 'orgs' AND EXISTS (SELECT 1 FROM indicator_audience a
					WHERE a.indicator_n = i.n AND a.org_id IN (`+s.d.TextArray(":partners")+`)))))`,
		sql.Named("base", base), sql.Named("at", NowNano()), sql.Named("customer", customer),
		sql.Named("partners", JSONStrings(partners)))
	if err != nil {
		return 0, fmt.Errorf("change entries: %w", err)
	}
	k, err := res.RowsAffected()
	if err != nil || k == 0 {
		return base, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE indicators SET seq = c.seq, touched = c.at FROM changes AS c
		WHERE c.seq > ? AND c.indicator_n = indicators.n`, base); err != nil {
		return 0, fmt.Errorf("indicators: %w", err)
	}
	return base + k, nil
}

// viewFloorKey prefixes an organisation's view floor in meta.
const viewFloorKey = "view_floor:"

// ViewFloor reads an organisation's view floor (store.Onboarding).
func (s *Store) ViewFloor(ctx context.Context, orgID string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = ?), 0)`, viewFloorKey+orgID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("%s: view floor of %q: %w", s.d.Name, orgID, err)
	}
	return n, nil
}

// RevokeOrg offboards an organisation.
func (s *Store) RevokeOrg(ctx context.Context, id string, anonymise bool, at time.Time) (int, int64, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var keys int
	var last int64
	err := s.writeChanges(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE orgs SET revoked = 1 WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		res, err = tx.ExecContext(ctx, `UPDATE keys SET revoked = 1 WHERE org_id = ? AND revoked = 0`, id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		keys = int(n)
		if _, err := tx.ExecContext(ctx, `UPDATE enrol_tokens SET expires = `+s.d.Least+`(expires, ?) WHERE org_id = ? AND used IS NULL`, ToNano(at), id); err != nil {
			return err
		}
		if anonymise {
			base, err := s.lastSeq(ctx, tx)
			if err != nil {
				return err
			}
			stamp := Stamp(at)
			res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
				SELECT :base + row_number() OVER (ORDER BY n), n, 'updated', :at
				FROM indicators WHERE source = :org AND anonymous = 0`,
				sql.Named("base", base), sql.Named("at", stamp), sql.Named("org", id))
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE indicators SET anonymous = 1, modified = :at, touched = :at, seq = c.seq
					FROM changes AS c WHERE c.seq > :base AND c.indicator_n = indicators.n`,
					sql.Named("base", base), sql.Named("at", stamp)); err != nil {
					return err
				}
				last = base + k
			}
			if _, err := tx.ExecContext(ctx, `UPDATE reports SET anonymous = 1 WHERE source = ?`, id); err != nil {
				return err
			}
		}
		return bumpAuthEpoch(ctx, tx)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("%s: revoke org %q: %w", s.d.Name, id, err)
	}
	return keys, last, nil
}

// CreateEnrolToken stores a token (its hash).
func (s *Store) CreateEnrolToken(ctx context.Context, t model.EnrolToken) error {
	switch {
	case t.ID == "" || len(t.Hash) == 0:
		return fmt.Errorf("%s: create enrolment token: the id or hash is empty", s.d.Name)
	case !t.Expires.After(t.Created):
		return fmt.Errorf("%s: create enrolment token %q: it expires before it is created", s.d.Name, t.ID)
	}
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO enrol_tokens (id, org_id, hash, created_by, created, expires) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.OrgID, t.Hash, t.CreatedBy, ToNano(t.Created), ToNano(t.Expires))
		return s.mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("%s: create enrolment token %q: %w", s.d.Name, t.ID, err)
	}
	return nil
}

// EnrolToken returns a token.
func (s *Store) EnrolToken(ctx context.Context, id string) (model.EnrolToken, error) {
	var t model.EnrolToken
	var created, expires int64
	var used sql.NullInt64
	var keyID sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, hash, created_by, created, expires, used, key_id FROM enrol_tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.OrgID, &t.Hash, &t.CreatedBy, &created, &expires, &used, &keyID)
	if err != nil {
		return t, fmt.Errorf("%s: enrolment token %q: %w", s.d.Name, id, s.mapErr(err))
	}
	t.Created, t.Expires, t.Used, t.KeyID = FromNano(created), FromNano(expires), FromOptNano(used), keyID.String
	return t, nil
}

// RedeemEnrolToken uses a token once and creates its key.
func (s *Store) RedeemEnrolToken(ctx context.Context, id string, k model.Key, now time.Time) error {
	if k.ID == "" || len(k.Hash) == 0 {
		return fmt.Errorf("%s: redeem enrolment token: the key's id or hash is empty", s.d.Name)
	}
	if k.Created.IsZero() {
		k.Created = now
	}
	err := s.write(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE enrol_tokens SET used = ?, key_id = ? WHERE id = ? AND used IS NULL AND expires > ? AND org_id = ?`,
			ToNano(now), k.ID, id, ToNano(now), k.OrgID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM enrol_tokens WHERE id = ?`, id).Scan(&one); err != nil {
				return s.mapErr(err)
			}
			return store.ErrConflict
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.OrgID, string(k.Role), k.Name, k.Hash, ToNano(k.Created), OptNano(k.ExpiresAt), k.Revoked, OptNano(k.LastUsed))
		return s.mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("%s: redeem enrolment token %q: %w", s.d.Name, id, err)
	}
	return nil
}

// PutSensorStatus stores a heartbeat.
func (s *Store) PutSensorStatus(ctx context.Context, st model.SensorStatus) error {
	if st.KeyID == "" || st.OrgID == "" {
		return fmt.Errorf("%s: put sensor status: the key or organisation is empty", s.d.Name)
	}
	inputs, err := json.Marshal(st.Inputs)
	if err != nil {
		return fmt.Errorf("%s: put sensor status: %w", s.d.Name, err)
	}
	if st.Inputs == nil {
		inputs = []byte("[]")
	}
	err = s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sensors (key_id, org_id, name, version, started, inputs, events_per_second, lag_seconds,
				indicators, patterns, last_error, last_error_at, last_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key_id) DO UPDATE SET org_id = excluded.org_id, name = excluded.name, version = excluded.version,
				started = excluded.started, inputs = excluded.inputs, events_per_second = excluded.events_per_second,
				lag_seconds = excluded.lag_seconds, indicators = excluded.indicators, patterns = excluded.patterns,
				last_error = excluded.last_error, last_error_at = excluded.last_error_at, last_seen = excluded.last_seen`,
			st.KeyID, st.OrgID, st.Name, st.Version, OptNano(st.Started), string(inputs), st.EventsPerSecond, st.LagSeconds,
			st.Indicators, st.Patterns, st.LastError, OptNano(st.LastErrorAt), ToNano(st.LastSeen))
		return s.mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("%s: put sensor status %q: %w", s.d.Name, st.KeyID, err)
	}
	return nil
}

// ListSensors returns sensors of some organisations (nil: all).
func (s *Store) ListSensors(ctx context.Context, orgIDs []string) ([]model.SensorStatus, error) {
	q := `SELECT key_id, org_id, name, version, started, inputs, events_per_second, lag_seconds, indicators, patterns,
		last_error, last_error_at, last_seen FROM sensors`
	var args []any
	if orgIDs != nil {
		q += ` WHERE org_id IN (` + s.d.TextArray("?") + `)`
		args = append(args, JSONStrings(orgIDs))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY org_id, name, key_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: list sensors: %w", s.d.Name, err)
	}
	defer rows.Close()
	var out []model.SensorStatus
	for rows.Next() {
		var st model.SensorStatus
		var started, errAt sql.NullInt64
		var seen int64
		var inputs string
		if err := rows.Scan(&st.KeyID, &st.OrgID, &st.Name, &st.Version, &started, &inputs, &st.EventsPerSecond, &st.LagSeconds,
			&st.Indicators, &st.Patterns, &st.LastError, &errAt, &seen); err != nil {
			return nil, fmt.Errorf("%s: list sensors: %w", s.d.Name, err)
		}
		if err := json.Unmarshal([]byte(inputs), &st.Inputs); err != nil {
			return nil, fmt.Errorf("%s: list sensors: inputs of %s: %w", s.d.Name, st.KeyID, err)
		}
		st.Started, st.LastErrorAt, st.LastSeen = FromOptNano(started), FromOptNano(errAt), FromNano(seen)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: list sensors: %w", s.d.Name, err)
	}
	return out, nil
}

// SharingSince counts indicators created since, per source.
func (s *Store) SharingSince(ctx context.Context, since time.Time) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, count(*) FROM indicators WHERE created >= ? GROUP BY source`, ToNano(since))
	if err != nil {
		return nil, fmt.Errorf("%s: sharing since: %w", s.d.Name, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var src string
		var n int
		if err := rows.Scan(&src, &n); err != nil {
			return nil, fmt.Errorf("%s: sharing since: %w", s.d.Name, err)
		}
		out[src] = n
	}
	return out, rows.Err()
}
