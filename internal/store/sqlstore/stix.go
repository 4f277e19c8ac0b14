package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

var stixVisibility = Visibility{t: "o", audience: func(p string) string {
	return "EXISTS (SELECT 1 FROM stix_object_audience a WHERE a.object_n = o.n AND a.org_id = :" + p + ")"
}}

const stixColumns = `o.n, o.id, o.type, o.modified, o.added, o.raw, o.tlp, o.audience_kind, coalesce(o.audience_group, ''),
	o.source, coalesce(o.submitted_by, '')`

// maxSTIXObjectBytes bounds one kept object.
const maxSTIXObjectBytes = 1 << 20

func checkSTIXObject(o *model.STIXObject) error {
	switch {
	case o.ID == "" || len(o.ID) > 255:
		return fmt.Errorf("object id %q is empty or too long", o.ID)
	case o.Type == "":
		return fmt.Errorf("object %s: the type is empty", o.ID)
	case len(o.Raw) == 0 || len(o.Raw) > maxSTIXObjectBytes:
		return fmt.Errorf("object %s: %d bytes, want 1 to %d", o.ID, len(o.Raw), maxSTIXObjectBytes)
	case !json.Valid(o.Raw):
		return fmt.Errorf("object %s: not valid JSON", o.ID)
	case o.Source == "":
		return fmt.Errorf("object %s: the source is empty", o.ID)
	case !slices.Contains(policy.TLPs, o.TLP):
		return fmt.Errorf("object %s: tlp %q is not one of clear, green, amber, amber+strict, red", o.ID, o.TLP)
	}
	if o.Audience.Kind == "" {
		o.Audience.Kind = policy.Network
	}
	return policy.CheckAudience(o.TLP, o.Audience)
}

// PutSTIXObjects keeps STIX objects (see store.STIXObjects) in tx, a write
// transaction of s's DB: the work of an ingest's PutSTIXObjects.
func PutSTIXObjects(ctx context.Context, s *Store, tx Tx, objs []model.STIXObject) ([]store.ObjectStatus, error) {
	out := make([]store.ObjectStatus, len(objs))
	now := time.Now()
	for i := range objs {
		o := objs[i]
		if err := checkSTIXObject(&o); err != nil {
			return nil, err
		}
		var n, modified int64
		var source string
		err := tx.QueryRowContext(ctx, `SELECT n, modified, source FROM stix_objects WHERE id = ?`, o.ID).Scan(&n, &modified, &source)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out[i] = store.ObjectCreated
		case err != nil:
			return nil, err
		case source != o.Source:
			out[i] = store.ObjectForeign
			continue
		case ToNano(o.Modified) <= modified:
			out[i] = store.ObjectUnchanged
			continue
		default:
			out[i] = store.ObjectReplaced
			if _, err := tx.ExecContext(ctx, `DELETE FROM stix_objects WHERE n = ?`, n); err != nil {
				return nil, err
			}
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO stix_objects (id, type, modified, added, raw, tlp, audience_kind, audience_group, source, submitted_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING n`,
			o.ID, o.Type, ToNano(o.Modified), ToNano(now), []byte(o.Raw), string(o.TLP), string(o.Audience.Kind),
			OptString(o.Audience.Group), o.Source, OptString(o.SubmittedBy)).Scan(&n); err != nil {
			return nil, s.mapErr(err)
		}
		for _, org := range o.Audience.Orgs {
			if _, err := tx.ExecContext(ctx, s.d.InsertIgnore+` stix_object_audience (object_n, org_id) VALUES (?, ?)`+s.d.OnConflictIgnore, n, org); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ListSTIXObjects returns the kept objects v may see, by Seq.
func (s *Store) ListSTIXObjects(ctx context.Context, v policy.Viewer, q store.STIXQuery) ([]model.STIXObject, error) {
	if v.OrgID == "" {
		return nil, nil
	}
	args := []any{sql.Named("after", q.After), sql.Named("limit", PageLimit(q.Limit))}
	where := `WHERE o.n > :after`
	if !q.Since.IsZero() {
		where += ` AND o.added > :since`
		args = append(args, sql.Named("since", ToNano(q.Since)))
	}
	if len(q.Types) > 0 {
		where += ` AND o.type IN (` + s.d.TextArray(":types") + `)`
		args = append(args, sql.Named("types", JSONStrings(q.Types)))
	}
	if len(q.IDs) > 0 {
		where += ` AND o.id IN (` + s.d.TextArray(":ids") + `)`
		args = append(args, sql.Named("ids", JSONStrings(q.IDs)))
	}
	os, err := s.stixObjects(ctx, where+` AND `+stixVisibility.Cond(&s.d, v, &args)+` ORDER BY o.n LIMIT :limit`, args)
	if err != nil {
		return nil, fmt.Errorf("%s: list stix objects: %w", s.d.Name, err)
	}
	return os, nil
}

// STIXObjectByID returns a kept object, whoever may see it.
func (s *Store) STIXObjectByID(ctx context.Context, id string) (model.STIXObject, error) {
	os, err := s.stixObjects(ctx, `WHERE o.id = ?`, []any{id})
	return first(s, "stix object", id, os, err)
}

// DeleteSTIXObject removes a kept object.
func (s *Store) DeleteSTIXObject(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM stix_objects WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: delete stix object %q: %w", s.d.Name, id, err)
	}
	return nil
}

func (s *Store) stixObjects(ctx context.Context, where string, args []any) ([]model.STIXObject, error) {
	var os []model.STIXObject
	err := s.read(ctx, func(tx Tx) error {
		q := Querier{s, tx, true}
		rows, err := q.Query(ctx, `SELECT `+stixColumns+` FROM stix_objects o `+where, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var withOrgs []string
		var groups []string
		for rows.Next() {
			var o model.STIXObject
			var modified, added int64
			var raw []byte
			var tlp, kind string
			if err := rows.Scan(&o.Seq, &o.ID, &o.Type, &modified, &added, &raw, &tlp, &kind, &o.Audience.Group, &o.Source, &o.SubmittedBy); err != nil {
				return err
			}
			o.Raw = json.RawMessage(raw)
			o.Modified, o.Added = FromNano(modified), FromNano(added)
			o.TLP, o.Audience.Kind = policy.TLP(tlp), policy.AudienceKind(kind)
			switch o.Audience.Kind {
			case policy.Orgs:
				withOrgs = append(withOrgs, strconv.FormatInt(o.Seq, 10))
			case policy.Group:
				if !slices.Contains(groups, o.Audience.Group) {
					groups = append(groups, o.Audience.Group)
				}
			}
			os = append(os, o)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(withOrgs) > 0 {
			orgs, err := q.Pairs(ctx, `SELECT object_n, org_id FROM stix_object_audience
				WHERE object_n IN (`+s.d.IntArray("?")+`) ORDER BY object_n, org_id`, "["+strings.Join(withOrgs, ",")+"]")
			if err != nil {
				return err
			}
			for i := range os {
				if os[i].Audience.Kind == policy.Orgs {
					os[i].Audience.Orgs = orgs[strconv.FormatInt(os[i].Seq, 10)]
				}
			}
		}
		if len(groups) > 0 {
			members, err := q.GroupMembers(ctx, groups)
			if err != nil {
				return err
			}
			for i := range os {
				if os[i].Audience.Kind == policy.Group {
					os[i].GroupMembers = slices.Clone(members[os[i].Audience.Group])
				}
			}
		}
		return nil
	})
	return os, err
}
