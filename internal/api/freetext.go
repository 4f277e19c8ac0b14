package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hdnetwork/hdn/internal/freetext"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// maxExclude bounds the values a free-text import may leave out (a text
// yields at most freetext.DefaultMaxCandidates).
const maxExclude = freetext.DefaultMaxCandidates

// TextImport is a free-text import: a pasted report or e-mail, and what to
// give every indicator found in it.
type TextImport struct {
	Text        string        `json:"text"`
	TLP         string        `json:"tlp"`
	Audience    *AudienceJSON `json:"audience"`
	Labels      []string      `json:"labels"`
	Description string        `json:"description"`
	Confidence  *int          `json:"confidence"`
	ValidUntil  string        `json:"valid_until"`
	Anonymous   bool          `json:"anonymous"`
	Report      string        `json:"report"`
	Tags        []string      `json:"tags"`
	OnBehalfOf  string        `json:"on_behalf_of"`
	// Exclude lists values (as shown in a preview) the analyst unticked.
	Exclude              []string `json:"exclude"`
	OverrideWarninglists bool     `json:"override_warninglists"`
}

// TextCandidate is one value found in the text, as a preview shows it.
type TextCandidate struct {
	freetext.Candidate
	// Status is "new", "known" (the caller's organisation has it already),
	// "refused" (a refusing warninglist stops it) or "invalid".
	Status       string            `json:"status"`
	Error        *ItemError        `json:"error,omitempty"`
	Warninglists []warninglist.Hit `json:"warninglists,omitempty"`
	ID           string            `json:"id,omitempty"`
}

// importText finds indicators in free text. With ?preview=true it only
// shows what it found (types, warninglist hits, whether the organisation has
// them already); without, it stores what it found, less what the caller
// excluded, through the same checks as any submission.
func (s *Server) importText(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if !p.Key.Role.CanSubmit() {
		return forbidden("a %s key may not submit indicators", p.Key.Role)
	}
	preview, err := boolParam(r, "preview")
	if err != nil {
		return err
	}
	if err := onlyParams(r, "preview"); err != nil {
		return err
	}
	var in TextImport
	if err := s.decodeBulk(w, r, &in); err != nil {
		return err
	}
	if in.Text == "" {
		return errf(http.StatusBadRequest, CodeInvalidValue, `"text" is empty`)
	}
	if len(in.Exclude) > maxExclude {
		return errf(http.StatusBadRequest, CodeInvalidValue, "exclude has %d entries, at most %d allowed", len(in.Exclude), maxExclude)
	}
	excluded := make(map[string]bool, len(in.Exclude))
	for _, v := range in.Exclude {
		excluded[v] = true
	}
	cands, err := freetext.Extract(in.Text, freetext.Options{MaxCandidates: min(s.limits.MaxItems, freetext.DefaultMaxCandidates)})
	if err != nil {
		return errf(http.StatusBadRequest, CodeInvalidValue, "text: %s", err.Error())
	}
	ctx := r.Context()
	now := s.now().UTC()
	rs := newResolver(s, p)
	rs.preview = preview
	out := make([]TextCandidate, 0, len(cands))
	var subs []model.Submission
	var subIndex []int
	for _, c := range cands {
		tc := TextCandidate{Candidate: c, Status: "new"}
		if excluded[c.Value] || excluded[c.Raw] {
			tc.Status = "excluded"
			out = append(out, tc)
			continue
		}
		item := SubmitItem{Type: string(c.Type), Value: c.Value, TLP: in.TLP, Audience: in.Audience, Labels: in.Labels,
			Description: in.Description, Confidence: in.Confidence, ValidUntil: in.ValidUntil, Anonymous: in.Anonymous,
			Report: in.Report, Tags: in.Tags, OnBehalfOf: in.OnBehalfOf, OverrideWarninglists: in.OverrideWarninglists}
		sub, hits, verr := rs.validate(ctx, &item, now)
		tc.Warninglists = hits
		if verr != nil {
			if isInternal(verr) {
				return verr
			}
			tc.Error = itemError(verr)
			tc.Status = "invalid"
			var re refusedError
			if errors.As(verr, &re) {
				tc.Status = "refused"
			}
			out = append(out, tc)
			continue
		}
		if preview {
			known, err := s.st.ListIndicators(ctx, p.Viewer, store.Query{Type: sub.Type, Value: sub.Value, Limit: 10})
			if err != nil {
				return err
			}
			for _, k := range known {
				if k.Source == sub.Source {
					tc.Status, tc.ID = "known", k.ID
				}
			}
		}
		out = append(out, tc)
		subs = append(subs, sub)
		subIndex = append(subIndex, len(out)-1)
	}
	if preview || len(subs) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"preview": preview, "candidates": out})
		return nil
	}
	lastSeq, err := s.store(ctx, subs, func(k int, ur store.UpsertResult) {
		c := &out[subIndex[k]]
		c.Status, c.ID = string(ur.Status), ur.ID
	})
	if err != nil {
		return err
	}
	s.audit(ctx, p, "indicator.import-text", "", fmt.Sprintf("%d found, %d stored", len(cands), len(subs)))
	if s.notify != nil {
		s.notify.Notify(ctx, lastSeq)
	}
	writeJSON(w, http.StatusOK, map[string]any{"preview": false, "candidates": out})
	return nil
}
