package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// SetQuarantine quarantines or releases one indicator. While its type and
// value are held (QuarantineValue), a release changes nothing and a
// quarantine takes the held reason: only ReleaseValue, the coordinator's
// decision, lifts this hub's own verdict, not a peer's release of its copy.
func (s *Store) SetQuarantine(ctx context.Context, id string, on bool, reason string, at time.Time) (model.Indicator, error) {
	if at.IsZero() {
		at = time.Now()
	}
	if !on {
		reason = ""
	}
	var ind model.Indicator
	err := s.writeChanges(ctx, func(tx Tx) error {
		var n int64
		var cur bool
		var curReason string
		var held sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT i.n, i.quarantined, i.quarantine_reason, q.reason FROM indicators i
			LEFT JOIN quarantined_values q ON q.type = i.type AND q.value = i.value WHERE i.id = ?`, id).Scan(&n, &cur, &curReason, &held); err != nil {
			return s.mapErr(err)
		}
		if held.Valid {
			on, reason = true, held.String
		}
		if cur != on || on && curReason != reason {
			seq, err := s.lastSeq(ctx, tx)
			if err != nil {
				return err
			}
			seq++
			stamp := Stamp(at)
			if _, err := tx.ExecContext(ctx, `UPDATE indicators SET quarantined = ?, quarantine_reason = ?, modified = ?, touched = ?, seq = ? WHERE n = ?`,
				on, reason, stamp, stamp, seq, n); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at) VALUES (?, ?, ?, ?)`,
				seq, n, string(model.Updated), stamp); err != nil {
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
		return ind, fmt.Errorf("%s: quarantine indicator %q: %w", s.d.Name, id, err)
	}
	return ind, nil
}

// QuarantineValue holds the type and value of indicator id quarantined and
// quarantines its live indicators, every source's, in one transaction.
func (s *Store) QuarantineValue(ctx context.Context, id, reason string, at time.Time) ([]model.Indicator, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var out []model.Indicator
	err := s.writeChanges(ctx, func(tx Tx) error {
		var typ, value string
		if err := tx.QueryRowContext(ctx, `SELECT type, value FROM indicators WHERE id = ?`, id).Scan(&typ, &value); err != nil {
			return s.mapErr(err)
		}
		// A value held already keeps its first reason and time.
		if _, err := tx.ExecContext(ctx, `INSERT INTO quarantined_values (type, value, reason, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (type, value) DO NOTHING`, typ, value, reason, Stamp(at)); err != nil {
			return err
		}
		var err error
		out, err = s.holdValues(ctx, tx, typ, value, at)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: quarantine the value of indicator %q: %w", s.d.Name, id, err)
	}
	return out, nil
}

// HoldQuarantinedValues quarantines the live indicators of every held value
// that are not quarantined yet.
func (s *Store) HoldQuarantinedValues(ctx context.Context, at time.Time) ([]model.Indicator, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var out []model.Indicator
	err := s.writeChanges(ctx, func(tx Tx) error {
		var err error
		out, err = s.holdValues(ctx, tx, "", "", at)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: hold quarantined values: %w", s.d.Name, err)
	}
	return out, nil
}

// holdValues quarantines, in tx (a write transaction of the change log),
// the live indicators of held values that are not quarantined, with the
// value's reason and one "updated" change each, and returns them; typ and
// value narrow it to one value ("": every held value).
func (s *Store) holdValues(ctx context.Context, tx Tx, typ, value string, at time.Time) ([]model.Indicator, error) {
	base, err := s.lastSeq(ctx, tx)
	if err != nil {
		return nil, err
	}
	stamp := Stamp(at)
	res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
		SELECT CAST(? AS BIGINT) + row_number() OVER (ORDER BY i.n), i.n, 'updated', CAST(? AS BIGINT)
		FROM quarantined_values q JOIN indicators i ON i.value = q.value AND i.type = q.type
		WHERE i.quarantined = 0 AND i.revoked = 0 AND i.expired = 0 AND (? = '' OR q.type = ? AND q.value = ?)`,
		base, stamp, typ, typ, value)
	if err != nil {
		return nil, err
	}
	if k, err := res.RowsAffected(); err != nil || k == 0 {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE indicators SET quarantined = 1, quarantine_reason = q.reason,
			modified = ?, touched = ?, seq = c.seq
		FROM changes AS c, quarantined_values AS q
		WHERE c.seq > ? AND c.indicator_n = indicators.n AND q.type = indicators.type AND q.value = indicators.value`,
		stamp, stamp, base); err != nil {
		return nil, err
	}
	return Querier{s, tx, false}.Indicators(ctx, "SELECT "+IndicatorColumns+" FROM indicators i WHERE i.seq > ? ORDER BY i.seq", base)
}

// ReleaseValue lifts the hold on the type and value of indicator id and
// releases every quarantined indicator of it, in one transaction.
func (s *Store) ReleaseValue(ctx context.Context, id string, at time.Time) ([]model.Indicator, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var out []model.Indicator
	err := s.writeChanges(ctx, func(tx Tx) error {
		var typ, value string
		if err := tx.QueryRowContext(ctx, `SELECT type, value FROM indicators WHERE id = ?`, id).Scan(&typ, &value); err != nil {
			return s.mapErr(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM quarantined_values WHERE type = ? AND value = ?`, typ, value); err != nil {
			return err
		}
		base, err := s.lastSeq(ctx, tx)
		if err != nil {
			return err
		}
		stamp := Stamp(at)
		res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
			SELECT CAST(? AS BIGINT) + row_number() OVER (ORDER BY n), n, 'updated', CAST(? AS BIGINT)
			FROM indicators WHERE value = ? AND type = ? AND quarantined = 1`, base, stamp, value, typ)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE indicators SET quarantined = 0, quarantine_reason = '', modified = ?, touched = ?, seq = c.seq
			FROM changes AS c WHERE c.seq > ? AND c.indicator_n = indicators.n`, stamp, stamp, base); err != nil {
			return err
		}
		out, err = Querier{s, tx, false}.Indicators(ctx, "SELECT "+IndicatorColumns+" FROM indicators i WHERE i.seq > ? ORDER BY i.seq", base)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: release the value of indicator %q: %w", s.d.Name, id, err)
	}
	return out, nil
}

// ExpireNow expires live indicators at once.
func (s *Store) ExpireNow(ctx context.Context, ids []string, at time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if at.IsZero() {
		at = time.Now()
	}
	var k int64
	err := s.writeChanges(ctx, func(tx Tx) error {
		base, err := s.lastSeq(ctx, tx)
		if err != nil {
			return err
		}
		stamp := Stamp(at)
		res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
			SELECT :base + row_number() OVER (ORDER BY n), n, 'expired', :at
			FROM indicators WHERE id IN (`+s.d.TextArray(":ids")+`) AND expired = 0 AND revoked = 0`,
			sql.Named("base", base), sql.Named("at", stamp), sql.Named("ids", JSONStrings(ids)))
		if err != nil {
			return err
		}
		if k, err = res.RowsAffected(); err != nil || k == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE indicators SET expired = 1, valid_until = :at, modified = :at, touched = :at, seq = c.seq
			FROM changes AS c WHERE c.seq > :base AND c.indicator_n = indicators.n`,
			sql.Named("base", base), sql.Named("at", stamp))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: expire indicators now: %w", s.d.Name, err)
	}
	return int(k), nil
}

// ScanIndicators pages through every indicator by Seq.
func (s *Store) ScanIndicators(ctx context.Context, after int64, limit int, all bool) ([]model.Indicator, error) {
	cond := ""
	if !all {
		cond = " AND i.revoked = 0 AND i.expired = 0 AND i.quarantined = 0"
	}
	var out []model.Indicator
	err := s.read(ctx, func(tx Tx) error {
		var err error
		out, err = Querier{s, tx, true}.Indicators(ctx, "SELECT "+IndicatorColumns+" FROM indicators i WHERE i.seq > ?"+cond+" ORDER BY i.seq LIMIT ?", after, PageLimit(limit))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: scan indicators: %w", s.d.Name, err)
	}
	return out, nil
}

// Signals returns what other organisations said of indicators.
func (s *Store) Signals(ctx context.Context, ids []string) (map[string]model.Signal, error) {
	out := map[string]model.Signal{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT i.id,
			count(DISTINCT CASE WHEN g.kind = 'sighting' THEN g.org_id END),
			count(DISTINCT CASE WHEN g.kind = 'false-positive' THEN g.org_id END),
			max(CASE WHEN g.kind = 'sighting' THEN g.hour END)
		FROM indicators i JOIN sightings g ON g.indicator_n = i.n AND g.org_id != i.source
		WHERE i.id IN (`+s.d.TextArray("?")+`)
		GROUP BY i.id`, JSONStrings(ids))
	if err != nil {
		return nil, fmt.Errorf("%s: signals: %w", s.d.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var sig model.Signal
		var last sql.NullInt64
		if err := rows.Scan(&id, &sig.Sighters, &sig.FalsePositives, &last); err != nil {
			return nil, fmt.Errorf("%s: signals: %w", s.d.Name, err)
		}
		if last.Valid {
			sig.LastSighting = FromNano(last.Int64).Add(time.Hour)
		}
		out[id] = sig
	}
	return out, rows.Err()
}

// SourceRecords returns every source's track record. Anonymous indicators
// are left out: a record that moved when one of them was sighted or
// reported would tell the readers of the source's named indicators whose
// the anonymous one is.
func (s *Store) SourceRecords(ctx context.Context) (map[string]model.SourceRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT i.source,
			`+s.d.CountIf(`EXISTS (SELECT 1 FROM sightings g WHERE g.indicator_n = i.n AND g.kind = 'sighting' AND g.org_id != i.source)`)+`,
			`+s.d.CountIf(`i.quarantined = 1 OR EXISTS (SELECT 1 FROM sightings g WHERE g.indicator_n = i.n AND g.kind = 'false-positive' AND g.org_id != i.source)`)+`
		FROM indicators i WHERE i.anonymous = 0 GROUP BY i.source`)
	if err != nil {
		return nil, fmt.Errorf("%s: source records: %w", s.d.Name, err)
	}
	defer rows.Close()
	out := map[string]model.SourceRecord{}
	for rows.Next() {
		var src string
		var r model.SourceRecord
		if err := rows.Scan(&src, &r.Confirmed, &r.FalsePositive); err != nil {
			return nil, fmt.Errorf("%s: source records: %w", s.d.Name, err)
		}
		out[src] = r
	}
	return out, rows.Err()
}

// FalsePositiveParties lists the parties that reported an indicator of the
// type and value of indicator id a false positive, each report counted
// unless it came from the side of the source of the indicator reported: an
// organisation, or a partner standing for itself and its customers.
func (s *Store) FalsePositiveParties(ctx context.Context, id string) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx Tx) error {
		var err error
		out, err = queryStrings(ctx, tx, `SELECT DISTINCT COALESCE(o.partner_id, o.id) FROM indicators t
			JOIN indicators i ON i.value = t.value AND i.type = t.type
			JOIN sightings g ON g.indicator_n = i.n
			JOIN orgs o ON o.id = g.org_id
			JOIN orgs so ON so.id = i.source
			WHERE t.id = ? AND g.kind = 'false-positive' AND COALESCE(o.partner_id, o.id) != COALESCE(so.partner_id, so.id)
			ORDER BY 1`, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: false-positive reports of %q: %w", s.d.Name, id, err)
	}
	return out, nil
}

// SightingGroups groups recent sightings by report, label and actor.
func (s *Store) SightingGroups(ctx context.Context, since time.Time) ([]model.SightingGroup, error) {
	type row struct {
		id, org, report, labels, actor string
		hour                           int64
	}
	var rs []row
	err := s.read(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT i.id, g.org_id, COALESCE(i.report_id, ''), COALESCE(i.labels, ''), COALESCE(r.threat_actor, ''), g.hour
			FROM sightings g JOIN indicators i ON i.n = g.indicator_n LEFT JOIN reports r ON r.id = i.report_id
			WHERE g.hour >= ? AND g.kind = 'sighting' AND g.org_id != i.source`, ToNano(since.UTC().Truncate(time.Hour)))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.org, &r.report, &r.labels, &r.actor, &r.hour); err != nil {
				return err
			}
			rs = append(rs, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: sighting groups: %w", s.d.Name, err)
	}
	groups := map[[2]string]*model.SightingGroup{}
	add := func(by, key string, r row) {
		if key == "" {
			return
		}
		g := groups[[2]string{by, key}]
		at := FromNano(r.hour)
		if g == nil {
			g = &model.SightingGroup{By: by, Key: key, First: at, Last: at}
			groups[[2]string{by, key}] = g
		}
		if !slices.Contains(g.Orgs, r.org) {
			g.Orgs = append(g.Orgs, r.org)
		}
		if !slices.Contains(g.Indicators, r.id) {
			g.Indicators = append(g.Indicators, r.id)
		}
		if at.Before(g.First) {
			g.First = at
		}
		if at.After(g.Last) {
			g.Last = at
		}
	}
	for _, r := range rs {
		add("report", r.report, r)
		add("actor", strings.ToLower(strings.TrimSpace(r.actor)), r)
		labels, err := DecodeList(sql.NullString{String: r.labels, Valid: r.labels != ""})
		if err != nil {
			return nil, fmt.Errorf("%s: sighting groups: labels of %s: %w", s.d.Name, r.id, err)
		}
		for _, l := range labels {
			add("label", l, r)
		}
	}
	out := make([]model.SightingGroup, 0, len(groups))
	for _, g := range groups {
		slices.Sort(g.Orgs)
		slices.Sort(g.Indicators)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b model.SightingGroup) int {
		if c := strings.Compare(a.By, b.By); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// ValueSighters counts the organisations that sighted any of ids since.
func (s *Store) ValueSighters(ctx context.Context, ids []string, since time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(DISTINCT g.org_id) FROM sightings g JOIN indicators i ON i.n = g.indicator_n
		WHERE i.id IN (`+s.d.TextArray("?")+`) AND g.kind = 'sighting' AND g.hour >= ?`,
		JSONStrings(ids), ToNano(since.UTC().Truncate(time.Hour))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("%s: value sighters: %w", s.d.Name, err)
	}
	return n, nil
}

// CreateAlert stores an alert (ID and Raised assigned unless set).
func (s *Store) CreateAlert(ctx context.Context, a model.Alert) (model.Alert, error) {
	if a.ID == "" {
		a.ID = NewID()
	}
	if a.Raised.IsZero() {
		a.Raised = time.Now()
	}
	a.Raised = FromNano(ToNano(a.Raised))
	if a.Kind == "" || a.By == "" || a.Key == "" {
		return a, fmt.Errorf("%s: create alert: kind, grouping and key are needed", s.d.Name)
	}
	orgs, _ := json.Marshal(nonNil(a.Orgs))
	inds, _ := json.Marshal(nonNil(a.Indicators))
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, kind, grouping, key, orgs, indicators, first, last, raised, window_s)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.Kind, a.By, a.Key, string(orgs), string(inds),
			ToNano(a.First), ToNano(a.Last), ToNano(a.Raised), int64(a.Window/time.Second))
		return s.mapErr(err)
	})
	if err != nil {
		return a, fmt.Errorf("%s: create alert: %w", s.d.Name, err)
	}
	return a, nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

const alertColumns = `id, kind, grouping, key, orgs, indicators, first, last, raised, window_s`

func scanAlert(sc scanner) (model.Alert, error) {
	var a model.Alert
	var orgs, inds string
	var first, last, raised, window int64
	if err := sc.Scan(&a.ID, &a.Kind, &a.By, &a.Key, &orgs, &inds, &first, &last, &raised, &window); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(orgs), &a.Orgs); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(inds), &a.Indicators); err != nil {
		return a, err
	}
	a.First, a.Last, a.Raised, a.Window = FromNano(first), FromNano(last), FromNano(raised), time.Duration(window)*time.Second
	return a, nil
}

// ListAlerts returns alerts raised since, newest first.
func (s *Store) ListAlerts(ctx context.Context, since time.Time, limit int) ([]model.Alert, error) {
	return queryAll(ctx, s, "list alerts", scanAlert, `SELECT `+alertColumns+` FROM alerts WHERE raised >= ? ORDER BY raised DESC, id LIMIT ?`,
		ToNano(since), PageLimit(limit))
}

// LastAlert returns the newest alert of a grouping and key.
func (s *Store) LastAlert(ctx context.Context, by, key string) (model.Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE grouping = ? AND key = ? ORDER BY raised DESC LIMIT 1`, by, key))
	if err != nil {
		return a, fmt.Errorf("%s: last alert %s %q: %w", s.d.Name, by, key, s.mapErr(err))
	}
	return a, nil
}

var _ store.Signals = (*Store)(nil)
