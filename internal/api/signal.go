package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/score"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// Signal quality (docs/SIGNAL.md): scores with their reasons, quarantine of
// indicators that organisations agree are false positives, the
// blast-radius preview, and campaign alerts.

// SignalConfig tunes signal quality.
type SignalConfig struct {
	// Score weighs scores and decay (zero: the defaults).
	Score score.Params
	// QuarantineAfter is how many organisations (other than the source)
	// must report an indicator a false positive for it to be quarantined
	// (default 2).
	QuarantineAfter int
	// BlastWindow is how far back the preview counts sightings (default 14
	// days, the sensors' retro-hunt window).
	BlastWindow time.Duration
}

// DefaultQuarantineAfter is SignalConfig.QuarantineAfter's default.
const DefaultQuarantineAfter = 2

func (c SignalConfig) withDefaults() SignalConfig {
	if c.QuarantineAfter <= 0 {
		c.QuarantineAfter = DefaultQuarantineAfter
	}
	if c.BlastWindow <= 0 {
		c.BlastWindow = 14 * score.Day
	}
	return c
}

// ScoreJSON is an indicator's score as the API shows it.
type ScoreJSON struct {
	Score   int      `json:"score"`
	Base    int      `json:"base"`
	Decay   float64  `json:"decay"`
	Expired bool     `json:"expired_by_decay,omitempty"`
	Reasons []string `json:"reasons"`
}

// records caches the sources' track records for a minute: they move slowly
// and cost a scan of the indicators.
type records struct {
	mu  sync.Mutex
	at  time.Time
	all map[string]model.SourceRecord
}

func (s *Server) sourceRecords(ctx context.Context) (map[string]model.SourceRecord, error) {
	s.recs.mu.Lock()
	defer s.recs.mu.Unlock()
	if s.recs.all != nil && s.now().Sub(s.recs.at) < time.Minute {
		return s.recs.all, nil
	}
	all, err := s.st.SourceRecords(ctx)
	if err != nil {
		return nil, err
	}
	s.recs.all, s.recs.at = all, s.now()
	return all, nil
}

// Scores computes the scores of indicators at now.
func (s *Server) Scores(ctx context.Context, inds []model.Indicator, now time.Time) (map[string]score.Result, error) {
	out := make(map[string]score.Result, len(inds))
	if len(inds) == 0 {
		return out, nil
	}
	ids := make([]string, len(inds))
	for i := range inds {
		ids[i] = inds[i].ID
	}
	sigs, err := s.st.Signals(ctx, ids)
	if err != nil {
		return nil, err
	}
	recs, err := s.sourceRecords(ctx)
	if err != nil {
		return nil, err
	}
	for i := range inds {
		ind := &inds[i]
		sig := sigs[ind.ID]
		rec := recs[ind.Source]
		if ind.Anonymous {
			// Scored as from a source without a record: the record, in
			// the score or its reasons, would tell whose it is.
			rec = model.SourceRecord{}
		}
		// The source's record without this indicator.
		if sig.Sighters > 0 && rec.Confirmed > 0 {
			rec.Confirmed--
		}
		if (sig.FalsePositives > 0 || ind.Quarantined) && rec.FalsePositive > 0 {
			rec.FalsePositive--
		}
		active := ind.Modified
		if sig.LastSighting.After(active) {
			active = sig.LastSighting
		}
		out[ind.ID] = score.Compute(s.signal.Score, score.Facts{
			Type: ind.Type, Labels: ind.Labels, Stated: ind.Confidence,
			Source:    score.Record{Confirmed: rec.Confirmed, FalsePositive: rec.FalsePositive},
			Sightings: sig.Sighters, FalsePositives: sig.FalsePositives, Quarantined: ind.Quarantined,
			Active: active, Now: now,
		})
	}
	return out, nil
}

func scoreJSON(r score.Result) *ScoreJSON {
	return &ScoreJSON{Score: r.Score, Base: r.Base, Decay: float64(int(r.Decay*1000+0.5)) / 1000, Expired: r.Expired, Reasons: r.Reasons}
}

// minScoreParam reads ?min_score= (0 when absent).
func minScoreParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("min_score")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 100 {
		return 0, badRequest("min_score %q is not a whole number from 0 to 100", clip(v))
	}
	return n, nil
}

// reportFalsePositives quarantines the values of the indicators among ids
// that enough organisations now report as false positives (reports against
// any source's indicator of the value count): every live indicator of the
// value, whoever submitted it, and what is submitted of it later (the
// store holds the value). It tells each source (its audit log, the stream,
// webhooks) and returns how many indicators it quarantined.
func (s *Server) reportFalsePositives(ctx context.Context, p *Principal, ids []string) (int, error) {
	s.quarantining.Lock()
	defer s.quarantining.Unlock()
	n := 0
	var last int64
	for _, id := range ids {
		orgs, err := s.st.FalsePositiveParties(ctx, id)
		if err != nil {
			return n, err
		}
		if len(orgs) < s.signal.QuarantineAfter {
			continue
		}
		reason := fmt.Sprintf("reported a false positive by %d organisations; quarantined until the coordinator decides", len(orgs))
		inds, err := s.st.QuarantineValue(ctx, id, reason, s.now().UTC())
		if err != nil {
			return n, err
		}
		for i := range inds {
			ind := &inds[i]
			n++
			last = max(last, ind.Seq)
			// The source is told in its own audit log (and by the stream
			// and the webhooks, which carry the flag and the reason).
			_ = s.st.AppendAudit(ctx, model.AuditEntry{At: s.now().UTC(), Org: ind.Source, Actor: "hub", Action: "indicator.quarantine",
				Target: ind.ID, Detail: string(ind.Type) + " " + ind.Value + ": " + ind.QuarantineReason})
			if !s.wants(ctx, EventQuarantine) {
				continue
			}
			if ok, _ := s.coordinatorSees(ctx, ind.PolicyItem()); !ok {
				continue
			}
			s.emit(ctx, Event{Kind: EventQuarantine, Payload: map[string]any{"action": "quarantined", "reason": ind.QuarantineReason,
				"indicator": map[string]any{"id": ind.ID, "type": ind.Type, "value": ind.Value, "tlp": ind.TLP}}})
		}
	}
	if last > 0 && s.notify != nil {
		s.notify.Notify(ctx, last)
	}
	return n, nil
}

// HoldQuarantinedValues quarantines the live indicators of values held
// quarantined that are not (those of the values the upgrade to held values
// found quarantined; the hub's signal job), telling each source as a
// quarantine does; it returns how many.
func (s *Server) HoldQuarantinedValues(ctx context.Context) (int, error) {
	s.quarantining.Lock()
	defer s.quarantining.Unlock()
	inds, err := s.st.HoldQuarantinedValues(ctx, s.now().UTC())
	if err != nil {
		return 0, err
	}
	var last int64
	for i := range inds {
		ind := &inds[i]
		last = max(last, ind.Seq)
		_ = s.st.AppendAudit(ctx, model.AuditEntry{At: s.now().UTC(), Org: ind.Source, Actor: "hub", Action: "indicator.quarantine",
			Target: ind.ID, Detail: string(ind.Type) + " " + ind.Value + ": " + ind.QuarantineReason})
	}
	if last > 0 && s.notify != nil {
		s.notify.Notify(ctx, last)
	}
	return len(inds), nil
}

// releaseIndicator lifts a quarantine (the coordinator decided the value is
// good after all): every quarantined indicator of the indicator's type and
// value is released, every source's, and the value is no longer held; POST
// …/revoke withdraws one indicator instead.
func (s *Server) releaseIndicator(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if p.Org.Kind != policy.Coordinator || !p.Key.Role.CanSubmit() {
		return forbidden("releasing a quarantine is the coordinator's decision")
	}
	ctx := r.Context()
	ind, err := s.visibleIndicator(ctx, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !ind.Quarantined {
		return errf(http.StatusConflict, CodeConflict, "indicator %s is not quarantined", ind.ID)
	}
	s.quarantining.Lock()
	released, err := s.st.ReleaseValue(ctx, ind.ID, s.now().UTC())
	s.quarantining.Unlock()
	if err != nil {
		return err
	}
	var last int64
	for i := range released {
		rel := &released[i]
		last = max(last, rel.Seq)
		if rel.ID == ind.ID {
			ind = *rel
		}
		_ = s.st.AppendAudit(ctx, model.AuditEntry{At: s.now().UTC(), Org: rel.Source, Actor: "hub", Action: "indicator.release", Target: rel.ID,
			Detail: "the coordinator released the quarantine of " + string(rel.Type) + " " + rel.Value})
		// The webhooks are the coordinator's: they hear of the indicators
		// it may see.
		if rel.ID != ind.ID && !s.wants(ctx, EventQuarantine) {
			continue
		}
		if ok, _ := s.coordinatorSees(ctx, rel.PolicyItem()); rel.ID != ind.ID && !ok {
			continue
		}
		s.emit(ctx, Event{Kind: EventQuarantine, Payload: map[string]any{"action": "released",
			"indicator": map[string]any{"id": rel.ID, "type": rel.Type, "value": rel.Value, "tlp": rel.TLP}}})
	}
	s.audit(ctx, p, "indicator.release", ind.ID, fmt.Sprintf("%s %s (%d indicators of the value released)", ind.Type, ind.Value, len(released)))
	if s.notify != nil && last > 0 {
		s.notify.Notify(ctx, last)
	}
	writeJSON(w, http.StatusOK, s.renderIndicator(ctx, p.Viewer, &ind))
	return nil
}

// PreviewJSON is what the blast-radius preview says of one value.
type PreviewJSON struct {
	Type  string     `json:"type,omitempty"`
	Value string     `json:"value,omitempty"`
	Error *ItemError `json:"error,omitempty"`
	// Sighters is how many organisations sighted the value in the window
	// (through the indicators of it the caller may see).
	Sighters int `json:"sighters"`
	// Known counts the indicators of this value the caller may see.
	Known        int               `json:"known"`
	Warninglists []warninglist.Hit `json:"warninglists,omitempty"`
	// Refused: a refusing warninglist stops it (a coordinator may override).
	Refused bool `json:"refused"`
}

// previewIndicators is the blast-radius preview: before sharing, how many
// organisations' sensors have seen each value (from the sightings the hub
// has, within the sensors' retro-hunt window) and which warninglists it is
// on. Nothing is stored.
func (s *Server) previewIndicators(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if !p.Key.Role.CanSubmit() {
		return forbidden("a %s key does not submit, so it has nothing to preview", p.Key.Role)
	}
	var in struct {
		Indicators []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"indicators"`
	}
	if err := s.decodeBulk(w, r, &in); err != nil {
		return err
	}
	if len(in.Indicators) > 1000 {
		return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "at most 1,000 values in one preview")
	}
	ctx := r.Context()
	now := s.now().UTC()
	out := make([]PreviewJSON, 0, len(in.Indicators))
	for _, it := range in.Indicators {
		var pv PreviewJSON
		var t indicator.Type
		var v string
		var err error
		if it.Type == "" {
			t, v, err = indicator.Detect(it.Value)
		} else if t, err = indicator.ParseType(it.Type); err == nil {
			t, v, err = indicator.CanonicalizeAs(t, it.Value)
		}
		if err != nil {
			pv.Value, pv.Error = it.Value, itemError(err)
			out = append(out, pv)
			continue
		}
		pv.Type, pv.Value = string(t), v
		if s.warn != nil {
			// As a submission is screened: a pattern by the values it pins
			// down.
			var refusal *refusedError
			pv.Warninglists, refusal = s.warnHits(t, v)
			pv.Refused = refusal != nil
		}
		inds, err := s.st.ListIndicators(ctx, p.Viewer, store.Query{Type: t, Value: v, Limit: 1000, IncludeRevoked: true})
		if err != nil {
			return err
		}
		pv.Known = len(inds)
		ids := make([]string, 0, len(inds))
		for i := range inds {
			if policy.CanSee(p.Viewer, inds[i].PolicyItem()) {
				ids = append(ids, inds[i].ID)
			}
		}
		if pv.Sighters, err = s.st.ValueSighters(ctx, ids, now.Add(-s.signal.BlastWindow)); err != nil {
			return err
		}
		out = append(out, pv)
	}
	writeJSON(w, http.StatusOK, map[string]any{"window": s.signal.BlastWindow.String(), "previews": out})
	return nil
}

// AlertJSON is a campaign alert as one viewer sees it: the coordinator sees
// which organisations sighted; others only how many.
type AlertJSON struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	By            string    `json:"by"`
	Key           string    `json:"key"`
	Title         string    `json:"title,omitempty"` // the report's title, for a report alert
	Organisations int       `json:"organisations"`
	Orgs          []string  `json:"orgs,omitempty"` // names, coordinator only
	Indicators    []string  `json:"indicators"`
	First         time.Time `json:"first"`
	Last          time.Time `json:"last"`
	Raised        time.Time `json:"raised"`
	Window        string    `json:"window"`
}

// alertVisible: the coordinator sees every alert; another organisation sees
// one when it may see every indicator in it (and the report, for a report
// alert), so that an alert never tells it of something the policy hides.
func (s *Server) alertVisible(ctx context.Context, p *Principal, a *model.Alert) (bool, error) {
	if p.Org.Kind == policy.Coordinator {
		// The coordinator sees the alert, and in it the indicators it may
		// see (renderAlert leaves out the others: red ones not addressed to
		// it); an alert with none it may see is not shown.
		ids, err := s.visibleAlertIndicators(ctx, func(it policy.Item) bool { return policy.CanSee(p.Viewer, it) }, a.Indicators)
		return len(ids) > 0, err
	}
	for _, id := range a.Indicators {
		ind, err := s.st.Indicator(ctx, p.Viewer, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if !policy.CanSee(p.Viewer, ind.PolicyItem()) {
			return false, nil
		}
	}
	if a.By == "report" {
		if _, err := s.st.Report(ctx, p.Viewer, a.Key); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			return false, err
		}
	}
	if a.By == "actor" {
		// The key is a threat actor named by the indicators' reports: it
		// is the viewer's to know only when it may see those reports.
		return s.alertReportsSeen(ctx, a, s.reportSeenBy(ctx, p))
	}
	return true, nil
}

// reportSeenBy says whether p may see a report; p nil: whether a
// coordinator organisation may (what the coordinator's webhooks are sent).
func (s *Server) reportSeenBy(ctx context.Context, p *Principal) func(id string) (bool, error) {
	return func(id string) (bool, error) {
		var vs []policy.Viewer
		if p != nil {
			vs = []policy.Viewer{p.Viewer}
		} else {
			var err error
			if vs, err = s.coordinatorViewers(ctx); err != nil {
				return false, err
			}
		}
		for _, v := range vs {
			_, err := s.st.Report(ctx, v, id)
			if err == nil {
				return true, nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
		}
		return false, nil
	}
}

// alertReportsSeen says whether seen admits every report that the alert's
// indicators belong to.
func (s *Server) alertReportsSeen(ctx context.Context, a *model.Alert, seen func(id string) (bool, error)) (bool, error) {
	checked := map[string]bool{}
	for _, id := range a.Indicators {
		ind, err := s.st.IndicatorByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if ind.ReportID == "" || checked[ind.ReportID] {
			continue
		}
		checked[ind.ReportID] = true
		if ok, err := seen(ind.ReportID); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// visibleAlertIndicators keeps the ids of the indicators whose policy facts
// sees admits.
func (s *Server) visibleAlertIndicators(ctx context.Context, sees func(policy.Item) bool, ids []string) ([]string, error) {
	return s.indicatorsWhere(ctx, ids, func(ind *model.Indicator) bool { return sees(ind.PolicyItem()) })
}

// indicatorsWhere keeps, in the order given, the ids of the indicators
// that keep admits; unknown ids are left out.
func (s *Server) indicatorsWhere(ctx context.Context, ids []string, keep func(*model.Indicator) bool) ([]string, error) {
	out := []string{}
	for _, id := range ids {
		ind, err := s.st.IndicatorByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if keep(&ind) {
			out = append(out, id)
		}
	}
	return out, nil
}

// renderAlert shows an alert to p (nil: to the coordinator's webhooks):
// only the indicators p may see, the organisations' names only to the
// coordinator.
func (s *Server) renderAlert(ctx context.Context, p *Principal, a *model.Alert) AlertJSON {
	j := AlertJSON{ID: a.ID, Kind: a.Kind, By: a.By, Key: a.Key, Organisations: len(a.Orgs), Indicators: slices.Clone(a.Indicators),
		First: a.First, Last: a.Last, Raised: a.Raised, Window: a.Window.String()}
	sees := func(it policy.Item) bool { ok, _ := s.coordinatorSees(ctx, it); return ok }
	if p != nil {
		sees = func(it policy.Item) bool { return policy.CanSee(p.Viewer, it) }
	}
	orgs := a.Orgs
	if ids, err := s.visibleAlertIndicators(ctx, sees, a.Indicators); err == nil {
		j.Indicators = ids
		if len(ids) < len(a.Indicators) {
			// Who sighted, how many and when, from the indicators shown
			// only: the others' sightings are not the viewer's to know.
			orgs = s.alertSighters(ctx, a, ids, &j)
		}
	} else {
		j.Indicators, orgs = []string{}, nil
	}
	j.Organisations = len(orgs)
	seen := s.reportSeenBy(ctx, p)
	switch a.By {
	case "report":
		// The title only to one that may see the report.
		if ok, err := seen(a.Key); err == nil && ok {
			if rep, err := s.st.ReportByID(ctx, a.Key); err == nil {
				j.Title = rep.Title
			}
		}
	case "actor":
		// The actor only to one that may see the reports that name it.
		if ok, err := s.alertReportsSeen(ctx, a, seen); err != nil || !ok {
			j.Key = ""
		}
	}
	if p == nil || p.Org.Kind == policy.Coordinator {
		for _, o := range orgs {
			j.Orgs = append(j.Orgs, s.orgs.name(ctx, o))
		}
	}
	return j
}

// alertSighters returns the organisations of a's that sighted one of the
// indicators ids within a's window, and narrows j's first and last hours to
// their sightings. On a read error it returns none.
func (s *Server) alertSighters(ctx context.Context, a *model.Alert, ids []string, j *AlertJSON) []string {
	from := a.Raised.Add(-a.Window).Truncate(time.Hour)
	seen := map[string]bool{}
	var first, last time.Time
	for _, id := range ids {
		counts, err := s.st.SightingCounts(ctx, id)
		if err != nil {
			s.log.WarnContext(ctx, "alerts: sightings", "indicator", id, "err", err)
			return nil
		}
		for _, c := range counts {
			if c.Kind != model.Sighted || c.Last.Before(from) || !slices.Contains(a.Orgs, c.Org) {
				continue
			}
			seen[c.Org] = true
			f := c.First
			if f.Before(from) {
				f = from
			}
			if first.IsZero() || f.Before(first) {
				first = f
			}
			if l := c.Last.Add(time.Hour); l.After(last) {
				last = l
			}
		}
	}
	var out []string
	for _, o := range a.Orgs {
		if seen[o] {
			out = append(out, o)
		}
	}
	if len(out) > 0 {
		if first.After(j.First) {
			j.First = first
		}
		if last.Before(j.Last) {
			j.Last = last
		}
	}
	return out
}

// listAlerts shows the campaign alerts the caller may see, newest first.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, "since", "limit"); err != nil {
		return err
	}
	since := s.now().Add(-30 * score.Day)
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := parseTime("since", v)
		if err != nil {
			return badRequest("%s", err.Error())
		}
		since = t
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit %q is not from 1 to 1000", clip(v))
		}
		limit = n
	}
	ctx := r.Context()
	as, err := s.st.ListAlerts(ctx, since, limit)
	if err != nil {
		return err
	}
	out := make([]AlertJSON, 0, len(as))
	for i := range as {
		ok, err := s.alertVisible(ctx, p, &as[i])
		if err != nil {
			return err
		}
		if ok {
			out = append(out, s.renderAlert(ctx, p, &as[i]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
	return nil
}

// RaiseCampaignAlerts looks at the sightings of the last window and raises
// an alert for each report, label or threat actor whose indicators at
// least minOrgs organisations sighted, unless one was raised for it within
// the window. It returns the alerts raised.
func (s *Server) RaiseCampaignAlerts(ctx context.Context, minOrgs int, window time.Duration) ([]model.Alert, error) {
	now := s.now().UTC()
	groups, err := s.st.SightingGroups(ctx, now.Add(-window))
	if err != nil {
		return nil, err
	}
	var raised []model.Alert
	for _, g := range groups {
		if len(g.Orgs) < minOrgs {
			continue
		}
		last, err := s.st.LastAlert(ctx, g.By, g.Key)
		switch {
		case err == nil && now.Sub(last.Raised) < window:
			continue
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return raised, err
		}
		a, err := s.st.CreateAlert(ctx, model.Alert{Kind: "campaign", By: g.By, Key: g.Key, Orgs: g.Orgs, Indicators: g.Indicators,
			First: g.First, Last: g.Last.Add(time.Hour), Raised: now, Window: window})
		if err != nil {
			return raised, err
		}
		raised = append(raised, a)
		// The entry names the alert only: its key (a threat actor, a
		// report) and counts may come from RED indicators and reports the
		// coordinator may not see; GET /alerts shows it what it may.
		_ = s.st.AppendAudit(ctx, model.AuditEntry{At: now, Actor: "hub", Action: "alert.campaign", Target: a.ID})
		// The coordinator's webhooks hear of an alert the coordinator may
		// see: one with at least one indicator it may see (as GET /alerts).
		if ids, err := s.visibleAlertIndicators(ctx, func(it policy.Item) bool { ok, _ := s.coordinatorSees(ctx, it); return ok }, a.Indicators); err == nil && len(ids) > 0 {
			s.emit(ctx, Event{Kind: EventCampaign, Payload: map[string]any{"alert": s.renderAlert(ctx, nil, &a)}})
		}
	}
	return raised, nil
}

// ExpireDecayed expires the live indicators whose score has fallen under
// the floor; they leave the stream as expiry events. It returns how many.
func (s *Server) ExpireDecayed(ctx context.Context) (int, error) {
	now := s.now().UTC()
	total := 0
	after := int64(0)
	var last int64
	for {
		inds, err := s.st.ScanIndicators(ctx, after, 2000, false)
		if err != nil {
			return total, err
		}
		if len(inds) == 0 {
			break
		}
		after = inds[len(inds)-1].Seq
		scores, err := s.Scores(ctx, inds, now)
		if err != nil {
			return total, err
		}
		var ids []string
		for _, ind := range inds {
			if r := scores[ind.ID]; r.Expired {
				ids = append(ids, ind.ID)
			}
		}
		n, err := s.st.ExpireNow(ctx, ids, now)
		if err != nil {
			return total, err
		}
		total += n
		if len(inds) < 2000 {
			break
		}
	}
	if total > 0 {
		if seq, err := s.st.LastSeq(ctx); err == nil {
			last = seq
		}
		s.audit(ctx, nil, "indicator.expire-decayed", "", fmt.Sprintf("%d indicators expired by decay", total))
		if s.notify != nil && last > 0 {
			s.notify.Notify(ctx, last)
		}
	}
	return total, nil
}

// announceNew tells the event sink of newly created indicators, with their
// score (so that webhooks can ask for a minimum). Nothing is done without
// a sink.
func (s *Server) announceNew(ctx context.Context, sub *model.Submission, id string) {
	if s.events == nil {
		return
	}
	wanted, minScore := s.events.Wants(ctx, EventNew)
	if !wanted {
		return
	}
	recs, err := s.sourceRecords(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "events: source records", "err", err)
		return
	}
	rec := recs[sub.Source]
	now := s.now().UTC()
	r := score.Compute(s.signal.Score, score.Facts{Type: sub.Type, Labels: sub.Labels, Stated: sub.Confidence,
		Source: score.Record{Confirmed: rec.Confirmed, FalsePositive: rec.FalsePositive}, Active: now, Now: now})
	if r.Score < minScore {
		return
	}
	// Webhooks are the coordinator's: they receive only what the
	// coordinator may see.
	if ok, err := s.coordinatorSees(ctx, policy.Item{Source: sub.Source, TLP: sub.TLP, Audience: sub.Audience}); err != nil || !ok {
		if err != nil {
			s.log.WarnContext(ctx, "events: the coordinator's view", "err", err)
		}
		return
	}
	s.emit(ctx, Event{Kind: EventNew, Score: r.Score, Payload: map[string]any{"score": scoreJSON(r),
		"indicator": map[string]any{"id": id, "type": sub.Type, "value": sub.Value, "tlp": sub.TLP, "labels": nonNil(sub.Labels),
			"description": sub.Description, "confidence": sub.Confidence}}})
}

// coordinatorSees says whether a coordinator organisation may see item
// (events for webhooks carry only that).
func (s *Server) coordinatorSees(ctx context.Context, item policy.Item) (bool, error) {
	vs, err := s.coordinatorViewers(ctx)
	if err != nil {
		return false, err
	}
	if item.Audience.Kind == policy.Group && item.GroupMembers == nil {
		g, err := s.st.Group(ctx, item.Audience.Group)
		if err != nil {
			return false, err
		}
		item.GroupMembers = g.Members
	}
	for _, v := range vs {
		if policy.CanSee(v, item) {
			return true, nil
		}
	}
	return false, nil
}

// coordinatorViewers are the viewers of the coordinator organisations,
// read at most every 10 seconds.
func (s *Server) coordinatorViewers(ctx context.Context) ([]policy.Viewer, error) {
	s.coord.mu.Lock()
	defer s.coord.mu.Unlock()
	if s.coord.viewers != nil && s.now().Sub(s.coord.at) < 10*time.Second {
		return s.coord.viewers, nil
	}
	orgs, err := s.st.ListOrgs(ctx)
	if err != nil {
		return nil, err
	}
	vs := []policy.Viewer{}
	for _, o := range orgs {
		if o.Kind != policy.Coordinator || o.Revoked {
			continue
		}
		v, err := s.st.Viewer(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	s.coord.viewers, s.coord.at = vs, s.now()
	return vs, nil
}

// coordinatorCache holds coordinatorViewers' answer.
type coordinatorCache struct {
	mu      sync.Mutex
	at      time.Time
	viewers []policy.Viewer
}

// wants says whether the event sink wants events of kind.
func (s *Server) wants(ctx context.Context, kind string) bool {
	if s.events == nil {
		return false
	}
	ok, _ := s.events.Wants(ctx, kind)
	return ok
}
