package api

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/export"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

// mispEventView is GET /events/view/{id}: one event by uuid or numeric id,
// with its attributes and their sightings as the viewer may see them.
// POST takes {"deleted": 1} to include revoked indicators as deleted
// attributes, as PyMISP's get_event(deleted=True) sends.
func (s *Server) mispEventView(w http.ResponseWriter, r *http.Request, p *Principal) error {
	params := mispParams{}
	if r.Method == http.MethodPost {
		var err error
		if params, err = s.readMISPParams(w, r); err != nil {
			return err
		}
	}
	deleted, _, err := params.boolean("deleted")
	if err != nil {
		return err
	}
	v := s.newMISPView(r.Context(), p)
	ref, err := v.lookupEvent(r.PathValue("id"))
	if err != nil {
		return err
	}
	if ref == nil {
		return mispNotFound("Invalid event")
	}
	inds, err := v.eventIndicators(ref, deleted)
	if err != nil {
		return err
	}
	if ref.report == nil && len(inds) == 0 {
		return mispNotFound("Invalid event")
	}
	ev, err := v.renderEvent(ref, inds, true)
	if err != nil {
		return err
	}
	writeMISPJSON(w, http.StatusOK, misp.Wrap(ev))
	return nil
}

// mispIndexEvent is one entry of the event index: an event without its
// attributes, as MISP's /events/index lists it.
type mispIndexEvent struct {
	ID                 string         `json:"id"`
	OrgID              string         `json:"org_id"`
	Date               string         `json:"date"`
	Info               string         `json:"info"`
	UUID               string         `json:"uuid"`
	Published          bool           `json:"published"`
	Analysis           string         `json:"analysis"`
	AttributeCount     string         `json:"attribute_count"`
	OrgcID             string         `json:"orgc_id"`
	Timestamp          string         `json:"timestamp"`
	Distribution       string         `json:"distribution"`
	SharingGroupID     string         `json:"sharing_group_id"`
	ProposalEmailLock  bool           `json:"proposal_email_lock"`
	Locked             bool           `json:"locked"`
	ThreatLevelID      string         `json:"threat_level_id"`
	PublishTimestamp   string         `json:"publish_timestamp"`
	SightingTimestamp  string         `json:"sighting_timestamp"`
	DisableCorrelation bool           `json:"disable_correlation"`
	ExtendsUUID        string         `json:"extends_uuid"`
	Org                misp.Org       `json:"Org"`
	Orgc               misp.Org       `json:"Orgc"`
	EventTag           []mispEventTag `json:"EventTag"`
}

// mispEventTag is a tag of an event in the index.
type mispEventTag struct {
	ID      string   `json:"id"`
	EventID string   `json:"event_id"`
	TagID   string   `json:"tag_id"`
	Local   bool     `json:"local"`
	Tag     misp.Tag `json:"Tag"`
}

// mispSlimEvent is an index entry with "minimal": true.
type mispSlimEvent struct {
	ID                string `json:"id"`
	Timestamp         string `json:"timestamp"`
	SightingTimestamp string `json:"sighting_timestamp"`
	Published         bool   `json:"published"`
	UUID              string `json:"uuid"`
	OrgcUUID          string `json:"orgc_uuid"`
}

// mispEventFilter holds the filters on events of the index and of
// events/restSearch.
type mispEventFilter struct {
	eventid, uuid, info, org, tags *mispFilter
	published                      *bool
	tsFrom, tsTo                   time.Time // event timestamp (last change)
	dateFrom, dateTo               time.Time // event date (created)
}

func readEventFilter(params mispParams, now time.Time, index bool) (*mispEventFilter, error) {
	f := &mispEventFilter{}
	var err error
	if f.eventid, err = params.filter("eventid"); err != nil {
		return nil, err
	}
	if f.info, err = params.filter("eventinfo"); err != nil {
		return nil, err
	}
	if f.org, err = params.filter("org"); err != nil {
		return nil, err
	}
	if b, set, err := params.boolean("published"); err != nil {
		return nil, err
	} else if set {
		f.published = &b
	}
	if f.tsFrom, f.tsTo, err = params.timeRange("timestamp", now); err != nil {
		return nil, err
	}
	if last, _, err := params.timeRange("last", now); err != nil {
		return nil, err
	} else if last.After(f.tsFrom) {
		f.tsFrom = last
	}
	if pub, _, err := params.timeRange("publish_timestamp", now); err != nil {
		return nil, err
	} else if pub.After(f.tsFrom) {
		f.tsFrom = pub
	}
	dateKeys := [2]string{"from", "to"}
	if index {
		dateKeys = [2]string{"datefrom", "dateuntil"}
		if f.uuid, err = params.filter("uuid"); err != nil {
			return nil, err
		}
		if f.tags, err = params.filter("tags"); err != nil {
			return nil, err
		}
		if f.tags == nil {
			if f.tags, err = params.filter("tag"); err != nil {
				return nil, err
			}
		}
	}
	for i, k := range dateKeys {
		t, _, err := params.timeRange(k, now)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			f.dateFrom = t
		} else if !t.IsZero() {
			// A date includes its whole day.
			if t.Equal(t.Truncate(24 * time.Hour)) {
				t = t.Add(24*time.Hour - time.Nanosecond)
			}
			f.dateTo = t
		}
	}
	return f, nil
}

// match says whether an event passes the event filters. ev is the event
// rendered without attributes.
func (f *mispEventFilter) match(ref *mispEventRef, ev *misp.Event) bool {
	if !f.eventid.match(func(t string) bool { return strings.EqualFold(t, ref.uuid) || t == ref.id() }) {
		return false
	}
	if !f.uuid.match(func(t string) bool { return strings.EqualFold(t, ref.uuid) }) {
		return false
	}
	if !f.info.match(func(t string) bool {
		if strings.Contains(t, "%") {
			return likeMatch(t, ev.Info)
		}
		return strings.Contains(strings.ToLower(ev.Info), strings.ToLower(t))
	}) {
		return false
	}
	if !f.org.match(func(t string) bool {
		return strings.EqualFold(t, ref.orgc.Name) || t == ref.orgc.ID || strings.EqualFold(t, ref.orgc.UUID)
	}) {
		return false
	}
	if !f.tags.match(func(t string) bool {
		return slices.ContainsFunc(ev.Tag, func(tag misp.Tag) bool { return likeMatch(t, tag.Name) })
	}) {
		return false
	}
	if f.published != nil && !*f.published {
		return false // everything the hub holds is shared at once: published
	}
	ts, _ := strconv.ParseInt(ev.Timestamp, 10, 64)
	if !f.tsFrom.IsZero() && ts < f.tsFrom.Unix() || !f.tsTo.IsZero() && ts > f.tsTo.Unix() {
		return false
	}
	if !f.dateFrom.IsZero() || !f.dateTo.IsZero() {
		d, err := time.Parse(time.DateOnly, ev.Date)
		if err != nil || (!f.dateFrom.IsZero() && d.Before(f.dateFrom.Truncate(24*time.Hour))) || (!f.dateTo.IsZero() && d.After(f.dateTo)) {
			return false
		}
	}
	return true
}

// mispPaging is limit= and page= of a search.
type mispPaging struct {
	limit, page int // limit 0: none
}

func readPaging(params mispParams) (mispPaging, error) {
	var pg mispPaging
	limit, set, err := params.integer("limit")
	if err != nil {
		return pg, err
	}
	if set {
		if limit < 1 || limit > mispMaxPage {
			return pg, mispBad("limit %d must be from 1 to %d", limit, mispMaxPage)
		}
		pg.limit = int(limit)
	}
	page, set, err := params.integer("page")
	if err != nil {
		return pg, err
	}
	pg.page = 1
	if set && page > 1 {
		if page > 1<<30 {
			return pg, mispBad("page %d is out of range", page)
		}
		pg.page = int(page)
	}
	return pg, nil
}

// take says whether the n-th match (from 0) is on the page, and whether
// later matches can still be.
func (pg mispPaging) take(n int) (in, more bool) {
	if pg.limit == 0 {
		return true, true
	}
	first := (pg.page - 1) * pg.limit
	return n >= first && n < first+pg.limit, n < first+pg.limit-1
}

// mispEventIndex is GET or POST /events/index: the events the viewer may
// see, without attributes, filtered as PyMISP's search_index asks.
func (s *Server) mispEventIndex(w http.ResponseWriter, r *http.Request, p *Principal) error {
	params, err := s.readMISPParams(w, r)
	if err != nil {
		return err
	}
	v := s.newMISPView(r.Context(), p)
	f, err := readEventFilter(params, v.now, true)
	if err != nil {
		return err
	}
	pg, err := readPaging(params)
	if err != nil {
		return err
	}
	minimal, _, err := params.boolean("minimal")
	if err != nil {
		return err
	}
	var full []mispIndexEvent
	var slim []mispSlimEvent
	n := 0
	err = v.eachEvent(false, func(ref *mispEventRef) (bool, error) {
		ev, err := v.renderEvent(ref, nil, false)
		if err != nil {
			return false, err
		}
		if !f.match(ref, ev) {
			return true, nil
		}
		in, more := pg.take(n)
		n++
		if !in {
			return more, nil
		}
		if len(full)+len(slim) >= mispMaxResults {
			return false, errTooMany("events")
		}
		count, err := v.attributeCount(ref)
		if err != nil {
			return false, err
		}
		if minimal {
			if count > 0 { // MISP lists only events with attributes here
				slim = append(slim, mispSlimEvent{ID: ev.ID, Timestamp: ev.Timestamp, SightingTimestamp: "0", Published: true, UUID: ev.UUID, OrgcUUID: ref.orgc.UUID})
			}
			return more, nil
		}
		full = append(full, indexEntry(ev, ref, count))
		return more, nil
	})
	if err != nil {
		return err
	}
	if minimal {
		if slim == nil {
			slim = []mispSlimEvent{}
		}
		w.Header().Set("X-Result-Count", strconv.Itoa(len(slim)))
		writeMISPJSON(w, http.StatusOK, slim)
		return nil
	}
	if full == nil {
		full = []mispIndexEvent{}
	}
	w.Header().Set("X-Result-Count", strconv.Itoa(len(full)))
	writeMISPJSON(w, http.StatusOK, full)
	return nil
}

// attributeCount counts the attributes of an event: indicators that are not
// revoked, and context.
func (v *mispView) attributeCount(ref *mispEventRef) (int, error) {
	if ref.report == nil {
		if ref.virtual != nil {
			return ref.virtual.count, nil
		}
		inds, err := v.virtualIndicators(ref.orgKey, false)
		return len(inds), err
	}
	n := len(ref.report.Context)
	if ref.report.Campaign != "" && !slices.ContainsFunc(ref.report.Context, func(c model.ContextAttribute) bool {
		return c.Type == "campaign-name" && c.Value == ref.report.Campaign
	}) {
		n++
	}
	err := v.scan(store.Query{ReportID: ref.report.ID}, func(ind *model.Indicator) (bool, error) {
		if ind.ReportID == ref.report.ID {
			n++
		}
		return true, nil
	})
	return n, err
}

func indexEntry(ev *misp.Event, ref *mispEventRef, count int) mispIndexEvent {
	e := mispIndexEvent{
		ID: ev.ID, OrgID: ev.OrgID, Date: ev.Date, Info: ev.Info, UUID: ev.UUID, Published: ev.Published,
		Analysis: ev.Analysis, AttributeCount: strconv.Itoa(count), OrgcID: ev.OrgcID, Timestamp: ev.Timestamp,
		Distribution: ev.Distribution, SharingGroupID: ev.SharingGroupID, ThreatLevelID: ev.ThreatLevelID,
		PublishTimestamp: ev.PublishTimestamp, SightingTimestamp: "0", ExtendsUUID: ev.ExtendsUUID,
		Orgc: ref.orgc, EventTag: []mispEventTag{},
	}
	if ev.Org != nil {
		e.Org = *ev.Org
	}
	if e.SharingGroupID == "" {
		e.SharingGroupID = "0"
	}
	for _, t := range ev.Tag {
		e.EventTag = append(e.EventTag, mispEventTag{
			ID: mispNumericID("event-tag:" + ev.UUID + ":" + t.Name), EventID: ev.ID, TagID: t.ID, Tag: t,
		})
	}
	return e
}

// mispAttrFilter holds the attribute filters of the searches.
type mispAttrFilter struct {
	value, typ, category, tags, eventid, uuid *mispFilter
	toIDS                                     *bool
	published                                 *bool
	deleted                                   bool
	tsFrom, tsTo                              time.Time // attribute timestamp
	dateFrom, dateTo                          time.Time // the day created
	valueTerms                                map[string][]string
}

// attributeLevel says whether a filter on attributes was given, which makes
// events/restSearch return only events with a matching attribute.
func (f *mispAttrFilter) attributeLevel() bool {
	return f.value != nil || f.typ != nil || f.category != nil || f.tags != nil || f.toIDS != nil
}

func readAttrFilter(params mispParams, now time.Time) (*mispAttrFilter, error) {
	f := &mispAttrFilter{}
	var err error
	for _, it := range []struct {
		key string
		dst **mispFilter
	}{{"value", &f.value}, {"type", &f.typ}, {"category", &f.category}, {"tags", &f.tags}, {"eventid", &f.eventid}, {"uuid", &f.uuid}} {
		if *it.dst, err = params.filter(it.key); err != nil {
			return nil, err
		}
	}
	if f.tags == nil {
		if f.tags, err = params.filter("tag"); err != nil {
			return nil, err
		}
	}
	if b, set, err := params.boolean("to_ids"); err != nil {
		return nil, err
	} else if set {
		f.toIDS = &b
	}
	if b, set, err := params.boolean("published"); err != nil {
		return nil, err
	} else if set {
		f.published = &b
	}
	if f.deleted, _, err = params.boolean("deleted"); err != nil {
		return nil, err
	}
	if f.tsFrom, f.tsTo, err = params.timeRange("timestamp", now); err != nil {
		return nil, err
	}
	for _, k := range []string{"last", "publish_timestamp", "attribute_timestamp"} {
		t, _, err := params.timeRange(k, now)
		if err != nil {
			return nil, err
		}
		if t.After(f.tsFrom) {
			f.tsFrom = t
		}
	}
	if f.dateFrom, _, err = params.timeRange("from", now); err != nil {
		return nil, err
	}
	to, _, err := params.timeRange("to", now)
	if err != nil {
		return nil, err
	}
	if !to.IsZero() && to.Equal(to.Truncate(24*time.Hour)) {
		to = to.Add(24*time.Hour - time.Nanosecond)
	}
	f.dateTo = to
	f.valueTerms = map[string][]string{}
	if f.value != nil {
		for _, l := range [][]string{f.value.OR, f.value.AND, f.value.NOT} {
			for _, t := range l {
				f.valueTerms[t] = valueForms(t)
			}
		}
	}
	return f, nil
}

// valueForms are the forms a searched value matches: as typed and
// canonical, for every type it could be.
func valueForms(t string) []string {
	forms := []string{strings.ToLower(strings.TrimSpace(t))}
	if strings.Contains(t, "%") {
		return forms
	}
	if _, v, err := indicator.Detect(t); err == nil {
		forms = append(forms, v)
	}
	if v, err := indicator.Canonicalize(indicator.Domain, t); err == nil {
		forms = append(forms, v)
	}
	return forms
}

// storeQuery narrows the store's query by what the filter makes exact, so
// that a search by value or type does not read every indicator.
func (f *mispAttrFilter) storeQuery() store.Query {
	q := store.Query{IncludeRevoked: f.deleted, Since: f.tsFrom}
	if f.value != nil && len(f.value.OR) == 1 && len(f.value.AND) == 0 && !strings.Contains(f.value.OR[0], "%") {
		t, v, err := indicator.Detect(f.value.OR[0])
		if err != nil {
			// Detection wants a known top-level domain; a search may name
			// any host, as in the native API.
			if dv, derr := indicator.Canonicalize(indicator.Domain, f.value.OR[0]); derr == nil {
				t, v, err = indicator.Domain, dv, nil
			}
		}
		if err == nil {
			q.Value = v
			// Only a value no other type can hold narrows the type too: a
			// 32-digit hex value may be an md5 or a ja3, a domain a hostname.
			switch t {
			case indicator.IPv4, indicator.IPv6, indicator.CIDR, indicator.URL, indicator.Email:
				q.Type = t
			}
		}
	}
	if q.Type == "" && f.typ != nil && len(f.typ.OR) == 1 && len(f.typ.AND) == 0 {
		switch t := strings.ToLower(f.typ.OR[0]); t {
		case "domain", "hostname", "url", "md5", "sha1", "sha256", "sha512", "x509-fingerprint-sha1", "x509-fingerprint-sha256", "ja3-fingerprint-md5":
			q.Type, _ = misp.HDNType(t)
		}
	}
	return q
}

// mispTypeFamily puts together the MISP types the hub does not tell
// apart: it keeps no direction of an address, and one kind of e-mail
// address.
func mispTypeFamily(t string) string {
	switch t = strings.ToLower(t); t {
	case "ip-src", "ip-dst", "ip-src|port", "ip-dst|port":
		return "ip"
	case "email", "email-src", "email-dst":
		return "email"
	}
	return t
}

// mispAttr is an attribute found by a search, with what the filters need.
type mispAttr struct {
	a      misp.Attribute
	ind    *model.Indicator // nil for context
	ref    *mispEventRef
	evTags []string // the event's tags that apply to the attribute
}

// match says whether an attribute passes the filters.
func (f *mispAttrFilter) match(x *mispAttr, created time.Time) bool {
	a := &x.a
	if a.Deleted && !f.deleted {
		return false
	}
	if f.published != nil && !*f.published {
		return false
	}
	if f.toIDS != nil && a.ToIDS != *f.toIDS {
		return false
	}
	if !f.value.match(func(t string) bool {
		for _, form := range f.valueTerms[t] {
			if likeMatch(form, a.Value) {
				return true
			}
		}
		return false
	}) {
		return false
	}
	if !f.typ.match(func(t string) bool { return mispTypeFamily(t) == mispTypeFamily(a.Type) }) {
		return false
	}
	if !f.category.match(func(t string) bool { return strings.EqualFold(t, a.Category) }) {
		return false
	}
	if !f.tags.match(func(t string) bool {
		return slices.ContainsFunc(a.Tag, func(tag misp.Tag) bool { return likeMatch(t, tag.Name) }) ||
			slices.ContainsFunc(x.evTags, func(tag string) bool { return likeMatch(t, tag) })
	}) {
		return false
	}
	if !f.eventid.match(func(t string) bool { return strings.EqualFold(t, x.ref.uuid) || t == x.ref.id() }) {
		return false
	}
	if !f.uuid.match(func(t string) bool { return strings.EqualFold(t, a.UUID) || strings.EqualFold(t, x.ref.uuid) }) {
		return false
	}
	ts, _ := strconv.ParseInt(a.Timestamp, 10, 64)
	if !f.tsFrom.IsZero() && ts < f.tsFrom.Unix() || !f.tsTo.IsZero() && ts > f.tsTo.Unix() {
		return false
	}
	if !f.dateFrom.IsZero() && created.Before(f.dateFrom.Truncate(24*time.Hour)) || !f.dateTo.IsZero() && created.After(f.dateTo) {
		return false
	}
	return true
}

// eventTagsFor are the event tags an attribute is searched by: an
// indicator has its own TLP, so the event's tlp: tag applies only to
// context, which inherits it.
func eventTagsFor(ev *misp.Event, context bool) []string {
	var out []string
	for _, t := range ev.Tag {
		if !context && strings.HasPrefix(strings.ToLower(t.Name), "tlp:") {
			continue
		}
		out = append(out, t.Name)
	}
	return out
}

// mispSearchAttribute is an attribute as attributes/restSearch returns it:
// with a summary of its event.
type mispSearchAttribute struct {
	misp.Attribute
	EventUUID string         `json:"event_uuid,omitempty"`
	Event     *mispAttrEvent `json:"Event,omitempty"`
}

// mispAttrEvent is the event summary of a searched attribute. Orgc (an hdn
// addition) names the organisation the attribute is shown as coming from.
type mispAttrEvent struct {
	OrgID        string   `json:"org_id"`
	Distribution string   `json:"distribution"`
	ID           string   `json:"id"`
	Info         string   `json:"info"`
	OrgcID       string   `json:"orgc_id"`
	UUID         string   `json:"uuid"`
	Orgc         misp.Org `json:"Orgc"`
}

// mispFormats are the returnFormat values the searches take.
var mispFormats = []string{"json", "csv", "text", "hashes", "suricata", "snort", "rpz"}

func readFormat(params mispParams) (string, error) {
	f, _, err := params.str("returnFormat")
	if err != nil {
		return "", err
	}
	f = strings.ToLower(strings.TrimSpace(f))
	if f == "" {
		return "json", nil
	}
	if !slices.Contains(mispFormats, f) {
		return "", mispBad("returnFormat %q is not supported here; use one of %s", clip(f), strings.Join(mispFormats, ", "))
	}
	return f, nil
}

// mispAttributeSearch is POST /attributes/restSearch: the indicators the
// viewer may see that pass the filters, as {"response": {"Attribute": […]}}
// or in another returnFormat.
func (s *Server) mispAttributeSearch(w http.ResponseWriter, r *http.Request, p *Principal) error {
	params, err := s.readMISPParams(w, r)
	if err != nil {
		return err
	}
	v := s.newMISPView(r.Context(), p)
	f, err := readAttrFilter(params, v.now)
	if err != nil {
		return err
	}
	pg, err := readPaging(params)
	if err != nil {
		return err
	}
	format, err := readFormat(params)
	if err != nil {
		return err
	}
	withSightings, _, err := params.boolean("includeSightings")
	if err != nil {
		return err
	}
	withEventUUID, _, err := params.boolean("includeEventUuid")
	if err != nil {
		return err
	}
	var found []*mispAttr
	n := 0
	err = v.scan(f.storeQuery(), func(ind *model.Indicator) (bool, error) {
		ref, err := v.eventOf(ind)
		if err != nil {
			return false, err
		}
		x := &mispAttr{ind: ind, ref: ref, a: misp.AttributeFromIndicator(*ind, misp.ExportOptions{NumericID: mispNumericID, GroupName: v.groupName})}
		v.sourceTag(&x.a, ind, ref)
		if ref.report != nil {
			x.evTags = append(x.evTags, ref.report.Tags...)
		} else {
			x.evTags = append(x.evTags, virtualEventTag)
		}
		if !f.match(x, ind.Created) {
			return true, nil
		}
		in, more := pg.take(n)
		n++
		if !in {
			return more, nil
		}
		if len(found) >= mispMaxResults {
			return false, errTooMany("attributes")
		}
		cp := *ind
		x.ind = &cp
		found = append(found, x)
		return more, nil
	})
	if err != nil {
		return err
	}
	if withSightings && format == "json" {
		inds := make([]model.Indicator, len(found))
		for i, x := range found {
			inds[i] = *x.ind
		}
		counts, err := v.sightingCounts(inds)
		if err != nil {
			return err
		}
		for _, x := range found {
			if len(counts[x.ind.ID]) > 0 {
				a := misp.AttributeFromIndicator(*x.ind, misp.ExportOptions{NumericID: mispNumericID, GroupName: v.groupName, Sightings: counts, SightingOrg: v.sightingOrg})
				x.a.Sighting = a.Sighting
			}
		}
	}
	for _, x := range found {
		completeAttribute(&x.a, x.ref.id())
	}
	if format != "json" {
		return s.writeMISPFormat(w, format, found, params, v)
	}
	out := make([]mispSearchAttribute, 0, len(found))
	for _, x := range found {
		sa := mispSearchAttribute{Attribute: x.a, Event: v.attrEvent(x)}
		if withEventUUID {
			sa.EventUUID = x.ref.uuid
		}
		out = append(out, sa)
	}
	w.Header().Set("X-Result-Count", strconv.Itoa(len(out)))
	writeMISPJSON(w, http.StatusOK, map[string]any{"response": map[string]any{"Attribute": out}})
	return nil
}

func (v *mispView) attrEvent(x *mispAttr) *mispAttrEvent {
	e := &mispAttrEvent{
		OrgID: v.hubOrg().ID, ID: x.ref.id(), Info: x.ref.info(), OrgcID: x.ref.orgc.ID, UUID: x.ref.uuid, Orgc: x.ref.orgc,
		Distribution: x.a.Distribution,
	}
	if x.ref.report != nil {
		rep := misp.ExportEvent(*x.ref.report, nil, misp.ExportOptions{NumericID: mispNumericID, GroupName: v.groupName})
		e.Distribution = rep.Distribution
	}
	return e
}

// mispEventSearch is POST /events/restSearch: the events the viewer may
// see that pass the event filters, each with its attributes that pass the
// attribute filters (an event without any is left out when an attribute
// filter was given), as {"response": [{"Event": …}]} or in another
// returnFormat.
func (s *Server) mispEventSearch(w http.ResponseWriter, r *http.Request, p *Principal) error {
	params, err := s.readMISPParams(w, r)
	if err != nil {
		return err
	}
	v := s.newMISPView(r.Context(), p)
	// hdn's own: events as a feed to publish shows them, every anonymous
	// indicator as anonymous whoever asks (hdn export misp-feed).
	if v.asPublished, _, err = params.boolean("hdn_as_published"); err != nil {
		return err
	}
	ef, err := readEventFilter(params, v.now, false)
	if err != nil {
		return err
	}
	af, err := readAttrFilter(params, v.now)
	if err != nil {
		return err
	}
	// The event filters apply to events, not to their attributes.
	af.eventid, af.tsFrom, af.tsTo, af.dateFrom, af.dateTo = nil, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if ef.uuid, err = params.filter("uuid"); err != nil {
		return err
	}
	af.uuid = nil
	pg, err := readPaging(params)
	if err != nil {
		return err
	}
	format, err := readFormat(params)
	if err != nil {
		return err
	}
	metadata, _, err := params.boolean("metadata")
	if err != nil {
		return err
	}
	withSightings, _, err := params.boolean("includeSightings")
	if err != nil {
		return err
	}
	var events []*misp.Event
	var found []*mispAttr
	total, n := 0, 0
	err = v.eachEvent(af.deleted, func(ref *mispEventRef) (bool, error) {
		head, err := v.renderEvent(ref, nil, false)
		if err != nil {
			return false, err
		}
		if !ef.match(ref, head) {
			return true, nil
		}
		inds, err := v.eventIndicators(ref, af.deleted)
		if err != nil {
			return false, err
		}
		ev, err := v.renderEvent(ref, inds, withSightings && format == "json")
		if err != nil {
			return false, err
		}
		byID := make(map[string]*model.Indicator, len(inds))
		for i := range inds {
			byID[inds[i].ID] = &inds[i]
		}
		kept := ev.Attribute[:0]
		var keptX []*mispAttr
		for _, a := range ev.Attribute {
			x := &mispAttr{a: a, ind: byID[a.UUID], ref: ref}
			x.evTags = eventTagsFor(ev, x.ind == nil)
			// The dates filter events here (ef), not attributes.
			if !af.match(x, time.Time{}) {
				continue
			}
			kept = append(kept, a)
			keptX = append(keptX, x)
		}
		if af.attributeLevel() && len(kept) == 0 {
			return true, nil
		}
		in, more := pg.take(n)
		n++
		if !in {
			return more, nil
		}
		total += len(kept)
		if total > mispMaxResults {
			return false, errTooMany("attributes")
		}
		ev.Attribute = kept
		ev.AttributeCount = strconv.Itoa(len(kept))
		if metadata {
			ev.Attribute, ev.Object = nil, nil
		}
		events = append(events, ev)
		found = append(found, keptX...)
		return more, nil
	})
	if err != nil {
		return err
	}
	if format != "json" {
		return s.writeMISPFormat(w, format, found, params, v)
	}
	out := make([]any, 0, len(events))
	for _, ev := range events {
		out = append(out, misp.Wrap(ev))
	}
	w.Header().Set("X-Result-Count", strconv.Itoa(len(out)))
	writeMISPJSON(w, http.StatusOK, map[string]any{"response": out})
	return nil
}

// mispCSVFields are the columns of MISP's attribute CSV, by default.
var mispCSVFields = []string{"uuid", "event_id", "category", "type", "value", "comment", "to_ids", "timestamp", "object_relation", "attribute_tag", "object_uuid", "object_name", "object_meta-category"}

// mispHashTypes are the types MISP's "hashes" format writes.
var mispHashTypes = []string{"md5", "sha1", "sha256", "sha512", "x509-fingerprint-sha1", "x509-fingerprint-sha256", "x509-fingerprint-md5", "sha224", "sha384", "ssdeep", "imphash", "tlsh"}

// writeMISPFormat writes found attributes in a returnFormat other than
// json: MISP's attribute CSV, values one per line (text), hash values
// (hashes), or the hub's Suricata, Snort and RPZ exports of the
// indicators.
func (s *Server) writeMISPFormat(w http.ResponseWriter, format string, found []*mispAttr, params mispParams, v *mispView) error {
	var buf bytes.Buffer
	contentType := "text/plain; charset=utf-8"
	switch format {
	case "csv":
		contentType = "text/csv; charset=utf-8"
		headerless, _, err := params.boolean("headerless")
		if err != nil {
			return err
		}
		fields := mispCSVFields
		if params.present("requested_attributes") {
			rf, err := params.filter("requested_attributes")
			if err != nil {
				return err
			}
			if rf != nil {
				fields = rf.OR
			}
		}
		if !headerless {
			hs := make([]string, len(fields))
			for i, f := range fields {
				hs[i] = strings.ReplaceAll(f, "-", "_")
				if f == "timestamp" {
					hs[i] = "date"
				}
			}
			buf.WriteString(strings.Join(hs, ",") + "\n")
		}
		for _, x := range found {
			cells := make([]string, len(fields))
			for i, f := range fields {
				cells[i] = mispCSVField(x, f)
			}
			buf.WriteString(strings.Join(cells, ",") + "\n")
		}
		buf.WriteString("\n")
	case "text":
		// Detection lists hold detection values only: an event's context
		// attributes (to_ids false, or values the canonical forms refuse,
		// such as 0.0.0.0/0 or "com") are not blocked anywhere.
		for _, x := range found {
			if x.ind != nil && live(x, v.now) && oneLine(x.ind.Value) != "" {
				buf.WriteString(x.ind.Value + "\n")
			}
		}
	case "hashes":
		for _, x := range found {
			if x.ind != nil && live(x, v.now) && slices.Contains(mispHashTypes, x.a.Type) && oneLine(x.ind.Value) != "" {
				buf.WriteString(x.ind.Value + "\n")
			}
		}
	default:
		f, err := export.ParseFormat(format)
		if err != nil {
			return mispBad("%s", err.Error())
		}
		contentType = f.ContentType()
		inds := func(yield func(model.Indicator, error) bool) {
			for _, x := range found {
				if x.ind != nil && !yield(*x.ind, nil) {
					return
				}
			}
		}
		if _, err := export.Write(&buf, f, inds, export.Options{Now: v.now, HubName: s.hubName}); err != nil {
			return fmt.Errorf("misp %s export: %w", format, err)
		}
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Result-Count", strconv.Itoa(len(found)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// live says whether an attribute belongs in a detection list: what is
// revoked or past its valid_until does not, as in the hub's own exports.
func live(x *mispAttr, now time.Time) bool {
	if x.ind != nil {
		return x.ind.Live(now)
	}
	return !x.a.Deleted
}

// oneLine gives a value as the text and hashes formats write it on a line
// of its own: the value itself, or "" when it holds a line break of any kind
// (indicator.HasLineBreak: also NEL, U+2028, U+2029 and the separators
// U+001C to U+001E, at which Python's str.splitlines ends a line) or another
// control character but tab; the text and hashes formats then leave the
// value out, line and all. Replacing the breaks with spaces, as this once did, still
// let a loader that splits on whitespace read "0.0.0.0/0" out of
// "x\u20290.0.0.0/0\u2029y@mail-phish.xyz". Canonical values never hold
// such characters; values stored before the canonical forms refused them
// still might.
func oneLine(s string) string {
	if indicator.HasLineBreak(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		return ""
	}
	return s
}

// mispCSVField writes one cell as MISP's CsvExport does: numbers and flags
// bare, text in double quotes with quotes doubled.
func mispCSVField(x *mispAttr, field string) string {
	// Quoted, and defused: a cell a spreadsheet would read as a formula
	// (a description "=HYPERLINK(…)") gets a leading apostrophe, as in
	// the native CSV export.
	quote := func(s string) string { return `"` + strings.ReplaceAll(export.DefuseFormula(s), `"`, `""`) + `"` }
	a := &x.a
	switch field {
	case "uuid":
		return quote(a.UUID)
	case "event_id":
		return a.EventID
	case "category":
		return quote(a.Category)
	case "type":
		return quote(a.Type)
	case "value":
		return quote(a.Value)
	case "comment":
		return quote(a.Comment)
	case "to_ids":
		if a.ToIDS {
			return "1"
		}
		return "0"
	case "timestamp", "date":
		return a.Timestamp
	case "distribution":
		return a.Distribution
	case "deleted":
		if a.Deleted {
			return "1"
		}
		return "0"
	case "attribute_tag":
		names := make([]string, len(a.Tag))
		for i, t := range a.Tag {
			names[i] = t.Name
		}
		return quote(strings.Join(names, ","))
	case "event_info":
		return quote(x.ref.info())
	case "event_source_org":
		return quote(x.ref.orgc.Name)
	case "event_uuid":
		return quote(x.ref.uuid)
	}
	return `""`
}
