package api

import (
	"context"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// AudienceJSON is an audience as clients write and read it: exactly one of
// network, group (a name) or orgs (names or ids).
type AudienceJSON struct {
	Network bool     `json:"network,omitempty"`
	Group   string   `json:"group,omitempty"`
	Orgs    []string `json:"orgs,omitempty"`
}

// IndicatorJSON is an indicator as the API shows it to one viewer.
type IndicatorJSON struct {
	ID          string       `json:"id"`
	Type        string       `json:"type"`
	Value       string       `json:"value"`
	TLP         string       `json:"tlp"`
	Audience    AudienceJSON `json:"audience"`
	Labels      []string     `json:"labels"`
	Description string       `json:"description"`
	Confidence  int          `json:"confidence"`
	ValidFrom   time.Time    `json:"valid_from"`
	ValidUntil  *time.Time   `json:"valid_until"`
	FirstSeen   time.Time    `json:"first_seen"`
	LastSeen    time.Time    `json:"last_seen"`
	Source      string       `json:"source"`
	Anonymous   bool         `json:"anonymous"`
	Report      string       `json:"report,omitempty"`
	Tags        []string     `json:"tags"`
	Revoked     bool         `json:"revoked"`
	Expired     bool         `json:"expired"`
	// Quarantined: organisations agreed it is a false positive; it does not
	// match until the coordinator releases or revokes it.
	Quarantined      bool   `json:"quarantined"`
	QuarantineReason string `json:"quarantine_reason,omitempty"`
	// Score is the indicator's score with its reasons (docs/SIGNAL.md), in
	// the indicator endpoints' answers.
	Score *ScoreJSON `json:"score,omitempty"`
	// Federation says where the indicator comes from; only peer hubs get it
	// (docs/FEDERATION.md).
	Federation *FederationJSON `json:"federation,omitempty"`
	Created    time.Time       `json:"created"`
	Modified   time.Time       `json:"modified"`
	Seq        int64           `json:"seq"`
}

// AnonymousSource is what a viewer sees instead of a hidden source.
const AnonymousSource = "anonymous"

func (s *Server) audienceJSON(ctx context.Context, a policy.Audience) AudienceJSON {
	switch a.Kind {
	case policy.Group:
		return AudienceJSON{Group: s.renderCache.groups.name(ctx, s.st, s.now, a.Group)}
	case policy.Orgs:
		names := make([]string, len(a.Orgs))
		for i, id := range a.Orgs {
			names[i] = s.orgs.name(ctx, id)
		}
		return AudienceJSON{Orgs: names}
	}
	return AudienceJSON{Network: true}
}

// sourceFor names the source of an item for viewer v, hiding it when the
// submission was anonymous and v may not know.
func (s *Server) sourceFor(ctx context.Context, v policy.Viewer, source, submitter string, anonymous bool) string {
	if anonymous && !policy.SeesTrueSource(v, source, submitter) {
		return AnonymousSource
	}
	return s.orgs.name(ctx, source)
}

// renderIndicator shows ind to v. The caller has checked policy.CanSee.
func (s *Server) renderIndicator(ctx context.Context, v policy.Viewer, ind *model.Indicator) IndicatorJSON {
	return s.renderIndicatorView(ctx, viewOf(v, ind, s.now()), ind)
}

// indicatorView is everything about the viewer, and the time, that the
// rendering of an indicator depends on: two viewers with the same view of
// the same indicator version get the same bytes, so the stream encodes a
// change once per view (streamcache.go). renderIndicatorView sees the viewer
// only through it; whatever a new field of the rendering takes from the
// viewer must be added here.
type indicatorView struct {
	hideSource bool // anonymous, and the viewer may not know the source (policy.SeesTrueSource)
	federation bool // a peer hub: the federation block
	expired    bool // valid_until has passed
}

func viewOf(v policy.Viewer, ind *model.Indicator, now time.Time) indicatorView {
	return indicatorView{
		hideSource: ind.Anonymous && !policy.SeesTrueSource(v, ind.Source, ind.SubmittedBy),
		federation: v.Kind == policy.PeerHub,
		expired:    !ind.ValidUntil.IsZero() && !now.Before(ind.ValidUntil),
	}
}

// renderIndicatorView shows ind as view says.
func (s *Server) renderIndicatorView(ctx context.Context, view indicatorView, ind *model.Indicator) IndicatorJSON {
	source := AnonymousSource
	if !view.hideSource {
		source = s.orgs.name(ctx, ind.Source)
	}
	out := IndicatorJSON{
		ID: ind.ID, Type: string(ind.Type), Value: ind.Value, TLP: string(ind.TLP),
		Audience:    s.audienceJSON(ctx, ind.Audience),
		Labels:      nonNil(ind.Labels),
		Description: ind.Description, Confidence: ind.Confidence,
		ValidFrom: ind.ValidFrom, FirstSeen: ind.FirstSeen, LastSeen: ind.LastSeen,
		Source:    source,
		Anonymous: ind.Anonymous, Report: ind.ReportID, Tags: nonNil(ind.Tags),
		Revoked: ind.Revoked, Created: ind.Created, Modified: ind.Modified, Seq: ind.Seq,
		Quarantined: ind.Quarantined, QuarantineReason: ind.QuarantineReason,
	}
	if !ind.ValidUntil.IsZero() {
		vu := ind.ValidUntil
		out.ValidUntil = &vu
		out.Expired = view.expired
	}
	if view.federation {
		out.Federation = s.federationFor(ctx, ind)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ReportJSON is a report as the API shows it to one viewer.
type ReportJSON struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	Narrative   string       `json:"narrative"`
	ThreatActor string       `json:"threat_actor,omitempty"`
	Campaign    string       `json:"campaign,omitempty"`
	TLP         string       `json:"tlp"`
	Audience    AudienceJSON `json:"audience"`
	Source      string       `json:"source"`
	Anonymous   bool         `json:"anonymous"`
	Created     time.Time    `json:"created"`
	Modified    time.Time    `json:"modified"`
}

func (s *Server) renderReport(ctx context.Context, v policy.Viewer, r *model.Report) ReportJSON {
	return ReportJSON{
		ID: r.ID, Title: r.Title, Narrative: r.Narrative, ThreatActor: r.ThreatActor, Campaign: r.Campaign,
		TLP: string(r.TLP), Audience: s.audienceJSON(ctx, r.Audience),
		Source:    s.sourceFor(ctx, v, r.Source, r.SubmittedBy, r.Anonymous),
		Anonymous: r.Anonymous, Created: r.Created, Modified: r.Modified,
	}
}
