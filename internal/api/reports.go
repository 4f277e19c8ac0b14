package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

const (
	maxTitleLen     = 512
	maxNarrativeLen = 64 << 10
	maxNameLen      = 256
)

// ReportIn is a report as a client creates it.
type ReportIn struct {
	Title       string        `json:"title"`
	Narrative   string        `json:"narrative"`
	ThreatActor string        `json:"threat_actor"`
	Campaign    string        `json:"campaign"`
	TLP         string        `json:"tlp"`
	Audience    *AudienceJSON `json:"audience"`
	Anonymous   bool          `json:"anonymous"`
	OnBehalfOf  string        `json:"on_behalf_of"`
}

func (s *Server) createReport(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if !p.Key.Role.CanSubmit() {
		return forbidden("a %s key may not create reports", p.Key.Role)
	}
	var in ReportIn
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	in.Title = strings.TrimSpace(in.Title)
	switch {
	case in.Title == "":
		return errf(http.StatusBadRequest, CodeInvalidValue, "title is missing")
	case len(in.Title) > maxTitleLen:
		return errf(http.StatusBadRequest, CodeInvalidValue, "title is %d bytes, at most %d allowed", len(in.Title), maxTitleLen)
	case len(in.Narrative) > maxNarrativeLen:
		return errf(http.StatusBadRequest, CodeInvalidValue, "narrative is %d bytes, at most %d allowed", len(in.Narrative), maxNarrativeLen)
	case len(in.ThreatActor) > maxNameLen || len(in.Campaign) > maxNameLen:
		return errf(http.StatusBadRequest, CodeInvalidValue, "threat_actor and campaign are at most %d bytes", maxNameLen)
	}
	ctx := r.Context()
	sh, err := newResolver(s, p).resolveSharing(ctx, in.TLP, in.Audience, in.Anonymous, in.OnBehalfOf)
	if err != nil {
		if isInternal(err) {
			return err
		}
		return errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
	}
	rep, err := s.st.CreateReport(ctx, model.Report{
		Title: in.Title, Narrative: in.Narrative, ThreatActor: in.ThreatActor, Campaign: in.Campaign,
		TLP: sh.TLP, Audience: sh.Audience, Source: sh.Source, SubmittedBy: sh.SubmittedBy, Anonymous: sh.Anonymous,
	})
	if err != nil {
		return err
	}
	s.audit(ctx, p, "report.create", rep.ID, rep.Title)
	writeJSON(w, http.StatusCreated, s.renderReport(ctx, p.Viewer, &rep))
	return nil
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	rep, err := s.st.Report(r.Context(), p.Viewer, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !policy.CanSee(p.Viewer, rep.PolicyItem())) {
		return notFound("report " + strconv.Quote(clip(id)))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderReport(r.Context(), p.Viewer, &rep))
	return nil
}

func (s *Server) listReports(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, "cursor", "limit"); err != nil {
		return err
	}
	limit, err := s.pageSize(r)
	if err != nil {
		return err
	}
	after := r.URL.Query().Get("cursor")
	if len(after) > 64 {
		return badRequest("cursor %q is not a cursor this hub gave out", clip(after))
	}
	reps, err := s.st.ListReports(r.Context(), p.Viewer, after, limit)
	if err != nil {
		return fmt.Errorf("list reports: %w", err)
	}
	out := make([]ReportJSON, 0, len(reps))
	for i := range reps {
		if policy.CanSee(p.Viewer, reps[i].PolicyItem()) {
			out = append(out, s.renderReport(r.Context(), p.Viewer, &reps[i]))
		}
	}
	next := ""
	if len(reps) == limit {
		next = reps[len(reps)-1].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": out, "next": next})
	return nil
}
