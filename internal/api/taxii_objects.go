package api

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/export"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/stix"
	"github.com/hdnetwork/hdn/internal/store"
)

// The collection is ordered by position: first the fixed TLP objects (the
// marking definitions of every level in both TLP generations and the TLP 2.0
// extension-definition, at the negative positions -n … -1), then the
// indicators by their change sequence (positions ≥ 1). An updated indicator
// moves to the end, as its new version. The `next` cursor is the position of
// the last object of a page, so that paging is exact however the clock
// behaves; date_added is the time of the indicator's last change entry
// (model.Indicator.Touched: a change of the indicator, or of who may see it,
// such as a group it is shared with gaining a member), which follows the
// sequence except under clock skew. Its version stays its STIX modified.

// taxiiItem is one object of the collection.
type taxiiItem struct {
	pos     int64
	id      string
	typ     string
	added   time.Time // date_added
	version string    // modified (created for marking definitions)
	obj     json.RawMessage
}

// taxiiFixed are the TLP objects, oldest first.
var taxiiFixed = func() []taxiiItem {
	var ids []string
	for _, t := range policy.TLPs {
		if _, v1 := stix.MarkingIDs(t); v1 != "" {
			ids = append(ids, v1)
		}
	}
	ids = append(ids, stix.TLP2ExtensionID)
	for _, t := range policy.TLPs {
		v2, _ := stix.MarkingIDs(t)
		ids = append(ids, v2)
	}
	items := make([]taxiiItem, len(ids))
	for i, id := range ids {
		obj, ok := stix.MarkingObject(id)
		if !ok {
			panic("taxii: no object for " + id)
		}
		var head struct {
			Type     string `json:"type"`
			Created  string `json:"created"`
			Modified string `json:"modified"`
		}
		if err := json.Unmarshal(obj, &head); err != nil {
			panic(err)
		}
		created, err := time.Parse(time.RFC3339Nano, head.Created)
		if err != nil {
			panic(err)
		}
		version := head.Modified
		if version == "" {
			version = head.Created
		}
		items[i] = taxiiItem{pos: int64(i - len(ids)), id: id, typ: head.Type, added: created, version: version, obj: obj}
	}
	return items
}()

// taxiiQuery is the filter and page of an objects or manifest request.
type taxiiQuery struct {
	addedAfter time.Time // zero: none
	limit      int
	after      int64           // cursor: only positions after it
	ids        map[string]bool // nil: any
	types      map[string]bool // nil: any
	versions   []time.Time     // timestamps asked for; nil with anyVersion
	anyVersion bool            // first, last, all or no match[version]
	specOK     bool            // match[spec_version] admits 2.1
}

func parseTAXIIQuery(r *http.Request) (taxiiQuery, error) {
	qs := r.URL.Query()
	q := taxiiQuery{limit: taxiiDefaultPageLimit, after: math.MinInt64, anyVersion: true, specOK: true}
	if v := qs.Get("added_after"); v != "" {
		t, err := parseTAXIITime("added_after", v)
		if err != nil {
			return q, err
		}
		q.addedAfter = t
	}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, taxiiBad("limit " + strconv.Quote(clip(v)) + " is not a positive whole number")
		}
		q.limit = min(n, taxiiMaxPageLimit)
	}
	if v := qs.Get("next"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return q, taxiiBad("next " + strconv.Quote(clip(v)) + " is not a cursor this server gave out")
		}
		q.after = n
	}
	if vs := listParam(qs, "match[id]"); vs != nil {
		q.ids = map[string]bool{}
		for _, v := range vs {
			q.ids[v] = true
		}
	}
	if vs := listParam(qs, "match[type]"); vs != nil {
		q.types = map[string]bool{}
		for _, v := range vs {
			q.types[v] = true
		}
	}
	if vs := listParam(qs, "match[version]"); vs != nil {
		q.anyVersion = false
		for _, v := range vs {
			switch v {
			case "first", "last", "all":
				// hdn keeps one version of each object: it is the first,
				// the last and all of them.
				q.anyVersion = true
			default:
				t, err := parseTAXIITime("match[version]", v)
				if err != nil {
					return q, taxiiBad("match[version] " + strconv.Quote(clip(v)) + " is not first, last, all or a timestamp")
				}
				q.versions = append(q.versions, t)
			}
		}
	}
	if vs := listParam(qs, "match[spec_version]"); vs != nil {
		q.specOK = slices.Contains(vs, "2.1")
	}
	return q, nil
}

// listParam is a comma-separated filter, possibly given more than once; nil
// when absent.
func listParam(qs url.Values, name string) []string {
	raw, ok := qs[name]
	if !ok {
		return nil
	}
	out := []string{}
	for _, v := range raw {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// admits says whether an item passes the filters (not the cursor).
func (q *taxiiQuery) admits(it *taxiiItem) bool {
	if !q.specOK {
		return false
	}
	if !q.addedAfter.IsZero() && !it.added.After(q.addedAfter) {
		return false
	}
	if q.ids != nil && !q.ids[it.id] {
		return false
	}
	if q.types != nil && !q.types[it.typ] {
		return false
	}
	if !q.anyVersion {
		v, err := time.Parse(time.RFC3339Nano, it.version)
		if err != nil || !slices.ContainsFunc(q.versions, v.Equal) {
			return false
		}
	}
	return true
}

// wantsIndicators says whether the filters can admit any indicator.
func (q *taxiiQuery) wantsIndicators() bool {
	return q.specOK && (q.types == nil || q.types["indicator"])
}

// indicatorItem makes the collection's object of an indicator; ok is false
// when STIX cannot express it (JA3, JA3S, JA4).
func (t *taxiiServer) indicatorItem(ind *model.Indicator) (taxiiItem, bool, error) {
	obj, err := export.STIXIndicator(ind, t.s.hubName)
	if errors.Is(err, export.ErrNotExpressible) {
		return taxiiItem{}, false, nil
	}
	if err != nil {
		return taxiiItem{}, false, err
	}
	var head struct {
		ID       string `json:"id"`
		Modified string `json:"modified"`
	}
	if err := json.Unmarshal(obj, &head); err != nil {
		return taxiiItem{}, false, err
	}
	// date_added is shown to the microsecond; comparing at that precision
	// lets a client pass X-TAXII-Date-Added-Last back as added_after. It is
	// Changed (Touched), not Modified: an indicator a reader may newly see was added
	// to that reader's collection then, and the store's since (which
	// added_after becomes) goes by the same time.
	return taxiiItem{pos: ind.Seq, id: head.ID, typ: "indicator", added: ind.Changed().UTC().Truncate(time.Microsecond), version: head.Modified, obj: obj}, true, nil
}

// page collects the items of one page: at most q.limit, and whether more
// follow.
func (t *taxiiServer) page(ctx context.Context, p *Principal, c taxiiColl, q taxiiQuery) ([]taxiiItem, bool, error) {
	var out []taxiiItem
	full := func() bool { return len(out) > q.limit }
	for i := range taxiiFixed {
		it := &taxiiFixed[i]
		if it.pos > q.after && q.admits(it) {
			out = append(out, *it)
			if full() {
				return out[:q.limit], true, nil
			}
		}
	}
	if c == collContext {
		return t.contextPage(ctx, p, q, out)
	}
	if !q.wantsIndicators() {
		return out, false, nil
	}
	if q.ids != nil {
		// A few named objects: fetch them rather than read the collection.
		var found []taxiiItem
		for id := range q.ids {
			it, ok, err := t.indicatorByObjectID(ctx, p, id)
			if err != nil {
				return nil, false, err
			}
			if ok && it.pos > q.after && q.admits(&it) {
				found = append(found, it)
			}
		}
		slices.SortFunc(found, func(a, b taxiiItem) int { return cmpInt64(a.pos, b.pos) })
		out = append(out, found...)
		if full() {
			return out[:q.limit], true, nil
		}
		return out, false, nil
	}
	// Read what the page needs (and one more, to know whether more follow);
	// filters that drop indicators make the loop read on.
	sq := store.Query{After: max(q.after, 0), Since: q.addedAfter, Limit: min(q.limit+1, taxiiMaxPageLimit), IncludeRevoked: true}
	for {
		inds, err := t.s.st.ListIndicators(ctx, p.Viewer, sq)
		if err != nil {
			return nil, false, err
		}
		for i := range inds {
			if !policy.CanSee(p.Viewer, inds[i].PolicyItem()) {
				t.s.log.ErrorContext(ctx, "store returned an indicator the policy hides; withheld", "indicator", inds[i].ID, "org", p.Org.ID)
				continue
			}
			it, ok, err := t.indicatorItem(&inds[i])
			if err != nil {
				return nil, false, err
			}
			if ok && q.admits(&it) {
				out = append(out, it)
				if full() {
					return out[:q.limit], true, nil
				}
			}
		}
		if len(inds) < sq.Limit {
			return out, false, nil
		}
		sq.After = inds[len(inds)-1].Seq
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// objectByID finds one object of the collection that p may see.
func (t *taxiiServer) objectByID(ctx context.Context, p *Principal, c taxiiColl, id string) (taxiiItem, bool, error) {
	for _, it := range taxiiFixed {
		if it.id == id {
			return it, true, nil
		}
	}
	if c == collContext {
		return t.contextByID(ctx, p, id)
	}
	return t.indicatorByObjectID(ctx, p, id)
}

// indicatorByObjectID finds the indicator behind "indicator--<id>" if p may
// see it.
func (t *taxiiServer) indicatorByObjectID(ctx context.Context, p *Principal, id string) (taxiiItem, bool, error) {
	ind, ok, err := t.visibleIndicatorByObjectID(ctx, p, id)
	if !ok || err != nil {
		return taxiiItem{}, false, err
	}
	it, ok, err := t.indicatorItem(&ind)
	if !ok || err != nil || it.id != id {
		return taxiiItem{}, false, err
	}
	return it, true, nil
}

func (t *taxiiServer) visibleIndicatorByObjectID(ctx context.Context, p *Principal, id string) (model.Indicator, bool, error) {
	hid, ok := strings.CutPrefix(id, "indicator--")
	if !ok || hid == "" {
		return model.Indicator{}, false, nil
	}
	ind, err := t.s.st.Indicator(ctx, p.Viewer, hid)
	if errors.Is(err, store.ErrNotFound) {
		return ind, false, nil
	}
	if err != nil {
		return ind, false, err
	}
	if !policy.CanSee(p.Viewer, ind.PolicyItem()) {
		return ind, false, nil
	}
	return ind, true, nil
}

// setDateAddedHeaders sets X-TAXII-Date-Added-First and -Last.
func setDateAddedHeaders(w http.ResponseWriter, items []taxiiItem) {
	if len(items) == 0 {
		return
	}
	w.Header().Set("X-TAXII-Date-Added-First", taxiiTime(items[0].added))
	w.Header().Set("X-TAXII-Date-Added-Last", taxiiTime(items[len(items)-1].added))
}

// taxiiEnvelope is TAXII's envelope resource.
type taxiiEnvelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects"`
}

func envelopeOf(items []taxiiItem, more bool) taxiiEnvelope {
	env := taxiiEnvelope{More: more, Objects: make([]json.RawMessage, 0, len(items))}
	for _, it := range items {
		env.Objects = append(env.Objects, it.obj)
	}
	if more {
		env.Next = strconv.FormatInt(items[len(items)-1].pos, 10)
	}
	return env
}

func (t *taxiiServer) getObjects(w http.ResponseWriter, r *http.Request, p *Principal, c taxiiColl) error {
	q, err := parseTAXIIQuery(r)
	if err != nil {
		return err
	}
	items, more, err := t.page(r.Context(), p, c, q)
	if err != nil {
		return err
	}
	setDateAddedHeaders(w, items)
	writeTAXII(w, http.StatusOK, envelopeOf(items, more))
	return nil
}

// taxiiManifestEntry is one entry of a manifest resource.
type taxiiManifestEntry struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

func (t *taxiiServer) manifest(w http.ResponseWriter, r *http.Request, p *Principal) error {
	c, err := collectionOf(r)
	if err != nil {
		return err
	}
	q, err := parseTAXIIQuery(r)
	if err != nil {
		return err
	}
	items, more, err := t.page(r.Context(), p, c, q)
	if err != nil {
		return err
	}
	setDateAddedHeaders(w, items)
	body := struct {
		More    bool                 `json:"more"`
		Next    string               `json:"next,omitempty"`
		Objects []taxiiManifestEntry `json:"objects"`
	}{More: more, Objects: make([]taxiiManifestEntry, 0, len(items))}
	for _, it := range items {
		body.Objects = append(body.Objects, taxiiManifestEntry{ID: it.id, DateAdded: taxiiTime(it.added), Version: it.version, MediaType: stixMediaType})
	}
	if more {
		body.Next = strconv.FormatInt(items[len(items)-1].pos, 10)
	}
	writeTAXII(w, http.StatusOK, body)
	return nil
}

// oneObjectQuery is the query of the endpoints about one object: the
// filters that make sense for it, the object's id as match[id].
func oneObjectQuery(r *http.Request) (taxiiQuery, string, error) {
	q, err := parseTAXIIQuery(r)
	if err != nil {
		return q, "", err
	}
	id := r.PathValue("object")
	q.ids, q.types = map[string]bool{id: true}, nil
	return q, id, nil
}

func objectNotFound(id string) error {
	return taxiiErr(http.StatusNotFound, "Not Found", "object "+strconv.Quote(clip(id))+" not found in this collection")
}

func (t *taxiiServer) getObject(w http.ResponseWriter, r *http.Request, p *Principal, c taxiiColl) error {
	q, id, err := oneObjectQuery(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	it, ok, err := t.objectByID(ctx, p, c, id)
	if err != nil {
		return err
	}
	if !ok {
		return objectNotFound(id)
	}
	var items []taxiiItem
	if it.pos > q.after && q.admits(&it) {
		items = append(items, it)
	}
	setDateAddedHeaders(w, items)
	writeTAXII(w, http.StatusOK, envelopeOf(items, false))
	return nil
}

func (t *taxiiServer) versions(w http.ResponseWriter, r *http.Request, p *Principal) error {
	c, err := collectionOf(r)
	if err != nil {
		return err
	}
	q, id, err := oneObjectQuery(r)
	if err != nil {
		return err
	}
	it, ok, err := t.objectByID(r.Context(), p, c, id)
	if err != nil {
		return err
	}
	if !ok {
		return objectNotFound(id)
	}
	body := struct {
		More     bool     `json:"more"`
		Versions []string `json:"versions"`
	}{Versions: []string{}}
	var items []taxiiItem
	if it.pos > q.after && q.admits(&it) {
		items = append(items, it)
		body.Versions = append(body.Versions, it.version)
	}
	setDateAddedHeaders(w, items)
	writeTAXII(w, http.StatusOK, body)
	return nil
}

// deleteObject revokes an indicator: hdn never forgets an indicator, so
// that every copy learns it was withdrawn; it stays in the collection with
// revoked true.
func (t *taxiiServer) deleteObject(w http.ResponseWriter, r *http.Request, p *Principal, c taxiiColl) error {
	ctx := r.Context()
	id := r.PathValue("object")
	for _, it := range taxiiFixed {
		if it.id == id {
			return taxiiErr(http.StatusForbidden, "Forbidden", "the TLP marking definitions are fixed objects of the collection")
		}
	}
	if c == collContext {
		return t.deleteContext(w, r, p, id)
	}
	ind, ok, err := t.visibleIndicatorByObjectID(ctx, p, id)
	if err != nil {
		return err
	}
	if !ok {
		return objectNotFound(id)
	}
	if !p.Key.Role.CanSubmit() {
		return taxiiErr(http.StatusForbidden, "Forbidden", "a "+string(p.Key.Role)+" key may not revoke indicators")
	}
	if !canCurate(p, ind.Source) {
		return taxiiErr(http.StatusForbidden, "Forbidden", "only the source of an indicator or the coordinator may revoke it")
	}
	if !ind.Revoked {
		ind, err = t.s.st.Revoke(ctx, ind.ID, t.s.now().UTC())
		if err != nil {
			return err
		}
		t.s.audit(ctx, p, "indicator.revoke", ind.ID, "taxii: "+string(ind.Type)+" "+ind.Value)
		if t.s.notify != nil {
			t.s.notify.Notify(ctx, ind.Seq)
		}
	}
	w.Header().Set("Content-Type", taxiiMediaType)
	w.WriteHeader(http.StatusOK)
	return nil
}
