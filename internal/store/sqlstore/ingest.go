package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// CheckSubmission refuses what must never be stored, whoever calls.
func CheckSubmission(sub *model.Submission) error {
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
	case len(sub.Value) > indicator.MaxStoredLen:
		return fmt.Errorf("value is %d bytes, at most %d can be stored", len(sub.Value), indicator.MaxStoredLen)
	}
	if err := checkText("value", sub.Value); err != nil {
		return err
	}
	if err := checkText("description", sub.Description); err != nil {
		return err
	}
	if err := checkText("labels", sub.Labels...); err != nil {
		return err
	}
	if err := checkText("tags", sub.Tags...); err != nil {
		return err
	}
	return policy.CheckAudience(sub.TLP, sub.Audience)
}

// checkText refuses text that is not valid UTF-8 or holds a NUL: SQLite
// would keep it, PostgreSQL fails on it, and no reader could use it. Both
// stores refuse it alike.
func checkText(what string, ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%s holds invalid UTF-8 or a NUL", what)
		}
	}
	return nil
}

// Facts are the policy facts of an indicator that an update may change:
// what an ingest's upsert returns of an updated indicator as it was.
type Facts struct {
	TLP   policy.TLP
	Kind  policy.AudienceKind
	Group string
	orgs  []string // sorted, without duplicates
}

// SubmittedFacts are the facts a submission gives its indicator, as stored.
func SubmittedFacts(sub *model.Submission) Facts {
	f := Facts{TLP: sub.TLP, Kind: sub.Audience.Kind}
	switch f.Kind {
	case "":
		f.Kind = policy.Network
	case policy.Group:
		f.Group = sub.Audience.Group
	case policy.Orgs:
		f.orgs = sortedSet(sub.Audience.Orgs)
	}
	return f
}

func (f Facts) sameAudience(g Facts) bool {
	return f.TLP == g.TLP && f.Kind == g.Kind && f.Group == g.Group && slices.Equal(f.orgs, g.orgs)
}

// PutBefores records, on the change entries of updates that changed who may
// see an indicator (TLP, audience), the policy facts from before: prev holds
// TLP and audience kind and group from the upsert, the old explicit list
// comes from indicator_audience (or from an earlier submission of the same
// indicator in this batch), the group's members from group_members.
//
// It is the part of an ingest's Put that both stores share: tx is the
// ingest's transaction (a write transaction of s's DB), ns the indicators'
// keys, created whether each was new, prev the facts of the updated ones,
// base the change sequence before the first.
func PutBefores(ctx context.Context, s *Store, tx Tx, subs []model.Submission, ns []int64, created []bool, prev []Facts, base int64) error {
	var listed []int64
	var groups []string
	for i := range subs {
		switch {
		case created[i]:
		case prev[i].Kind == policy.Orgs:
			listed = append(listed, ns[i])
		case prev[i].Kind == policy.Group && !slices.Contains(groups, prev[i].Group):
			groups = append(groups, prev[i].Group)
		}
	}
	q := Querier{s, tx, false}
	stored := map[string][]string{}
	if len(listed) > 0 {
		var err error
		if stored, err = q.Pairs(ctx, `SELECT indicator_n, org_id FROM indicator_audience
			WHERE indicator_n IN (`+s.d.IntArray("?")+`) ORDER BY indicator_n, org_id`, JSONInts(listed)); err != nil {
			return fmt.Errorf("audience before: %w", err)
		}
	}
	members := map[string][]string{}
	if len(groups) > 0 {
		var err error
		if members, err = q.GroupMembers(ctx, groups); err != nil {
			return err
		}
	}
	lists := map[int64][]string{} // explicit lists as this batch leaves them
	for i := range subs {
		after := SubmittedFacts(&subs[i])
		if !created[i] {
			before := prev[i]
			if before.Kind == policy.Orgs {
				var ok bool
				if before.orgs, ok = lists[ns[i]]; !ok {
					before.orgs = stored[strconv.FormatInt(ns[i], 10)]
				}
			}
			if !before.sameAudience(after) {
				var m []string
				if before.Kind == policy.Group {
					m = members[before.Group]
				}
				if _, err := tx.ExecContext(ctx, `UPDATE changes SET before_tlp = ?, before_audience_kind = ?,
					before_audience_group = ?, before_orgs = ?, before_members = ? WHERE seq = ?`,
					string(before.TLP), string(before.Kind), OptString(before.Group),
					EncodeList(before.orgs), EncodeList(m), base+1+int64(i)); err != nil {
					return fmt.Errorf("audience before: %w", err)
				}
			}
		}
		lists[ns[i]] = after.orgs
	}
	return nil
}

// HoldQuarantined is the part of an ingest's Put that both stores share
// and that keeps quarantine on a value rather than on one source's
// indicator: in tx (the ingest's transaction) it quarantines, with the
// value's reason, the indicators the put just wrote (change seqs base+1 to
// last) whose type and value are held (QuarantineValue), whichever source
// submitted them, and returns the keys of the indicators of the put that
// are quarantined, held now or before. Their change entries, written by the
// put, carry the quarantine to the stream. Two statements for the whole
// put: the held values are few, the put's rows are found by seq.
func HoldQuarantined(ctx context.Context, s *Store, tx Tx, base, last int64) (map[int64]bool, error) {
	// Most hubs hold no value most of the time: the join is then skipped.
	var held int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM quarantined_values LIMIT 1) q`).Scan(&held); err != nil {
		return nil, fmt.Errorf("hold quarantined values: %w", err)
	}
	if held > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE indicators SET quarantined = 1, quarantine_reason = q.reason
			FROM quarantined_values AS q
			WHERE indicators.seq > ? AND indicators.seq <= ? AND indicators.quarantined = 0
				AND q.type = indicators.type AND q.value = indicators.value`, base, last); err != nil {
			return nil, fmt.Errorf("hold quarantined values: %w", err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT n FROM indicators WHERE seq > ? AND seq <= ? AND quarantined = 1`, base, last)
	if err != nil {
		return nil, fmt.Errorf("hold quarantined values: %w", err)
	}
	defer rows.Close()
	var out map[int64]bool
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("hold quarantined values: %w", err)
		}
		if out == nil {
			out = map[int64]bool{}
		}
		out[n] = true
	}
	return out, rows.Err()
}

// RevokeReportExcept is the part of an ingest's RevokeReportExcept that both
// stores share: in tx (the ingest's transaction) it revokes the live
// indicators of report reportID from source whose ids keep does not name,
// with change seqs from base+1 on, and returns them in seq order.
func RevokeReportExcept(ctx context.Context, s *Store, tx Tx, base int64, reportID, source string, keep []string, at time.Time) ([]store.Revoked, error) {
	stamp := Stamp(at)
	res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
		SELECT CAST(? AS BIGINT) + row_number() OVER (ORDER BY n), n, 'revoked', CAST(? AS BIGINT)
		FROM (SELECT n FROM indicators WHERE report_id = ? AND source = ? AND revoked = 0
			AND id NOT IN (`+s.d.TextArray("?")+`)) gone`,
		base, stamp, reportID, source, JSONStrings(keep))
	if err != nil {
		return nil, fmt.Errorf("revoke the rest of report %q: changes: %w", reportID, err)
	}
	if k, err := res.RowsAffected(); err != nil || k == 0 {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE indicators SET revoked = 1, modified = ?, touched = ?, seq = c.seq
		FROM changes AS c WHERE c.seq > ? AND c.indicator_n = indicators.n`, stamp, stamp, base); err != nil {
		return nil, fmt.Errorf("revoke the rest of report %q: indicators: %w", reportID, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT i.id, c.seq FROM changes c JOIN indicators i ON i.n = c.indicator_n
		WHERE c.seq > ? ORDER BY c.seq`, base)
	if err != nil {
		return nil, fmt.Errorf("revoke the rest of report %q: read back: %w", reportID, err)
	}
	defer rows.Close()
	var out []store.Revoked
	for rows.Next() {
		var r store.Revoked
		if err := rows.Scan(&r.ID, &r.Seq); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
