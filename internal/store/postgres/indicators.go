package postgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// Limits of a page of ListIndicators and Changes.
const (
	defaultLimit = 100
	maxLimit     = 10000
)

// expireBatch is how many indicators ExpireDue expires per transaction, so
// that a mass expiry does not hold the write lock for long.
const expireBatch = 5000

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// indicatorColumns are the columns scanIndicator reads, in its order; the
// table alias is i.
const indicatorColumns = `i.n, i.id, i.type, i.value, i.tlp, i.audience_kind, COALESCE(i.audience_group, ''),
	i.labels, i.description, i.confidence, COALESCE(i.valid_from, i.first_seen), i.valid_until,
	i.first_seen, i.last_seen, i.source, COALESCE(i.submitted_by, ''), i.anonymous,
	COALESCE(i.report_id, ''), i.tags, i.revoked, i.created, i.modified, i.seq, i.quarantined, i.quarantine_reason`

// scanIndicator reads one row of indicatorColumns, after the destinations in
// prefix (for queries that select more in front).
func scanIndicator(rows *sql.Rows, prefix ...any) (int64, model.Indicator, error) {
	var (
		ind                            model.Indicator
		n, conf                        int64
		validFrom, firstSeen, lastSeen int64
		created, modified              int64
		validUntil                     sql.NullInt64
		labels, tags                   sql.NullString
		typ, tlp, audKind              string
		anonymous, revoked             bool
	)
	dest := append(prefix, &n, &ind.ID, &typ, &ind.Value, &tlp, &audKind, &ind.Audience.Group,
		&labels, &ind.Description, &conf, &validFrom, &validUntil,
		&firstSeen, &lastSeen, &ind.Source, &ind.SubmittedBy, &anonymous,
		&ind.ReportID, &tags, &revoked, &created, &modified, &ind.Seq, &ind.Quarantined, &ind.QuarantineReason)
	if err := rows.Scan(dest...); err != nil {
		return 0, ind, err
	}
	var err error
	if ind.Labels, err = decodeList(labels); err != nil {
		return 0, ind, fmt.Errorf("labels of indicator %s: %w", ind.ID, err)
	}
	if ind.Tags, err = decodeList(tags); err != nil {
		return 0, ind, fmt.Errorf("tags of indicator %s: %w", ind.ID, err)
	}
	ind.Type = indicator.Type(typ)
	ind.TLP = policy.TLP(tlp)
	ind.Audience.Kind = policy.AudienceKind(audKind)
	ind.Confidence = int(conf)
	ind.ValidFrom = fromNano(validFrom)
	ind.ValidUntil = fromOptNano(validUntil)
	ind.FirstSeen = fromNano(firstSeen)
	ind.LastSeen = fromNano(lastSeen)
	ind.Anonymous = anonymous
	ind.Revoked = revoked
	ind.Created = fromNano(created)
	ind.Modified = fromNano(modified)
	return n, ind, nil
}

// querier runs the queries of one transaction (pgx prepares and caches
// each statement per connection by itself).
type querier struct {
	s    *Store
	tx   *Tx
	read bool
}

func (q querier) query(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	return q.tx.QueryContext(ctx, text, args...)
}

// indicators runs a query of indicatorColumns and fills in the audiences.
func (q querier) indicators(ctx context.Context, text string, args ...any) ([]model.Indicator, error) {
	rows, err := q.query(ctx, text, args...)
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
	if err := q.fillIndicatorAudiences(ctx, inds, ns); err != nil {
		return nil, err
	}
	return inds, nil
}

// fillIndicatorAudiences sets Audience.Orgs and GroupMembers of inds (ns are
// their internal keys) from the same snapshot the rows came from, so that a
// caller can ask policy.CanSee about each.
func (q querier) fillIndicatorAudiences(ctx context.Context, inds []model.Indicator, ns []int64) error {
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
		orgs, err := q.pairs(ctx, `SELECT indicator_n, org_id FROM indicator_audience
			WHERE indicator_n IN (SELECT jsonb_array_elements_text(?::jsonb)::bigint) ORDER BY indicator_n, org_id`, jsonInts(withOrgs))
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
		members, err := q.groupMembers(ctx, groups)
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

// groupMembers returns the members of groups, sorted, by group id.
func (q querier) groupMembers(ctx context.Context, groups []string) (map[string][]string, error) {
	m, err := q.pairs(ctx, `SELECT group_id, org_id FROM group_members
		WHERE group_id IN (SELECT jsonb_array_elements_text(?::jsonb)) ORDER BY group_id, org_id`, jsonStrings(groups))
	if err != nil {
		return nil, fmt.Errorf("group members: %w", err)
	}
	return m, nil
}

// pairs runs a query of (key, value) rows and groups the values by key.
func (q querier) pairs(ctx context.Context, text string, args ...any) (map[string][]string, error) {
	rows, err := q.query(ctx, text, args...)
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
		return model.Indicator{}, fmt.Errorf("postgres: indicator %q: %w", id, store.ErrNotFound)
	}
	args := []any{sql.Named("id", id)}
	text := "SELECT " + indicatorColumns + " FROM indicators i WHERE i.id = :id AND " + indicatorVisibility.cond(v, &args)
	return s.oneIndicator(ctx, id, text, args)
}

// IndicatorByID returns one indicator, whoever may see it.
func (s *Store) IndicatorByID(ctx context.Context, id string) (model.Indicator, error) {
	return s.oneIndicator(ctx, id, "SELECT "+indicatorColumns+" FROM indicators i WHERE i.id = ?", []any{id})
}

func (s *Store) oneIndicator(ctx context.Context, id, text string, args []any) (model.Indicator, error) {
	var inds []model.Indicator
	err := s.read(ctx, func(tx *Tx) (err error) {
		inds, err = querier{s, tx, true}.indicators(ctx, text, args...)
		return err
	})
	if err != nil {
		return model.Indicator{}, fmt.Errorf("postgres: indicator %q: %w", id, err)
	}
	if len(inds) == 0 {
		return model.Indicator{}, fmt.Errorf("postgres: indicator %q: %w", id, store.ErrNotFound)
	}
	return inds[0], nil
}

// ListIndicators returns what v may see, ordered by Seq ascending.
func (s *Store) ListIndicators(ctx context.Context, v policy.Viewer, q store.Query) ([]model.Indicator, error) {
	if v.OrgID == "" {
		return nil, nil
	}
	var b strings.Builder
	args := []any{sql.Named("limit", pageLimit(q.Limit))}
	b.WriteString("SELECT " + indicatorColumns + " FROM indicators i")
	// seq > 0 holds for every row: leaving it out when there is no cursor
	// keeps the planner from combining the seq index with the value index
	// (which it does before the table's first ANALYZE).
	b.WriteString(" WHERE TRUE")
	if q.After > 0 {
		b.WriteString(" AND i.seq > :after")
		args = append(args, sql.Named("after", q.After))
	}
	if q.Desc && q.Before > 0 {
		b.WriteString(" AND i.seq < :before")
		args = append(args, sql.Named("before", q.Before))
	}
	if q.Value != "" {
		b.WriteString(" AND i.value = :value")
		args = append(args, sql.Named("value", q.Value))
	}
	if q.Type != "" {
		b.WriteString(" AND i.type = :type")
		args = append(args, sql.Named("type", string(q.Type)))
	}
	if q.ReportID != "" {
		b.WriteString(" AND i.report_id = :report")
		args = append(args, sql.Named("report", q.ReportID))
	}
	if q.TLP != "" {
		b.WriteString(" AND i.tlp = :tlp")
		args = append(args, sql.Named("tlp", string(q.TLP)))
	}
	if q.Tag != "" {
		b.WriteString(" AND i.tags::jsonb @> jsonb_build_array(:tag::text)")
		args = append(args, sql.Named("tag", q.Tag))
	}
	if q.Quarantined {
		b.WriteString(" AND i.quarantined = 1")
	}
	if q.Source != "" {
		// An anonymous source is not searchable by whoever may not know it.
		b.WriteString(" AND i.source = :qsource")
		args = append(args, sql.Named("qsource", q.Source))
		if v.Kind != policy.Coordinator && v.OrgID != q.Source {
			b.WriteString(" AND (i.anonymous = 0 OR i.submitted_by = :qviewer)")
			args = append(args, sql.Named("qviewer", v.OrgID))
		}
	}
	if !q.Since.IsZero() {
		b.WriteString(" AND i.modified >= :since")
		args = append(args, sql.Named("since", toNano(q.Since)))
	}
	if !q.IncludeRevoked {
		b.WriteString(" AND i.revoked = 0")
	}
	if q.Label != "" {
		b.WriteString(" AND i.labels::jsonb @> jsonb_build_array(:label::text)")
		args = append(args, sql.Named("label", q.Label))
	}
	b.WriteString(" AND " + indicatorVisibility.cond(v, &args))
	if q.Desc {
		b.WriteString(" ORDER BY i.seq DESC LIMIT :limit")
	} else {
		b.WriteString(" ORDER BY i.seq LIMIT :limit")
	}
	var inds []model.Indicator
	err := s.read(ctx, func(tx *Tx) (err error) {
		inds, err = querier{s, tx, true}.indicators(ctx, b.String(), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list indicators: %w", err)
	}
	return inds, nil
}

// lastSeqQuery reads the newest change sequence number, which the trigger on
// changes keeps and compaction does not lower. A writer reads it only while
// it holds the change-log lock (writeChanges, BeginIngest).
const lastSeqQuery = `SELECT value FROM meta WHERE key = 'last_seq'`

func lastSeq(ctx context.Context, tx *Tx) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, lastSeqQuery).Scan(&n)
	return n, err
}

// LastSeq is the newest change sequence number (0 when none).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, lastSeqQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: last seq: %w", err)
	}
	return n, nil
}

// Revoke marks an indicator revoked and writes a "revoked" change. Revoking
// a revoked indicator changes nothing and returns it as it is.
func (s *Store) Revoke(ctx context.Context, id string, at time.Time) (model.Indicator, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var ind model.Indicator
	err := s.writeChanges(ctx, func(tx *Tx) error {
		var n int64
		var revoked bool
		if err := tx.QueryRowContext(ctx, `SELECT n, revoked FROM indicators WHERE id = ?`, id).Scan(&n, &revoked); err != nil {
			return mapErr(err)
		}
		if !revoked {
			seq, err := lastSeq(ctx, tx)
			if err != nil {
				return err
			}
			seq++
			if _, err := tx.ExecContext(ctx, `UPDATE indicators SET revoked = 1, modified = ?, seq = ? WHERE n = ?`,
				toNano(at), seq, n); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at) VALUES (?, ?, ?, ?)`,
				seq, n, string(model.Revoked), toNano(at)); err != nil {
				return err
			}
		}
		inds, err := querier{s, tx, false}.indicators(ctx, "SELECT "+indicatorColumns+" FROM indicators i WHERE i.n = ?", n)
		if err != nil {
			return err
		}
		ind = inds[0]
		return nil
	})
	if err != nil {
		return model.Indicator{}, fmt.Errorf("postgres: revoke indicator %q: %w", id, err)
	}
	return ind, nil
}

// ExpireDue marks indicators whose valid_until is at or before now, and that
// are neither expired nor revoked, as expired, with one "expired" change
// each. It works in transactions of up to expireBatch indicators, each
// complete in itself.
func (s *Store) ExpireDue(ctx context.Context, now time.Time) (int, error) {
	if now.IsZero() {
		now = time.Now()
	}
	at := toNano(now)
	total := 0
	for {
		var k int64
		err := s.writeChanges(ctx, func(tx *Tx) error {
			base, err := lastSeq(ctx, tx)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
				SELECT :base::bigint + row_number() OVER (ORDER BY n), n, 'expired', :at::bigint
				FROM (SELECT n FROM indicators
					WHERE valid_until <= :at AND expired = 0 AND revoked = 0 ORDER BY valid_until LIMIT :batch) due`,
				sql.Named("base", base), sql.Named("at", at), sql.Named("batch", expireBatch))
			if err != nil {
				return err
			}
			if k, err = res.RowsAffected(); err != nil || k == 0 {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE indicators SET expired = 1, modified = :at, seq = c.seq
				FROM changes AS c WHERE c.seq > :base AND c.indicator_n = indicators.n`,
				sql.Named("base", base), sql.Named("at", at))
			return err
		})
		if err != nil {
			return total, fmt.Errorf("postgres: expire indicators: %w", err)
		}
		total += int(k)
		if k < expireBatch {
			return total, nil
		}
	}
}

// Changes returns entries of the change sequence with Seq > after, each with
// the indicator as it is now.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]model.Change, error) {
	var changes []model.Change
	err := s.read(ctx, func(tx *Tx) error {
		q := querier{s, tx, true}
		var floor int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = 'changes_floor'), 0)`).Scan(&floor); err != nil {
			return err
		}
		if after < floor {
			return fmt.Errorf("after %d, log compacted through %d: %w", after, floor, store.ErrCursorGone)
		}
		rows, err := q.query(ctx, `SELECT c.seq, c.kind, c.at, c.before_tlp, c.before_audience_kind,
			COALESCE(c.before_audience_group, ''), c.before_orgs, c.before_members, `+indicatorColumns+`
			FROM changes c JOIN indicators i ON i.n = c.indicator_n
			WHERE c.seq > ? ORDER BY c.seq LIMIT ?`, after, pageLimit(limit))
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
			c.At = fromNano(at)
			if beforeTLP.Valid {
				b := &policy.Item{Source: ind.Source, TLP: policy.TLP(beforeTLP.String),
					Audience: policy.Audience{Kind: policy.AudienceKind(beforeKind.String), Group: beforeGroup}}
				if b.Audience.Orgs, err = decodeList(beforeOrgs); err == nil {
					b.GroupMembers, err = decodeList(beforeMembers)
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
		if err := q.fillIndicatorAudiences(ctx, inds, ns); err != nil {
			return err
		}
		for i := range changes {
			changes[i].Indicator = inds[i]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: changes after %d: %w", after, err)
	}
	return changes, nil
}

// CompactChanges deletes the change entries with seq <= keepAfter (never
// past the newest); a reader whose cursor is older than that gets
// store.ErrCursorGone from Changes and must take a fresh snapshot. It returns
// how many entries it deleted.
func (s *Store) CompactChanges(ctx context.Context, keepAfter int64) (int64, error) {
	var deleted int64
	err := s.writeChanges(ctx, func(tx *Tx) error {
		last, err := lastSeq(ctx, tx)
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
			ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)`, floor)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: compact changes through %d: %w", keepAfter, err)
	}
	return deleted, nil
}

// errIngestEnded is returned by an Ingest used after Commit or Rollback.
var errIngestEnded = errors.New("postgres: ingest already committed or rolled back")

// ingest is one write transaction of submissions; it holds the change-log
// lock until Commit or Rollback. It is not safe for concurrent use.
type ingest struct {
	s     *Store
	tx    *Tx
	last  int64 // the newest change seq, including this transaction's
	ids   idSource
	err   error // the failure of a Put: the ingest can only end in a rollback
	ended bool
}

// BeginIngest starts a write transaction for submissions. It first takes
// the change-log lock (see the package doc), waiting, within ctx, for
// writers of this and every other replica.
//
// If Put fails, the transaction is spoilt: every later Put fails and Commit
// rolls back and returns an error, so that a batch is stored entirely or not
// at all (PostgreSQL refuses every statement of a transaction after a failed
// one anyway).
func (s *Store) BeginIngest(ctx context.Context) (store.Ingest, error) {
	tx, err := s.begin(ctx, lockClassChanges)
	if err != nil {
		return nil, fmt.Errorf("postgres: begin ingest: %w", err)
	}
	last, err := lastSeq(ctx, tx)
	if err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("postgres: begin ingest: %w", err)
	}
	return &ingest{
		s:    s,
		tx:   tx,
		last: last,
		ids:  idSource{bufio.NewReaderSize(rand.Reader, 16*256)},
	}, nil
}

func (in *ingest) Commit() error {
	if in.ended {
		return errIngestEnded
	}
	in.ended = true
	if in.err != nil {
		_ = in.tx.Rollback()
		return fmt.Errorf("postgres: commit ingest: rolled back after a failed put: %w", in.err)
	}
	if err := in.tx.Commit(); err != nil {
		return fmt.Errorf("postgres: commit ingest: %w", mapErr(err))
	}
	return nil
}

// Rollback ends the ingest without storing anything; after Commit it does
// nothing, so that it can be deferred.
func (in *ingest) Rollback() error {
	if in.ended {
		return nil
	}
	in.ended = true
	if err := in.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("postgres: roll back ingest: %w", err)
	}
	return nil
}

func (in *ingest) Put(ctx context.Context, subs []model.Submission) ([]store.UpsertResult, error) {
	if in.ended {
		return nil, errIngestEnded
	}
	if in.err != nil {
		return nil, fmt.Errorf("postgres: put: an earlier put of this ingest failed: %w", in.err)
	}
	res, err := in.put(ctx, subs)
	if err != nil {
		in.err = err
		return nil, fmt.Errorf("postgres: put: %w", err)
	}
	return res, nil
}

// checkSubmission refuses what must never be stored, whoever calls.
func checkSubmission(sub *model.Submission) error {
	switch {
	case sub.Type == "":
		return errors.New("type is empty")
	case sub.Value == "":
		return errors.New("value is empty")
	case sub.Source == "":
		return errors.New("source organisation is empty")
	case !slices.Contains(policy.TLPs, sub.TLP):
		return fmt.Errorf("tlp %q is not one of clear, green, amber, amber+strict, red", sub.TLP)
	case sub.Confidence < 0 || sub.Confidence > 100:
		return fmt.Errorf("confidence %d is not within 0-100", sub.Confidence)
	}
	return policy.CheckAudience(sub.TLP, sub.Audience)
}

// upsertSQL upserts the rows given as parallel arrays, one per column
// ($1-$17), at the time $18: one statement and one plan for a batch of any
// size, where a multi-row VALUES list would need 21 parameters a row. A row
// that meets an indicator with the same source, type and value updates it;
// RETURNING gives the indicator's id, which is the id the row brought
// exactly when the row created the indicator, and the policy facts from
// before an update (SET sees the old row as indicators.*), NULL after an
// insert.
//
// On update: valid_from and valid_until are kept when the submission gives
// none; a later valid_until clears the expired flag; a revoked indicator is
// re-activated (its source says it is bad again); first_seen and created are
// kept.
const upsertSQL = `INSERT INTO indicators (id, type, value, tlp, audience_kind, audience_group,
		labels, description, confidence, valid_from, valid_until,
		source, submitted_by, anonymous, report_id, tags, seq,
		first_seen, last_seen, created, modified)
	SELECT u.*, $18::bigint, $18::bigint, $18::bigint, $18::bigint
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::text[], $8::text[], $9::int[], $10::bigint[], $11::bigint[],
		$12::text[], $13::text[], $14::int[], $15::text[], $16::text[], $17::bigint[]) AS u
	ON CONFLICT (value, type, source) DO UPDATE SET
		prev_tlp = indicators.tlp,
		prev_audience_kind = indicators.audience_kind,
		prev_audience_group = indicators.audience_group,
		tlp = excluded.tlp,
		audience_kind = excluded.audience_kind,
		audience_group = excluded.audience_group,
		labels = excluded.labels,
		description = excluded.description,
		confidence = excluded.confidence,
		valid_from = COALESCE(excluded.valid_from, indicators.valid_from),
		valid_until = COALESCE(excluded.valid_until, indicators.valid_until),
		expired = CASE WHEN excluded.valid_until IS NOT NULL AND (indicators.valid_until IS NULL OR excluded.valid_until > indicators.valid_until)
			THEN 0 ELSE indicators.expired END,
		submitted_by = excluded.submitted_by,
		anonymous = excluded.anonymous,
		report_id = excluded.report_id,
		tags = excluded.tags,
		revoked = 0,
		last_seen = excluded.last_seen,
		modified = excluded.modified,
		seq = excluded.seq
	RETURNING n, id, seq, prev_tlp, prev_audience_kind, prev_audience_group`

// indicatorKey is what makes two submissions the same indicator.
type indicatorKey struct{ value, typ, source string }

// upsertRounds splits a batch into rounds of submission indexes, in order:
// round r holds the (r+1)-th submission of every indicator, so that no round
// names an indicator twice. Almost every batch is one round.
func upsertRounds(subs []model.Submission) [][]int {
	count := make(map[indicatorKey]int, len(subs))
	var rounds [][]int
	for i := range subs {
		k := indicatorKey{subs[i].Value, string(subs[i].Type), subs[i].Source}
		r := count[k]
		count[k] = r + 1
		if r == len(rounds) {
			rounds = append(rounds, make([]int, 0, len(subs)))
		}
		rounds[r] = append(rounds[r], i)
	}
	return rounds
}

// optText is an optional text column: "" is NULL.
func optText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// optTime is an optional time column: the zero time is NULL.
func optTime(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := toNano(t)
	return &n
}

func optList(xs []string) *string {
	if v, ok := encodeList(xs).(string); ok {
		return &v
	}
	return nil
}

// upsertRound upserts the submissions idx of subs and records, by
// submission index, what the upsert returned.
func (in *ingest) upsertRound(ctx context.Context, subs []model.Submission, idx []int, ids []string, base, now int64,
	ns []int64, got []string, created []bool, prev []facts) error {
	k := len(idx)
	var (
		id, typ, value, tlp, kind, desc, source = make([]string, k), make([]string, k), make([]string, k),
			make([]string, k), make([]string, k), make([]string, k), make([]string, k)
		group, labels, submittedBy, report, tags = make([]*string, k), make([]*string, k), make([]*string, k),
			make([]*string, k), make([]*string, k)
		conf, anonymous    = make([]int64, k), make([]int64, k)
		validFrom, validTo = make([]*int64, k), make([]*int64, k)
		seq                = make([]int64, k)
	)
	for j, i := range idx {
		sub := &subs[i]
		f := submittedFacts(sub)
		id[j], typ[j], value[j], tlp[j], kind[j] = ids[i], string(sub.Type), sub.Value, string(sub.TLP), string(f.kind)
		group[j], labels[j], desc[j], conf[j] = optText(f.group), optList(sub.Labels), sub.Description, int64(sub.Confidence)
		validFrom[j], validTo[j] = optTime(sub.ValidFrom), optTime(sub.ValidUntil)
		source[j], submittedBy[j], anonymous[j], report[j] = sub.Source, optText(sub.SubmittedBy), boolInt(sub.Anonymous), optText(sub.ReportID)
		tags[j], seq[j] = optList(sub.Tags), base+1+int64(i)
	}
	rows, err := in.tx.Tx.QueryContext(ctx, upsertSQL, id, typ, value, tlp, kind, group, labels, desc, conf,
		validFrom, validTo, source, submittedBy, anonymous, report, tags, seq, now)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var nn, sq int64
		var gotID string
		var prevTLP, prevKind, prevGroup sql.NullString
		if err := rows.Scan(&nn, &gotID, &sq, &prevTLP, &prevKind, &prevGroup); err != nil {
			return err
		}
		i := sq - base - 1
		if i < 0 || i >= int64(len(subs)) {
			return fmt.Errorf("upsert returned seq %d outside its batch", sq)
		}
		ns[i], got[i], created[i] = nn, gotID, gotID == ids[i]
		prev[i] = facts{tlp: policy.TLP(prevTLP.String), kind: policy.AudienceKind(prevKind.String), group: prevGroup.String}
		n++
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	if n != k {
		return fmt.Errorf("upsert returned %d rows for %d submissions", n, k)
	}
	return nil
}

func (in *ingest) put(ctx context.Context, subs []model.Submission) ([]store.UpsertResult, error) {
	for i := range subs {
		if err := checkSubmission(&subs[i]); err != nil {
			return nil, fmt.Errorf("submission %d (%s %q): %w", i, subs[i].Type, subs[i].Value, err)
		}
	}
	if len(subs) == 0 {
		return nil, nil
	}
	now := nowNano()
	base := in.last
	ids := make([]string, len(subs))
	for i := range ids {
		var err error
		if ids[i], err = in.ids.next(); err != nil {
			return nil, fmt.Errorf("new id: %w", err)
		}
	}
	if err := in.wishedIDs(ctx, subs, ids); err != nil {
		return nil, err
	}
	ns := make([]int64, len(subs))
	got := make([]string, len(subs)) // the indicators' ids: new or kept
	created := make([]bool, len(subs))
	prev := make([]facts, len(subs)) // of updated indicators, before the update
	seen := 0

	// Upsert the indicators, each row's seq base+1+its index: one statement
	// per round, round r holding the (r+1)-th submission of each indicator
	// the batch names more than once (PostgreSQL refuses a statement that
	// updates one row twice), so a later submission still wins.
	rounds := upsertRounds(subs)
	for r, idx := range rounds {
		if err := in.upsertRound(ctx, subs, idx, ids, base, now, ns, got, created, prev); err != nil {
			return nil, fmt.Errorf("upsert (round %d of %d): %w", r+1, len(rounds), err)
		}
		seen += len(idx)
	}
	if seen != len(subs) {
		return nil, fmt.Errorf("upsert returned %d rows for %d submissions", seen, len(subs))
	}

	// One change entry per upsert, in one statement.
	seqs := make([]int64, len(subs))
	kinds := make([]string, len(subs))
	for i := range subs {
		seqs[i] = base + 1 + int64(i)
		kinds[i] = string(model.Updated)
		if created[i] {
			kinds[i] = string(model.Created)
		}
	}
	if _, err := in.tx.Tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
		SELECT u.seq, u.n, u.kind, $4::bigint FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(seq, n, kind)`,
		seqs, ns, kinds, now); err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}

	// Who could see an updated indicator before, where the update changed
	// that; read before putAudiences replaces the old lists.
	if err := in.putBefores(ctx, subs, ns, created, prev, base); err != nil {
		return nil, err
	}
	if err := in.putAudiences(ctx, subs, ns, created); err != nil {
		return nil, err
	}

	in.last = base + int64(len(subs))
	res := make([]store.UpsertResult, len(subs))
	for i := range res {
		res[i] = store.UpsertResult{ID: got[i], Status: store.StatusCreated, Seq: base + 1 + int64(i)}
		if !created[i] {
			res[i].Status = store.StatusUpdated
		}
	}
	return res, nil
}

// wishedIDs gives a new indicator the id its submission asks for
// (model.Submission.ID) when that is a UUID that no other indicator has and
// no earlier submission of the batch took; otherwise the fresh id stays.
func (in *ingest) wishedIDs(ctx context.Context, subs []model.Submission, ids []string) error {
	wished := make(map[int]string)
	var asked []string
	for i := range subs {
		if subs[i].ID == "" {
			continue
		}
		u, err := uuid.Parse(subs[i].ID)
		if err != nil {
			continue
		}
		wished[i] = u.String()
		asked = append(asked, u.String())
	}
	if len(asked) == 0 {
		return nil
	}
	// Which of them are taken, in one query rather than one per submission
	// (a federated batch brings an id with every indicator).
	rows, err := in.tx.Tx.QueryContext(ctx, `SELECT id FROM indicators WHERE id = ANY($1::text[])`, asked)
	if err != nil {
		return fmt.Errorf("wished ids: %w", err)
	}
	defer rows.Close()
	taken := make(map[string]bool, len(asked))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("wished ids: %w", err)
		}
		taken[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("wished ids: %w", err)
	}
	for i := range subs {
		if id, ok := wished[i]; ok && !taken[id] {
			ids[i] = id
			taken[id] = true // no later submission of the batch may take it
		}
	}
	return nil
}

// facts are the policy facts of an indicator that an update may change.
type facts struct {
	tlp   policy.TLP
	kind  policy.AudienceKind
	group string
	orgs  []string // sorted, without duplicates
}

// submittedFacts are the facts a submission gives its indicator, as stored.
func submittedFacts(sub *model.Submission) facts {
	f := facts{tlp: sub.TLP, kind: sub.Audience.Kind}
	switch f.kind {
	case "":
		f.kind = policy.Network
	case policy.Group:
		f.group = sub.Audience.Group
	case policy.Orgs:
		f.orgs = sortedSet(sub.Audience.Orgs)
	}
	return f
}

func (f facts) sameAudience(g facts) bool {
	return f.tlp == g.tlp && f.kind == g.kind && f.group == g.group && slices.Equal(f.orgs, g.orgs)
}

// putBefores records, on the change entries of updates that changed who may
// see an indicator (TLP, audience), the policy facts from before: prev holds
// TLP and audience kind and group from the upsert, the old explicit list
// comes from indicator_audience (or from an earlier submission of the same
// indicator in this batch), the group's members from group_members.
func (in *ingest) putBefores(ctx context.Context, subs []model.Submission, ns []int64, created []bool, prev []facts, base int64) error {
	var listed []int64
	var groups []string
	for i := range subs {
		switch {
		case created[i]:
		case prev[i].kind == policy.Orgs:
			listed = append(listed, ns[i])
		case prev[i].kind == policy.Group && !slices.Contains(groups, prev[i].group):
			groups = append(groups, prev[i].group)
		}
	}
	q := querier{in.s, in.tx, false}
	stored := map[string][]string{}
	if len(listed) > 0 {
		var err error
		if stored, err = q.pairs(ctx, `SELECT indicator_n, org_id FROM indicator_audience
			WHERE indicator_n IN (SELECT jsonb_array_elements_text(?::jsonb)::bigint) ORDER BY indicator_n, org_id`, jsonInts(listed)); err != nil {
			return fmt.Errorf("audience before: %w", err)
		}
	}
	members := map[string][]string{}
	if len(groups) > 0 {
		var err error
		if members, err = q.groupMembers(ctx, groups); err != nil {
			return err
		}
	}
	lists := map[int64][]string{} // explicit lists as this batch leaves them
	for i := range subs {
		after := submittedFacts(&subs[i])
		if !created[i] {
			before := prev[i]
			if before.kind == policy.Orgs {
				var ok bool
				if before.orgs, ok = lists[ns[i]]; !ok {
					before.orgs = stored[strconv.FormatInt(ns[i], 10)]
				}
			}
			if !before.sameAudience(after) {
				var m []string
				if before.kind == policy.Group {
					m = members[before.group]
				}
				if _, err := in.tx.ExecContext(ctx, `UPDATE changes SET before_tlp = ?, before_audience_kind = ?,
					before_audience_group = ?, before_orgs = ?, before_members = ? WHERE seq = ?`,
					string(before.tlp), string(before.kind), optString(before.group),
					encodeList(before.orgs), encodeList(m), base+1+int64(i)); err != nil {
					return fmt.Errorf("audience before: %w", err)
				}
			}
		}
		lists[ns[i]] = after.orgs
	}
	return nil
}

// putAudiences writes the explicit audience lists: an updated indicator
// loses its old list, and the last submission for an indicator in the batch
// decides its new one.
func (in *ingest) putAudiences(ctx context.Context, subs []model.Submission, ns []int64, created []bool) error {
	var updated []int64
	anyOrgs := false
	for i := range subs {
		if !created[i] {
			updated = append(updated, ns[i])
		}
		anyOrgs = anyOrgs || subs[i].Audience.Kind == policy.Orgs
	}
	if len(updated) > 0 {
		if _, err := in.tx.ExecContext(ctx, `DELETE FROM indicator_audience
			WHERE indicator_n IN (SELECT jsonb_array_elements_text(?::jsonb)::bigint)`, jsonInts(updated)); err != nil {
			return fmt.Errorf("audience: %w", err)
		}
	}
	if !anyOrgs {
		return nil
	}
	final := make(map[int64]int, len(subs))
	for i := range subs {
		final[ns[i]] = i
	}
	var listNs []int64
	var listOrgs []string
	for i := range subs {
		if subs[i].Audience.Kind != policy.Orgs || final[ns[i]] != i {
			continue
		}
		for _, org := range subs[i].Audience.Orgs {
			listNs = append(listNs, ns[i])
			listOrgs = append(listOrgs, org)
		}
	}
	if len(listNs) > 0 {
		if _, err := in.tx.Tx.ExecContext(ctx, `INSERT INTO indicator_audience (indicator_n, org_id)
			SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING`, listNs, listOrgs); err != nil {
			return fmt.Errorf("audience: %w", err)
		}
	}
	return nil
}
