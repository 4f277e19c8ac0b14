package api

import (
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
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

// How the hub looks to a MISP tool (docs/MISP.md, "REST API"):
//   - a report is an event whose uuid is the report id;
//   - the indicators a viewer may see that belong to no report it may see
//     are the attributes of one "virtual" event per organisation they are
//     shown as coming from (the anonymous ones of one more), with a
//     deterministic UUIDv5;
//   - MISP's numeric ids are derived from the uuids (mispNumericID), so
//     they are stable and need no table.

// mispNamespace is the namespace of the uuids the MISP API derives.
var mispNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:hdn:misp-api"))

// anonymousKey is the organisation key of the virtual event of anonymous
// indicators.
const anonymousKey = "anonymous"

// Bounds of what one MISP request reads and answers.
const (
	// mispMaxPage is the largest limit= of a search.
	mispMaxPage = 10_000
	// mispMaxResults bounds the attributes (or index entries) of one
	// answer without limit=, and the attributes of one event.
	mispMaxResults = 100_000
	// mispReportCache bounds the reports a request remembers.
	mispReportCache = 10_000
)

// mispNumericID is MISP's numeric id for a uuid (or another key), as a
// string: a number from 1 to 2³¹−1 derived from the key, stable across
// requests and restarts. Different keys may, rarely, share a number; uuids
// are the identifiers to rely on.
func mispNumericID(key string) string {
	if key == "" {
		return ""
	}
	sum := sha1.Sum([]byte("hdn:misp-id:" + key))
	n := binary.BigEndian.Uint32(sum[:4]) & 0x7fffffff
	if n == 0 {
		n = 1
	}
	return strconv.FormatUint(uint64(n), 10)
}

// virtualEventUUID is the uuid of the virtual event of an organisation key
// (an organisation id, or anonymousKey).
func virtualEventUUID(orgKey string) string {
	return uuid.NewSHA1(mispNamespace, []byte("hdn:org-event:"+orgKey)).String()
}

// orgUUID is the MISP uuid of a hub organisation: its id when that is a
// UUID (the store's ids are), else one derived from it.
func orgUUID(id string) string {
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 {
		return u.String()
	}
	return uuid.NewSHA1(mispNamespace, []byte("hdn:org:"+id)).String()
}

// mispView answers one request: it caches what the request looks up and
// decides what the viewer is shown.
type mispView struct {
	s       *Server
	p       *Principal
	ctx     context.Context
	now     time.Time
	reports map[string]*model.Report // nil: absent or not visible
	groups  map[string]model.Group
	// asPublished shows every anonymous item as anonymous, also to a
	// viewer who may know its source (the coordinator, the source, its
	// partner): what such a viewer writes into a feed to publish must not
	// name them (hdn export misp-feed).
	asPublished bool
}

func (s *Server) newMISPView(ctx context.Context, p *Principal) *mispView {
	return &mispView{s: s, p: p, ctx: ctx, now: s.now().UTC(), reports: map[string]*model.Report{}, groups: map[string]model.Group{}}
}

// report returns a report the viewer may see, or nil. What it keeps is
// the report without narrative and context, which only a rendering of the
// report's own event needs.
func (v *mispView) report(id string) (*model.Report, error) {
	if r, ok := v.reports[id]; ok {
		return r, nil
	}
	rep, err := v.fullReport(id)
	if err != nil || rep == nil {
		return nil, err
	}
	rep.Narrative, rep.Context = "", nil
	if len(v.reports) >= mispReportCache {
		clear(v.reports)
	}
	v.reports[id] = rep
	return rep, nil
}

// fullReport reads a report the viewer may see, or nil.
func (v *mispView) fullReport(id string) (*model.Report, error) {
	rep, err := v.s.st.Report(v.ctx, v.p.Viewer, id)
	if errors.Is(err, store.ErrNotFound) {
		v.reports[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !policy.CanSee(v.p.Viewer, rep.PolicyItem()) {
		v.s.log.ErrorContext(v.ctx, "store returned a report the policy hides; withheld", "report", rep.ID, "org", v.p.Org.ID)
		v.reports[id] = nil
		return nil, nil
	}
	return &rep, nil
}

// hubOrg is the organisation that holds every event here: the hub.
func (v *mispView) hubOrg() misp.Org {
	return misp.Org{ID: mispNumericID("hub:" + v.s.hubName), Name: v.s.hubName, UUID: uuid.NewSHA1(mispNamespace, []byte("hdn:hub:"+v.s.hubName)).String()}
}

// orgOf is a hub organisation as MISP names it.
func (v *mispView) orgOf(id string) misp.Org {
	return misp.Org{ID: mispNumericID("org:" + id), Name: v.s.orgs.name(v.ctx, id), UUID: orgUUID(id)}
}

// anonOrg stands for a source the viewer may not know.
func (v *mispView) anonOrg() misp.Org {
	return misp.Org{ID: mispNumericID("org:" + anonymousKey), Name: AnonymousSource, UUID: uuid.NewSHA1(mispNamespace, []byte("hdn:org:"+anonymousKey)).String()}
}

// shown is the organisation the viewer is shown as the source of an item,
// with its key: the source's id, or anonymousKey when the item is anonymous
// and the viewer may not know its source (or asks for it as published).
func (v *mispView) shown(source, submitter string, anonymous bool) (string, misp.Org) {
	if anonymous && (v.asPublished || !policy.SeesTrueSource(v.p.Viewer, source, submitter)) {
		return anonymousKey, v.anonOrg()
	}
	return source, v.orgOf(source)
}

// mispEventRef is an event the viewer may see: a report, or the virtual
// event of the indicators shown as coming from one organisation.
type mispEventRef struct {
	uuid   string
	report *model.Report // nil for a virtual event
	orgKey string        // virtual: the organisation key
	orgc   misp.Org
	// virtual holds a virtual event's summary, when known.
	virtual *virtualGroup
}

func (e *mispEventRef) id() string { return mispNumericID(e.uuid) }

func (e *mispEventRef) info() string {
	if e.report != nil {
		return e.report.Title
	}
	return virtualInfo(e.orgKey, e.orgc.Name)
}

func virtualInfo(orgKey, name string) string {
	if orgKey == anonymousKey {
		return "Indicators shared anonymously, without a report"
	}
	return "Indicators shared by " + name + ", without a report"
}

func (v *mispView) reportRef(rep *model.Report) *mispEventRef {
	_, orgc := v.shown(rep.Source, rep.SubmittedBy, rep.Anonymous)
	return &mispEventRef{uuid: rep.ID, report: rep, orgc: orgc}
}

func (v *mispView) virtualRef(orgKey string, orgc misp.Org) *mispEventRef {
	return &mispEventRef{uuid: virtualEventUUID(orgKey), orgKey: orgKey, orgc: orgc}
}

// eventOf is the event an indicator belongs to for the viewer: its report
// when the viewer may see the report, else the virtual event of its shown
// source.
func (v *mispView) eventOf(ind *model.Indicator) (*mispEventRef, error) {
	if ind.ReportID != "" {
		rep, err := v.report(ind.ReportID)
		if err != nil {
			return nil, err
		}
		if rep != nil {
			return v.reportRef(rep), nil
		}
	}
	key, orgc := v.shown(ind.Source, ind.SubmittedBy, ind.Anonymous)
	return v.virtualRef(key, orgc), nil
}

// scan pages through the indicators the viewer may see for q, checking the
// policy once more for each; fn returns false to stop.
func (v *mispView) scan(q store.Query, fn func(ind *model.Indicator) (bool, error)) error {
	q.Limit, q.After = exportPage, 0
	for {
		inds, err := v.s.st.ListIndicators(v.ctx, v.p.Viewer, q)
		if err != nil {
			return err
		}
		for i := range inds {
			if !policy.CanSee(v.p.Viewer, inds[i].PolicyItem()) {
				v.s.log.ErrorContext(v.ctx, "store returned an indicator the policy hides; withheld", "indicator", inds[i].ID, "org", v.p.Org.ID)
				continue
			}
			more, err := fn(&inds[i])
			if err != nil || !more {
				return err
			}
		}
		if len(inds) < q.Limit {
			return nil
		}
		q.After = inds[len(inds)-1].Seq
		if err := v.ctx.Err(); err != nil {
			return err
		}
	}
}

// errTooMany says an answer would hold more than the bounds allow.
func errTooMany(what string) error {
	return mispBad("more than %d %s match; narrow the search or page through it with limit (at most %d) and page", mispMaxResults, what, mispMaxPage)
}

// reportIndicators lists the indicators of a report the viewer may see.
func (v *mispView) reportIndicators(reportID string, includeRevoked bool) ([]model.Indicator, error) {
	var out []model.Indicator
	err := v.scan(store.Query{ReportID: reportID, IncludeRevoked: includeRevoked}, func(ind *model.Indicator) (bool, error) {
		if ind.ReportID != reportID {
			return true, nil
		}
		if len(out) >= mispMaxResults {
			return false, errTooMany("attributes")
		}
		out = append(out, *ind)
		return true, nil
	})
	return out, err
}

// orphan says whether an indicator belongs to a virtual event for the
// viewer: it has no report, or none the viewer may see.
func (v *mispView) orphan(ind *model.Indicator) (bool, error) {
	if ind.ReportID == "" {
		return true, nil
	}
	rep, err := v.report(ind.ReportID)
	return rep == nil, err
}

// virtualIndicators lists the indicators of the virtual event of an
// organisation key.
func (v *mispView) virtualIndicators(orgKey string, includeRevoked bool) ([]model.Indicator, error) {
	var out []model.Indicator
	err := v.scan(store.Query{IncludeRevoked: includeRevoked}, func(ind *model.Indicator) (bool, error) {
		orphan, err := v.orphan(ind)
		if err != nil || !orphan {
			return err == nil, err
		}
		if key, _ := v.shown(ind.Source, ind.SubmittedBy, ind.Anonymous); key != orgKey {
			return true, nil
		}
		if len(out) >= mispMaxResults {
			return false, errTooMany("attributes")
		}
		out = append(out, *ind)
		return true, nil
	})
	return out, err
}

// virtualGroup sums up a virtual event.
type virtualGroup struct {
	orgKey            string
	orgc              misp.Org
	count             int        // attributes that are not deleted
	created, modified time.Time  // modified: the latest Changed of its indicators (its timestamp)
	tlp               policy.TLP // the least strict of its indicators
	allOrgs           bool       // every indicator has a list of organisations as audience
}

// virtualGroups finds the virtual events the viewer may see, in uuid order.
// It reads every indicator the viewer may see once.
func (v *mispView) virtualGroups(includeRevoked bool) ([]*virtualGroup, error) {
	groups := map[string]*virtualGroup{}
	err := v.scan(store.Query{IncludeRevoked: includeRevoked}, func(ind *model.Indicator) (bool, error) {
		orphan, err := v.orphan(ind)
		if err != nil || !orphan {
			return err == nil, err
		}
		key, orgc := v.shown(ind.Source, ind.SubmittedBy, ind.Anonymous)
		g := groups[key]
		if g == nil {
			g = &virtualGroup{orgKey: key, orgc: orgc, created: ind.Created, modified: ind.Changed(), tlp: ind.TLP, allOrgs: true}
			groups[key] = g
		}
		g.add(ind)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*virtualGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *virtualGroup) int {
		return cmp.Compare(virtualEventUUID(a.orgKey), virtualEventUUID(b.orgKey))
	})
	return out, nil
}

func (g *virtualGroup) add(ind *model.Indicator) {
	if !ind.Revoked {
		g.count++
	}
	if ind.Created.Before(g.created) {
		g.created = ind.Created
	}
	if c := ind.Changed(); c.After(g.modified) {
		g.modified = c
	}
	if slices.Index(policy.TLPs, ind.TLP) < slices.Index(policy.TLPs, g.tlp) {
		g.tlp = ind.TLP
	}
	if ind.Audience.Kind != policy.Orgs {
		g.allOrgs = false
	}
}

// groupOf sums up the indicators of a virtual event.
func groupOf(orgKey string, orgc misp.Org, inds []model.Indicator) *virtualGroup {
	g := &virtualGroup{orgKey: orgKey, orgc: orgc, tlp: DefaultTLP, allOrgs: true}
	for i := range inds {
		if i == 0 {
			g.created, g.modified, g.tlp = inds[i].Created, inds[i].Changed(), inds[i].TLP
		}
		g.add(&inds[i])
	}
	return g
}

// virtualReport is the report a virtual event is rendered from.
func virtualReport(g *virtualGroup) model.Report {
	r := model.Report{
		ID: virtualEventUUID(g.orgKey), Title: virtualInfo(g.orgKey, g.orgc.Name),
		TLP: g.tlp, Audience: policy.NetworkAudience(), Created: g.created, Modified: g.modified,
	}
	if g.allOrgs && g.count > 0 {
		r.Audience = policy.Audience{Kind: policy.Orgs}
	}
	return r
}

// virtualEventTag marks an event that is no report but a view of
// indicators without one.
const virtualEventTag = `hdn:event="without-report"`

// groupName names a hub sharing group for distribution "4".
func (v *mispView) groupName(id string) (string, string) {
	g, ok := v.groups[id]
	if !ok {
		var err error
		g, err = v.s.st.Group(v.ctx, id)
		if err != nil {
			g = model.Group{ID: id, Name: id}
		}
		v.groups[id] = g
	}
	return g.Name, orgUUID(g.ID)
}

// sightingCounts reads the sightings of indicators as the viewer may see
// them: who sighted, for the source and the coordinator; for everyone else
// one anonymous entry per organisation and kind.
func (v *mispView) sightingCounts(inds []model.Indicator) (map[string][]model.SightingCount, error) {
	out := make(map[string][]model.SightingCount, len(inds))
	for i := range inds {
		ind := &inds[i]
		counts, err := v.s.st.SightingCounts(v.ctx, ind.ID)
		if err != nil {
			return nil, err
		}
		if len(counts) == 0 {
			continue
		}
		if !policy.SeesSighters(v.p.Viewer, ind.Source) {
			slices.SortFunc(counts, func(a, b model.SightingCount) int {
				return cmp.Or(cmp.Compare(a.Kind, b.Kind), a.Last.Compare(b.Last), cmp.Compare(a.Count, b.Count))
			})
			for j := range counts {
				counts[j].Org = fmt.Sprintf("anonymous:%d", j+1)
			}
		}
		out[ind.ID] = counts
	}
	return out, nil
}

func (v *mispView) sightingOrg(orgID string) *misp.Org {
	if strings.HasPrefix(orgID, "anonymous:") {
		return nil
	}
	o := v.orgOf(orgID)
	return &o
}

// exportOptions are the options of misp.ExportEvent for the viewer.
func (v *mispView) exportOptions(orgc misp.Org, inds []model.Indicator, sightings bool) (misp.ExportOptions, error) {
	opt := misp.ExportOptions{
		Orgc: orgc, Org: v.hubOrg(), Published: true,
		NumericID: mispNumericID, GroupName: v.groupName,
	}
	if sightings {
		var err error
		if opt.Sightings, err = v.sightingCounts(inds); err != nil {
			return opt, err
		}
		opt.SightingOrg = v.sightingOrg
	}
	return opt, nil
}

// renderEvent renders an event with the given indicators (already read for
// the viewer). A report's event carries its narrative and context; a
// virtual event is marked with virtualEventTag.
func (v *mispView) renderEvent(ref *mispEventRef, inds []model.Indicator, sightings bool) (*misp.Event, error) {
	var rep model.Report
	if ref.report != nil {
		rep = *ref.report
	} else {
		g := ref.virtual
		if g == nil {
			g = groupOf(ref.orgKey, ref.orgc, inds)
		}
		rep = virtualReport(g)
	}
	opt, err := v.exportOptions(ref.orgc, inds, sightings)
	if err != nil {
		return nil, err
	}
	ev := misp.ExportEvent(rep, inds, opt)
	if ref.report == nil {
		ev.Tag = append(ev.Tag, misp.Tag{Name: virtualEventTag, Colour: "#004646", Exportable: true})
	}
	v.decorate(ev, ref, inds)
	return ev, nil
}

// decorate completes an exported event as MISP writes it: tag ids, object
// ids, and the hdn:source tag of an indicator shown as coming from another
// organisation than the event.
func (v *mispView) decorate(ev *misp.Event, ref *mispEventRef, inds []model.Indicator) {
	byID := make(map[string]*model.Indicator, len(inds))
	for i := range inds {
		byID[inds[i].ID] = &inds[i]
	}
	for i := range ev.Tag {
		ev.Tag[i].ID = mispNumericID("tag:" + ev.Tag[i].Name)
	}
	for i := range ev.Attribute {
		a := &ev.Attribute[i]
		if ind := byID[a.UUID]; ind != nil {
			v.sourceTag(a, ind, ref)
		}
		completeAttribute(a, ev.ID)
	}
}

// completeAttribute fills in the ids MISP writes on an attribute, its
// tags and its sightings.
func completeAttribute(a *misp.Attribute, eventID string) {
	a.EventID, a.ObjectID = eventID, "0"
	if a.ID == "" {
		a.ID = mispNumericID(a.UUID)
	}
	for j := range a.Tag {
		a.Tag[j].ID = mispNumericID("tag:" + a.Tag[j].Name)
	}
	for j := range a.Sighting {
		sg := &a.Sighting[j]
		sg.ID, sg.AttributeID, sg.EventID = mispNumericID(sg.UUID), a.ID, eventID
		if sg.Org != nil {
			sg.OrgID = sg.Org.ID
		}
	}
}

// sourceTagPrefix starts the tag that names the source of an indicator
// shown in an event of another organisation.
const sourceTagPrefix = `hdn:source="`

func (v *mispView) sourceTag(a *misp.Attribute, ind *model.Indicator, ref *mispEventRef) {
	_, src := v.shown(ind.Source, ind.SubmittedBy, ind.Anonymous)
	if src.UUID != ref.orgc.UUID {
		a.Tag = append(a.Tag, misp.Tag{Name: sourceTagPrefix + src.Name + `"`, Colour: "#004646", Exportable: true})
	}
}

// lookupEvent finds an event the viewer may see by uuid or numeric id (a
// trailing ".json" is ignored). nil when there is none.
func (v *mispView) lookupEvent(id string) (*mispEventRef, error) {
	id = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(id), ".json"))
	if id == "" || len(id) > 64 {
		return nil, nil
	}
	if _, err := uuid.Parse(id); err == nil && len(id) == 36 {
		rep, err := v.fullReport(id)
		if err != nil {
			return nil, err
		}
		if rep != nil {
			return v.reportRef(rep), nil
		}
		return v.lookupVirtual(func(key string) bool { return virtualEventUUID(key) == id })
	}
	if _, err := strconv.ParseUint(id, 10, 32); err != nil {
		return nil, nil
	}
	// A numeric id: MISP's own numbers are derived from uuids here, so the
	// reports the viewer may see are looked through.
	after := ""
	for {
		reps, err := v.s.st.ListReports(v.ctx, v.p.Viewer, after, 500)
		if err != nil {
			return nil, err
		}
		for i := range reps {
			if mispNumericID(reps[i].ID) == id && policy.CanSee(v.p.Viewer, reps[i].PolicyItem()) {
				return v.reportRef(&reps[i]), nil
			}
		}
		if len(reps) < 500 {
			break
		}
		after = reps[len(reps)-1].ID
	}
	return v.lookupVirtual(func(key string) bool { return mispNumericID(virtualEventUUID(key)) == id })
}

// lookupVirtual finds the virtual event whose organisation key is
// selected, when the viewer may see an indicator of it.
func (v *mispView) lookupVirtual(selected func(key string) bool) (*mispEventRef, error) {
	orgs, err := v.s.st.ListOrgs(v.ctx)
	if err != nil {
		return nil, err
	}
	keys := []string{anonymousKey}
	for _, o := range orgs {
		keys = append(keys, o.ID)
	}
	for _, k := range keys {
		if !selected(k) {
			continue
		}
		orgc := v.anonOrg()
		if k != anonymousKey {
			orgc = v.orgOf(k)
		}
		return v.virtualRef(k, orgc), nil
	}
	return nil, nil
}

// eventIndicators reads the indicators of an event for the viewer.
func (v *mispView) eventIndicators(ref *mispEventRef, includeRevoked bool) ([]model.Indicator, error) {
	if ref.report != nil {
		return v.reportIndicators(ref.report.ID, includeRevoked)
	}
	return v.virtualIndicators(ref.orgKey, includeRevoked)
}

// eachEvent calls fn for every event the viewer may see: the reports in id
// order, then the virtual events in uuid order. fn returns false to stop.
func (v *mispView) eachEvent(includeRevoked bool, fn func(ref *mispEventRef) (bool, error)) error {
	const page = 100
	after := ""
	for {
		reps, err := v.s.st.ListReports(v.ctx, v.p.Viewer, after, page)
		if err != nil {
			return err
		}
		for i := range reps {
			if !policy.CanSee(v.p.Viewer, reps[i].PolicyItem()) {
				v.s.log.ErrorContext(v.ctx, "store returned a report the policy hides; withheld", "report", reps[i].ID, "org", v.p.Org.ID)
				continue
			}
			more, err := fn(v.reportRef(&reps[i]))
			if err != nil || !more {
				return err
			}
		}
		if len(reps) < page {
			break
		}
		after = reps[len(reps)-1].ID
		if err := v.ctx.Err(); err != nil {
			return err
		}
	}
	groups, err := v.virtualGroups(includeRevoked)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.count == 0 && !includeRevoked {
			continue
		}
		ref := v.virtualRef(g.orgKey, g.orgc)
		ref.virtual = g
		more, err := fn(ref)
		if err != nil || !more {
			return err
		}
	}
	return nil
}
