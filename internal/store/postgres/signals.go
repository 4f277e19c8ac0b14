package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// SetQuarantine quarantines or releases an indicator.
func (s *Store) SetQuarantine(ctx context.Context, id string, on bool, reason string, at time.Time) (model.Indicator, error) {
	if at.IsZero() {
		at = time.Now()
	}
	if !on {
		reason = ""
	}
	var ind model.Indicator
	err := s.writeChanges(ctx, func(tx *Tx) error {
		var n int64
		var cur bool
		var curReason string
		if err := tx.QueryRowContext(ctx, `SELECT n, quarantined, quarantine_reason FROM indicators WHERE id = ?`, id).Scan(&n, &cur, &curReason); err != nil {
			return mapErr(err)
		}
		if cur != on || on && curReason != reason {
			seq, err := lastSeq(ctx, tx)
			if err != nil {
				return err
			}
			seq++
			if _, err := tx.ExecContext(ctx, `UPDATE indicators SET quarantined = ?, quarantine_reason = ?, modified = ?, seq = ? WHERE n = ?`,
				on, reason, toNano(at), seq, n); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at) VALUES (?, ?, ?, ?)`,
				seq, n, string(model.Updated), toNano(at)); err != nil {
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
		return ind, fmt.Errorf("postgres: quarantine indicator %q: %w", id, err)
	}
	return ind, nil
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
	err := s.writeChanges(ctx, func(tx *Tx) error {
		base, err := lastSeq(ctx, tx)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at)
			SELECT :base + row_number() OVER (ORDER BY n), n, 'expired', :at
			FROM indicators WHERE id IN (SELECT jsonb_array_elements_text(:ids::jsonb)) AND expired = 0 AND revoked = 0`,
			sql.Named("base", base), sql.Named("at", toNano(at)), sql.Named("ids", jsonStrings(ids)))
		if err != nil {
			return err
		}
		if k, err = res.RowsAffected(); err != nil || k == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE indicators SET expired = 1, valid_until = :at, modified = :at, seq = c.seq
			FROM changes AS c WHERE c.seq > :base AND c.indicator_n = indicators.n`,
			sql.Named("base", base), sql.Named("at", toNano(at)))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: expire indicators now: %w", err)
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
	err := s.read(ctx, func(tx *Tx) error {
		var err error
		out, err = querier{s, tx, true}.indicators(ctx, "SELECT "+indicatorColumns+" FROM indicators i WHERE i.seq > ?"+cond+" ORDER BY i.seq LIMIT ?", after, pageLimit(limit))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan indicators: %w", err)
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
		WHERE i.id IN (SELECT jsonb_array_elements_text(?::jsonb))
		GROUP BY i.id`, jsonStrings(ids))
	if err != nil {
		return nil, fmt.Errorf("postgres: signals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var sig model.Signal
		var last sql.NullInt64
		if err := rows.Scan(&id, &sig.Sighters, &sig.FalsePositives, &last); err != nil {
			return nil, fmt.Errorf("postgres: signals: %w", err)
		}
		if last.Valid {
			sig.LastSighting = fromNano(last.Int64).Add(time.Hour)
		}
		out[id] = sig
	}
	return out, rows.Err()
}

// SourceRecords returns every source's track record.
func (s *Store) SourceRecords(ctx context.Context) (map[string]model.SourceRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT i.source,
			count(*) FILTER (WHERE EXISTS (SELECT 1 FROM sightings g WHERE g.indicator_n = i.n AND g.kind = 'sighting' AND g.org_id != i.source)),
			count(*) FILTER (WHERE i.quarantined = 1 OR EXISTS (SELECT 1 FROM sightings g WHERE g.indicator_n = i.n AND g.kind = 'false-positive' AND g.org_id != i.source))
		FROM indicators i GROUP BY i.source`)
	if err != nil {
		return nil, fmt.Errorf("postgres: source records: %w", err)
	}
	defer rows.Close()
	out := map[string]model.SourceRecord{}
	for rows.Next() {
		var src string
		var r model.SourceRecord
		if err := rows.Scan(&src, &r.Confirmed, &r.FalsePositive); err != nil {
			return nil, fmt.Errorf("postgres: source records: %w", err)
		}
		out[src] = r
	}
	return out, rows.Err()
}

// FalsePositiveOrgs lists who reported an indicator a false positive.
func (s *Store) FalsePositiveOrgs(ctx context.Context, id string) ([]string, error) {
	var out []string
	err := s.read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryStrings(ctx, tx, `SELECT DISTINCT g.org_id FROM sightings g JOIN indicators i ON i.n = g.indicator_n
			WHERE i.id = ? AND g.kind = 'false-positive' AND g.org_id != i.source ORDER BY g.org_id`, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: false-positive reports of %q: %w", id, err)
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
	err := s.read(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT i.id, g.org_id, COALESCE(i.report_id, ''), COALESCE(i.labels, ''), COALESCE(r.threat_actor, ''), g.hour
			FROM sightings g JOIN indicators i ON i.n = g.indicator_n LEFT JOIN reports r ON r.id = i.report_id
			WHERE g.hour >= ? AND g.kind = 'sighting' AND g.org_id != i.source`, toNano(since.UTC().Truncate(time.Hour)))
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
		return nil, fmt.Errorf("postgres: sighting groups: %w", err)
	}
	groups := map[[2]string]*model.SightingGroup{}
	add := func(by, key string, r row) {
		if key == "" {
			return
		}
		g := groups[[2]string{by, key}]
		at := fromNano(r.hour)
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
		labels, err := decodeList(sql.NullString{String: r.labels, Valid: r.labels != ""})
		if err != nil {
			return nil, fmt.Errorf("postgres: sighting groups: labels of %s: %w", r.id, err)
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
		WHERE i.id IN (SELECT jsonb_array_elements_text(?::jsonb)) AND g.kind = 'sighting' AND g.hour >= ?`,
		jsonStrings(ids), toNano(since.UTC().Truncate(time.Hour))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: value sighters: %w", err)
	}
	return n, nil
}

// CreateAlert stores an alert (ID and Raised assigned unless set).
func (s *Store) CreateAlert(ctx context.Context, a model.Alert) (model.Alert, error) {
	if a.ID == "" {
		a.ID = newID()
	}
	if a.Raised.IsZero() {
		a.Raised = time.Now()
	}
	a.Raised = fromNano(toNano(a.Raised))
	if a.Kind == "" || a.By == "" || a.Key == "" {
		return a, errors.New("postgres: create alert: kind, grouping and key are needed")
	}
	orgs, _ := json.Marshal(nonNil(a.Orgs))
	inds, _ := json.Marshal(nonNil(a.Indicators))
	err := s.write(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, kind, grouping, key, orgs, indicators, first, last, raised, window_s)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.Kind, a.By, a.Key, string(orgs), string(inds),
			toNano(a.First), toNano(a.Last), toNano(a.Raised), int64(a.Window/time.Second))
		return mapErr(err)
	})
	if err != nil {
		return a, fmt.Errorf("postgres: create alert: %w", err)
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

func scanAlert(sc interface{ Scan(...any) error }) (model.Alert, error) {
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
	a.First, a.Last, a.Raised, a.Window = fromNano(first), fromNano(last), fromNano(raised), time.Duration(window)*time.Second
	return a, nil
}

// ListAlerts returns alerts raised since, newest first.
func (s *Store) ListAlerts(ctx context.Context, since time.Time, limit int) ([]model.Alert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE raised >= ? ORDER BY raised DESC, id LIMIT ?`,
		toNano(since), pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: list alerts: %w", err)
	}
	defer rows.Close()
	var out []model.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LastAlert returns the newest alert of a grouping and key.
func (s *Store) LastAlert(ctx context.Context, by, key string) (model.Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE grouping = ? AND key = ? ORDER BY raised DESC LIMIT 1`, by, key))
	if err != nil {
		return a, fmt.Errorf("postgres: last alert %s %q: %w", by, key, mapErr(err))
	}
	return a, nil
}

var _ store.Signals = (*Store)(nil)
