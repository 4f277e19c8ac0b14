package postgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

// expireBatch is how many indicators ExpireDue expires per transaction, so
// that a mass expiry does not hold the write lock for long.
const expireBatch = 5000

// ListIndicators returns what v may see, ordered by Seq ascending.
func (s *Store) ListIndicators(ctx context.Context, v policy.Viewer, q store.Query) ([]model.Indicator, error) {
	if v.OrgID == "" {
		return nil, nil
	}
	var b strings.Builder
	args := []any{sql.Named("limit", sqlstore.PageLimit(q.Limit))}
	b.WriteString("SELECT " + sqlstore.IndicatorColumns + " FROM indicators i")
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
		// touched, not modified: an indicator that an organisation may
		// newly see (a group it joined, a customer its partner took over)
		// changed for it, though not in itself.
		b.WriteString(" AND i.touched >= :since")
		args = append(args, sql.Named("since", sqlstore.ToNano(q.Since)))
	}
	if !q.IncludeRevoked {
		b.WriteString(" AND i.revoked = 0")
	}
	if q.Label != "" {
		b.WriteString(" AND i.labels::jsonb @> jsonb_build_array(:label::text)")
		args = append(args, sql.Named("label", q.Label))
	}
	b.WriteString(" AND " + sqlstore.IndicatorVisibility.Cond(&dialect, v, &args))
	if q.Desc {
		b.WriteString(" ORDER BY i.seq DESC LIMIT :limit")
	} else {
		b.WriteString(" ORDER BY i.seq LIMIT :limit")
	}
	var inds []model.Indicator
	err := s.read(ctx, func(tx *Tx) (err error) {
		inds, err = sqlstore.NewQuerier(s.Store, tx, true).Indicators(ctx, b.String(), args...)
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

// ExpireDue marks indicators whose valid_until is at or before now, and that
// are neither expired nor revoked, as expired, with one "expired" change
// each. It works in transactions of up to expireBatch indicators, each
// complete in itself.
func (s *Store) ExpireDue(ctx context.Context, now time.Time) (int, error) {
	if now.IsZero() {
		now = time.Now()
	}
	at := sqlstore.ToNano(now)
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
			_, err = tx.ExecContext(ctx, `UPDATE indicators SET expired = 1, modified = :stamp, touched = :stamp, seq = c.seq
				FROM changes AS c WHERE c.seq > :base AND c.indicator_n = indicators.n`,
				sql.Named("base", base), sql.Named("stamp", sqlstore.Stamp(now)))
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

// errIngestEnded is returned by an Ingest used after Commit or Rollback.
var errIngestEnded = errors.New("postgres: ingest already committed or rolled back")

// ingest is one write transaction of submissions; it holds the change-log
// lock until Commit or Rollback. It is not safe for concurrent use.
type ingest struct {
	s     *Store
	tx    *Tx
	last  int64 // the newest change seq, including this transaction's
	ids   sqlstore.IDSource
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
		ids:  sqlstore.NewIDSource(bufio.NewReaderSize(rand.Reader, 16*256)),
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
		return fmt.Errorf("postgres: commit ingest: %w", full(mapErr(err)))
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
		in.err = full(err)
		return nil, fmt.Errorf("postgres: put: %w", in.err)
	}
	return res, nil
}

// PutSTIXObjects keeps STIX objects in the ingest's transaction.
func (in *ingest) PutSTIXObjects(ctx context.Context, objs []model.STIXObject) ([]store.ObjectStatus, error) {
	if in.ended {
		return nil, errIngestEnded
	}
	if in.err != nil {
		return nil, fmt.Errorf("postgres: put stix objects: an earlier put of this ingest failed: %w", in.err)
	}
	out, err := sqlstore.PutSTIXObjects(ctx, in.s.Store, in.tx, objs)
	if err != nil {
		in.err = full(err)
		return nil, fmt.Errorf("postgres: put stix objects: %w", in.err)
	}
	return out, nil
}

// RevokeReportExcept revokes the rest of a report's indicators in the
// ingest's transaction.
func (in *ingest) RevokeReportExcept(ctx context.Context, reportID, source string, keep []string, at time.Time) ([]store.Revoked, error) {
	if in.ended {
		return nil, errIngestEnded
	}
	if in.err != nil {
		return nil, fmt.Errorf("postgres: revoke the rest of report %q: an earlier put of this ingest failed: %w", reportID, in.err)
	}
	out, err := sqlstore.RevokeReportExcept(ctx, in.s.Store, in.tx, in.last, reportID, source, keep, at)
	if err != nil {
		in.err = full(err)
		return nil, fmt.Errorf("postgres: %w", in.err)
	}
	in.last += int64(len(out))
	return out, nil
}

// PutOrigins records origins in the ingest's transaction.
func (in *ingest) PutOrigins(ctx context.Context, os []model.Origin) error {
	if in.ended {
		return errIngestEnded
	}
	if in.err != nil {
		return fmt.Errorf("postgres: put origins: an earlier put of this ingest failed: %w", in.err)
	}
	if err := sqlstore.PutOrigins(ctx, in.s.Store, in.tx, os); err != nil {
		in.err = full(err)
		return fmt.Errorf("postgres: put origins: %w", in.err)
	}
	return nil
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
// On update: valid_from is kept when the submission gives none, and so is a
// valid_until still to come; an expired indicator, or one whose valid_until
// has passed, is live again without one (its source says it is bad again,
// as a revoked indicator is re-activated), and with a valid_until still to
// come; a valid_until given that has passed leaves the expired flag as it
// was (ExpireDue ends it); first_seen and created are kept.
const upsertSQL = `INSERT INTO indicators (id, type, value, tlp, audience_kind, audience_group,
		labels, description, confidence, valid_from, valid_until,
		source, submitted_by, anonymous, report_id, tags, seq,
		first_seen, last_seen, created, modified, touched)
	SELECT u.*, $18::bigint, $18::bigint, $18::bigint, $18::bigint, $18::bigint
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
		valid_until = CASE WHEN excluded.valid_until IS NOT NULL THEN excluded.valid_until
			WHEN indicators.expired = 1 OR indicators.valid_until <= excluded.modified THEN NULL
			ELSE indicators.valid_until END,
		expired = CASE WHEN excluded.valid_until IS NULL OR excluded.valid_until > excluded.modified
			THEN 0 ELSE indicators.expired END,
		submitted_by = excluded.submitted_by,
		anonymous = excluded.anonymous,
		report_id = excluded.report_id,
		tags = excluded.tags,
		revoked = 0,
		last_seen = excluded.last_seen,
		modified = excluded.modified,
		touched = excluded.touched,
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
	n := sqlstore.ToNano(t)
	return &n
}

func optList(xs []string) *string {
	if v, ok := sqlstore.EncodeList(xs).(string); ok {
		return &v
	}
	return nil
}

// upsertRound upserts the submissions idx of subs and records, by
// submission index, what the upsert returned.
func (in *ingest) upsertRound(ctx context.Context, subs []model.Submission, idx []int, ids []string, base, now int64,
	ns []int64, got []string, created []bool, prev []sqlstore.Facts) error {
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
		f := sqlstore.SubmittedFacts(sub)
		id[j], typ[j], value[j], tlp[j], kind[j] = ids[i], string(sub.Type), sub.Value, string(sub.TLP), string(f.Kind)
		group[j], labels[j], desc[j], conf[j] = optText(f.Group), optList(sub.Labels), sub.Description, int64(sub.Confidence)
		validFrom[j], validTo[j] = optTime(sub.ValidFrom), optTime(sub.ValidUntil)
		source[j], submittedBy[j], anonymous[j], report[j] = sub.Source, optText(sub.SubmittedBy), sqlstore.BoolInt(sub.Anonymous), optText(sub.ReportID)
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
		prev[i] = sqlstore.Facts{TLP: policy.TLP(prevTLP.String), Kind: policy.AudienceKind(prevKind.String), Group: prevGroup.String}
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
		if err := sqlstore.CheckSubmission(&subs[i]); err != nil {
			return nil, fmt.Errorf("submission %d (%s %q): %w", i, subs[i].Type, subs[i].Value, err)
		}
	}
	if len(subs) == 0 {
		return nil, nil
	}
	now := sqlstore.NowNano()
	base := in.last
	ids := make([]string, len(subs))
	for i := range ids {
		var err error
		if ids[i], err = in.ids.Next(); err != nil {
			return nil, fmt.Errorf("new id: %w", err)
		}
	}
	if err := in.wishedIDs(ctx, subs, ids); err != nil {
		return nil, err
	}
	ns := make([]int64, len(subs))
	got := make([]string, len(subs)) // the indicators' ids: new or kept
	created := make([]bool, len(subs))
	prev := make([]sqlstore.Facts, len(subs)) // of updated indicators, before the update
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
	if err := sqlstore.PutBefores(ctx, in.s.Store, in.tx, subs, ns, created, prev, base); err != nil {
		return nil, err
	}
	if err := in.putAudiences(ctx, subs, ns, created); err != nil {
		return nil, err
	}

	// A value held quarantined stays so, whoever submits it.
	held, err := sqlstore.HoldQuarantined(ctx, in.s.Store, in.tx, base, base+int64(len(subs)))
	if err != nil {
		return nil, err
	}

	in.last = base + int64(len(subs))
	res := make([]store.UpsertResult, len(subs))
	for i := range res {
		res[i] = store.UpsertResult{ID: got[i], Status: store.StatusCreated, Seq: base + 1 + int64(i), Quarantined: held[ns[i]]}
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
			WHERE indicator_n IN (SELECT jsonb_array_elements_text(?::jsonb)::bigint)`, sqlstore.JSONInts(updated)); err != nil {
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
