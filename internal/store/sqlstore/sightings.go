package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// AddSightings adds sighting counts in one transaction.
func (s *Store) AddSightings(ctx context.Context, ss []model.Sighting) error {
	for i := range ss {
		sg := &ss[i]
		switch {
		case sg.IndicatorID == "" || sg.Org == "":
			return fmt.Errorf("%s: sighting %d: indicator and organisation are needed", s.d.Name, i)
		case sg.Count < 1 || sg.Count > model.MaxSightingCount:
			return fmt.Errorf("%s: sighting %d: count %d is not from 1 to %d", s.d.Name, i, sg.Count, model.MaxSightingCount)
		case sg.Kind != model.Sighted && sg.Kind != model.FalsePositive:
			return fmt.Errorf("%s: sighting %d: kind %q is not one of sighting, false-positive", s.d.Name, i, sg.Kind)
		case len(sg.Report) > model.MaxReportKey || len(sg.ReportDigest) > model.MaxReportKey:
			return fmt.Errorf("%s: sighting %d: report key or digest longer than %d bytes", s.d.Name, i, model.MaxReportKey)
		}
	}
	// Rows are written in one order whatever the order given (a sensor's
	// report comes from a map): two replicas writing overlapping batches
	// in opposite orders would otherwise deadlock on PostgreSQL.
	ss = slices.Clone(ss)
	slices.SortStableFunc(ss, func(a, b model.Sighting) int {
		return cmp.Or(cmp.Compare(a.IndicatorID, b.IndicatorID), cmp.Compare(a.Org, b.Org),
			cmp.Compare(a.Kind, b.Kind), a.Hour.Compare(b.Hour))
	})
	err := s.write(ctx, func(tx Tx) error {
		stored, err := s.claimReports(ctx, tx, ss)
		if err != nil {
			return err
		}
		find, err := s.db.Prepare(ctx, tx, `SELECT n FROM indicators WHERE id = ?`)
		if err != nil {
			return err
		}
		defer find.Close()
		add, err := s.db.Prepare(ctx, tx, `INSERT INTO sightings (indicator_n, org_id, kind, hour, count) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (indicator_n, org_id, kind, hour) DO UPDATE SET count = `+s.d.Least+`(sightings.count + excluded.count, `+strconv.FormatInt(model.MaxSightingCount, 10)+`)`)
		if err != nil {
			return err
		}
		defer add.Close()
		ns := map[string]int64{}
		for _, sg := range ss {
			if sg.Report != "" && stored[reportKey{sg.Org, sg.Report}] {
				continue // this report was added before
			}
			n, ok := ns[sg.IndicatorID]
			if !ok {
				if err := find.QueryRowContext(ctx, sg.IndicatorID).Scan(&n); errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("indicator %q: %w", sg.IndicatorID, store.ErrNotFound)
				} else if err != nil {
					return err
				}
				ns[sg.IndicatorID] = n
			}
			hour := sg.Hour.UTC().Truncate(time.Hour)
			if _, err := add.ExecContext(ctx, n, sg.Org, string(sg.Kind), ToNano(hour), sg.Count); err != nil {
				return s.mapErr(err)
			}
			if sg.Host != "" || !sg.ObservedAt.IsZero() {
				at := sg.ObservedAt
				if at.IsZero() {
					at = hour
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO sighting_details (indicator_n, org_id, kind, observed_at, host) VALUES (?, ?, ?, ?, ?)`,
					n, sg.Org, string(sg.Kind), ToNano(at), sg.Host); err != nil {
					return s.mapErr(err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: add sightings: %w", s.d.Name, err)
	}
	return nil
}

// reportKey names a sighting report: the organisation and its key.
type reportKey struct{ org, report string }

// claimReports records the reports of ss not stored before and returns
// those that were, whose sightings are then left out. Keys older than
// model.SightingReportsKept are forgotten here too.
func (s *Store) claimReports(ctx context.Context, tx Tx, ss []model.Sighting) (map[reportKey]bool, error) {
	stored := map[reportKey]bool{}
	claimed := map[reportKey]bool{}
	now := NowNano()
	// Claimed in one order (by organisation and report), for the reason
	// AddSightings sorts its rows.
	claims := slices.Clone(ss)
	slices.SortStableFunc(claims, func(a, b model.Sighting) int {
		return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.Report, b.Report))
	})
	for _, sg := range claims {
		k := reportKey{sg.Org, sg.Report}
		if sg.Report == "" || claimed[k] || stored[k] {
			continue
		}
		if len(claimed)+len(stored) == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sighting_reports WHERE at < ?`, now-int64(model.SightingReportsKept)); err != nil {
				return nil, s.mapErr(err)
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO sighting_reports (org_id, report, digest, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_id, report) DO NOTHING`, sg.Org, sg.Report, sg.ReportDigest, now)
		if err != nil {
			return nil, s.mapErr(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			stored[k] = true
		} else {
			claimed[k] = true
		}
	}
	return stored, nil
}

// SightingReport says whether the organisation's report with this key was
// stored within model.SightingReportsKept, and with which digest.
func (s *Store) SightingReport(ctx context.Context, orgID, report string) (string, bool, error) {
	var digest string
	stored := false
	err := s.read(ctx, func(tx Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT digest FROM sighting_reports WHERE org_id = ? AND report = ? AND at >= ?`,
			orgID, report, NowNano()-int64(model.SightingReportsKept)).Scan(&digest)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		stored = err == nil
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("%s: sighting report: %w", s.d.Name, err)
	}
	return digest, stored, nil
}

// SightingCounts sums an indicator's sightings per organisation and kind.
func (s *Store) SightingCounts(ctx context.Context, indicatorID string) ([]model.SightingCount, error) {
	var out []model.SightingCount
	err := s.read(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT sg.org_id, sg.kind, SUM(sg.count), MIN(sg.hour), MAX(sg.hour)
			FROM sightings sg JOIN indicators i ON i.n = sg.indicator_n
			WHERE i.id = ? GROUP BY sg.org_id, sg.kind ORDER BY sg.org_id, sg.kind`, indicatorID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c model.SightingCount
			var kind string
			var first, last int64
			if err := rows.Scan(&c.Org, &kind, &c.Count, &first, &last); err != nil {
				return err
			}
			c.Kind, c.First, c.Last = model.SightingKind(kind), FromNano(first), FromNano(last)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: sighting counts of %q: %w", s.d.Name, indicatorID, err)
	}
	return out, nil
}
