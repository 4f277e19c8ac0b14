package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

const maxEvidenceLen = 16 << 10

// DefaultMaxPendingProposals is how many proposals one organisation may
// have awaiting a decision (Limits.MaxPendingProposals): each holds up to
// 24 KiB of description and evidence, and a sensor key may propose.
const DefaultMaxPendingProposals = 1000

// ProposalIn is an indicator a sensor proposes (auto-share).
type ProposalIn struct {
	Type        string   `json:"type"`
	Value       string   `json:"value"`
	Labels      []string `json:"labels"`
	Description string   `json:"description"`
	Evidence    string   `json:"evidence"`
}

// createProposal queues a proposal for the organisation's analysts. Sensor
// keys may propose; nothing is shared until an analyst approves.
func (s *Server) createProposal(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if !p.Key.Role.CanReportSightings() {
		return forbidden("a %s key may not propose indicators", p.Key.Role)
	}
	var in ProposalIn
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	prop := model.Proposal{Org: p.Org.ID, Description: in.Description, Evidence: in.Evidence}
	var err error
	if in.Type == "" {
		prop.Type, prop.Value, err = indicator.Detect(in.Value)
	} else if prop.Type, err = indicator.ParseType(in.Type); err == nil {
		prop.Type, prop.Value, err = indicator.CanonicalizeAs(prop.Type, in.Value)
	}
	if err != nil {
		return errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
	}
	if prop.Labels, err = checkWords("labels", in.Labels, maxLabels, maxLabelLen, true); err != nil {
		return errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
	}
	if len(in.Description) > maxDescriptionLen || len(in.Evidence) > maxEvidenceLen {
		return errf(http.StatusBadRequest, CodeInvalidValue, "description is at most %d bytes and evidence at most %d", maxDescriptionLen, maxEvidenceLen)
	}
	// Checked before storing, so concurrent proposals may pass the bound
	// by a few.
	if bound := s.limits.MaxPendingProposals; bound > 0 {
		n, err := s.st.CountProposals(r.Context(), p.Org.ID, model.Pending)
		if err != nil {
			return err
		}
		if n >= bound {
			return errf(http.StatusConflict, CodeConflict,
				"%s has %d proposals awaiting a decision, at most %d allowed: nothing more is queued until its analysts approve or reject some (GET /api/v1/proposals?status=pending)",
				p.Org.Name, n, bound)
		}
	}
	prop.Created = s.now().UTC()
	prop, err = s.st.CreateProposal(r.Context(), prop)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, prop)
	return nil
}

func (s *Server) listProposals(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, "status", "limit"); err != nil {
		return err
	}
	if !p.Key.Role.CanSubmit() {
		return forbidden("the approval queue is for analysts and admins")
	}
	status := model.ProposalStatus(r.URL.Query().Get("status"))
	switch status {
	case "", model.Pending, model.Approved, model.Rejected:
	default:
		return badRequest("status %q is not one of pending, approved, rejected", clip(string(status)))
	}
	limit, err := s.pageSize(r)
	if err != nil {
		return err
	}
	props, err := s.st.ListProposals(r.Context(), p.Org.ID, status, limit)
	if err != nil {
		return err
	}
	if props == nil {
		props = []model.Proposal{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"proposals": props})
	return nil
}

// ownProposal fetches a proposal of p's organisation.
func (s *Server) ownProposal(r *http.Request, p *Principal) (model.Proposal, error) {
	if !p.Key.Role.CanSubmit() {
		return model.Proposal{}, forbidden("only analysts and admins decide proposals")
	}
	id := r.PathValue("id")
	prop, err := s.st.Proposal(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && prop.Org != p.Org.ID) {
		return prop, notFound("proposal " + strconv.Quote(clip(id)))
	}
	return prop, err
}

// ApproveIn is how an analyst shares a proposal: the sharing choices of a
// submission.
type ApproveIn struct {
	TLP         string        `json:"tlp"`
	Audience    *AudienceJSON `json:"audience"`
	Labels      []string      `json:"labels"`
	Description string        `json:"description"`
	Confidence  *int          `json:"confidence"`
	ValidUntil  string        `json:"valid_until"`
	Anonymous   bool          `json:"anonymous"`
	Report      string        `json:"report"`
}

// approveProposal shares a proposal as an indicator of the organisation,
// through the same checks as any submission.
func (s *Server) approveProposal(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	prop, err := s.ownProposal(r, p)
	if err != nil {
		return err
	}
	var in ApproveIn
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	if prop.Status != model.Pending {
		return errf(http.StatusConflict, CodeConflict, "proposal was %s already", prop.Status)
	}
	labels := in.Labels
	if labels == nil {
		labels = prop.Labels
	}
	desc := in.Description
	if desc == "" {
		desc = prop.Description
	}
	ctx := r.Context()
	now := s.now().UTC()
	sub, hits, err := newResolver(s, p).validate(ctx, &SubmitItem{Type: string(prop.Type), Value: prop.Value, TLP: in.TLP, Audience: in.Audience,
		Labels: labels, Description: desc, Confidence: in.Confidence, ValidUntil: in.ValidUntil, Anonymous: in.Anonymous, Report: in.Report}, now)
	if err != nil {
		if isInternal(err) {
			return err
		}
		ie := itemError(err)
		return errf(http.StatusBadRequest, ie.Code, "%s", ie.Message)
	}
	var res store.UpsertResult
	seq, err := s.store(ctx, []model.Submission{sub}, func(_ int, ur store.UpsertResult) { res = ur })
	if err != nil {
		return err
	}
	prop, err = s.st.DecideProposal(ctx, prop.ID, model.Approved, res.ID, now)
	if err != nil {
		return err
	}
	s.audit(ctx, p, "proposal.approve", prop.ID, fmt.Sprintf("%s %s as %s → %s", prop.Type, prop.Value, sub.TLP, res.ID))
	if s.notify != nil {
		s.notify.Notify(ctx, seq)
	}
	writeJSON(w, http.StatusOK, map[string]any{"proposal": prop, "result": ItemResult{Status: string(res.Status), ID: res.ID, Type: string(sub.Type), Value: sub.Value, Warninglists: hits}})
	return nil
}

func (s *Server) rejectProposal(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	prop, err := s.ownProposal(r, p)
	if err != nil {
		return err
	}
	prop, err = s.st.DecideProposal(r.Context(), prop.ID, model.Rejected, "", s.now().UTC())
	if errors.Is(err, store.ErrConflict) {
		return errf(http.StatusConflict, CodeConflict, "proposal was decided already")
	}
	if err != nil {
		return err
	}
	s.audit(r.Context(), p, "proposal.reject", prop.ID, string(prop.Type)+" "+prop.Value)
	writeJSON(w, http.StatusOK, map[string]any{"proposal": prop})
	return nil
}
