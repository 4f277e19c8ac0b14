package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// MISPImportOptions tune ImportMISPEvent.
type MISPImportOptions struct {
	// DefaultTLP is the level of an event without a tlp: tag (zero:
	// DefaultTLP).
	DefaultTLP policy.TLP
	// Override stores values that a refusing warninglist would stop; only
	// a coordinator may ask for it.
	Override bool
	// Origin says where the event came from, for the audit log ("MISP API",
	// "feed TweetFeed").
	Origin string
	// OwnCopy: when the event's uuid names another organisation's report,
	// store p's copy as a report of its own, with an id derived from p's
	// organisation and the event's uuid (OwnCopyID), instead of refusing.
	// Feeds ask for it: two organisations may well follow the same public
	// feed. It never tells p whether that other report exists.
	OwnCopy bool
	// MaxAttributes refuses a larger event (413); zero:
	// misp.DefaultMaxAttributes. A client's event is bounded like a
	// submission (Limits.MaxItems); a feed the operator chose is not.
	MaxAttributes int
}

// ownCopyNamespace derives the ids of organisations' own copies of events.
var ownCopyNamespace = uuid.MustParse("6f1d3a52-8c1e-4f7a-9b0d-2f5c7e8a9b10")

// OwnCopyID is the id of an organisation's own copy of a MISP event whose
// uuid another organisation's report has.
func OwnCopyID(orgID, eventUUID string) string {
	return uuid.NewSHA1(ownCopyNamespace, []byte(orgID+"/"+eventUUID)).String()
}

// MISPImportResult says what ImportMISPEvent did.
type MISPImportResult struct {
	// ReportID is the report the event became (the event's uuid).
	ReportID string
	// Created, Updated and Rejected count the indicators; Context the
	// context attributes kept with the report; Revoked the indicators of
	// an updated report that the event no longer carries as detection
	// attributes (deleted, to_ids false, or gone), now revoked.
	Created, Updated, Rejected, Context, Revoked int
	// Results has one entry per indicator of the event, in event order
	// (Index counts them from 0).
	Results []ItemResult
	// Problems lists what of the event could not be used as given
	// (misp.Problem, as text).
	Problems []string
	// LastSeq is the change sequence of the last indicator stored (0 when
	// none).
	LastSeq int64
}

// ImportMISPEvent stores one MISP event as p's: the event becomes a report
// (its uuid the report id), its detection attributes indicators with the
// report set and the attribute uuid as their id, checked as every native
// submission is (canonical forms, TLP and audience, warninglists), its
// other attributes the report's context, and its sightings p's sightings.
//
// An event whose uuid names a report of another organisation is refused
// (409); one of p's own (or, for the coordinator, anyone's) is updated:
// the indicators are upserted and, in the same transaction, p's indicators
// of the report that the event no longer carries as detection attributes
// (deleted, to_ids false, gone) are revoked; then the report is replaced.
// An attribute refused this time keeps the indicator of its uuid as it is.
// An error of type *Error is the client's; any other is the hub's.
func (s *Server) ImportMISPEvent(ctx context.Context, p *Principal, ev *misp.Event, opt MISPImportOptions) (MISPImportResult, error) {
	var res MISPImportResult
	if ev == nil {
		return res, errf(http.StatusBadRequest, CodeInvalidValue, "no MISP event given")
	}
	if !p.Key.Role.CanSubmit() {
		return res, forbidden("a %s key may not add events", p.Key.Role)
	}
	if opt.Override && p.Org.Kind != policy.Coordinator {
		return res, forbidden("overriding warninglists is for the coordinator only")
	}
	if opt.DefaultTLP == "" {
		opt.DefaultTLP = DefaultTLP
	}
	if opt.Origin == "" {
		opt.Origin = "MISP"
	}
	now := s.now().UTC()
	im, err := misp.Import(ev, misp.ImportOptions{DefaultTLP: opt.DefaultTLP, Now: now, MaxAttributes: opt.MaxAttributes})
	switch {
	case errors.Is(err, misp.ErrNoInfo):
		return res, errf(http.StatusBadRequest, CodeInvalidValue, "the event has no info (its title)")
	case errors.Is(err, misp.ErrTooManyAttributes):
		return res, errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "%s", err.Error())
	case err != nil:
		return res, errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
	}
	if im.Report.ID != "" {
		// The uuids of the virtual events (an organisation's indicators
		// without a report, and the anonymous ones) are the hub's: an event
		// of the same uuid would stand beside one, or in for one, in every
		// organisation's searches and feeds.
		reserved, err := s.virtualEventUUIDs(ctx)
		if err != nil {
			return res, internalError{err}
		}
		if reserved[strings.ToLower(im.Report.ID)] {
			return res, errf(http.StatusBadRequest, CodeInvalidValue, "the event's uuid %s is the hub's own (the event of an organisation's indicators without a report); send the event without a uuid, or with another", im.Report.ID)
		}
	}
	if im.Report.ID == "" {
		if strings.TrimSpace(ev.UUID) != "" {
			return res, errf(http.StatusBadRequest, CodeInvalidValue, "the event's uuid %q is not a UUID", clip(ev.UUID))
		}
		// MISP gives an event sent without a uuid a new one.
		im.Report.ID = uuid.NewString()
	}
	im.SetSource(p.Org.ID, p.Org.ID)
	var groupErr error
	rs := newResolver(s, p)
	im.ResolveGroups(func(ref, name string) (string, bool) {
		for _, k := range []string{ref, name} {
			if k == "" {
				continue
			}
			g, err := rs.group(ctx, k)
			if err == nil {
				return g.ID, true
			}
			if isInternal(err) && groupErr == nil {
				groupErr = err
			}
		}
		return "", false
	})
	if groupErr != nil {
		return res, groupErr
	}
	for _, pr := range im.Problems {
		res.Problems = append(res.Problems, pr.String())
	}

	// The report: a new one, or an update of p's own.
	existing, err := s.st.ReportByID(ctx, im.Report.ID)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, internalError{err}
	}
	curates := func() (bool, error) { return s.curatesReport(ctx, p, existing, im.Report) }
	if exists && opt.OwnCopy {
		ok, err := curates()
		if err != nil {
			return res, internalError{err}
		}
		if !ok {
			im.Report.ID = OwnCopyID(p.Org.ID, im.Report.ID)
			existing, err = s.st.ReportByID(ctx, im.Report.ID)
			exists = err == nil
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return res, internalError{err}
			}
		}
	}
	if exists {
		ok, err := curates()
		if err != nil {
			return res, internalError{err}
		}
		if !ok {
			if canCurate(p, existing.Source) && !sourceSide(p, existing.Source) {
				if seen, err := s.curatesReport(ctx, p, existing, existing); err != nil {
					return res, internalError{err}
				} else if seen {
					return res, errf(http.StatusForbidden, CodeForbidden, "event %s: only the organisation that shared it may share it more openly or with others (its TLP is %s)", im.Report.ID, existing.TLP)
				}
			}
			return res, errf(http.StatusConflict, CodeConflict, "an event with uuid %s exists and belongs to another organisation", im.Report.ID)
		}
	}
	rep := im.Report
	rep.Title, rep.Narrative, rep.ThreatActor, rep.Campaign = asText(rep.Title), asText(rep.Narrative), asText(rep.ThreatActor), asText(rep.Campaign)
	if err := policy.CheckAudience(rep.TLP, rep.Audience); err != nil {
		return res, errf(http.StatusBadRequest, CodeInvalidValue, "the event's sharing: %s", err.Error())
	}

	// Every indicator through the checks of a native submission.
	var (
		subs     []model.Submission
		subIndex []int
		refused  []string // the attribute uuids of the indicators refused
	)
	for i := range im.Indicators {
		ii := &im.Indicators[i]
		it := submitItemOf(&ii.Sub)
		it.OverrideWarninglists = opt.Override
		r := ItemResult{Index: i, Type: string(ii.Sub.Type), Value: ii.Sub.Value}
		sub, hits, verr := rs.validate(ctx, &it, now)
		r.Warninglists = hits
		if verr != nil {
			if isInternal(verr) {
				return res, verr
			}
			r.Status, r.Error = "rejected", itemError(verr)
			res.Rejected++
			if ii.Sub.ID != "" {
				refused = append(refused, ii.Sub.ID)
			}
		} else {
			sub.Source, sub.SubmittedBy = ii.Sub.Source, ii.Sub.SubmittedBy
			sub.ReportID, sub.ID = rep.ID, ii.Sub.ID
			subs = append(subs, sub)
			subIndex = append(subIndex, i)
		}
		res.Results = append(res.Results, r)
	}

	// Sightings of an update are those after the report's last change, so
	// that importing the same event again does not count them twice.
	var since time.Time
	rep.Created, rep.Modified = now, now
	if !exists {
		_, err := s.st.CreateReport(ctx, rep)
		switch {
		case errors.Is(err, store.ErrConflict):
			// The same event was added at the same time (a feed run and
			// an upload): the later one updates what the first created,
			// if it may.
			existing, err = s.st.ReportByID(ctx, rep.ID)
			if err != nil {
				return res, internalError{err}
			}
			if ok, err := curates(); err != nil {
				return res, internalError{err}
			} else if !ok {
				return res, errf(http.StatusConflict, CodeConflict, "an event with uuid %s exists and belongs to another organisation", rep.ID)
			}
			exists = true
		case err != nil:
			return res, internalError{err}
		}
	}
	if exists {
		since = existing.Modified
		rep.Source, rep.SubmittedBy, rep.Anonymous, rep.Created = existing.Source, existing.SubmittedBy, existing.Anonymous, existing.Created
	}
	res.ReportID, res.Context = rep.ID, len(rep.Context)

	stored := map[string]string{} // attribute uuid, or type+value → indicator id
	each := func(k int, ur store.UpsertResult) {
		r := &res.Results[subIndex[k]]
		r.Status, r.ID = string(ur.Status), ur.ID
		switch ur.Status {
		case store.StatusCreated:
			res.Created++
		default:
			res.Updated++
		}
		sub := &subs[k]
		if sub.ID != "" {
			stored[sub.ID] = ur.ID
		}
		stored[string(sub.Type)+"\x00"+sub.Value] = ur.ID
	}
	switch {
	case exists:
		// A new version of the event: what it still carries, and the
		// revocation of what it no longer does, in one transaction, so
		// that a failure leaves the old version whole (and a feed tries
		// it again); the report after it, so that a failure there leaves
		// the indicators of the new version, and the next import the
		// report.
		revoked, last, err := s.storeEventVersion(ctx, subs, rep.ID, p.Org.ID, refused, now, each)
		if err != nil {
			return res, internalError{err}
		}
		res.Revoked, res.LastSeq = len(revoked), last
		if _, err := s.st.UpdateReport(ctx, rep); err != nil {
			if s.notify != nil && last > 0 {
				s.notify.Notify(ctx, last) // the indicators are stored: streams need not wait
			}
			return res, internalError{err}
		}
	case len(subs) > 0:
		last, err := s.store(ctx, subs, each)
		if err != nil {
			return res, internalError{err}
		}
		res.LastSeq = last
	}

	if err := s.importMISPSightings(ctx, p, im.Sightings, stored, since, now); err != nil {
		return res, err
	}
	s.audit(ctx, p, "misp.event.import", rep.ID, fmt.Sprintf("%s: %q: %d created, %d updated, %d revoked, %d rejected, %d context, %d problems",
		opt.Origin, clip(rep.Title), res.Created, res.Updated, res.Revoked, res.Rejected, res.Context, len(res.Problems)))
	if s.notify != nil && res.LastSeq > 0 {
		s.notify.Notify(ctx, res.LastSeq)
	}
	return res, nil
}

// storeEventVersion stores the indicators of a new version of report
// reportID and revokes, in the same transaction, the live indicators of
// the report from source that it no longer carries: those neither stored
// now nor named in keep. each sees every upsert, once committed. It
// returns what was revoked and the newest change sequence written.
func (s *Server) storeEventVersion(ctx context.Context, subs []model.Submission, reportID, source string, keep []string, now time.Time,
	each func(k int, ur store.UpsertResult)) ([]store.Revoked, int64, error) {
	ing, err := s.beginIngest(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer ing.Rollback()
	urs := make([]store.UpsertResult, 0, len(subs))
	kept := slices.Clone(keep)
	for start := 0; start < len(subs); start += putChunk {
		part, err := ing.Put(ctx, subs[start:min(start+putChunk, len(subs))])
		if err != nil {
			return nil, 0, err
		}
		for _, ur := range part {
			kept = append(kept, ur.ID)
		}
		urs = append(urs, part...)
	}
	revoked, err := ing.RevokeReportExcept(ctx, reportID, source, kept, now)
	if err != nil {
		return nil, 0, err
	}
	if err := ing.Commit(); err != nil {
		return nil, 0, err
	}
	var (
		last    int64
		created []newIndicator
	)
	for k, ur := range urs {
		each(k, ur)
		last = max(last, ur.Seq)
		if ur.Status == store.StatusCreated && !ur.Quarantined { // a quarantined one is not in use
			created = append(created, newIndicator{k, ur.ID})
		}
	}
	for _, r := range revoked {
		last = max(last, r.Seq)
	}
	s.announceAll(ctx, subs, created)
	return revoked, last, nil
}

// submitItemOf writes an imported submission as a client's item, so that
// it passes the same validation as a native one.
func submitItemOf(sub *model.Submission) SubmitItem {
	conf := sub.Confidence
	it := SubmitItem{
		Type: string(sub.Type), Value: sub.Value, TLP: string(sub.TLP),
		Labels: sub.Labels, Description: sub.Description, Confidence: &conf, Tags: sub.Tags,
		Anonymous: sub.Anonymous,
	}
	switch sub.Audience.Kind {
	case policy.Group:
		it.Audience = &AudienceJSON{Group: sub.Audience.Group}
	case policy.Orgs:
		it.Audience = &AudienceJSON{Orgs: sub.Audience.Orgs}
		if it.Audience.Orgs == nil {
			it.Audience.Orgs = []string{}
		}
	default:
		it.Audience = &AudienceJSON{Network: true}
	}
	if !sub.ValidFrom.IsZero() {
		it.ValidFrom = sub.ValidFrom.UTC().Format(time.RFC3339Nano)
	}
	if !sub.ValidUntil.IsZero() {
		it.ValidUntil = sub.ValidUntil.UTC().Format(time.RFC3339Nano)
	}
	return it
}

// importMISPSightings stores the sightings of an imported event as the
// importer's, by the hour, for the indicators that were stored; with since
// set, only those after it.
func (s *Server) importMISPSightings(ctx context.Context, p *Principal, sightings []misp.ImportedSighting, stored map[string]string, since, now time.Time) error {
	type key struct {
		ind  string
		kind model.SightingKind
		hour time.Time
	}
	counts := map[key]int64{}
	var order []key
	for _, sg := range sightings {
		id := stored[sg.AttributeUUID]
		if sg.AttributeUUID == "" || id == "" {
			id = stored[string(sg.Type)+"\x00"+sg.Value]
		}
		if id == "" || sg.At.After(now.Add(time.Hour)) || (!since.IsZero() && !sg.At.After(since)) {
			continue
		}
		k := key{id, sg.Kind, sg.At.UTC().Truncate(time.Hour)}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	if len(order) == 0 {
		return nil
	}
	out := make([]model.Sighting, 0, len(order))
	for _, k := range order {
		out = append(out, model.Sighting{IndicatorID: k.ind, Org: p.Org.ID, Kind: k.kind, Hour: k.hour, Count: counts[k]})
	}
	for start := 0; start < len(out); start += maxSightings {
		if err := s.st.AddSightings(ctx, out[start:min(start+maxSightings, len(out))]); err != nil {
			return internalError{err}
		}
	}
	return nil
}

// mispEventAdd is POST /events/add: MISP JSON in, the stored event out, as
// the caller now sees it. An hdn member beside "Event" says what became of
// every attribute that was not stored, and what of the event could not be
// used as given.
func (s *Server) mispEventAdd(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if !p.Key.Role.CanSubmit() {
		return mispForbidden("")
	}
	override := false
	if v := r.URL.Query().Get("override_warninglists"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return mispBad("override_warninglists=%q must be true or false", clip(v))
		}
		override = b
	}
	metadata := strings.Contains(r.PathValue("opts"), "metadata:1")
	body, err := s.readBody(w, r, s.limits.MaxBodyBytes)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return mispBad("The request body is empty: send a MISP event as JSON, {\"Event\": {…}}")
	}
	ev, err := misp.ParseEvent(body)
	if err != nil {
		return mispBad("Invalid event: %s", err.Error())
	}
	ctx := r.Context()
	res, err := s.ImportMISPEvent(ctx, p, ev, MISPImportOptions{DefaultTLP: DefaultTLP, Override: override, Origin: "MISP API", MaxAttributes: s.limits.MaxItems})
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			return mispBad("Event could not be saved: %s", ae.Message)
		}
		return err
	}
	v := s.newMISPView(ctx, p)
	ref, err := v.lookupEvent(res.ReportID)
	if err != nil {
		return err
	}
	if ref == nil {
		// p shared it so narrowly that p's own key cannot see it: only
		// possible for a coordinator editing another organisation's event.
		return mispNotFound("Invalid event")
	}
	var inds []model.Indicator
	if !metadata {
		if inds, err = v.eventIndicators(ref, false); err != nil {
			return err
		}
	}
	out, err := v.renderEvent(ref, inds, false)
	if err != nil {
		return err
	}
	var notStored []ItemResult
	for _, it := range res.Results {
		if it.Status == "rejected" || len(it.Warninglists) > 0 {
			notStored = append(notStored, it)
		}
	}
	writeMISPJSON(w, http.StatusOK, map[string]any{
		"Event": out,
		"hdn": map[string]any{
			"created": res.Created, "updated": res.Updated, "revoked": res.Revoked, "rejected": res.Rejected, "context": res.Context,
			"results": nonNilResults(notStored), "problems": nonNil(res.Problems),
		},
	})
	return nil
}

func nonNilResults(r []ItemResult) []ItemResult {
	if r == nil {
		return []ItemResult{}
	}
	return r
}

// virtualEventUUIDs are the uuids of the virtual events, every
// organisation's and the anonymous one.
func (s *Server) virtualEventUUIDs(ctx context.Context) (map[string]bool, error) {
	orgs, err := s.st.ListOrgs(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(orgs)+1)
	out[virtualEventUUID(anonymousKey)] = true
	for _, o := range orgs {
		out[virtualEventUUID(o.ID)] = true
	}
	return out, nil
}
