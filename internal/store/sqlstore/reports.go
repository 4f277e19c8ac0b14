package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

const reportColumns = `r.id, r.title, r.narrative, r.threat_actor, r.campaign, r.tlp, r.audience_kind,
	COALESCE(r.audience_group, ''), r.source, COALESCE(r.submitted_by, ''), r.anonymous, r.created, r.modified,
	r.tags, r.context`

// checkReport checks what CreateReport and UpdateReport store, and brings
// the audience into its stored form.
func checkReport(r *model.Report) error {
	switch {
	case r.Title == "":
		return errors.New("the title is empty")
	case r.Source == "":
		return errors.New("the source organisation is empty")
	case !slices.Contains(policy.TLPs, r.TLP):
		return fmt.Errorf("tlp %q is not one of clear, green, amber, amber+strict, red", r.TLP)
	}
	if err := checkText("title, narrative, threat actor and campaign", r.Title, r.Narrative, r.ThreatActor, r.Campaign); err != nil {
		return err
	}
	if err := checkText("tags", r.Tags...); err != nil {
		return err
	}
	if err := policy.CheckAudience(r.TLP, r.Audience); err != nil {
		return err
	}
	switch r.Audience.Kind {
	case "", policy.Network:
		r.Audience = policy.NetworkAudience()
	case policy.Group:
		r.Audience.Orgs = nil
	case policy.Orgs:
		r.Audience.Group = ""
		r.Audience.Orgs = sortedSet(r.Audience.Orgs)
	}
	return nil
}

// encodeContext stores a report's context as a JSON array, NULL when empty.
func encodeContext(cs []model.ContextAttribute) (any, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// CreateReport stores a report. It assigns the ID unless one is given, and
// Created and Modified unless set. TLP and audience are checked as for
// indicators.
func (s *Store) CreateReport(ctx context.Context, r model.Report) (model.Report, error) {
	if err := checkReport(&r); err != nil {
		return r, fmt.Errorf("%s: create report %q: %w", s.d.Name, r.Title, err)
	}
	if r.ID == "" {
		r.ID = NewID()
	}
	if r.Created.IsZero() {
		r.Created = time.Now()
	}
	if r.Modified.IsZero() {
		r.Modified = r.Created
	}
	r.Created, r.Modified = FromNano(ToNano(r.Created)), FromNano(ToNano(r.Modified))
	contextJSON, err := encodeContext(r.Context)
	if err != nil {
		return r, fmt.Errorf("%s: create report %q: %w", s.d.Name, r.Title, err)
	}
	err = s.write(ctx, func(tx Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reports (id, title, narrative, threat_actor, campaign, tlp,
			audience_kind, audience_group, source, submitted_by, anonymous, created, modified, tags, context)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Title, r.Narrative, r.ThreatActor, r.Campaign, string(r.TLP),
			string(r.Audience.Kind), OptString(r.Audience.Group), r.Source, OptString(r.SubmittedBy), r.Anonymous,
			ToNano(r.Created), ToNano(r.Modified), EncodeList(r.Tags), contextJSON); err != nil {
			return s.mapErr(err)
		}
		return s.putReportAudience(ctx, tx, &r)
	})
	if err != nil {
		return r, fmt.Errorf("%s: create report %q: %w", s.d.Name, r.Title, err)
	}
	return r, nil
}

// putReportAudience writes a report's explicit audience and fills in the
// members of its group.
func (s *Store) putReportAudience(ctx context.Context, tx Tx, r *model.Report) error {
	for _, org := range r.Audience.Orgs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_audience (report_id, org_id) VALUES (?, ?)`, r.ID, org); err != nil {
			return err
		}
	}
	if r.Audience.Kind == policy.Group {
		members, err := Querier{s, tx, false}.GroupMembers(ctx, []string{r.Audience.Group})
		if err != nil {
			return err
		}
		r.GroupMembers = members[r.Audience.Group]
	}
	return nil
}

// UpdateReport replaces what a report says — title, narrative, threat actor,
// campaign, tags, context, TLP and audience — keeping its id, source and
// Created; Modified is set to r.Modified, or now when zero.
// store.ErrNotFound when there is no such report.
func (s *Store) UpdateReport(ctx context.Context, r model.Report) (model.Report, error) {
	if err := checkReport(&r); err != nil {
		return r, fmt.Errorf("%s: update report %q: %w", s.d.Name, r.ID, err)
	}
	if r.Modified.IsZero() {
		r.Modified = time.Now()
	}
	r.Modified = FromNano(ToNano(r.Modified))
	contextJSON, err := encodeContext(r.Context)
	if err != nil {
		return r, fmt.Errorf("%s: update report %q: %w", s.d.Name, r.ID, err)
	}
	err = s.write(ctx, func(tx Tx) error {
		var created int64
		var source string
		if err := tx.QueryRowContext(ctx, `UPDATE reports SET title = ?, narrative = ?, threat_actor = ?, campaign = ?,
			tlp = ?, audience_kind = ?, audience_group = ?, submitted_by = ?, anonymous = ?, modified = ?, tags = ?, context = ?
			WHERE id = ? RETURNING created, source`,
			r.Title, r.Narrative, r.ThreatActor, r.Campaign, string(r.TLP), string(r.Audience.Kind), OptString(r.Audience.Group),
			OptString(r.SubmittedBy), r.Anonymous, ToNano(r.Modified), EncodeList(r.Tags), contextJSON, r.ID).Scan(&created, &source); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return s.mapErr(err)
		}
		r.Created, r.Source = FromNano(created), source
		if _, err := tx.ExecContext(ctx, `DELETE FROM report_audience WHERE report_id = ?`, r.ID); err != nil {
			return err
		}
		return s.putReportAudience(ctx, tx, &r)
	})
	if err != nil {
		return r, fmt.Errorf("%s: update report %q: %w", s.d.Name, r.ID, err)
	}
	return r, nil
}

// Report returns a report if v may see it.
func (s *Store) Report(ctx context.Context, v policy.Viewer, id string) (model.Report, error) {
	if v.OrgID == "" {
		return model.Report{}, fmt.Errorf("%s: report %q: %w", s.d.Name, id, store.ErrNotFound)
	}
	args := []any{sql.Named("id", id)}
	return s.oneReport(ctx, id, `WHERE r.id = :id AND `+reportVisibility.Cond(&s.d, v, &args), args)
}

// ReportByID returns a report, whoever may see it.
func (s *Store) ReportByID(ctx context.Context, id string) (model.Report, error) {
	return s.oneReport(ctx, id, `WHERE r.id = ?`, []any{id})
}

func (s *Store) oneReport(ctx context.Context, id, where string, args []any) (model.Report, error) {
	rs, err := s.reports(ctx, where, args)
	return first(s, "report", id, rs, err)
}

// ListReports returns the reports v may see, by id, after the id after.
func (s *Store) ListReports(ctx context.Context, v policy.Viewer, after string, limit int) ([]model.Report, error) {
	if v.OrgID == "" {
		return nil, nil
	}
	args := []any{sql.Named("after", after), sql.Named("limit", PageLimit(limit))}
	rs, err := s.reports(ctx, `WHERE r.id > :after AND `+reportVisibility.Cond(&s.d, v, &args)+` ORDER BY r.id LIMIT :limit`, args)
	if err != nil {
		return nil, fmt.Errorf("%s: list reports: %w", s.d.Name, err)
	}
	return rs, nil
}

// reports runs a query of reports and fills in their audiences.
func (s *Store) reports(ctx context.Context, where string, args []any) ([]model.Report, error) {
	var rs []model.Report
	err := s.read(ctx, func(tx Tx) error {
		q := Querier{s, tx, true}
		rows, err := q.Query(ctx, `SELECT `+reportColumns+` FROM reports r `+where, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var withOrgs, groups []string
		for rows.Next() {
			var r model.Report
			var tlp, kind string
			var created, modified int64
			var tags, contextJSON sql.NullString
			if err := rows.Scan(&r.ID, &r.Title, &r.Narrative, &r.ThreatActor, &r.Campaign, &tlp, &kind,
				&r.Audience.Group, &r.Source, &r.SubmittedBy, &r.Anonymous, &created, &modified, &tags, &contextJSON); err != nil {
				return err
			}
			var err error
			if r.Tags, err = DecodeList(tags); err != nil {
				return fmt.Errorf("report %s: tags: %w", r.ID, err)
			}
			if contextJSON.Valid && contextJSON.String != "" {
				if err := json.Unmarshal([]byte(contextJSON.String), &r.Context); err != nil {
					return fmt.Errorf("report %s: context: %w", r.ID, err)
				}
			}
			r.TLP, r.Audience.Kind = policy.TLP(tlp), policy.AudienceKind(kind)
			r.Created, r.Modified = FromNano(created), FromNano(modified)
			switch r.Audience.Kind {
			case policy.Orgs:
				withOrgs = append(withOrgs, r.ID)
			case policy.Group:
				if !slices.Contains(groups, r.Audience.Group) {
					groups = append(groups, r.Audience.Group)
				}
			}
			rs = append(rs, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(withOrgs) > 0 {
			orgs, err := q.Pairs(ctx, `SELECT report_id, org_id FROM report_audience
				WHERE report_id IN (`+s.d.TextArray("?")+`) ORDER BY report_id, org_id`, JSONStrings(withOrgs))
			if err != nil {
				return err
			}
			for i := range rs {
				if rs[i].Audience.Kind == policy.Orgs {
					rs[i].Audience.Orgs = orgs[rs[i].ID]
				}
			}
		}
		if len(groups) > 0 {
			members, err := q.GroupMembers(ctx, groups)
			if err != nil {
				return err
			}
			for i := range rs {
				if rs[i].Audience.Kind == policy.Group {
					rs[i].GroupMembers = slices.Clone(members[rs[i].Audience.Group])
				}
			}
		}
		return nil
	})
	return rs, err
}

// AppendAudit appends an entry to the audit log; Seq is assigned, At set to
// now when zero.
func (s *Store) AppendAudit(ctx context.Context, e model.AuditEntry) error {
	if e.Action == "" {
		return fmt.Errorf("%s: append audit: the action is empty", s.d.Name)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	// In the order of the audit log, so that seq values commit in order and
	// a reader paging by ListAudit's After never skips an entry committed
	// late.
	err := s.db.Write(ctx, AuditLog, func(tx Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, org, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)`,
			ToNano(e.At), e.Org, e.Actor, e.Action, e.Target, e.Detail)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: append audit %q: %w", s.d.Name, e.Action, err)
	}
	return nil
}

// ListAudit returns audit entries in order, Seq > q.After, of q.Org when
// set; at most q.Limit (default 100, at most 10,000).
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]model.AuditEntry, error) {
	query := `SELECT seq, at, org, actor, action, target, detail FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`
	args := []any{q.After, PageLimit(q.Limit)}
	if q.Org != "" {
		query = `SELECT seq, at, org, actor, action, target, detail FROM audit WHERE org = ? AND seq > ? ORDER BY seq LIMIT ?`
		args = append([]any{q.Org}, args...)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: list audit: %w", s.d.Name, err)
	}
	defer rows.Close()
	var es []model.AuditEntry
	for rows.Next() {
		var e model.AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Org, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("%s: list audit: %w", s.d.Name, err)
		}
		e.At = FromNano(at)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: list audit: %w", s.d.Name, err)
	}
	return es, nil
}
