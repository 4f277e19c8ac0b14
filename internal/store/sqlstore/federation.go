package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// HubID returns this hub's federation identity, made at the first call.
func (s *Store) HubID(ctx context.Context) (string, error) {
	var id string
	err := s.read(ctx, func(tx Tx) error {
		return tx.QueryRowContext(ctx, `SELECT id FROM hub_identity WHERE one = 1`).Scan(&id)
	})
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s: hub id: %w", s.d.Name, err)
	}
	err = s.write(ctx, func(tx Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO hub_identity (one, id) VALUES (1, ?) ON CONFLICT (one) DO NOTHING`, NewID()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT id FROM hub_identity WHERE one = 1`).Scan(&id)
	})
	if err != nil {
		return "", fmt.Errorf("%s: hub id: %w", s.d.Name, err)
	}
	return id, nil
}

// checkPeer checks a peer's name, URL and key.
func checkPeer(p *model.Peer) error {
	switch {
	case strings.TrimSpace(p.Name) == "":
		return errors.New("the name is empty")
	case p.OrgID == "":
		return errors.New("the organisation is empty")
	case p.Key == "":
		return errors.New("the key is empty")
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", p.URL)
	}
	if u.User != nil {
		return errors.New("the URL must not hold credentials")
	}
	return nil
}

// CreatePeer stores a peer; errors never quote its key.
func (s *Store) CreatePeer(ctx context.Context, p model.Peer) (model.Peer, error) {
	if err := checkPeer(&p); err != nil {
		return p, fmt.Errorf("%s: create peer %q: %w", s.d.Name, p.Name, err)
	}
	p.ID = NewID()
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	p.Created = FromNano(ToNano(p.Created))
	p.PeerState = model.PeerState{}
	err := s.write(ctx, func(tx Tx) error {
		// The copies the organisation delivered last while it had no peer
		// here, or under a peer since removed (DeletePeer files them so),
		// are this peer's from now on: its removals and resynchronisations
		// find them by the peer's id.
		if _, err := tx.ExecContext(ctx, `UPDATE fed_origins SET via_peer = ? WHERE via_peer = ?`,
			p.ID, model.UnpeeredID(p.OrgID)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO peers (id, name, name_key, org_id, url, key, pull, push, paused, audience, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.Name, FoldName(p.Name), p.OrgID, p.URL, p.Key, BoolInt(p.Pull), BoolInt(p.Push), BoolInt(p.Paused),
			EncodeList(p.Audience), ToNano(p.Created))
		return s.mapErr(err)
	})
	if err != nil {
		return p, fmt.Errorf("%s: create peer %q: %w", s.d.Name, p.Name, err)
	}
	return p, nil
}

// Peer returns a peer by id or name (case-insensitive).
func (s *Store) Peer(ctx context.Context, idOrName string) (model.Peer, error) {
	return s.onePeer(ctx, idOrName, byIDOrName, idOrName, FoldName(idOrName), idOrName)
}

// PeerByOrg returns the peer an organisation stands for.
func (s *Store) PeerByOrg(ctx context.Context, orgID string) (model.Peer, error) {
	return s.onePeer(ctx, orgID, `WHERE org_id = ?`, orgID)
}

func (s *Store) onePeer(ctx context.Context, what, where string, args ...any) (model.Peer, error) {
	ps, err := queryRows(ctx, s, scanPeer, peerSelect+where, args...)
	return first(s, "peer", what, ps, err)
}

// ListPeers returns every peer, by name.
func (s *Store) ListPeers(ctx context.Context) ([]model.Peer, error) {
	return queryAll(ctx, s, "list peers", scanPeer, peerSelect+`ORDER BY name_key, id`)
}

// peerSelect reads the columns scanPeer takes.
const peerSelect = `SELECT id, name, org_id, url, key, pull, push, paused, audience, created,
	remote_hub, pull_cursor, push_cursor, last_ok, last_error FROM peers `

func scanPeer(r scanner) (model.Peer, error) {
	var p model.Peer
	var aud sql.NullString
	var created int64
	var lastOK sql.NullInt64
	if err := r.Scan(&p.ID, &p.Name, &p.OrgID, &p.URL, &p.Key, &p.Pull, &p.Push, &p.Paused, &aud, &created,
		&p.RemoteHub, &p.PullCursor, &p.PushCursor, &lastOK, &p.LastError); err != nil {
		return p, err
	}
	p.Created, p.LastOK = FromNano(created), FromOptNano(lastOK)
	var err error
	if p.Audience, err = DecodeList(aud); err != nil {
		return p, fmt.Errorf("peer %s: audience: %w", p.ID, err)
	}
	return p, nil
}

// UpdatePeer replaces what an operator may change of a peer.
func (s *Store) UpdatePeer(ctx context.Context, p model.Peer) error {
	cur, err := s.Peer(ctx, p.ID)
	if err != nil {
		return err
	}
	if p.Key == "" {
		p.Key = cur.Key
	}
	p.Name, p.OrgID = cur.Name, cur.OrgID
	if err := checkPeer(&p); err != nil {
		return fmt.Errorf("%s: update peer %q: %w", s.d.Name, cur.Name, err)
	}
	return s.updateRow(ctx, "peer", p.ID, "update", `UPDATE peers SET url = ?, key = ?, pull = ?, push = ?, paused = ?, audience = ? WHERE id = ?`,
		p.URL, p.Key, BoolInt(p.Pull), BoolInt(p.Push), BoolInt(p.Paused), EncodeList(p.Audience), p.ID)
}

// DeletePeer removes a peer and what was returned to it; the indicators it
// delivered stay (their origin too).
func (s *Store) DeletePeer(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx Tx) error {
		var orgID string
		err := tx.QueryRowContext(ctx, `SELECT org_id FROM peers WHERE id = ?`, id).Scan(&orgID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM peers WHERE id = ?`, id); err != nil {
			return err
		}
		// Its copies are filed under its organisation, as deliveries from
		// an organisation without a peer are (model.UnpeeredID), until a
		// peer is added for it again.
		if _, err := tx.ExecContext(ctx, `UPDATE fed_origins SET via_peer = ? WHERE via_peer = ?`, model.UnpeeredID(orgID), id); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM fed_returned WHERE peer_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM fed_return_pending WHERE peer_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: peer %q: delete: %w", s.d.Name, id, err)
	}
	return nil
}

// SetPeerState records what the federation loops remember of a peer.
func (s *Store) SetPeerState(ctx context.Context, id string, st model.PeerState) error {
	return s.updateRow(ctx, "peer", id, "set state", `UPDATE peers SET remote_hub = ?, pull_cursor = ?, push_cursor = ?, last_ok = ?, last_error = ? WHERE id = ?`,
		st.RemoteHub, st.PullCursor, st.PushCursor, OptNano(st.LastOK), st.LastError, id)
}

const originColumns = `indicator_id, origin_hub, origin_id, origin_modified, hops, via_peer, remote_id, digest, via_modified`

func scanOrigin(rows scanner) (model.Origin, error) {
	var o model.Origin
	var modified, viaModified int64
	var hops sql.NullString
	if err := rows.Scan(&o.IndicatorID, &o.OriginHub, &o.OriginID, &modified, &hops, &o.ViaPeer, &o.RemoteID, &o.Digest, &viaModified); err != nil {
		return o, err
	}
	o.OriginModified = FromNano(modified)
	if viaModified != 0 {
		o.ViaModified = FromNano(viaModified)
	}
	var err error
	o.Hops, err = DecodeList(hops)
	return o, err
}

// Origins returns the origins of the given local indicators.
func (s *Store) Origins(ctx context.Context, ids []string) (map[string]model.Origin, error) {
	out, err := s.originsBy(ctx, "indicator_id", ids, func(o model.Origin) string { return o.IndicatorID })
	if err != nil {
		return nil, fmt.Errorf("%s: origins: %w", s.d.Name, err)
	}
	return out, nil
}

// OriginsOf finds the local copies of many indicators by origin id; where
// two copies share an origin id, the one whose local id is the origin id.
func (s *Store) OriginsOf(ctx context.Context, originIDs []string) (map[string]model.Origin, error) {
	out, err := s.originsBy(ctx, "origin_id", originIDs, func(o model.Origin) string { return o.OriginID })
	if err != nil {
		return nil, fmt.Errorf("%s: origins of: %w", s.d.Name, err)
	}
	return out, nil
}

func (s *Store) originsBy(ctx context.Context, column string, keys []string, key func(model.Origin) string) (map[string]model.Origin, error) {
	out := make(map[string]model.Origin, len(keys))
	err := s.read(ctx, func(tx Tx) error {
		for start := 0; start < len(keys); start += 500 {
			part := keys[start:min(start+500, len(keys))]
			args := make([]any, len(part))
			for i, id := range part {
				args[i] = id
			}
			rows, err := tx.QueryContext(ctx, `SELECT `+originColumns+` FROM fed_origins WHERE `+column+` IN (?`+
				strings.Repeat(",?", len(part)-1)+`) ORDER BY indicator_id = origin_id`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				o, err := scanOrigin(rows)
				if err != nil {
					rows.Close()
					return err
				}
				out[key(o)] = o // the copy under the origin's own id last: it wins
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// OriginVia finds the copy that peerID delivered under its id remoteID;
// where there are two (one peer relaying two origins' indicators under one
// id cannot happen, but ids are the peer's to choose), the newest.
func (s *Store) OriginVia(ctx context.Context, peerID, remoteID string) (model.Origin, error) {
	out, err := queryRows(ctx, s, scanOrigin, `SELECT `+originColumns+` FROM fed_origins WHERE via_peer = ? AND remote_id = ?
		ORDER BY origin_modified DESC LIMIT 1`, peerID, remoteID)
	if err == nil && len(out) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return model.Origin{}, fmt.Errorf("%s: origin via %q of %q: %w", s.d.Name, peerID, remoteID, err)
	}
	return out[0], nil
}

// OriginOf finds the local copy of an indicator by its origin id.
func (s *Store) OriginOf(ctx context.Context, originID string) (model.Origin, error) {
	var out []model.Origin
	err := s.read(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+originColumns+` FROM fed_origins WHERE origin_id = ? ORDER BY indicator_id = ? DESC LIMIT 1`, originID, originID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			o, err := scanOrigin(rows)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return rows.Err()
	})
	if err == nil && len(out) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return model.Origin{}, fmt.Errorf("%s: origin of %q: %w", s.d.Name, originID, err)
	}
	return out[0], nil
}

// HeldVia lists the origins of the live (not revoked) copies that peerID
// delivered, by local indicator id after the given one, at most limit
// (PageLimit) of them: what a resynchronisation checks against what the
// peer still lets this hub see.
func (s *Store) HeldVia(ctx context.Context, peerID, after string, limit int) ([]model.Origin, error) {
	return queryAll(ctx, s, "origins held via "+peerID, scanOrigin, `SELECT o.indicator_id, o.origin_hub, o.origin_id,
		o.origin_modified, o.hops, o.via_peer, o.remote_id, o.digest, o.via_modified
		FROM fed_origins o JOIN indicators i ON i.id = o.indicator_id
		WHERE o.via_peer = ? AND o.indicator_id > ? AND i.revoked = 0 ORDER BY o.indicator_id LIMIT ?`, peerID, after, PageLimit(limit))
}

// PutOrigin records the origin of a local indicator.
func (s *Store) PutOrigin(ctx context.Context, o model.Origin) error {
	err := s.write(ctx, func(tx Tx) error { return PutOrigins(ctx, s, tx, []model.Origin{o}) })
	if err != nil {
		return fmt.Errorf("%s: put origin of %q: %w", s.d.Name, o.IndicatorID, err)
	}
	return nil
}

// PutOrigins records (replaces) the origins of indicators in tx, a write
// transaction of s's DB: the work of PutOrigin and of an ingest's
// PutOrigins.
func PutOrigins(ctx context.Context, s *Store, tx Tx, os []model.Origin) error {
	for _, o := range os {
		if o.IndicatorID == "" || o.OriginHub == "" || o.OriginID == "" || o.ViaPeer == "" {
			return fmt.Errorf("origin of %q: indicator, origin hub, origin id and peer are needed", o.IndicatorID)
		}
		var viaModified int64
		if !o.ViaModified.IsZero() {
			viaModified = ToNano(o.ViaModified)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO fed_origins (`+originColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (indicator_id) DO UPDATE SET origin_hub = excluded.origin_hub, origin_id = excluded.origin_id,
				origin_modified = excluded.origin_modified, hops = excluded.hops, via_peer = excluded.via_peer,
				remote_id = excluded.remote_id, digest = excluded.digest, via_modified = excluded.via_modified`,
			o.IndicatorID, o.OriginHub, o.OriginID, ToNano(o.OriginModified), JSONStrings(o.Hops), o.ViaPeer, o.RemoteID, o.Digest, viaModified)
		if err = s.mapErr(err); err != nil {
			return fmt.Errorf("origin of %q: %w", o.IndicatorID, err)
		}
	}
	return nil
}

// SightingsToReturn sums what this hub's organisations sighted of what a
// peer delivered.
func (s *Store) SightingsToReturn(ctx context.Context, peerID, exceptOrg string, since time.Time, limit int) ([]model.FedSighting, error) {
	if limit <= 0 || limit > 10_000 {
		limit = 10_000
	}
	var out []model.FedSighting
	err := s.read(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT o.indicator_id, o.remote_id, s.kind, s.hour, SUM(s.count) AS total_count,
				COALESCE(MAX(r.returned), 0) AS returned_count
			FROM fed_origins o
			JOIN indicators i ON i.id = o.indicator_id
			JOIN sightings s ON s.indicator_n = i.n
			LEFT JOIN fed_returned r ON r.peer_id = o.via_peer AND r.indicator_id = o.indicator_id AND r.kind = s.kind AND r.hour = s.hour
			WHERE o.via_peer = ? AND s.org_id <> ? AND s.hour >= ?
			GROUP BY o.indicator_id, s.kind, s.hour
			HAVING SUM(s.count) > COALESCE(MAX(r.returned), 0)
			ORDER BY s.hour, o.indicator_id, s.kind
			LIMIT ?`, peerID, exceptOrg, ToNano(since.UTC().Truncate(time.Hour)), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f model.FedSighting
			var hour int64
			if err := rows.Scan(&f.IndicatorID, &f.RemoteID, &f.Kind, &hour, &f.Total, &f.Returned); err != nil {
				return err
			}
			f.Hour = FromNano(hour)
			out = append(out, f)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: sightings to return to %q: %w", s.d.Name, peerID, err)
	}
	return out, nil
}

// MarkReturned records what was returned to a peer.
func (s *Store) MarkReturned(ctx context.Context, peerID string, ss []model.FedSighting) error {
	err := s.write(ctx, func(tx Tx) error {
		st, err := s.db.Prepare(ctx, tx, `INSERT INTO fed_returned (peer_id, indicator_id, kind, hour, returned) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (peer_id, indicator_id, kind, hour) DO UPDATE SET returned = `+s.d.Greatest+`(fed_returned.returned, excluded.returned)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, f := range ss {
			if _, err := st.ExecContext(ctx, peerID, f.IndicatorID, string(f.Kind), ToNano(f.Hour.UTC().Truncate(time.Hour)), f.Total); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM fed_return_pending WHERE peer_id = ?`, peerID)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: mark sightings returned to %q: %w", s.d.Name, peerID, err)
	}
	return nil
}

// SavePendingReturn records the return of ss to peerID under key, before
// it is sent, in place of any; MarkReturned clears it.
func (s *Store) SavePendingReturn(ctx context.Context, peerID, key string, ss []model.FedSighting) error {
	sums, err := json.Marshal(ss)
	if err == nil {
		err = s.write(ctx, func(tx Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO fed_return_pending (peer_id, key, sums) VALUES (?, ?, ?)
				ON CONFLICT (peer_id) DO UPDATE SET key = excluded.key, sums = excluded.sums`, peerID, key, string(sums))
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("%s: save the return of sightings to %q: %w", s.d.Name, peerID, err)
	}
	return nil
}

// PendingReturn is the return saved for peerID and not marked returned
// since (ok false: none).
func (s *Store) PendingReturn(ctx context.Context, peerID string) (key string, ss []model.FedSighting, ok bool, err error) {
	var sums string
	err = s.db.QueryRowContext(ctx, `SELECT key, sums FROM fed_return_pending WHERE peer_id = ?`, peerID).Scan(&key, &sums)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil, false, nil
	case err == nil:
		err = json.Unmarshal([]byte(sums), &ss)
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("%s: the pending return of sightings to %q: %w", s.d.Name, peerID, err)
	}
	return key, ss, true, nil
}
