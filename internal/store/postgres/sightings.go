package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
			return fmt.Errorf("postgres: sighting %d: indicator and organisation are needed", i)
		case sg.Count < 1:
			return fmt.Errorf("postgres: sighting %d: count %d is not positive", i, sg.Count)
		case sg.Kind != model.Sighted && sg.Kind != model.FalsePositive:
			return fmt.Errorf("postgres: sighting %d: kind %q is not one of sighting, false-positive", i, sg.Kind)
		}
	}
	err := s.write(ctx, func(tx *Tx) error {
		find, err := tx.PrepareContext(ctx, `SELECT n FROM indicators WHERE id = ?`)
		if err != nil {
			return err
		}
		defer find.Close()
		add, err := tx.PrepareContext(ctx, `INSERT INTO sightings (indicator_n, org_id, kind, hour, count) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (indicator_n, org_id, kind, hour) DO UPDATE SET count = sightings.count + excluded.count`)
		if err != nil {
			return err
		}
		defer add.Close()
		ns := map[string]int64{}
		for _, sg := range ss {
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
			if _, err := add.ExecContext(ctx, n, sg.Org, string(sg.Kind), toNano(hour), sg.Count); err != nil {
				return mapErr(err)
			}
			if sg.Host != "" || !sg.ObservedAt.IsZero() {
				at := sg.ObservedAt
				if at.IsZero() {
					at = hour
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO sighting_details (indicator_n, org_id, kind, observed_at, host) VALUES (?, ?, ?, ?, ?)`,
					n, sg.Org, string(sg.Kind), toNano(at), sg.Host); err != nil {
					return mapErr(err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: add sightings: %w", err)
	}
	return nil
}

// SightingCounts sums an indicator's sightings per organisation and kind.
func (s *Store) SightingCounts(ctx context.Context, indicatorID string) ([]model.SightingCount, error) {
	var out []model.SightingCount
	err := s.read(ctx, func(tx *Tx) error {
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
			c.Kind, c.First, c.Last = model.SightingKind(kind), fromNano(first), fromNano(last)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: sighting counts of %q: %w", indicatorID, err)
	}
	return out, nil
}
