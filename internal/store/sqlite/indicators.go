package sqlite

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
	args := []any{sql.Named("after", q.After), sql.Named("limit", sqlstore.PageLimit(q.Limit))}
	b.WriteString("SELECT " + sqlstore.IndicatorColumns + " FROM indicators i")
	if q.Value != "" {
		// Always the value index: with millions of indicators a scan in
		// sequence order would be a disaster, and the planner has no
		// statistics to know.
		b.WriteString(" INDEXED BY indicators_value")
	}
	b.WriteString(" WHERE i.seq > :after")
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
		b.WriteString(" AND EXISTS (SELECT 1 FROM json_each(i.tags) t WHERE t.value = :tag)")
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
		b.WriteString(" AND EXISTS (SELECT 1 FROM json_each(i.labels) l WHERE l.value = :label)")
		args = append(args, sql.Named("label", q.Label))
	}
	b.WriteString(" AND " + sqlstore.IndicatorVisibility.Cond(&dialect, v, &args))
	if q.Desc {
		b.WriteString(" ORDER BY i.seq DESC LIMIT :limit")
	} else {
		b.WriteString(" ORDER BY i.seq LIMIT :limit")
	}
	var inds []model.Indicator
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		inds, err = sqlstore.NewQuerier(s.Store, tx, true).Indicators(ctx, b.String(), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list indicators: %w", err)
	}
	return inds, nil
}

// lastSeqQuery reads the newest change sequence number: the AUTOINCREMENT
// counter of changes, which compaction does not lower.
const lastSeqQuery = `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)`

func lastSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, lastSeqQuery).Scan(&n)
	return n, err
}

// LastSeq is the newest change sequence number (0 when none).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := s.rdb.QueryRowContext(ctx, lastSeqQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: last seq: %w", err)
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
		err := s.write(ctx, func(tx *sql.Tx) error {
			base, err := lastSeq(ctx, tx)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
				SELECT :base + row_number() OVER (ORDER BY n), n, 'expired', :at
				FROM (SELECT n FROM indicators
					WHERE valid_until <= :at AND expired = 0 AND revoked = 0 LIMIT :batch)`,
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
			return total, fmt.Errorf("sqlite: expire indicators: %w", err)
		}
		total += int(k)
		if k < expireBatch {
			return total, nil
		}
	}
}

// errIngestEnded is returned by an Ingest used after Commit or Rollback.
var errIngestEnded = errors.New("sqlite: ingest already committed or rolled back")

// ingest is one write transaction of submissions; it holds the store's write
// lock until Commit or Rollback. It is not safe for concurrent use.
type ingest struct {
	s     *Store
	tx    *sql.Tx
	last  int64 // the newest change seq, including this transaction's
	ids   sqlstore.IDSource
	stmts map[*sql.Stmt]*sql.Stmt // store statement -> bound to tx
	err   error                   // the failure of a Put: the ingest can only end in a rollback
	ended bool

	rows         jsonb     // the array of the next bulk statement
	labels, tags listCache // the lists last encoded
}

// BeginIngest starts a write transaction for submissions. It waits for
// other writers of this process (within ctx) and of other processes (up to
// the busy timeout).
//
// If Put fails, the transaction is spoilt: every later Put fails and Commit
// rolls back and returns an error, so that a batch is stored entirely or not
// at all.
func (s *Store) BeginIngest(ctx context.Context) (store.Ingest, error) {
	if err := s.lockWrite(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: begin ingest: %w", err)
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		s.unlockWrite()
		return nil, fmt.Errorf("sqlite: begin ingest: %w", err)
	}
	last, err := lastSeq(ctx, tx)
	if err != nil {
		_ = tx.Rollback()
		s.unlockWrite()
		return nil, fmt.Errorf("sqlite: begin ingest: %w", err)
	}
	return &ingest{
		s:     s,
		tx:    tx,
		last:  last,
		ids:   sqlstore.NewIDSource(bufio.NewReaderSize(rand.Reader, 16*256)),
		stmts: map[*sql.Stmt]*sql.Stmt{},
	}, nil
}

func (in *ingest) Commit() error {
	if in.ended {
		return errIngestEnded
	}
	in.ended = true
	defer in.s.unlockWrite()
	if in.err != nil {
		_ = in.tx.Rollback()
		return fmt.Errorf("sqlite: commit ingest: rolled back after a failed put: %w", in.err)
	}
	if err := in.tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit ingest: %w", full(err))
	}
	in.s.committed()
	return nil
}

// Rollback ends the ingest without storing anything; after Commit it does
// nothing, so that it can be deferred.
func (in *ingest) Rollback() error {
	if in.ended {
		return nil
	}
	in.ended = true
	defer in.s.unlockWrite()
	if err := in.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlite: roll back ingest: %w", err)
	}
	return nil
}

func (in *ingest) Put(ctx context.Context, subs []model.Submission) ([]store.UpsertResult, error) {
	if in.ended {
		return nil, errIngestEnded
	}
	if in.err != nil {
		return nil, fmt.Errorf("sqlite: put: an earlier put of this ingest failed: %w", in.err)
	}
	res, err := in.put(ctx, subs)
	if err != nil {
		in.err = full(err)
		return nil, fmt.Errorf("sqlite: put: %w", in.err)
	}
	return res, nil
}

// PutSTIXObjects keeps STIX objects in the ingest's transaction.
func (in *ingest) PutSTIXObjects(ctx context.Context, objs []model.STIXObject) ([]store.ObjectStatus, error) {
	if in.ended {
		return nil, errIngestEnded
	}
	if in.err != nil {
		return nil, fmt.Errorf("sqlite: put stix objects: an earlier put of this ingest failed: %w", in.err)
	}
	out, err := sqlstore.PutSTIXObjects(ctx, in.s.Store, in.tx, objs)
	if err != nil {
		in.err = full(err)
		return nil, fmt.Errorf("sqlite: put stix objects: %w", in.err)
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
		return nil, fmt.Errorf("sqlite: revoke the rest of report %q: an earlier put of this ingest failed: %w", reportID, in.err)
	}
	out, err := sqlstore.RevokeReportExcept(ctx, in.s.Store, in.tx, in.last, reportID, source, keep, at)
	if err != nil {
		in.err = full(err)
		return nil, fmt.Errorf("sqlite: %w", in.err)
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
		return fmt.Errorf("sqlite: put origins: an earlier put of this ingest failed: %w", in.err)
	}
	if err := sqlstore.PutOrigins(ctx, in.s.Store, in.tx, os); err != nil {
		in.err = full(err)
		return fmt.Errorf("sqlite: put origins: %w", in.err)
	}
	return nil
}

// stmt binds a statement of the store to the ingest's transaction, once.
func (in *ingest) stmt(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	if b, ok := in.stmts[st]; ok {
		return b
	}
	b := in.tx.StmtContext(ctx, st)
	in.stmts[st] = b
	return b
}

// upsertShared is the number of parameters every row of an upsert shares:
// ?1 the change sequence before the statement's first row, ?2 the time of
// the ingest.
const upsertShared = 2

// The parameters of a row: a row of a uniform statement brings id, type
// and value (rowNarrow); the rest of a submission (its profile, profileArgs)
// is bound once for the statement, after the shared ones. A row of a mixed
// statement brings all (rowWide).
const (
	profileArgs = 13
	rowNarrow   = 3
	rowWide     = rowNarrow + profileArgs
)

// minUniform is the shortest run of submissions with the same profile that
// goes through a uniform statement.
const minUniform = 4

// sameProfile says whether two submissions differ in nothing but type and
// value (and id), so that one uniform statement can store both.
func sameProfile(a, b *model.Submission) bool {
	return a.TLP == b.TLP && a.Audience.Kind == b.Audience.Kind && a.Audience.Group == b.Audience.Group &&
		a.Description == b.Description && a.Confidence == b.Confidence &&
		a.ValidFrom.Equal(b.ValidFrom) && a.ValidUntil.Equal(b.ValidUntil) &&
		a.Source == b.Source && a.SubmittedBy == b.SubmittedBy && a.Anonymous == b.Anonymous &&
		a.ReportID == b.ReportID && slices.Equal(a.Labels, b.Labels) && slices.Equal(a.Tags, b.Tags)
}

// appendProfileArgs appends the profileArgs parameters of a submission, in
// the order of upsertSQL's columns.
func (in *ingest) appendProfileArgs(args []any, sub *model.Submission) []any {
	kind, group := sub.Audience.Kind, ""
	switch kind {
	case "":
		kind = policy.Network
	case policy.Group:
		group = sub.Audience.Group
	}
	return append(args,
		string(sub.TLP), string(kind), sqlstore.OptString(group),
		in.labels.encode(sub.Labels), sub.Description, int64(sub.Confidence),
		sqlstore.OptNano(sub.ValidFrom), sqlstore.OptNano(sub.ValidUntil),
		sub.Source, sqlstore.OptString(sub.SubmittedBy), sqlstore.BoolInt(sub.Anonymous), sqlstore.OptString(sub.ReportID),
		in.tags.encode(sub.Tags))
}

// listCache remembers the last list encoded: the submissions of a batch
// mostly carry the same labels, and encoding them once saves a string per
// row.
type listCache struct {
	last []string
	text any
}

// encode is encodeList, remembered.
func (c *listCache) encode(xs []string) any {
	if len(xs) == 0 {
		return nil
	}
	if c.last == nil || !slices.Equal(xs, c.last) {
		c.text = sqlstore.EncodeList(xs)
		c.last = slices.Clone(xs)
	}
	return c.text
}

// upsertSQL is the upsert of k submissions in one statement. In a uniform
// statement the rows share their profile (sameProfile) and bind only id,
// type and value; a mixed one binds every column of every row. ?1 and ?2
// (upsertShared) serve every row, a uniform statement's profile is ?3 on;
// row r's change sequence is ?1 + r + 1, computed rather than bound. Binding
// was a large part of an ingest's cost in the driver (each text is copied to
// C memory, unbound and freed, each call takes a lock): a uniform row binds
// 3 values instead of 21.
//
// The rows' own parameters are anonymous, and every numbered one appears
// before the first of them, so that they take the numbers after the shared
// ones in order. (Only numbered and named parameters are in the list that
// SQLite searches, linearly, for the name of each parameter the driver
// binds: numbering every parameter made binding quadratic.)
//
// A row that meets an indicator with the same source, type and value
// updates it. RETURNING gives the policy facts from before an update (SET
// sees the old row) and NULL after an insert: prev_tlp is set by every
// update and by nothing else, so it tells an update from an insert; the id
// is returned only for an update (an insert keeps the id the row brought).
//
// On update: valid_from is kept when the submission gives none, and so is a
// valid_until still to come; an expired indicator, or one whose valid_until
// has passed, is live again without one (its source says it is bad again,
// as a revoked indicator is re-activated), and with a valid_until still to
// come; a valid_until given that has passed leaves the expired flag as it
// was (ExpireDue ends it); first_seen and created are kept.
func upsertSQL(k int, uniform bool) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO indicators (seq, first_seen, last_seen, created, modified, touched,
		tlp, audience_kind, audience_group, labels, description, confidence, valid_from, valid_until,
		source, submitted_by, anonymous, report_id, tags, id, type, value) VALUES `)
	for r := range k {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?1+" + strconv.Itoa(r+1) + ",?2,?2,?2,?2,?2,")
		for c := range profileArgs {
			if uniform {
				b.WriteString("?" + strconv.Itoa(upsertShared+1+c) + ",")
			} else {
				b.WriteString("?,")
			}
		}
		b.WriteString("?,?,?)")
	}
	b.WriteString(`
	ON CONFLICT (value, type, source) DO UPDATE SET
		prev_tlp = tlp,
		prev_audience_kind = audience_kind,
		prev_audience_group = audience_group,
		tlp = excluded.tlp,
		audience_kind = excluded.audience_kind,
		audience_group = excluded.audience_group,
		labels = excluded.labels,
		description = excluded.description,
		confidence = excluded.confidence,
		valid_from = COALESCE(excluded.valid_from, valid_from),
		valid_until = CASE WHEN excluded.valid_until IS NOT NULL THEN excluded.valid_until
			WHEN expired = 1 OR valid_until <= excluded.modified THEN NULL
			ELSE valid_until END,
		expired = CASE WHEN excluded.valid_until IS NULL OR excluded.valid_until > excluded.modified
			THEN 0 ELSE expired END,
		submitted_by = excluded.submitted_by,
		anonymous = excluded.anonymous,
		report_id = excluded.report_id,
		tags = excluded.tags,
		revoked = 0,
		last_seen = excluded.last_seen,
		modified = excluded.modified,
		touched = excluded.touched,
		seq = excluded.seq
	RETURNING n, seq, prev_tlp, prev_audience_kind, prev_audience_group,
		CASE WHEN prev_tlp IS NULL THEN NULL ELSE id END`)
	return b.String()
}

// chunkSizes are the numbers of rows of the prepared multi-row statements;
// a run of submissions is cut greedily into chunks of these sizes, so that a
// few statements serve runs of every length.
var chunkSizes = []int{256, 64, 16, 4, 1}

func chunkSize(remaining int) int {
	for _, k := range chunkSizes {
		if remaining >= k {
			return k
		}
	}
	return 1
}

// changeSQL writes the change entries of an ingest from one JSONB array
// (?1) of the indicators' keys, negated for an update: the entry at index k
// gets the change sequence ?2 + k + 1, and ?3 is the time.
const changeSQL = `INSERT INTO changes (seq, indicator_n, kind, at)
	SELECT ?2 + key + 1, abs(value), CASE WHEN value < 0 THEN '` + string(model.Updated) + `' ELSE '` + string(model.Created) + `' END, ?3
	FROM jsonb_each(?1)`

// audienceSQL writes explicit audience entries from one JSONB array (?1)
// of [indicator key, organisation id] rows.
const audienceSQL = `INSERT OR IGNORE INTO indicator_audience (indicator_n, org_id)
	SELECT value->>0, value->>1 FROM jsonb_each(?1)`

// prepareWriter prepares the statements of an ingest on the write
// connection.
func (s *Store) prepareWriter(ctx context.Context) error {
	for _, k := range chunkSizes {
		for _, uniform := range []bool{false, true} {
			st, err := s.wdb.PrepareContext(ctx, upsertSQL(k, uniform))
			if err != nil {
				return err
			}
			s.upserts[upsertKey{k, uniform}] = st
		}
	}
	var err error
	if s.changeInsert, err = s.wdb.PrepareContext(ctx, changeSQL); err != nil {
		return err
	}
	s.audienceInsert, err = s.wdb.PrepareContext(ctx, audienceSQL)
	return err
}

// upsertKey names a prepared upsert: its rows, and whether they share a
// profile.
type upsertKey struct {
	rows    int
	uniform bool
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

	// Upsert the indicators; each row's seq is base+1+its index. A run of
	// submissions with the same profile goes through uniform statements.
	args := make([]any, 0, upsertShared+profileArgs+chunkSizes[0]*rowWide)
	for start := 0; start < len(subs); {
		run := start + 1
		for run < len(subs) && run-start < chunkSizes[0] && sameProfile(&subs[start], &subs[run]) {
			run++
		}
		uniform := run-start >= minUniform
		if !uniform {
			// A mixed chunk takes the rows up to the next uniform run.
			run = start
			for run < len(subs) && run-start < chunkSizes[0] {
				r := run + 1
				for r < len(subs) && r-run < minUniform && sameProfile(&subs[run], &subs[r]) {
					r++
				}
				if r-run >= minUniform {
					break
				}
				run = r
			}
			run = min(run, start+chunkSizes[0])
		}
		k := chunkSize(run - start)
		args = append(args[:0], base+int64(start), now)
		if uniform {
			args = in.appendProfileArgs(args, &subs[start])
		}
		for i := start; i < start+k; i++ {
			if !uniform {
				args = in.appendProfileArgs(args, &subs[i])
			}
			args = append(args, ids[i], string(subs[i].Type), subs[i].Value)
		}
		rows, err := in.stmt(ctx, in.s.upserts[upsertKey{k, uniform}]).QueryContext(ctx, args...)
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			var n, seq int64
			var prevTLP, prevKind, prevGroup, id sql.NullString
			if err := rows.Scan(&n, &seq, &prevTLP, &prevKind, &prevGroup, &id); err != nil {
				rows.Close()
				return nil, err
			}
			i := seq - base - 1
			if i < int64(start) || i >= int64(start+k) {
				rows.Close()
				return nil, fmt.Errorf("upsert returned seq %d outside its chunk", seq)
			}
			ns[i], created[i] = n, !prevTLP.Valid
			if created[i] {
				got[i] = ids[i]
			} else {
				got[i] = id.String
				prev[i] = sqlstore.Facts{TLP: policy.TLP(prevTLP.String), Kind: policy.AudienceKind(prevKind.String), Group: prevGroup.String}
			}
			seen++
		}
		if err := rows.Close(); err != nil {
			return nil, mapErr(err)
		}
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		start += k
	}
	if seen != len(subs) {
		return nil, fmt.Errorf("upsert returned %d rows for %d submissions", seen, len(subs))
	}

	// One change entry per upsert, all in one statement.
	for i := range subs {
		if created[i] {
			in.rows.addInt(ns[i])
		} else {
			in.rows.addInt(-ns[i])
		}
	}
	if _, err := in.stmt(ctx, in.s.changeInsert).ExecContext(ctx, in.rows.blob(), base, now); err != nil {
		return nil, err
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
	var taken map[string]bool
	for i := range subs {
		if subs[i].ID == "" {
			continue
		}
		u, err := uuid.Parse(subs[i].ID)
		if err != nil {
			continue
		}
		id := u.String()
		if taken == nil {
			taken = map[string]bool{}
		}
		if taken[id] {
			continue
		}
		taken[id] = true
		var one int
		err = in.tx.QueryRowContext(ctx, `SELECT 1 FROM indicators WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			ids[i] = id
			continue
		}
		if err != nil {
			return err
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
			WHERE indicator_n IN (SELECT value FROM json_each(?))`, sqlstore.JSONInts(updated)); err != nil {
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
	for i := range subs {
		if subs[i].Audience.Kind != policy.Orgs || final[ns[i]] != i {
			continue
		}
		for _, org := range subs[i].Audience.Orgs {
			in.rows.int(ns[i])
			in.rows.text(org)
			in.rows.endRow()
		}
	}
	if _, err := in.stmt(ctx, in.s.audienceInsert).ExecContext(ctx, in.rows.blob()); err != nil {
		return fmt.Errorf("audience: %w", err)
	}
	return nil
}
