package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

const orgColumns = `id, name, kind, COALESCE(partner_id, ''), created, revoked, status`

func scanOrg(sc scanner) (model.Org, error) {
	var o model.Org
	var kind, status string
	var created int64
	if err := sc.Scan(&o.ID, &o.Name, &kind, &o.Partner, &created, &o.Revoked, &status); err != nil {
		return o, err
	}
	o.Kind, o.Status = policy.OrgKind(kind), model.OrgStatus(status)
	o.Created = FromNano(created)
	return o, nil
}

// CreateOrg stores a new organisation. It assigns the ID unless one is
// given, and Created unless set. Names are unique case-insensitively
// (store.ErrConflict). A customer must name its partner, an organisation of
// kind partner; other kinds have no partner.
func (s *Store) CreateOrg(ctx context.Context, o model.Org) (model.Org, error) {
	if o.Name == "" {
		return o, fmt.Errorf("%s: create org: the name is empty", s.d.Name)
	}
	if !slices.Contains(policy.OrgKinds, o.Kind) {
		return o, fmt.Errorf("%s: create org %q: kind %q is not one of coordinator, member, partner, customer, national-cert, peer-hub", s.d.Name, o.Name, o.Kind)
	}
	if o.ID == "" {
		o.ID = NewID()
	}
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	o.Created = FromNano(ToNano(o.Created))
	if o.Status == "" {
		o.Status = model.OrgActive
	}
	if !validStatus(o.Status) {
		return o, fmt.Errorf("%s: create org %q: status %q is not one of active, pending, suspended", s.d.Name, o.Name, o.Status)
	}
	err := s.write(ctx, func(tx Tx) error {
		switch {
		case o.Kind == policy.Customer && o.Partner == "":
			return errors.New("a customer needs a partner")
		case o.Kind == policy.Customer:
			var kind string
			err := tx.QueryRowContext(ctx, `SELECT kind FROM orgs WHERE id = ?`, o.Partner).Scan(&kind)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("partner %q: %w", o.Partner, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			if policy.OrgKind(kind) != policy.Partner {
				return fmt.Errorf("partner %q is a %s, not a partner", o.Partner, kind)
			}
		case o.Partner != "":
			return fmt.Errorf("only a customer has a partner, not a %s", o.Kind)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, name, name_key, kind, partner_id, created, revoked, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.Name, FoldName(o.Name), string(o.Kind), OptString(o.Partner), ToNano(o.Created), o.Revoked, string(o.Status)); err != nil {
			return s.mapErr(err)
		}
		// A new customer is among what its partner sees (Viewer.Customers).
		return bumpAuthEpoch(ctx, tx)
	})
	if err != nil {
		return o, fmt.Errorf("%s: create org %q: %w", s.d.Name, o.Name, err)
	}
	return o, nil
}

// Org returns an organisation by id or by name (case-insensitive).
func (s *Store) Org(ctx context.Context, idOrName string) (model.Org, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM orgs WHERE id = ? OR name_key = ?
		ORDER BY id = ? DESC LIMIT 1`, idOrName, FoldName(idOrName), idOrName)
	o, err := scanOrg(row)
	if err != nil {
		return o, fmt.Errorf("%s: org %q: %w", s.d.Name, idOrName, s.mapErr(err))
	}
	return o, nil
}

// ListOrgs returns every organisation, by name.
func (s *Store) ListOrgs(ctx context.Context) ([]model.Org, error) {
	return queryAll(ctx, s, "list orgs", scanOrg, `SELECT `+orgColumns+` FROM orgs ORDER BY name_key, id`)
}

// Viewer builds the policy facts of an organisation. Customers are every
// customer that names the partner, revoked or not: a revoked customer's
// indicators stay what they were, and revocation is enforced where keys are
// checked.
func (s *Store) Viewer(ctx context.Context, orgID string) (policy.Viewer, error) {
	var v policy.Viewer
	err := s.read(ctx, func(tx Tx) error {
		var kind string
		if err := tx.QueryRowContext(ctx, `SELECT id, kind, COALESCE(partner_id, '') FROM orgs WHERE id = ?`, orgID).
			Scan(&v.OrgID, &kind, &v.Partner); err != nil {
			return s.mapErr(err)
		}
		v.Kind = policy.OrgKind(kind)
		var err error
		if v.Groups, err = queryStrings(ctx, tx, `SELECT group_id FROM group_members WHERE org_id = ? ORDER BY group_id`, orgID); err != nil {
			return err
		}
		if v.Kind == policy.Partner {
			if v.Customers, err = queryStrings(ctx, tx, `SELECT id FROM orgs WHERE partner_id = ? AND kind = 'customer' ORDER BY id`, orgID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return policy.Viewer{}, fmt.Errorf("%s: viewer %q: %w", s.d.Name, orgID, err)
	}
	return v, nil
}

// queryStrings runs a query of one text column.
func queryStrings(ctx context.Context, tx Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var xs []string
	for rows.Next() {
		var x string
		if err := rows.Scan(&x); err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	return xs, rows.Err()
}

const keyColumns = `id, org_id, role, name, hash, created, expires_at, revoked, last_used`

func scanKey(sc scanner) (model.Key, error) {
	var k model.Key
	var role string
	var created int64
	var expires, lastUsed sql.NullInt64
	if err := sc.Scan(&k.ID, &k.OrgID, &role, &k.Name, &k.Hash, &created, &expires, &k.Revoked, &lastUsed); err != nil {
		return k, err
	}
	k.Role = policy.Role(role)
	k.Created = FromNano(created)
	k.ExpiresAt = FromOptNano(expires)
	k.LastUsed = FromOptNano(lastUsed)
	return k, nil
}

// CreateKey stores a key; the caller sets ID and Hash. Created is set when
// zero. A taken ID is store.ErrConflict, an unknown organisation
// store.ErrNotFound.
func (s *Store) CreateKey(ctx context.Context, k model.Key) error {
	switch {
	case k.ID == "":
		return fmt.Errorf("%s: create key: the id is empty", s.d.Name)
	case len(k.Hash) == 0:
		return fmt.Errorf("%s: create key %q: the hash is empty", s.d.Name, k.ID)
	}
	switch k.Role {
	case policy.Admin, policy.Analyst, policy.Sensor, policy.ReadOnly:
	default:
		return fmt.Errorf("%s: create key %q: role %q is not one of admin, analyst, sensor, readonly", s.d.Name, k.ID, k.Role)
	}
	if k.Created.IsZero() {
		k.Created = time.Now()
	}
	err := s.write(ctx, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.OrgID, string(k.Role), k.Name, k.Hash, ToNano(k.Created), OptNano(k.ExpiresAt), k.Revoked, OptNano(k.LastUsed))
		return s.mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("%s: create key %q: %w", s.d.Name, k.ID, err)
	}
	return nil
}

// KeyByID returns a key.
func (s *Store) KeyByID(ctx context.Context, id string) (model.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ?`, id))
	if err != nil {
		return k, fmt.Errorf("%s: key %q: %w", s.d.Name, id, s.mapErr(err))
	}
	return k, nil
}

// ListKeys returns the keys of an organisation ("" for all), oldest first.
func (s *Store) ListKeys(ctx context.Context, orgID string) ([]model.Key, error) {
	return queryAll(ctx, s, "list keys", scanKey, `SELECT `+keyColumns+` FROM keys WHERE ? = '' OR org_id = ? ORDER BY created, id`, orgID, orgID)
}

// RevokeKey revokes a key for good and moves the authentication epoch;
// ErrNotFound when there is no such key.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	return s.execOneMovingEpoch(ctx, fmt.Sprintf("revoke key %q", id), `UPDATE keys SET revoked = 1 WHERE id = ?`, id)
}

// TouchKeys records when keys were last used, in one transaction. It never
// moves last_used back, so that a late write cannot make it older.
func (s *Store) TouchKeys(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	// In the order of the ids: PostgreSQL replicas touching the same keys
	// at once in map order deadlocked.
	ids := slices.Sorted(maps.Keys(uses))
	err := s.write(ctx, func(tx Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET last_used = `+s.d.Greatest+`(COALESCE(last_used, ?2), ?2) WHERE id = ?1`, id, ToNano(uses[id])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: touch %d keys: %w", s.d.Name, len(uses), err)
	}
	return nil
}

// CreateGroup stores a sharing group with its initial members. It assigns
// the ID unless one is given, and Created unless set; names are unique
// case-insensitively (store.ErrConflict).
func (s *Store) CreateGroup(ctx context.Context, g model.Group) (model.Group, error) {
	if g.Name == "" {
		return g, fmt.Errorf("%s: create group: the name is empty", s.d.Name)
	}
	if g.ID == "" {
		g.ID = NewID()
	}
	if g.Created.IsZero() {
		g.Created = time.Now()
	}
	g.Created = FromNano(ToNano(g.Created))
	g.Members = sortedSet(g.Members)
	err := s.write(ctx, func(tx Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sharing_groups (id, name, name_key, owner, created) VALUES (?, ?, ?, ?, ?)`,
			g.ID, g.Name, FoldName(g.Name), g.Owner, ToNano(g.Created)); err != nil {
			return s.mapErr(err)
		}
		for _, m := range g.Members {
			if _, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_id, org_id) VALUES (?, ?)`, g.ID, m); err != nil {
				return s.mapErr(err)
			}
		}
		return bumpAuthEpoch(ctx, tx) // the members' Viewer.Groups
	})
	if err != nil {
		return g, fmt.Errorf("%s: create group %q: %w", s.d.Name, g.Name, err)
	}
	return g, nil
}

// Group returns a group by id or name (case-insensitive), with its members
// sorted.
func (s *Store) Group(ctx context.Context, idOrName string) (model.Group, error) {
	gs, err := s.groups(ctx, byIDOrName, idOrName, FoldName(idOrName), idOrName)
	return first(s, "group", idOrName, gs, err)
}

// ListGroups returns every group, by name.
func (s *Store) ListGroups(ctx context.Context) ([]model.Group, error) {
	gs, err := s.groups(ctx, `ORDER BY name_key, id`)
	if err != nil {
		return nil, fmt.Errorf("%s: list groups: %w", s.d.Name, err)
	}
	return gs, nil
}

func (s *Store) groups(ctx context.Context, where string, args ...any) ([]model.Group, error) {
	var gs []model.Group
	err := s.read(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, name, owner, created FROM sharing_groups `+where, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var g model.Group
			var created int64
			if err := rows.Scan(&g.ID, &g.Name, &g.Owner, &created); err != nil {
				return err
			}
			g.Created = FromNano(created)
			gs = append(gs, g)
			ids = append(ids, g.ID)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(ids) == 0 {
			return nil
		}
		members, err := Querier{s, tx, true}.GroupMembers(ctx, ids)
		if err != nil {
			return err
		}
		for i := range gs {
			gs[i].Members = members[gs[i].ID]
		}
		return nil
	})
	return gs, err
}

// SetGroupMember adds an organisation to a group or removes it; doing what
// is already done is no error and changes nothing. An unknown group or
// organisation is store.ErrNotFound.
//
// A change of members changes who may see the indicators shared with the
// group, so it writes an "updated" change for each of them, carrying the
// old members in Before, and moves them to the end of the change sequence
// and their Touched time to now, so that a new member's incremental pull
// (TAXII added_after, MISP timestamp, since=) finds them; their Modified
// time stays: the indicators themselves did not change.
func (s *Store) SetGroupMember(ctx context.Context, groupID, orgID string, member bool) error {
	err := s.writeChanges(ctx, func(tx Tx) error {
		var ok bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sharing_groups WHERE id = ?)`, groupID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("group: %w", store.ErrNotFound)
		}
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?)`, orgID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("organisation: %w", store.ErrNotFound)
		}
		old, err := queryStrings(ctx, tx, `SELECT org_id FROM group_members WHERE group_id = ? ORDER BY org_id`, groupID)
		if err != nil {
			return err
		}
		if slices.Contains(old, orgID) == member {
			return nil
		}
		query := `DELETE FROM group_members WHERE group_id = ? AND org_id = ?`
		if member {
			query = `INSERT INTO group_members (group_id, org_id) VALUES (?, ?)`
		}
		if _, err := tx.ExecContext(ctx, query, groupID, orgID); err != nil {
			return err
		}
		base, err := s.lastSeq(ctx, tx)
		if err != nil {
			return err
		}
		at := NowNano()
		if _, err := tx.ExecContext(ctx, `INSERT INTO changes (seq, indicator_n, kind, at,
				before_tlp, before_audience_kind, before_audience_group, before_members)
			SELECT :base + row_number() OVER (ORDER BY n), n, 'updated', :at, tlp, 'group', audience_group, :members
			FROM indicators WHERE audience_group = :group AND audience_kind = 'group'`,
			sql.Named("base", base), sql.Named("at", at), sql.Named("members", EncodeList(old)),
			sql.Named("group", groupID)); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `UPDATE indicators SET seq = c.seq, touched = c.at FROM changes AS c
			WHERE c.seq > ? AND c.indicator_n = indicators.n`, base); err != nil {
			return err
		}
		return bumpAuthEpoch(ctx, tx) // the member's Viewer.Groups
	})
	if err != nil {
		return fmt.Errorf("%s: set member %q of group %q to %t: %w", s.d.Name, orgID, groupID, member, err)
	}
	return nil
}
