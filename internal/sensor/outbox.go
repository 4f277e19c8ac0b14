package sensor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The sightings the hub has not taken yet live in the state directory as
// well as in memory, so that neither a restart nor a crash loses them or
// counts them twice:
//
//   - Before a flush sends anything, every report it is about to send is
//     saved with its Idempotency-Key, and the counts it took are no longer
//     saved as pending. A sensor killed at any point after that sends the
//     same reports again under the same keys, and the hub counts each once.
//   - After the flush, what is left (reports kept to be sent again, counts
//     put back or arrived meanwhile) is saved in their place.
//
// What a crash can still lose is the counts of matches since the last
// flush (at most --sightings-every, 10 s by default); a sensor that stops
// normally saves everything it could not send.

// SavedReport is a sightings report kept in the state directory, to be
// sent again with its key.
type SavedReport struct {
	Key   string
	Items []SavedSighting
}

// SavedSighting is one count of a saved report, or one pending count.
type SavedSighting struct {
	Indicator string `json:"i"`
	Hour      int64  `json:"h"`           // Unix seconds of the hour
	Host      string `json:"o,omitempty"` // --report full only
	Count     int64  `json:"c"`
	First     int64  `json:"f"` // Unix nanoseconds of the first match
}

// SaveSightings replaces the saved reports and pending counts with these,
// in one transaction.
func (s *State) SaveSightings(ctx context.Context, reports []SavedReport, pending []SavedSighting) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state: save sightings: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// A report is a row, and the pending counts one more, each as JSON:
	// a hundred thousand counts are saved in a fraction of a second.
	for _, q := range []string{`DELETE FROM sighting_reports`, `DELETE FROM sighting_pending`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("state: save sightings: %w", err)
		}
	}
	for _, rp := range reports {
		items, err := json.Marshal(rp.Items)
		if err != nil {
			return fmt.Errorf("state: save sightings: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sighting_reports (key, items) VALUES (?, ?)`, rp.Key, string(items)); err != nil {
			return fmt.Errorf("state: save sightings report %q: %w", rp.Key, err)
		}
	}
	if len(pending) > 0 {
		items, err := json.Marshal(pending)
		if err != nil {
			return fmt.Errorf("state: save sightings: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sighting_pending (n, items) VALUES (1, ?)`, string(items)); err != nil {
			return fmt.Errorf("state: save sightings: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state: save sightings: %w", err)
	}
	return nil
}

// Sightings returns the saved reports, in the order they were saved, and
// the saved pending counts.
func (s *State) Sightings(ctx context.Context) ([]SavedReport, []SavedSighting, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, items FROM sighting_reports ORDER BY n`)
	if err != nil {
		return nil, nil, fmt.Errorf("state: saved sightings: %w", err)
	}
	defer rows.Close()
	var reports []SavedReport
	for rows.Next() {
		var rp SavedReport
		var items string
		if err := rows.Scan(&rp.Key, &items); err != nil {
			return nil, nil, fmt.Errorf("state: saved sightings: %w", err)
		}
		if err := json.Unmarshal([]byte(items), &rp.Items); err != nil {
			return nil, nil, fmt.Errorf("state: saved sightings report %q: %w", rp.Key, err)
		}
		reports = append(reports, rp)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("state: saved sightings: %w", err)
	}
	rows.Close()
	var pending []SavedSighting
	var items string
	err = s.db.QueryRowContext(ctx, `SELECT items FROM sighting_pending WHERE n = 1`).Scan(&items)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, nil, fmt.Errorf("state: saved sightings: %w", err)
	default:
		if err := json.Unmarshal([]byte(items), &pending); err != nil {
			return nil, nil, fmt.Errorf("state: saved pending sightings: %w", err)
		}
	}
	return reports, pending, nil
}

// restore takes back what a previous run saved: the reports are sent
// again first, with their keys; the counts join the pending ones. Both are
// shaped by the current --report mode, so a sensor moved from full to
// count sends no host it saved before. It returns how many counts it took.
func (s *sightings) restore(reports []SavedReport, pending []SavedSighting) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, saved := range reports {
		rp := &report{key: saved.Key}
		if k, ok := strings.CutPrefix(saved.Key, splitMark); ok {
			rp.key, rp.split = k, true
		}
		at := map[sightingKey]int{}
		for _, it := range saved.Items {
			k, a := s.entry(it)
			if i, ok := at[k]; ok {
				rp.aggs[i].count += a.count
				rp.aggs[i].first = earlier(rp.aggs[i].first, a.first)
				continue
			}
			at[k] = len(rp.keys)
			rp.keys, rp.aggs = append(rp.keys, k), append(rp.aggs, a)
		}
		if len(rp.keys) == 0 {
			continue
		}
		rp.items = s.items(rp.keys, rp.aggs)
		s.unsent = append(s.unsent, rp)
		s.unsentItems += len(rp.items)
		n += len(rp.items)
	}
	for _, it := range pending {
		k, a := s.entry(it)
		if b, ok := s.pending[k]; ok {
			b.count += a.count
			b.first = earlier(b.first, a.first)
			continue
		}
		s.pending[k] = a
		n++
	}
	return n
}

// entry is a saved count as this sensor's mode aggregates it.
func (s *sightings) entry(it SavedSighting) (sightingKey, *sightingAgg) {
	k := sightingKey{id: it.Indicator, hour: it.Hour}
	if s.mode == ReportFull {
		k.host = it.Host
	}
	return k, &sightingAgg{count: it.Count, first: time.Unix(0, it.First).UTC()}
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// splitMark marks, in the state, the key of a report sent one sighting at
// a time (report.split).
const splitMark = "split:"

// save writes what the hub has not taken (the reports in flight, those
// kept to be sent again, the pending counts) to the state directory, in
// place of what was saved before. Nothing is written when there is nothing
// to save and nothing was saved.
func (s *sightings) save(ctx context.Context) {
	if s.state == nil {
		return
	}
	s.mu.Lock()
	var reports []SavedReport
	for _, rp := range append(s.inflight[:len(s.inflight):len(s.inflight)], s.unsent...) {
		saved := SavedReport{Key: rp.key, Items: make([]SavedSighting, len(rp.keys))}
		if rp.split {
			saved.Key = splitMark + rp.key
		}
		for i, k := range rp.keys {
			saved.Items[i] = savedSighting(k, rp.aggs[i])
		}
		reports = append(reports, saved)
	}
	pending := make([]SavedSighting, 0, len(s.pending))
	for k, a := range s.pending {
		pending = append(pending, savedSighting(k, a))
	}
	empty := len(reports) == 0 && len(pending) == 0
	skip := empty && s.savedEmpty
	s.mu.Unlock()
	if skip {
		return
	}
	// Saved even when ctx ended: a sensor stopping is when it matters.
	if err := s.state.SaveSightings(context.WithoutCancel(ctx), reports, pending); err != nil {
		s.log.Warn("saving the unsent sightings in the state directory failed; they are kept in memory", "err", err)
		return
	}
	s.mu.Lock()
	s.savedEmpty = empty
	s.mu.Unlock()
}

func savedSighting(k sightingKey, a *sightingAgg) SavedSighting {
	return SavedSighting{Indicator: k.id, Hour: k.hour, Host: k.host, Count: a.count, First: a.first.UnixNano()}
}
