package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// CreateFeed stores a feed; it assigns the ID and Created.
func (s *Store) CreateFeed(ctx context.Context, f model.Feed) (model.Feed, error) {
	switch {
	case f.Name == "":
		return f, fmt.Errorf("%s: create feed: the name is empty", s.d.Name)
	case f.Kind == "":
		return f, fmt.Errorf("%s: create feed %q: the kind is empty", s.d.Name, f.Name)
	case f.URL == "":
		return f, fmt.Errorf("%s: create feed %q: the url is empty", s.d.Name, f.Name)
	case f.OrgID == "":
		return f, fmt.Errorf("%s: create feed %q: the organisation is empty", s.d.Name, f.Name)
	case !slices.Contains(policy.TLPs, f.TLP):
		return f, fmt.Errorf("%s: create feed %q: tlp %q is not one of clear, green, amber, amber+strict, red", s.d.Name, f.Name, f.TLP)
	case f.Interval < time.Second:
		return f, fmt.Errorf("%s: create feed %q: the interval %s is under a second", s.d.Name, f.Name, f.Interval)
	}
	if err := checkFeed(f); err != nil {
		return f, fmt.Errorf("%s: create feed %q: %w", s.d.Name, f.Name, err)
	}
	if f.Audience.Kind == "" {
		f.Audience.Kind = policy.Network
	}
	f.ID = NewID()
	if f.Created.IsZero() {
		f.Created = time.Now()
	}
	f.Created = FromNano(ToNano(f.Created))
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO feeds (id, name, name_key, kind, url, org_id, tlp, interval_s, enabled, created,
			collection, auth, auth_user, secret, audience_kind, audience_group, audience_orgs)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.Name, FoldName(f.Name), f.Kind, f.URL, f.OrgID, string(f.TLP), int64(f.Interval/time.Second), BoolInt(f.Enabled), ToNano(f.Created),
			f.Collection, f.Auth, f.User, f.Secret, string(f.Audience.Kind), OptString(f.Audience.Group), EncodeList(f.Audience.Orgs))
		return s.mapErr(err)
	})
	if err != nil {
		return f, fmt.Errorf("%s: create feed %q: %w", s.d.Name, f.Name, err)
	}
	f.Interval = f.Interval.Truncate(time.Second)
	f.HasSecret = f.Secret != ""
	return f, nil
}

// checkFeed checks what depends on a feed's kind. Errors never quote the
// secret.
func checkFeed(f model.Feed) error {
	switch f.Kind {
	case "misp":
		if f.Collection != "" || f.Auth != "" || f.User != "" || f.Secret != "" {
			return errors.New("a misp feed has no collection or credential")
		}
		if f.Audience.Kind != "" && f.Audience.Kind != policy.Network {
			return errors.New("a misp feed's audience is the whole network")
		}
		return nil
	case "taxii":
	default:
		return fmt.Errorf("the kind %q is not one of misp, taxii", f.Kind)
	}
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("a taxii feed needs an http(s) URL, not %q", f.URL)
	}
	if u.User != nil {
		return errors.New("a taxii feed's URL must not hold credentials; give them as the feed's user and secret")
	}
	switch f.Auth {
	case "":
		if f.User != "" || f.Secret != "" {
			return errors.New("a credential without an auth kind (basic or bearer)")
		}
	case "basic":
	case "bearer":
		if f.User != "" {
			return errors.New("a bearer token has no user")
		}
		if f.Secret == "" {
			return errors.New("bearer auth without a token")
		}
	default:
		return fmt.Errorf("auth %q is not one of basic, bearer", f.Auth)
	}
	if err := policy.CheckAudience(f.TLP, f.Audience); err != nil {
		return err
	}
	return nil
}

// Feed returns a feed by id or name (case-insensitive).
func (s *Store) Feed(ctx context.Context, idOrName string) (model.Feed, error) {
	fs, err := queryRows(ctx, s, scanFeed, feedSelect+byIDOrName, idOrName, FoldName(idOrName), idOrName)
	return first(s, "feed", idOrName, fs, err)
}

// ListFeeds returns every feed, by name.
func (s *Store) ListFeeds(ctx context.Context) ([]model.Feed, error) {
	return queryAll(ctx, s, "list feeds", scanFeed, feedSelect+`ORDER BY name_key, id`)
}

// feedSelect reads the columns scanFeed takes.
const feedSelect = `SELECT id, name, kind, url, org_id, tlp, interval_s, enabled, created,
	last_run, last_error, last_count, collection, auth, auth_user, secret, audience_kind,
	COALESCE(audience_group, ''), audience_orgs FROM feeds `

func scanFeed(r scanner) (model.Feed, error) {
	var f model.Feed
	var tlp, audKind string
	var interval, created int64
	var lastRun sql.NullInt64
	var audOrgs sql.NullString
	if err := r.Scan(&f.ID, &f.Name, &f.Kind, &f.URL, &f.OrgID, &tlp, &interval, &f.Enabled, &created,
		&lastRun, &f.LastError, &f.LastCount, &f.Collection, &f.Auth, &f.User, &f.Secret, &audKind,
		&f.Audience.Group, &audOrgs); err != nil {
		return f, err
	}
	f.TLP, f.Interval, f.Created, f.LastRun = policy.TLP(tlp), time.Duration(interval)*time.Second, FromNano(created), FromOptNano(lastRun)
	f.Audience.Kind, f.HasSecret = policy.AudienceKind(audKind), f.Secret != ""
	orgs, err := DecodeList(audOrgs)
	if err != nil {
		return f, fmt.Errorf("feed %s: audience orgs: %w", f.ID, err)
	}
	f.Audience.Orgs = orgs
	return f, nil
}

// SetFeedEnabled turns a feed on or off.
func (s *Store) SetFeedEnabled(ctx context.Context, id string, enabled bool) error {
	return s.updateRow(ctx, "feed", id, "set enabled", `UPDATE feeds SET enabled = ? WHERE id = ?`, BoolInt(enabled), id)
}

// RecordFeedRun stores the outcome of a feed's run.
func (s *Store) RecordFeedRun(ctx context.Context, f model.Feed) error {
	return s.updateRow(ctx, "feed", f.ID, "record run", `UPDATE feeds SET last_run = ?, last_error = ?, last_count = ? WHERE id = ?`,
		OptNano(f.LastRun), f.LastError, int64(f.LastCount), f.ID)
}

// FeedEvents returns the timestamp of each event taken from a feed.
func (s *Store) FeedEvents(ctx context.Context, feedID string) (map[string]int64, error) {
	seen := map[string]int64{}
	err := s.read(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT event_uuid, timestamp FROM feed_events WHERE feed_id = ?`, feedID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var uuid string
			var ts int64
			if err := rows.Scan(&uuid, &ts); err != nil {
				return err
			}
			seen[uuid] = ts
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: feed %q: events: %w", s.d.Name, feedID, err)
	}
	return seen, nil
}

// SetFeedEvent remembers that an event was taken at its timestamp.
func (s *Store) SetFeedEvent(ctx context.Context, feedID, eventUUID string, timestamp int64) error {
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO feed_events (feed_id, event_uuid, timestamp) VALUES (?, ?, ?)
			ON CONFLICT (feed_id, event_uuid) DO UPDATE SET timestamp = excluded.timestamp`, feedID, eventUUID, timestamp)
		return s.mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("%s: feed %q: set event %q: %w", s.d.Name, feedID, eventUUID, err)
	}
	return nil
}
