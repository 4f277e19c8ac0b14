package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// IndicatorColumns are the columns of an indicator that Querier.Indicators
// and scanIndicator read, in their order; the table alias is i.
const IndicatorColumns = `i.n, i.id, i.type, i.value, i.tlp, i.audience_kind, COALESCE(i.audience_group, ''),
	i.labels, i.description, i.confidence, COALESCE(i.valid_from, i.first_seen), i.valid_until,
	i.first_seen, i.last_seen, i.source, COALESCE(i.submitted_by, ''), i.anonymous,
	COALESCE(i.report_id, ''), i.tags, i.revoked, i.created, i.modified, i.seq, i.quarantined, i.quarantine_reason, i.touched`

// scanIndicator reads one row of IndicatorColumns, after the destinations in
// prefix (for queries that select more in front).
func scanIndicator(rows *sql.Rows, prefix ...any) (int64, model.Indicator, error) {
	var (
		ind                            model.Indicator
		n, conf                        int64
		validFrom, firstSeen, lastSeen int64
		created, modified, touched     int64
		validUntil                     sql.NullInt64
		labels, tags                   sql.NullString
		typ, tlp, audKind              string
		anonymous, revoked             bool
	)
	dest := append(prefix, &n, &ind.ID, &typ, &ind.Value, &tlp, &audKind, &ind.Audience.Group,
		&labels, &ind.Description, &conf, &validFrom, &validUntil,
		&firstSeen, &lastSeen, &ind.Source, &ind.SubmittedBy, &anonymous,
		&ind.ReportID, &tags, &revoked, &created, &modified, &ind.Seq, &ind.Quarantined, &ind.QuarantineReason, &touched)
	if err := rows.Scan(dest...); err != nil {
		return 0, ind, err
	}
	var err error
	if ind.Labels, err = DecodeList(labels); err != nil {
		return 0, ind, fmt.Errorf("labels of indicator %s: %w", ind.ID, err)
	}
	if ind.Tags, err = DecodeList(tags); err != nil {
		return 0, ind, fmt.Errorf("tags of indicator %s: %w", ind.ID, err)
	}
	ind.Type = indicator.Type(typ)
	ind.TLP = policy.TLP(tlp)
	ind.Audience.Kind = policy.AudienceKind(audKind)
	ind.Confidence = int(conf)
	ind.ValidFrom = FromNano(validFrom)
	ind.ValidUntil = FromOptNano(validUntil)
	ind.FirstSeen = FromNano(firstSeen)
	ind.LastSeen = FromNano(lastSeen)
	ind.Anonymous = anonymous
	ind.Revoked = revoked
	ind.Created = FromNano(created)
	ind.Modified = FromNano(modified)
	ind.Touched = FromNano(touched)
	return n, ind, nil
}

// Querier runs the queries of one transaction: those of a read transaction
// through DB.ReadQuery (the SQLite store prepares each once per connection
// of its read pool), those of a write transaction as they come (it reads
// little).
type Querier struct {
	s    *Store
	tx   Tx
	read bool
}

// NewQuerier returns the querier of tx, a transaction of s's DB: one of
// DB.Read when read is true, else one of DB.Write.
func NewQuerier(s *Store, tx Tx, read bool) Querier { return Querier{s, tx, read} }

// Query runs a query in the querier's transaction.
func (q Querier) Query(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	if !q.read {
		return q.tx.QueryContext(ctx, text, args...)
	}
	return q.s.db.ReadQuery(ctx, q.tx, text, args...)
}

// Indicators runs a query of IndicatorColumns and fills in the audiences.
func (q Querier) Indicators(ctx context.Context, text string, args ...any) ([]model.Indicator, error) {
	rows, err := q.Query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		inds []model.Indicator
		ns   []int64
	)
	for rows.Next() {
		n, ind, err := scanIndicator(rows)
		if err != nil {
			return nil, err
		}
		inds = append(inds, ind)
		ns = append(ns, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if err := q.FillIndicatorAudiences(ctx, inds, ns); err != nil {
		return nil, err
	}
	return inds, nil
}

// FillIndicatorAudiences sets Audience.Orgs and GroupMembers of inds (ns are
// their internal keys) from the same snapshot the rows came from, so that a
// caller can ask policy.CanSee about each.
func (q Querier) FillIndicatorAudiences(ctx context.Context, inds []model.Indicator, ns []int64) error {
	var withOrgs []int64
	var groups []string
	for i := range inds {
		switch inds[i].Audience.Kind {
		case policy.Orgs:
			withOrgs = append(withOrgs, ns[i])
		case policy.Group:
			if !slices.Contains(groups, inds[i].Audience.Group) {
				groups = append(groups, inds[i].Audience.Group)
			}
		}
	}
	if len(withOrgs) > 0 {
		orgs, err := q.Pairs(ctx, `SELECT indicator_n, org_id FROM indicator_audience
			WHERE indicator_n IN (`+q.s.d.IntArray("?")+`) ORDER BY indicator_n, org_id`, JSONInts(withOrgs))
		if err != nil {
			return fmt.Errorf("audience: %w", err)
		}
		for i := range inds {
			if inds[i].Audience.Kind == policy.Orgs {
				inds[i].Audience.Orgs = orgs[strconv.FormatInt(ns[i], 10)]
			}
		}
	}
	if len(groups) > 0 {
		members, err := q.GroupMembers(ctx, groups)
		if err != nil {
			return err
		}
		for i := range inds {
			if inds[i].Audience.Kind == policy.Group {
				inds[i].GroupMembers = slices.Clone(members[inds[i].Audience.Group])
			}
		}
	}
	return nil
}

// GroupMembers returns the members of groups, sorted, by group id.
func (q Querier) GroupMembers(ctx context.Context, groups []string) (map[string][]string, error) {
	m, err := q.Pairs(ctx, `SELECT group_id, org_id FROM group_members
		WHERE group_id IN (`+q.s.d.TextArray("?")+`) ORDER BY group_id, org_id`, JSONStrings(groups))
	if err != nil {
		return nil, fmt.Errorf("group members: %w", err)
	}
	return m, nil
}

// Pairs runs a query of (key, value) rows and groups the values by key.
func (q Querier) Pairs(ctx context.Context, text string, args ...any) (map[string][]string, error) {
	rows, err := q.Query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string][]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = append(m[k], v)
	}
	return m, rows.Err()
}

// Indicator returns one indicator if v may see it.
func (s *Store) Indicator(ctx context.Context, v policy.Viewer, id string) (model.Indicator, error) {
	if v.OrgID == "" {
		return model.Indicator{}, fmt.Errorf("%s: indicator %q: %w", s.d.Name, id, store.ErrNotFound)
	}
	args := []any{sql.Named("id", id)}
	text := "SELECT " + IndicatorColumns + " FROM indicators i WHERE i.id = :id AND " + IndicatorVisibility.Cond(&s.d, v, &args)
	return s.oneIndicator(ctx, id, text, args)
}

// IndicatorByID returns one indicator, whoever may see it.
func (s *Store) IndicatorByID(ctx context.Context, id string) (model.Indicator, error) {
	return s.oneIndicator(ctx, id, "SELECT "+IndicatorColumns+" FROM indicators i WHERE i.id = ?", []any{id})
}

func (s *Store) oneIndicator(ctx context.Context, id, text string, args []any) (model.Indicator, error) {
	var inds []model.Indicator
	err := s.read(ctx, func(tx Tx) (err error) {
		inds, err = Querier{s, tx, true}.Indicators(ctx, text, args...)
		return err
	})
	if err != nil {
		return model.Indicator{}, fmt.Errorf("%s: indicator %q: %w", s.d.Name, id, err)
	}
	if len(inds) == 0 {
		return model.Indicator{}, fmt.Errorf("%s: indicator %q: %w", s.d.Name, id, store.ErrNotFound)
	}
	return inds[0], nil
}

// Revoke marks an indicator revoked and writes a "revoked" change. Revoking
// a revoked indicator changes nothing and returns it as it is.
func (s *Store) Revoke(ctx context.Context, id string, at time.Time) (model.Indicator, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var ind model.Indicator
	err := s.writeChanges(ctx, func(tx Tx) error {
		var n int64
		var revoked bool
		if err := tx.QueryRowContext(ctx, `SELECT n, revoked FROM indicators WHERE id = ?`, id).Scan(&n, &revoked); err != nil {
			return s.mapErr(err)
		}
		if !revoked {
			seq, err := s.lastSeq(ctx, tx)
			if err != nil {
				return err
			}
			seq++
			stamp := Stamp(at)
			if _, err := tx.ExecContext(ctx, `UPDATE indicators SET revoked = 1, modified = ?, touched = ?, seq = ? WHERE n = ?`,
				stamp, stamp, seq, n); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at) VALUES (?, ?, ?, ?)`,
				seq, n, string(model.Revoked), stamp); err != nil {
				return err
			}
		}
		inds, err := Querier{s, tx, false}.Indicators(ctx, "SELECT "+IndicatorColumns+" FROM indicators i WHERE i.n = ?", n)
		if err != nil {
			return err
		}
		ind = inds[0]
		return nil
	})
	if err != nil {
		return model.Indicator{}, fmt.Errorf("%s: revoke indicator %q: %w", s.d.Name, id, err)
	}
	return ind, nil
}

// Changes returns entries of the change sequence with Seq > after, each with
// the indicator as it is now.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]model.Change, error) {
	var changes []model.Change
	err := s.read(ctx, func(tx Tx) error {
		q := Querier{s, tx, true}
		var floor int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = 'changes_floor'), 0)`).Scan(&floor); err != nil {
			return err
		}
		if after < floor {
			return fmt.Errorf("after %d, log compacted through %d: %w", after, floor, store.ErrCursorGone)
		}
		rows, err := q.Query(ctx, `SELECT c.seq, c.kind, c.at, c.before_tlp, c.before_audience_kind,
			COALESCE(c.before_audience_group, ''), c.before_orgs, c.before_members, `+IndicatorColumns+`
			FROM changes c JOIN indicators i ON i.n = c.indicator_n
			WHERE c.seq > ? ORDER BY c.seq LIMIT ?`, after, PageLimit(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		var inds []model.Indicator
		var ns []int64
		for rows.Next() {
			var c model.Change
			var kind, beforeGroup string
			var at int64
			var beforeTLP, beforeKind, beforeOrgs, beforeMembers sql.NullString
			n, ind, err := scanIndicator(rows, &c.Seq, &kind, &at, &beforeTLP, &beforeKind, &beforeGroup, &beforeOrgs, &beforeMembers)
			if err != nil {
				return err
			}
			c.Kind = model.ChangeKind(kind)
			c.At = FromNano(at)
			if beforeTLP.Valid {
				b := &policy.Item{Source: ind.Source, TLP: policy.TLP(beforeTLP.String),
					Audience: policy.Audience{Kind: policy.AudienceKind(beforeKind.String), Group: beforeGroup}}
				if b.Audience.Orgs, err = DecodeList(beforeOrgs); err == nil {
					b.GroupMembers, err = DecodeList(beforeMembers)
				}
				if err != nil {
					return fmt.Errorf("change %d: %w", c.Seq, err)
				}
				c.Before = b
			}
			changes = append(changes, c)
			inds = append(inds, ind)
			ns = append(ns, n)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if err := q.FillIndicatorAudiences(ctx, inds, ns); err != nil {
			return err
		}
		for i := range changes {
			changes[i].Indicator = inds[i]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: changes after %d: %w", s.d.Name, after, err)
	}
	return changes, nil
}

// CompactChanges deletes the change entries with seq <= keepAfter (never
// past the newest); a reader whose cursor is older than that gets
// store.ErrCursorGone from Changes and must take a fresh snapshot. It returns
// how many entries it deleted.
func (s *Store) CompactChanges(ctx context.Context, keepAfter int64) (int64, error) {
	var deleted int64
	err := s.writeChanges(ctx, func(tx Tx) error {
		last, err := s.lastSeq(ctx, tx)
		if err != nil {
			return err
		}
		floor := min(keepAfter, last)
		res, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE seq <= ?`, floor)
		if err != nil {
			return err
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('changes_floor', ?)
			ON CONFLICT (key) DO UPDATE SET value = `+s.d.Greatest+`(meta.value, excluded.value)`, floor)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: compact changes through %d: %w", s.d.Name, keepAfter, err)
	}
	return deleted, nil
}
