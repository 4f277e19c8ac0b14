package sensor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the embedded SQLite driver

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// State is the sensor's local copy of the indicators its organisation may
// see, and the stream cursor it is current to, in the state directory. It
// lets the sensor start and keep matching while the hub is unreachable and
// catch up from its cursor when the hub returns. Every batch of stream
// events is applied in one transaction together with the cursor, so the
// copy and the cursor never disagree after a crash. It also keeps the
// indicators that arrived but are not yet hunted for in the retro-hunt
// record (pending_hunts, in the same transaction: a crash between applying
// and hunting leaves them for the next start), and the sightings not yet
// taken by the hub (outbox.go).
type State struct {
	db *sql.DB
}

const stateSchema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS indicators (
	id          TEXT PRIMARY KEY,
	type        TEXT NOT NULL,
	value       TEXT NOT NULL,
	tlp         TEXT NOT NULL,
	labels      TEXT NOT NULL,
	confidence  INTEGER NOT NULL,
	report      TEXT NOT NULL,
	valid_until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sighting_reports (
	n     INTEGER PRIMARY KEY,
	key   TEXT NOT NULL UNIQUE,
	items TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sighting_pending (
	n     INTEGER PRIMARY KEY CHECK (n = 1),
	items TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_hunts (id TEXT PRIMARY KEY) WITHOUT ROWID;`

// OpenState opens (creating if needed) the state in dir, readable by its
// owner only: dir is made 0700 and the database with its WAL and
// shared-memory files 0600 (ownerOnly), also when they exist already with
// wider modes. The copy holds TLP:AMBER indicators.
func OpenState(dir string) (*State, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	path := filepath.Join(dir, "indicators.db")
	if err := ownerOnly(dir, path); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	q := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", q)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(stateSchema + offsetSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: create schema in %s: %w", path, err)
	}
	return &State{db: db}, nil
}

// ownerOnly makes the state directory dir owner-only (0700 at most), and
// the database file at db (created empty when absent, which SQLite takes
// for an empty database), its WAL and shared-memory files, and the name
// file beside them, readable and writable by their owner only (0600 at
// most). SQLite gives the WAL and shared-memory files it creates the
// database file's mode. Modes are only narrowed, never widened; the key
// file is left alone: ReadKeyFile refuses one that others may read, since
// the key must then be taken as exposed.
func ownerOnly(dir, db string) error {
	if fi, err := os.Stat(dir); err != nil {
		return err
	} else if fi.Mode().Perm()&0o077 != 0 {
		// A directory the sensor does not own (a shared volume, root's
		// with a group the sensor is in) is left as its owner made it:
		// the files in it are still made owner-only.
		if err := os.Chmod(dir, fi.Mode().Perm()&0o700); err != nil && !errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("make %s owner-only: %w", dir, err)
		}
	}
	f, err := os.OpenFile(db, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{db, db + "-wal", db + "-shm", filepath.Join(dir, NameFile)} {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&0o600); err != nil && !errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("make %s owner-only: %w", p, err)
		}
	}
	return nil
}

// Close closes the state.
func (s *State) Close() error { return s.db.Close() }

// Cursor returns the stream cursor the copy is current to, and whether it
// has one: whether any event was ever applied (a snapshot, even one cut
// short, or changes). Without one the sensor asks for a snapshot.
func (s *State) Cursor(ctx context.Context) (cursor int64, synced bool, err error) {
	var v string
	err = s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'cursor'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if _, err := fmt.Sscan(v, &cursor); err != nil {
		return 0, false, fmt.Errorf("state: bad cursor %q", v)
	}
	return cursor, true, nil
}

// change is a stream event as the sensor holds it between the stream and
// the state: the indicator already in the matcher's compact form (fromAPI:
// no description, every text held to the hub's bounds and copied out of
// the event), so that the queue and the batch that wait on a slow or
// locked state hold a few kilobytes an event whatever a hub sends, not the
// megabyte a stream event may be.
type change struct {
	kind   string
	cursor int64
	// id is the indicator the event is about ("" for none); when ind is
	// nil it leaves the copy (removed, revoked, expired, quarantined or
	// refused).
	id  string
	ind *match.Indicator
}

// gone says whether the change takes its indicator out of the copy.
func (c *change) gone() bool { return c.id != "" && c.ind == nil }

// toChange turns a stream event into a change. An indicator the sensor
// refuses (fromAPI says why, in the error) becomes a removal of its id: a
// version the state held before is dropped, as the hub replaced it.
func toChange(ev streamclient.Event) (change, error) {
	c := change{kind: ev.Kind, cursor: ev.Cursor}
	switch ev.Kind {
	case api.EventReset, api.EventSnapshotEnd, api.EventHeartbeat:
		return c, nil
	case api.EventRemoved:
		if len(ev.ID) <= maxIDLen { // a longer id is never held
			c.id = strings.Clone(ev.ID)
		}
		return c, nil
	}
	ind := ev.Indicator
	if ind == nil {
		return c, nil
	}
	if len(ind.ID) > maxIDLen {
		return c, fmt.Errorf("an indicator id of %d bytes (at most %d)", len(ind.ID), maxIDLen)
	}
	c.id = strings.Clone(ind.ID)
	if ind.Revoked || ind.Expired || ind.Quarantined {
		return c, nil
	}
	mi, err := fromAPI(ind)
	if err != nil {
		return c, fmt.Errorf("indicator %s: %w", c.id, err)
	}
	c.ind = &mi
	return c, nil
}

// Apply applies stream events in one transaction and returns the indicators
// that arrived or changed (for the index), and of those the ones whose type
// and value the state did not hold before (for the retro-hunt: an update of
// an indicator's TLP or labels must not hunt for it, alert and count its
// sightings again). The fresh ones are also recorded as pending hunts in
// the same transaction (Hunted takes them off). An indicator the sensor
// refuses (fromAPI) is not kept, and a version of it held before is
// dropped.
func (s *State) Apply(ctx context.Context, evs []streamclient.Event) (arrived, fresh []match.Indicator, err error) {
	cs := make([]change, len(evs))
	for i, ev := range evs {
		cs[i], _ = toChange(ev)
	}
	return s.apply(ctx, cs)
}

// apply is Apply for changes.
func (s *State) apply(ctx context.Context, evs []change) (arrived, fresh []match.Indicator, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	held, err := tx.PrepareContext(ctx, `SELECT type, value, tlp, labels, confidence, report, valid_until FROM indicators WHERE id = ?`)
	if err != nil {
		return nil, nil, err
	}
	defer held.Close()
	put, err := tx.PrepareContext(ctx, `INSERT INTO indicators (id, type, value, tlp, labels, confidence, report, valid_until)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET type = excluded.type, value = excluded.value,
		tlp = excluded.tlp, labels = excluded.labels, confidence = excluded.confidence, report = excluded.report,
		valid_until = excluded.valid_until`)
	if err != nil {
		return nil, nil, err
	}
	defer put.Close()
	drop, err := tx.PrepareContext(ctx, `DELETE FROM indicators WHERE id = ?`)
	if err != nil {
		return nil, nil, err
	}
	defer drop.Close()
	pend, err := tx.PrepareContext(ctx, `INSERT INTO pending_hunts (id) VALUES (?) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return nil, nil, err
	}
	defer pend.Close()
	unhunt, err := tx.PrepareContext(ctx, `DELETE FROM pending_hunts WHERE id = ?`)
	if err != nil {
		return nil, nil, err
	}
	defer unhunt.Close()
	var cursor int64 = -1
	// An indicator can come twice in one batch (the hub sends a change
	// made while its snapshot was read after the snapshot, which may have
	// listed it already), or come and go. gone holds the ids the batch
	// dropped and did not put again after; again says whether it put an id
	// the state held or dropped one, so that arrived may hold an id twice
	// or one that is gone (a snapshot of new indicators costs nothing
	// more).
	var gone map[string]bool
	again := false
	dropped := func(id string) {
		if gone == nil {
			gone = map[string]bool{}
		}
		gone[id], again = true, true
	}
	for _, ev := range evs {
		switch {
		case ev.kind == api.EventReset:
			if _, err := tx.ExecContext(ctx, `DELETE FROM indicators`); err != nil {
				return nil, nil, err
			}
			// What was pending is in the snapshot that follows, fresh
			// again, or gone.
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending_hunts`); err != nil {
				return nil, nil, err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM meta WHERE key = 'cursor'`); err != nil {
				return nil, nil, err
			}
			arrived, fresh, cursor = nil, nil, -1
			gone, again = nil, false
			continue
		case ev.gone():
			if _, err := drop.ExecContext(ctx, ev.id); err != nil {
				return nil, nil, err
			}
			if _, err := unhunt.ExecContext(ctx, ev.id); err != nil {
				return nil, nil, err
			}
			dropped(ev.id)
		case ev.ind != nil:
			mi := *ev.ind
			labels, _ := json.Marshal(mi.Labels)
			var until int64
			if !mi.ValidUntil.IsZero() {
				until = mi.ValidUntil.Unix()
			}
			var h struct {
				typ, value, tlp, labels, report string
				confidence                      int
				until                           int64
			}
			err = held.QueryRowContext(ctx, mi.ID).Scan(&h.typ, &h.value, &h.tlp, &h.labels, &h.confidence, &h.report, &h.until)
			delete(gone, mi.ID)
			again = again || err == nil
			switch {
			case errors.Is(err, sql.ErrNoRows):
				fresh = append(fresh, mi)
			case err != nil:
				return nil, nil, err
			case h.typ != string(mi.Type) || h.value != mi.Value:
				fresh = append(fresh, mi)
			case h.tlp == mi.TLP && h.labels == string(labels) && h.confidence == mi.Confidence && h.report == mi.Report && h.until == until:
				// The same indicator again, unchanged (the hub sends a
				// change made while its snapshot was read after the
				// snapshot, which may have listed it already): nothing
				// arrives.
				cursor = ev.cursor
				continue
			}
			if _, err := put.ExecContext(ctx, mi.ID, string(mi.Type), mi.Value, mi.TLP, string(labels), mi.Confidence, mi.Report, until); err != nil {
				return nil, nil, err
			}
			arrived = append(arrived, mi)
		}
		cursor = ev.cursor
	}
	if again {
		arrived, fresh = lastVersions(arrived, gone), lastVersions(fresh, gone)
	}
	// The hunt for the fresh ones is committed with them: a sensor stopped
	// (or killed) after this commit and before its hunt has written its
	// alerts hunts at its next start (PendingHunts), rather than never —
	// the indicator is then held, so not fresh again, and the cursor past
	// it.
	for i := range fresh {
		if _, err := pend.ExecContext(ctx, fresh[i].ID); err != nil {
			return nil, nil, err
		}
	}
	// The cursor is stored with what was applied, a first snapshot's events
	// included: the snapshot comes in change-sequence order, so a snapshot
	// cut short resumes from its last event's cursor (the hub then sends
	// every change after it), after a restart as after a reconnect. Storing
	// it only at the snapshot's end made a restart after a cut snapshot
	// wipe the copy and start again, and a sensor whose stream was cut
	// during its first snapshot never stored a cursor at all (it resumed
	// in process and was never sent snapshot-end).
	if cursor >= 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('cursor', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, fmt.Sprint(cursor)); err != nil {
			return nil, nil, err
		}
	}
	return arrived, fresh, tx.Commit()
}

// lastVersions keeps, of the indicators of a batch, the last version of
// each id that the batch did not leave gone, in their order: the index
// takes each once (one indicator added twice would raise two alerts a
// match), and the retro-hunt does not hunt for one the batch removed
// again.
func lastVersions(inds []match.Indicator, gone map[string]bool) []match.Indicator {
	seen := make(map[string]bool, len(inds))
	out := inds[:0:0]
	for i := len(inds) - 1; i >= 0; i-- {
		id := inds[i].ID
		if seen[id] || gone[id] {
			continue
		}
		seen[id] = true
		out = append(out, inds[i])
	}
	slices.Reverse(out)
	return out
}

// PendingHunts returns the indicators that arrived but whose retro-hunt was
// not done (Hunted not called): the sensor was stopped or killed between
// applying them and hunting for them.
func (s *State) PendingHunts(ctx context.Context) ([]match.Indicator, error) {
	return s.indicators(ctx, `SELECT i.id, i.type, i.value, i.tlp, i.labels, i.confidence, i.report, i.valid_until
		FROM pending_hunts p JOIN indicators i ON i.id = p.id`)
}

// Hunted takes indicators off the pending hunts, once their retro-hunt is
// done and its alerts written.
func (s *State) Hunted(ctx context.Context, inds []match.Indicator) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	del, err := tx.PrepareContext(ctx, `DELETE FROM pending_hunts WHERE id = ?`)
	if err != nil {
		return err
	}
	defer del.Close()
	for i := range inds {
		if _, err := del.ExecContext(ctx, inds[i].ID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Indicators returns the whole local copy.
func (s *State) Indicators(ctx context.Context) ([]match.Indicator, error) {
	return s.indicators(ctx, `SELECT id, type, value, tlp, labels, confidence, report, valid_until FROM indicators`)
}

// indicators reads the indicators a query selects (their columns in the
// order of the indicators table).
func (s *State) indicators(ctx context.Context, query string) ([]match.Indicator, error) {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []match.Indicator
	for rows.Next() {
		var mi match.Indicator
		var typ, labels string
		var until int64
		if err := rows.Scan(&mi.ID, &typ, &mi.Value, &mi.TLP, &labels, &mi.Confidence, &mi.Report, &until); err != nil {
			return nil, err
		}
		mi.Type = indicator.Type(typ)
		json.Unmarshal([]byte(labels), &mi.Labels)
		if until != 0 {
			mi.ValidUntil = time.Unix(until, 0).UTC()
		}
		out = append(out, mi)
	}
	return out, rows.Err()
}

// What the sensor keeps of an indicator's text, whatever a hub sends: the
// hub's own bounds (a report title of 512 bytes, 32 labels of 64 bytes),
// so that a hostile or broken hub cannot fill the state directory, the
// memory and every alert with megabytes a field. A value longer than the
// hub stores (indicator.MaxStoredLen) and a TLP that is not a TLP 2.0
// level are refused: no hub sends them.
const (
	maxReportLen = 512
	maxLabels    = 32
	maxLabelLen  = 64
	maxIDLen     = 128
)

// fromAPI turns an indicator of the stream into what the matcher needs. A
// CIDR block is held to the hub's rules (not IPv4 /0 to /7 nor IPv6 shorter
// than /29, which would match whole regions and cost the index seconds to
// build), the value to the
// hub's length, the TLP to the TLP 2.0 levels (in their canonical
// spelling), and the text fields to the hub's bounds. What it returns
// shares no memory with ind but its short strings (id, value, labels that
// were not cut): ind's description and a cut report or label, up to a
// megabyte each, are not kept alive by it.
func fromAPI(ind *api.IndicatorJSON) (match.Indicator, error) {
	if len(ind.Type) > maxLabelLen {
		return match.Indicator{}, fmt.Errorf("a type of %d bytes", len(ind.Type))
	}
	t, err := indicator.ParseType(ind.Type)
	if err != nil {
		return match.Indicator{}, err
	}
	if len(ind.ID) > maxIDLen {
		return match.Indicator{}, fmt.Errorf("an indicator id of %d bytes", len(ind.ID))
	}
	if len(ind.Value) > indicator.MaxStoredLen {
		return match.Indicator{}, fmt.Errorf("a value of %d bytes, longer than a hub stores (%d)", len(ind.Value), indicator.MaxStoredLen)
	}
	tlp, err := parseTLP(ind.TLP)
	if err != nil {
		return match.Indicator{}, err
	}
	if t == indicator.CIDR {
		if _, err := indicator.Canonicalize(t, ind.Value); err != nil {
			return match.Indicator{}, err
		}
	}
	var labels []string
	if ind.Labels != nil {
		labels = make([]string, 0, min(len(ind.Labels), maxLabels))
	}
	for _, l := range ind.Labels[:min(len(ind.Labels), maxLabels)] {
		if len(l) > maxLabelLen {
			l = strings.Clone(clipText(l, maxLabelLen))
		}
		labels = append(labels, l)
	}
	report := ind.Report
	if len(report) > maxReportLen {
		report = strings.Clone(clipText(report, maxReportLen))
	}
	mi := match.Indicator{ID: ind.ID, Type: t, Value: ind.Value, TLP: string(tlp), Labels: labels, Confidence: ind.Confidence, Report: report}
	if ind.ValidUntil != nil {
		mi.ValidUntil = *ind.ValidUntil
	}
	return mi, nil
}

// parseTLP reads the TLP of an indicator from a hub: a TLP 2.0 level, in
// policy's canonical spelling (the hub's; "TLP:AMBER" and "white" are read
// as policy.ParseTLP reads them). Anything else (none, a made-up level,
// a megabyte of text that every alert would carry) is refused: the sensor
// cannot tell how to handle what it would alert on.
func parseTLP(s string) (policy.TLP, error) {
	const longest = len("tlp:amber+strict") + 8 // and some spaces
	if len(s) > longest {
		return "", fmt.Errorf("a TLP of %d bytes", len(s))
	}
	if s == "" {
		return "", errors.New("no TLP")
	}
	return policy.ParseTLP(s)
}
