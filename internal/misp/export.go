package misp

import (
	"cmp"
	"crypto/sha1"
	"encoding/binary"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// ExportOptions tunes ExportEvent and AttributeFromIndicator. The caller
// has applied the sharing policy: what it passes, the viewer may see.
type ExportOptions struct {
	// Orgc is the creator organisation as the viewer may see it (the
	// hub's own organisation for an anonymous submission, unless the viewer
	// may see the true source); Org the organisation that holds the event
	// (the hub's). A zero Org is left out.
	Orgc Org
	Org  Org
	// Sightings holds the sightings of each indicator by indicator id, as
	// the viewer may see them (nil: none). SightingOrg names the
	// organisation of a count; nil, or a nil result, writes the sighting
	// without an organisation (MISP's anonymised sighting).
	Sightings   map[string][]model.SightingCount
	SightingOrg func(orgID string) *Org
	// GroupName gives the name and uuid of a hub sharing group for
	// distribution "4"; nil uses the group id for both.
	GroupName func(id string) (name, uuid string)
	// Published is the event's published flag.
	Published bool
	// NumericID gives MISP's numeric id for a uuid (event, attribute,
	// sharing group). nil, or "", leaves ids out, as MISP feeds do; a
	// sharing group then gets a number derived from its uuid, since
	// PyMISP refuses distribution "4" without a sharing_group_id.
	NumericID func(uuid string) string
}

func (o *ExportOptions) numericID(u string) string {
	if o.NumericID == nil || u == "" {
		return ""
	}
	return o.NumericID(u)
}

// ExportEvent writes a report and its indicators as a MISP event:
//   - uuid is the report id, info the title, date the day it was created,
//     timestamp when it was last modified, the narrative an EventReport;
//   - the report's TLP is a tlp: tag, its tags are tags, its threat actor a
//     misp-galaxy:threat-actor tag and its campaign a campaign-name
//     attribute (unless already there);
//   - the audience is the distribution: the network "1" (this community;
//     "3", all communities, when the TLP is clear and may leave the
//     network), a group "4" with its SharingGroup, a list of organisations
//     "0" (your organisation only: the recipient must not pass it on) with
//     the tag hdn:audience="orgs";
//   - each indicator is an attribute (AttributeFromIndicator), with
//     distribution "5" (inherit) when it is shared as the event is; they
//     come sorted by type, value and id, so that the output is stable;
//   - each context attribute follows with to_ids false, in report order.
func ExportEvent(r model.Report, inds []model.Indicator, opt ExportOptions) *Event {
	ts := unixString(r.Modified)
	ev := &Event{
		ID:               opt.numericID(r.ID),
		UUID:             r.ID,
		Info:             r.Title,
		ThreatLevelID:    "4", // undefined: the hub keeps no threat level
		Analysis:         "2", // complete: what the hub shares is shared as done
		Timestamp:        ts,
		Published:        opt.Published,
		PublishTimestamp: "0",
	}
	if !r.Created.IsZero() {
		ev.Date = r.Created.UTC().Format(time.DateOnly)
	}
	if opt.Published {
		ev.PublishTimestamp = ts
	}
	if opt.Orgc != (Org{}) {
		orgc := opt.Orgc
		ev.Orgc, ev.OrgcID = &orgc, orgc.ID
	}
	if opt.Org != (Org{}) {
		org := opt.Org
		ev.Org, ev.OrgID = &org, org.ID
	}
	ev.Distribution, ev.SharingGroupID, ev.SharingGroup = opt.distribution(r.TLP, r.Audience)

	ev.Tag = append(ev.Tag, tlpTagOf(r.TLP))
	hasActor := false
	for _, t := range r.Tags {
		if skipTag(t) {
			continue
		}
		if v, ok := galaxyValue(t, "threat-actor"); ok && v == r.ThreatActor {
			hasActor = true
		}
		ev.Tag = append(ev.Tag, plainTag(t))
	}
	if r.ThreatActor != "" && !hasActor {
		ev.Tag = append(ev.Tag, galaxyTag("threat-actor", r.ThreatActor))
	}
	if r.Audience.Kind == policy.Orgs {
		ev.Tag = append(ev.Tag, hdnTagOf("audience", "orgs"))
	}

	sorted := slices.Clone(inds)
	slices.SortStableFunc(sorted, func(a, b model.Indicator) int {
		ta, _ := MISPType(a.Type)
		tb, _ := MISPType(b.Type)
		return cmp.Or(cmp.Compare(ta, tb), cmp.Compare(a.Value, b.Value), cmp.Compare(a.ID, b.ID))
	})
	for _, ind := range sorted {
		a := AttributeFromIndicator(ind, opt)
		a.EventID = ev.ID
		if a.Distribution == ev.Distribution && a.SharingGroupID == ev.SharingGroupID && sameGroup(a.SharingGroup, ev.SharingGroup) {
			a.Distribution, a.SharingGroupID, a.SharingGroup = "5", "0", nil
		}
		ev.Attribute = append(ev.Attribute, a)
	}

	ns := uuid.NewSHA1(hdnNamespace, []byte(r.ID))
	hasCampaign := false
	for i, c := range r.Context {
		id := c.ID
		if id == "" {
			id = uuid.NewSHA1(ns, []byte("hdn:context:"+strconv.Itoa(i))).String()
		}
		if c.Type == "campaign-name" && c.Value == r.Campaign {
			hasCampaign = true
		}
		ev.Attribute = append(ev.Attribute, contextAttribute(id, c.Type, c.Category, c.Value, c.Comment, ev, ts))
	}
	if r.Campaign != "" && !hasCampaign {
		id := uuid.NewSHA1(ns, []byte("hdn:campaign")).String()
		ev.Attribute = append(ev.Attribute, contextAttribute(id, "campaign-name", catAttribution, r.Campaign, "", ev, ts))
	}
	ev.AttributeCount = strconv.Itoa(len(ev.Attribute))

	if r.Narrative != "" {
		ev.EventReport = []EventReport{{
			ID:           opt.numericID(uuid.NewSHA1(ns, []byte("hdn:narrative")).String()),
			UUID:         uuid.NewSHA1(ns, []byte("hdn:narrative")).String(),
			EventID:      ev.ID,
			Name:         r.Title,
			Content:      r.Narrative,
			Distribution: "5",
			Timestamp:    ts,
		}}
	}
	return ev
}

func contextAttribute(id, typ, category, value, comment string, ev *Event, ts string) Attribute {
	if typ == "" {
		typ = "other"
	}
	if category == "" {
		category = types[typ].category
		if category == "" {
			category = catOther
		}
	}
	return Attribute{
		UUID: id, EventID: ev.ID, Type: typ, Category: category, Value: value, Comment: comment,
		Timestamp: ts, Distribution: "5", SharingGroupID: "0",
	}
}

func sameGroup(a, b *SharingGroup) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UUID == b.UUID && a.Name == b.Name
}

// skipTag says whether a hub tag would clash with the machine tags the
// export writes itself.
func skipTag(name string) bool {
	if _, isTLP, _ := tlpTag(name); isTLP {
		return true
	}
	_, _, isHDN := hdnTag(name)
	return isHDN
}

// AttributeFromIndicator writes one indicator as a MISP attribute: type and
// category from MISPType, the canonical value, to_ids true (a revoked
// indicator is a deleted attribute with to_ids false; a quarantined one,
// which stops matching until released, an attribute with to_ids false,
// not deleted: a release makes it to_ids true again), the description as
// comment, timestamp when it last changed for some reader (Changed: also
// when who may see it changed, so that a MISP that syncs by timestamp takes
// an attribute it may newly see), first_seen and last_seen,
// distribution from its TLP and audience (never "5": ExportEvent makes it
// inherit). Its tags are the tlp: tag, the labels, the hub tags,
// misp:confidence-level (the level nearest to the confidence, left out at
// the hub's default of 50), hdn:type for ja3s and ja4 (which MISP lacks),
// and hdn:audience="orgs" for a list of organisations. Sightings are one
// per organisation and kind (type "0", or "1" for a false positive) at the
// hour of the last one; valid_until is an expiration sighting (type "2").
func AttributeFromIndicator(ind model.Indicator, opt ExportOptions) Attribute {
	typ, cat := MISPType(ind.Type)
	a := Attribute{
		ID:        opt.numericID(ind.ID),
		UUID:      ind.ID,
		Type:      typ,
		Category:  cat,
		Value:     ind.Value,
		ToIDS:     !ind.Revoked && !ind.Quarantined,
		Comment:   ind.Description,
		Timestamp: unixString(ind.Changed()),
		Deleted:   ind.Revoked,
		FirstSeen: seen(ind.FirstSeen),
		LastSeen:  seen(ind.LastSeen),
	}
	a.Distribution, a.SharingGroupID, a.SharingGroup = opt.distribution(ind.TLP, ind.Audience)

	a.Tag = append(a.Tag, tlpTagOf(ind.TLP))
	if ind.Type == indicator.JA3S || ind.Type == indicator.JA4 {
		a.Tag = append(a.Tag, hdnTagOf("type", string(ind.Type)))
	}
	for _, l := range ind.Labels {
		a.Tag = appendTag(a.Tag, plainTag(l))
	}
	for _, t := range ind.Tags {
		if !skipTag(t) {
			a.Tag = appendTag(a.Tag, plainTag(t))
		}
	}
	if ind.Confidence != DefaultConfidence {
		a.Tag = append(a.Tag, confidenceTagOf(ind.Confidence))
	}
	if ind.Audience.Kind == policy.Orgs {
		a.Tag = append(a.Tag, hdnTagOf("audience", "orgs"))
	}

	counts := slices.Clone(opt.Sightings[ind.ID])
	slices.SortFunc(counts, func(x, y model.SightingCount) int {
		return cmp.Or(x.Last.Compare(y.Last), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Org, y.Org))
	})
	ns := hdnNamespace
	if u, err := uuid.Parse(ind.ID); err == nil {
		ns = u
	}
	for _, sc := range counts {
		st := "0"
		if sc.Kind == model.FalsePositive {
			st = "1"
		}
		s := Sighting{
			UUID:         uuid.NewSHA1(ns, []byte("hdn:sighting:"+sc.Org+":"+string(sc.Kind))).String(),
			DateSighting: unixString(sc.Last),
			Source:       "hdn",
			Type:         st,
		}
		if opt.SightingOrg != nil && sc.Org != "" {
			if o := opt.SightingOrg(sc.Org); o != nil {
				org := *o
				s.Org, s.OrgID = &org, org.ID
			}
		}
		a.Sighting = append(a.Sighting, s)
	}
	if !ind.ValidUntil.IsZero() {
		a.Sighting = append(a.Sighting, Sighting{
			UUID:         uuid.NewSHA1(ns, []byte("hdn:expiration")).String(),
			DateSighting: unixString(ind.ValidUntil),
			Source:       "hdn",
			Type:         "2",
		})
	}
	return a
}

func appendTag(tags []Tag, t Tag) []Tag {
	if slices.ContainsFunc(tags, func(x Tag) bool { return x.Name == t.Name }) {
		return tags
	}
	return append(tags, t)
}

// distribution maps a TLP and audience to MISP's distribution and sharing
// group.
func (o *ExportOptions) distribution(t policy.TLP, a policy.Audience) (dist, sgID string, sg *SharingGroup) {
	switch a.Kind {
	case policy.Group:
		name, u := a.Group, a.Group
		if o.GroupName != nil {
			name, u = o.GroupName(a.Group)
		}
		if u == "" {
			u = a.Group
		}
		id := o.numericID(u)
		if id == "" {
			// PyMISP refuses distribution "4" without a non-zero
			// sharing_group_id; MISP itself finds the group by its uuid.
			sum := sha1.Sum([]byte(u))
			id = strconv.FormatUint(uint64(binary.BigEndian.Uint32(sum[:4])|1), 10)
		}
		return "4", id, &SharingGroup{ID: id, Name: name, UUID: u}
	case policy.Orgs:
		return "0", "0", nil
	}
	if t == policy.Clear {
		return "3", "0", nil
	}
	return "1", "0", nil
}

func unixString(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// seen writes first_seen and last_seen as MISP does: ISO 8601 with
// microseconds and the zone.
func seen(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000000-07:00")
	return &s
}
