package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

const defaultPageSize = 100

// encodeCursor makes an opaque paging cursor from a change sequence number.
func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatInt(seq, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil && len(b) > 1 && b[0] == 's' {
		if n, err := strconv.ParseInt(string(b[1:]), 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, badRequest("cursor %q is not a cursor this hub gave out", clip(c))
}

func (s *Server) pageSize(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest("limit=%q must be a whole number from 1 to %d", clip(v), s.limits.MaxPageSize)
	}
	if n > s.limits.MaxPageSize {
		return 0, badRequest("limit=%d is above the largest page of %d", n, s.limits.MaxPageSize)
	}
	return n, nil
}

// parseIndicatorQuery reads the filters shared by the indicator list and the
// exports.
func (s *Server) parseIndicatorQuery(r *http.Request) (store.Query, error) {
	var q store.Query
	qs := r.URL.Query()
	if t := qs.Get("type"); t != "" {
		typ, err := indicator.ParseType(t)
		if err != nil {
			return q, badRequest("%s", err.Error())
		}
		q.Type = typ
	}
	if v := qs.Get("value"); v != "" {
		// Search as the value is stored: canonicalise what the user typed.
		var err error
		if q.Type != "" {
			q.Type, q.Value, err = indicator.CanonicalizeAs(q.Type, v)
		} else {
			var t indicator.Type
			t, q.Value, err = indicator.Detect(v)
			if err != nil {
				// Detection wants a known top-level domain (free text is full
				// of file names); a search box may hold any name.
				if dv, derr := indicator.Canonicalize(indicator.Domain, v); derr == nil {
					t, q.Value, err = indicator.Domain, dv, nil
				}
			}
			if err == nil && t != indicator.Domain {
				// A domain may be stored as a hostname; other types are unambiguous.
				q.Type = t
			}
		}
		if err != nil {
			return q, errf(http.StatusBadRequest, CodeInvalidValue, "value: %s", err.Error())
		}
	}
	if l := qs.Get("label"); l != "" {
		q.Label = strings.ToLower(strings.TrimSpace(l))
	}
	if rep := qs.Get("report"); rep != "" {
		q.ReportID = rep
	}
	if tag := qs.Get("tag"); tag != "" {
		q.Tag = strings.TrimSpace(tag)
	}
	var qerr error
	if q.Quarantined, qerr = boolParam(r, "quarantined"); qerr != nil {
		return q, qerr
	}
	if src := qs.Get("source"); src != "" {
		o, err := s.st.Org(r.Context(), src)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return q, err
		}
		if err != nil {
			// Matches nothing: sources are organisation ids, never this
			// (a NUL here made PostgreSQL fail the query).
			q.Source = "(no such organisation)"
		} else {
			q.Source = o.ID
		}
	}
	if t := qs.Get("tlp"); t != "" {
		tlp, err := policy.ParseTLP(t)
		if err != nil {
			return q, badRequest("%s", err.Error())
		}
		q.TLP = tlp
	}
	if since := qs.Get("since"); since != "" {
		t, err := parseTime("since", since)
		if err != nil {
			return q, badRequest("%s", err.Error())
		}
		q.Since = t
	}
	switch o := qs.Get("order"); o {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, badRequest("order %q is not asc or desc", clip(o))
	}
	if c := qs.Get("cursor"); c != "" {
		at, err := decodeCursor(c)
		if err != nil {
			return q, err
		}
		if q.Desc {
			q.Before = at
		} else {
			q.After = at
		}
	}
	var err error
	if q.IncludeRevoked, err = boolParam(r, "include_revoked"); err != nil {
		return q, err
	}
	if q.Limit, err = s.pageSize(r); err != nil {
		return q, err
	}
	return q, nil
}

var indicatorQueryParams = []string{"type", "value", "label", "report", "tlp", "source", "tag", "quarantined", "since", "cursor", "limit", "include_revoked", "order"}

func (s *Server) listIndicators(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, indicatorQueryParams...); err != nil {
		return err
	}
	q, err := s.parseIndicatorQuery(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	inds, err := s.st.ListIndicators(ctx, p.Viewer, q)
	if err != nil {
		return err
	}
	scores, err := s.Scores(ctx, inds, s.now())
	if err != nil {
		return err
	}
	out := make([]IndicatorJSON, 0, len(inds))
	for i := range inds {
		// The store filtered by the policy; check again before sending.
		if !policy.CanSee(p.Viewer, inds[i].PolicyItem()) {
			s.log.ErrorContext(ctx, "store returned an indicator the policy hides; withheld", "indicator", inds[i].ID, "org", p.Org.ID)
			continue
		}
		j := s.renderIndicator(ctx, p.Viewer, &inds[i])
		j.Score = scoreJSON(scores[inds[i].ID])
		out = append(out, j)
	}
	next := ""
	if len(inds) == q.Limit && len(inds) > 0 {
		next = encodeCursor(inds[len(inds)-1].Seq)
	}
	writeJSON(w, http.StatusOK, map[string]any{"indicators": out, "next": next})
	return nil
}

// visibleIndicator fetches one indicator for p, or not_found when it does
// not exist or p may not see it (the two look alike).
func (s *Server) visibleIndicator(ctx context.Context, p *Principal, id string) (model.Indicator, error) {
	ind, err := s.st.Indicator(ctx, p.Viewer, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !policy.CanSee(p.Viewer, ind.PolicyItem())) {
		return ind, notFound("indicator " + strconv.Quote(clip(id)))
	}
	return ind, err
}

func (s *Server) getIndicator(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	ind, err := s.visibleIndicator(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	scores, err := s.Scores(r.Context(), []model.Indicator{ind}, s.now())
	if err != nil {
		return err
	}
	j := s.renderIndicator(r.Context(), p.Viewer, &ind)
	j.Score = scoreJSON(scores[ind.ID])
	writeJSON(w, http.StatusOK, j)
	return nil
}

// revokeIndicator lets the source (or the partner that submitted for it, or
// the coordinator, which curates the network) revoke an indicator.
func (s *Server) revokeIndicator(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if !p.Key.Role.CanSubmit() {
		return forbidden("a %s key may not revoke indicators", p.Key.Role)
	}
	ctx := r.Context()
	ind, err := s.visibleIndicator(ctx, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !canCurate(p, ind.Source) {
		return forbidden("only the source of an indicator or the coordinator may revoke it")
	}
	ind, err = s.st.Revoke(ctx, ind.ID, s.now().UTC())
	if err != nil {
		return err
	}
	s.audit(ctx, p, "indicator.revoke", ind.ID, string(ind.Type)+" "+ind.Value)
	if s.notify != nil {
		s.notify.Notify(ctx, ind.Seq)
	}
	writeJSON(w, http.StatusOK, s.renderIndicator(ctx, p.Viewer, &ind))
	return nil
}

// canCurate says whether p may change something of source: the source's
// side (sourceSide) or the coordinator. A partner that submitted for a
// customer it no longer has does not curate what it submitted: the
// customer's new partner does.
func canCurate(p *Principal, source string) bool {
	return sourceSide(p, source) || p.Org.Kind == policy.Coordinator
}

// sourceSide says whether p speaks for source: the source itself, or its
// current partner. Only the source's side may open the sharing of what the
// source shared (a more open TLP, another audience); the coordinator
// curates — revokes, tags, narrows — but does not widen.
func sourceSide(p *Principal, source string) bool {
	return p.Org.ID == source || (p.Org.Kind == policy.Partner && slices.Contains(p.Viewer.Customers, source))
}

// opensTLP says whether to is a more open level than from.
func opensTLP(from, to policy.TLP) bool {
	return slices.Index(policy.TLPs, to) < slices.Index(policy.TLPs, from)
}

// reshares says whether sharing b instead of a opens it or sends it to
// other recipients: a more open TLP, or another audience.
func reshares(aTLP policy.TLP, a policy.Audience, bTLP policy.TLP, b policy.Audience) bool {
	if opensTLP(aTLP, bTLP) {
		return true
	}
	ka, kb := a.Kind, b.Kind
	if ka == "" {
		ka = policy.Network
	}
	if kb == "" {
		kb = policy.Network
	}
	if ka != kb || a.Group != b.Group || len(a.Orgs) != len(b.Orgs) {
		return true
	}
	for _, o := range b.Orgs {
		if !slices.Contains(a.Orgs, o) {
			return true
		}
	}
	return false
}

// audit appends to the audit log; a failure is logged, not returned, since
// the action it records has already happened.
func (s *Server) audit(ctx context.Context, p *Principal, action, target, detail string) {
	e := model.AuditEntry{At: s.now().UTC(), Action: action, Target: target, Detail: detail}
	if p != nil {
		e.Org, e.Actor = p.Org.ID, p.Key.ID
	}
	if err := s.st.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit append failed", "action", action, "err", err)
	}
}
