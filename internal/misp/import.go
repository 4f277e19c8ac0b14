package misp

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// DefaultMaxAttributes is ImportOptions.MaxAttributes when it is zero.
const DefaultMaxAttributes = 100_000

// ImportOptions tunes Import.
type ImportOptions struct {
	// DefaultTLP is the level of an event without a tlp: tag (and of its
	// attributes without one); the hub passes amber. Empty means amber.
	DefaultTLP policy.TLP
	// Now decides whether an expiration sighting lies in the past; zero
	// means the time of the call.
	Now time.Time
	// MaxAttributes refuses an event with more attributes than this,
	// those of its objects included; zero means DefaultMaxAttributes.
	MaxAttributes int
}

// Imported is what one MISP event becomes in the hub. The caller sets the
// source on it (SetSource), resolves sharing groups (ResolveGroups), stores
// the report, and submits the indicators with ReportID set to the stored
// report's id.
type Imported struct {
	// Report has ID (the event uuid, "" when that is not a UUID), Title
	// (info), Narrative (the event reports), ThreatActor and Campaign,
	// Tags (the event's tags but tlp: and hdn:), TLP and Audience, and
	// Context: every attribute that is not a detection indicator.
	Report     model.Report
	Indicators []ImportedIndicator
	Sightings  []ImportedSighting
	// GroupRef is set when the report's audience is a sharing group
	// (distribution "4"): the group's uuid, or its name when the event
	// gives no uuid. Report.Audience.Group is empty until the caller
	// resolves it.
	GroupRef  string
	GroupName string
	// Timestamp is the event's timestamp, which feeds compare.
	Timestamp time.Time
	// Problems lists what could not be used as it was, in event order.
	// Every problem has a Where; none of them stops the import.
	Problems []Problem
}

// ImportedIndicator is one indicator of the event.
type ImportedIndicator struct {
	// Sub has Type, Value (canonical), TLP, Audience, Labels,
	// Description (the attribute's comment), Confidence, ValidUntil (from
	// an expiration sighting), Tags and ID (the attribute's uuid, or one
	// derived from it for the second indicator of a domain|ip). Source,
	// SubmittedBy and ReportID are the caller's.
	Sub model.Submission
	// GroupRef and GroupName name the sharing group when Sub.Audience is
	// a group (Audience.Group is left empty for the caller).
	GroupRef  string
	GroupName string
	// Where is the attribute: "Attribute 3", "Object 2 Attribute 1".
	Where string
	// MISPType and Category are the attribute's.
	MISPType string
	Category string
}

// ImportedSighting is a sighting of an imported indicator.
type ImportedSighting struct {
	// AttributeUUID is the Sub.ID of the indicator sighted ("" when the
	// attribute had no uuid; Type and Value say which one it is).
	AttributeUUID string
	Value         string
	Type          indicator.Type
	Kind          model.SightingKind
	At            time.Time
}

// Problem is something of the event that could not be used as it was.
type Problem struct {
	// Where is "Event", "Event Tag 2", "Attribute 3", "Object 2",
	// "Object 2 Attribute 1", "Attribute 3 Sighting 1" or "EventReport 1".
	Where string
	// Err wraps one of ErrBadValue, ErrExpired, ErrSharing, ErrLimit,
	// ErrField; a refused value wraps the *indicator.Error too.
	Err error
}

func (p Problem) String() string { return p.Where + ": " + p.Err.Error() }

// Reasons for a Problem.
var (
	// ErrBadValue: a detection attribute whose value its type refuses;
	// the attribute is kept as context.
	ErrBadValue = errors.New("value refused, kept as context")
	// ErrExpired: an attribute whose expiration sighting lies in the
	// past; kept as context.
	ErrExpired = errors.New("expired, kept as context")
	// ErrSharing: a TLP or distribution the hub cannot honour as given,
	// narrowed (to the source organisation alone when in doubt), or
	// context narrower than its report, left out.
	ErrSharing = errors.New("sharing narrowed")
	// ErrLimit: over the hub's limits (labels, tags, lengths); cut.
	ErrLimit = errors.New("over the hub's limits")
	// ErrField: a field that cannot be read (uuid, timestamp, unknown tlp
	// level, sighting type); left out.
	ErrField = errors.New("field not usable")
)

// Errors that refuse an event.
var (
	ErrNoInfo            = errors.New("misp: the event has no info (its title)")
	ErrTooManyAttributes = errors.New("misp: the event has too many attributes")
)

// sharing is a TLP with an audience. kind Orgs means the source
// organisation alone (the caller fills in its id).
type sharing struct {
	tlp       policy.TLP
	kind      policy.AudienceKind
	groupRef  string
	groupName string
	groupID   string // MISP's sharing_group_id, to resolve "4" without a SharingGroup
}

func (s sharing) audience() policy.Audience { return policy.Audience{Kind: s.kind} }

// covers says whether everyone s admits may also see t: t is not narrower.
func (s sharing) covers(t sharing) bool {
	if tlpRank(t.tlp) > tlpRank(s.tlp) {
		return false
	}
	switch s.kind {
	case policy.Network:
		return t.kind == policy.Network
	case policy.Group:
		return t.kind == policy.Network || t.kind == policy.Group && t.groupRef == s.groupRef
	}
	return true // the source alone: anything covers that
}

// Import turns one event into what the hub stores (see Imported). It is
// pure: no store, and no clock but opt.Now. It fails only when there is no
// event, no info, or more attributes than opt.MaxAttributes; everything
// else it cannot use is a Problem, and an attribute that is not a usable
// indicator is kept as context, so nothing is lost silently. docs/MISP.md
// lists the mapping rules.
//
// The audience of an indicator or report may be of kind orgs with no
// organisation named: MISP's distribution "0" (your organisation only), and
// what Import narrowed to it. The caller puts the source organisation's id
// there (SetSource does), since policy.CheckAudience refuses an empty list.
func Import(e *Event, opt ImportOptions) (Imported, error) {
	if e == nil {
		return Imported{}, errors.New("misp: no event")
	}
	info := strings.TrimSpace(e.Info)
	if info == "" {
		return Imported{}, ErrNoInfo
	}
	maxAttrs := opt.MaxAttributes
	if maxAttrs <= 0 {
		maxAttrs = DefaultMaxAttributes
	}
	n := len(e.Attribute)
	for _, o := range e.Object {
		n += len(o.Attribute)
	}
	if n > maxAttrs {
		return Imported{}, fmt.Errorf("%w: %d, at most %d", ErrTooManyAttributes, n, maxAttrs)
	}
	if opt.DefaultTLP == "" {
		opt.DefaultTLP = policy.Amber
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	im := importer{opt: opt, ev: e}
	im.event(info)
	for i := range e.Attribute {
		im.attribute(fmt.Sprintf("Attribute %d", i+1), nil, im.share, &e.Attribute[i])
	}
	for i := range e.Object {
		o := &e.Object[i]
		where := fmt.Sprintf("Object %d", i+1)
		if o.Deleted {
			continue
		}
		sh := im.sharingOf(where, im.share, o.Distribution, o.SharingGroup, o.SharingGroupID, nil)
		for j := range o.Attribute {
			im.attribute(fmt.Sprintf("%s Attribute %d", where, j+1), o, sh, &o.Attribute[j])
		}
	}
	return im.out, nil
}

type importer struct {
	opt   ImportOptions
	ev    *Event
	out   Imported
	share sharing // the event's
	// what the event's tags say about its indicators
	labels     []string
	confidence int
	ns         uuid.UUID // for ids derived when an attribute has no uuid
}

func (im *importer) problem(where string, err error) {
	im.out.Problems = append(im.out.Problems, Problem{Where: where, Err: err})
}

func (im *importer) event(info string) {
	e, r := im.ev, &im.out.Report
	r.Title = im.cut("Event", "info", info, MaxTitleLen)
	if u, ok := im.uuid("Event", e.UUID); ok {
		r.ID = u
	}
	im.ns = uuid.NewSHA1(hdnNamespace, []byte(e.UUID+"\x00"+info))
	if e.Timestamp != "" {
		if t, ok := parseUnix(e.Timestamp); ok {
			im.out.Timestamp = t
		} else {
			im.problem("Event", fmt.Errorf("%w: timestamp %q is not unix seconds", ErrField, clip(e.Timestamp)))
		}
	}

	var tlp policy.TLP
	im.confidence = DefaultConfidence
	var tags []string
	for i, t := range e.Tag {
		where := fmt.Sprintf("Event Tag %d", i+1)
		name := strings.TrimSpace(t.Name)
		if lv, isTLP, ok := tlpTag(name); isTLP {
			if !ok {
				im.problem(where, fmt.Errorf("%w: %q is not a TLP 2.0 level; not used", ErrField, clip(name)))
			}
			tlp = stricter(tlp, lv)
			continue
		}
		if _, _, ok := hdnTag(name); ok {
			continue
		}
		if c, isConf, ok := confidenceTag(name); isConf && ok {
			im.confidence = c
		}
		if l, ok := label(name); ok {
			im.labels = appendNew(im.labels, l)
		}
		if v, ok := galaxyValue(name, "threat-actor"); ok && r.ThreatActor == "" {
			r.ThreatActor = im.cut(where, "threat actor", v, MaxNameLen)
		}
		tags = append(tags, name)
	}
	r.Tags = im.tags("Event", tags)
	if tlp == "" {
		tlp = im.opt.DefaultTLP
	}
	im.share = im.sharingOf("Event", sharing{tlp: tlp}, e.Distribution, e.SharingGroup, e.SharingGroupID, nil)
	r.TLP, r.Audience = im.share.tlp, im.share.audience()
	im.out.GroupRef, im.out.GroupName = im.share.groupRef, im.share.groupName

	var parts []EventReport
	for i, rep := range e.EventReport {
		where := fmt.Sprintf("EventReport %d", i+1)
		if rep.Deleted || strings.TrimSpace(rep.Content) == "" {
			continue
		}
		sh := im.sharingOf(where, im.share, rep.Distribution, nil, rep.SharingGroupID, nil)
		if !im.share.covers(sh) {
			im.problem(where, fmt.Errorf("%w: the report is shared more narrowly than its event; left out of the narrative", ErrSharing))
			continue
		}
		parts = append(parts, rep)
	}
	switch len(parts) {
	case 0:
	case 1:
		r.Narrative = parts[0].Content
	default:
		var b strings.Builder
		for i, p := range parts {
			if i > 0 {
				b.WriteString("\n\n")
			}
			fmt.Fprintf(&b, "## %s\n\n%s", strings.TrimSpace(p.Name), p.Content)
		}
		r.Narrative = b.String()
	}
	r.Narrative = im.cut("Event", "narrative", r.Narrative, MaxNarrativeLen)
}

// sharingOf works out the sharing of an event (parent holds only the
// default TLP), object, attribute or event report from its distribution,
// its sharing group and its own tlp: tags (ownTLP, "" when it has none).
// It never widens what the parent allows, and narrows to the source alone
// what the hub cannot honour, with a problem.
func (im *importer) sharingOf(where string, parent sharing, dist string, sg *SharingGroup, sgID string, ownTLP *policy.TLP) sharing {
	isEvent := parent.kind == ""
	s := parent
	if ownTLP != nil && *ownTLP != "" {
		s.tlp = *ownTLP
	}
	own := sharing{groupID: sgID}
	switch d := strings.TrimSpace(dist); d {
	case "":
		if isEvent {
			own.kind = policy.Network
		} else {
			own = parent
		}
	case "5":
		if isEvent {
			im.problem(where, fmt.Errorf(`%w: distribution "5" (inherit) on an event; shared with the source organisation only`, ErrSharing))
			own.kind = policy.Orgs
		} else {
			own = parent
		}
	case "0":
		own.kind = policy.Orgs
	case "1", "2", "3":
		own.kind = policy.Network
	case "4":
		switch {
		case sg != nil && (sg.UUID != "" || sg.Name != ""):
			own.kind = policy.Group
			own.groupName = strings.TrimSpace(sg.Name)
			own.groupRef = own.groupName
			if u, err := uuid.Parse(sg.UUID); err == nil {
				own.groupRef = u.String()
			}
		case !isEvent && parent.kind == policy.Group && (sgID == "" || sgID == "0" || sgID == parent.groupID):
			own = parent
		default:
			im.problem(where, fmt.Errorf(`%w: distribution "4" without its SharingGroup (which group is unknown); shared with the source organisation only`, ErrSharing))
			own.kind = policy.Orgs
		}
	default:
		im.problem(where, fmt.Errorf("%w: distribution %q is not one of 0 to 5; shared with the source organisation only", ErrSharing, clip(d)))
		own.kind = policy.Orgs
	}
	// An item is never shared wider than what holds it.
	switch {
	case isEvent:
		s.kind, s.groupRef, s.groupName, s.groupID = own.kind, own.groupRef, own.groupName, own.groupID
	case parent.kind == policy.Orgs || own.kind == policy.Orgs:
		s.kind, s.groupRef, s.groupName = policy.Orgs, "", ""
	case own.kind == policy.Group && parent.kind == policy.Group && own.groupRef != parent.groupRef:
		im.problem(where, fmt.Errorf("%w: sharing group %q inside sharing group %q; shared with the source organisation only", ErrSharing, clip(own.groupRef), clip(parent.groupRef)))
		s.kind, s.groupRef, s.groupName = policy.Orgs, "", ""
	case own.kind == policy.Group:
		s.kind, s.groupRef, s.groupName, s.groupID = own.kind, own.groupRef, own.groupName, own.groupID
	}
	if s.tlp == policy.Red && s.kind != policy.Orgs {
		im.problem(where, fmt.Errorf("%w: tlp:red needs named recipients, which a MISP distribution does not give; shared with the source organisation only", ErrSharing))
		s.kind, s.groupRef, s.groupName = policy.Orgs, "", ""
	}
	return s
}

// attrTags sorts an attribute's tags: TLP, hdn: type, confidence,
// labels, and the rest as tags.
type attrTags struct {
	tlp        policy.TLP
	hdnType    indicator.Type
	confidence int
	confSet    bool
	labels     []string
	tags       []string
}

func (im *importer) readTags(where string, a *Attribute) attrTags {
	var at attrTags
	for _, t := range a.Tag {
		name := strings.TrimSpace(t.Name)
		if lv, isTLP, ok := tlpTag(name); isTLP {
			if !ok {
				im.problem(where, fmt.Errorf("%w: %q is not a TLP 2.0 level; not used", ErrField, clip(name)))
			}
			at.tlp = stricter(at.tlp, lv)
			continue
		}
		if pred, value, ok := hdnTag(name); ok {
			if pred == "type" {
				if t, err := indicator.ParseType(value); err == nil {
					at.hdnType = t
				}
			}
			continue
		}
		if c, isConf, ok := confidenceTag(name); isConf {
			if ok {
				at.confidence, at.confSet = c, true
			}
			continue
		}
		if l, ok := label(name); ok {
			at.labels = appendNew(at.labels, l)
			if strings.EqualFold(strings.TrimLeft(name, "#"), l) {
				continue // the tag is the label itself
			}
		}
		at.tags = append(at.tags, name)
	}
	return at
}

func (im *importer) attribute(where string, obj *Object, parent sharing, a *Attribute) {
	if a.Deleted {
		return
	}
	at := im.readTags(where, a)
	sh := im.sharingOf(where, parent, a.Distribution, a.SharingGroup, a.SharingGroupID, &at.tlp)
	attrID, _ := im.uuid(where, a.UUID)
	r := &im.out.Report
	switch a.Type {
	case "threat-actor":
		if r.ThreatActor == "" && strings.TrimSpace(a.Value) != "" {
			r.ThreatActor = im.cut(where, "threat actor", strings.TrimSpace(a.Value), MaxNameLen)
		}
	case "campaign-name":
		if r.Campaign == "" && strings.TrimSpace(a.Value) != "" {
			r.Campaign = im.cut(where, "campaign", strings.TrimSpace(a.Value), MaxNameLen)
		}
	}

	if !a.ToIDS {
		im.context(where, obj, a, attrID, "", sh)
		return
	}
	var parts []Part
	switch {
	case at.hdnType != "" && (a.Type == "text" || a.Type == "other"):
		parts = []Part{plainPart(at.hdnType, a.Value)}
	default:
		var err error
		parts, err = Split(a.Type, a.Value)
		if errors.Is(err, ErrContextType) {
			im.context(where, obj, a, attrID, "", sh)
			return
		}
		if err != nil {
			im.problem(where, fmt.Errorf("%w: %w", ErrBadValue, err))
			im.context(where, obj, a, attrID, "", sh)
			return
		}
	}

	until, expired := im.expiration(where, a)
	if expired {
		im.problem(where, fmt.Errorf("%w: an expiration sighting at %s", ErrExpired, until.Format(time.RFC3339)))
		im.context(where, obj, a, attrID, "", sh)
		return
	}
	labels := im.limitWords(where, "labels", appendNew(slices.Clone(im.labels), at.labels...), MaxLabels, MaxLabelLen)
	tags := im.tags(where, at.tags)
	conf := im.confidence
	if at.confSet {
		conf = at.confidence
	}
	desc := im.cut(where, "comment", strings.TrimSpace(a.Comment), MaxDescriptionLen)
	bad := false
	for i, p := range parts {
		if p.Err != nil {
			im.problem(where, fmt.Errorf("%w: %w", ErrBadValue, p.Err))
			bad = true
			continue
		}
		id := attrID
		if i > 0 && id != "" {
			id = uuid.NewSHA1(uuid.MustParse(attrID), fmt.Appendf(nil, "hdn:part:%d", i)).String()
		}
		ii := ImportedIndicator{
			Sub: model.Submission{
				Type: p.Type, Value: p.Value, TLP: sh.tlp, Audience: sh.audience(),
				Labels: labels, Description: desc, Confidence: conf, ValidUntil: until,
				Tags: tags, ID: id,
			},
			GroupRef: sh.groupRef, GroupName: sh.groupName,
			Where: where, MISPType: a.Type, Category: a.Category,
		}
		im.out.Indicators = append(im.out.Indicators, ii)
		im.sightings(where, a, &ii.Sub)
	}
	if bad {
		im.context(where, obj, a, attrID, "", sh)
		return
	}
	if name := fileName(a.Type, a.Value); name != "" {
		id := ""
		if attrID != "" {
			id = uuid.NewSHA1(uuid.MustParse(attrID), []byte("hdn:filename")).String()
		}
		fa := *a
		fa.Type, fa.Value = "filename", name
		im.context(where, obj, &fa, id, "filename", sh)
	}
}

// expiration reads the earliest expiration sighting (type "2") of an
// attribute: the time the indicator stops being valid.
func (im *importer) expiration(where string, a *Attribute) (time.Time, bool) {
	var until time.Time
	for _, s := range a.Sighting {
		if strings.TrimSpace(s.Type) != "2" {
			continue
		}
		t, ok := parseUnix(s.DateSighting)
		if !ok {
			continue // reported by sightings
		}
		if until.IsZero() || t.Before(until) {
			until = t
		}
	}
	return until, !until.IsZero() && !until.After(im.opt.Now)
}

func (im *importer) sightings(where string, a *Attribute, sub *model.Submission) {
	for i, s := range a.Sighting {
		sw := fmt.Sprintf("%s Sighting %d", where, i+1)
		var kind model.SightingKind
		switch strings.TrimSpace(s.Type) {
		case "", "0", "3": // seen; "3" seen and confirmed a true positive
			kind = model.Sighted
		case "1":
			kind = model.FalsePositive
		case "2":
			if _, ok := parseUnix(s.DateSighting); !ok {
				im.problem(sw, fmt.Errorf("%w: date_sighting %q is not unix seconds", ErrField, clip(s.DateSighting)))
			}
			continue // an expiration: ValidUntil
		default:
			im.problem(sw, fmt.Errorf("%w: sighting type %q is not 0, 1, 2 or 3", ErrField, clip(s.Type)))
			continue
		}
		at, ok := parseUnix(s.DateSighting)
		if !ok {
			im.problem(sw, fmt.Errorf("%w: date_sighting %q is not unix seconds", ErrField, clip(s.DateSighting)))
			continue
		}
		im.out.Sightings = append(im.out.Sightings, ImportedSighting{
			AttributeUUID: sub.ID, Value: sub.Value, Type: sub.Type, Kind: kind, At: at,
		})
	}
}

// context keeps an attribute as context of the report, unless it is shared
// more narrowly than the report, which would widen it. id is the context's
// id ("" derives one); what says which part it is, for the derived id.
func (im *importer) context(where string, obj *Object, a *Attribute, id, what string, sh sharing) {
	if !im.share.covers(sh) {
		im.problem(where, fmt.Errorf("%w: context shared more narrowly (tlp:%s, %s) than its report; left out", ErrSharing, sh.tlp, sh.kind))
		return
	}
	if id == "" {
		id = uuid.NewSHA1(im.ns, []byte(where+"\x00"+what)).String()
	}
	c := model.ContextAttribute{
		ID:       id,
		Type:     a.Type,
		Category: a.Category,
		Value:    im.cut(where, "value", a.Value, MaxContextLen),
		Comment:  im.cut(where, "comment", strings.TrimSpace(a.Comment), MaxDescriptionLen),
	}
	if obj != nil {
		c.Object = obj.Name
	}
	im.out.Report.Context = append(im.out.Report.Context, c)
}

// uuid checks a uuid and returns it in canonical (lower-case) form. A
// missing one is no problem; a malformed one is.
func (im *importer) uuid(where, s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	if !isUUID(s) {
		im.problem(where, fmt.Errorf("%w: uuid %q is not a UUID", ErrField, clip(s)))
		return "", false
	}
	return strings.ToLower(s), true
}

// tags keeps the first MaxTags distinct tags of at most MaxTagLen bytes
// without control characters.
func (im *importer) tags(where string, tags []string) []string {
	return im.limitWords(where, "tags", tags, MaxTags, MaxTagLen)
}

func (im *importer) limitWords(where, what string, words []string, maxN, maxLen int) []string {
	var out []string
	for _, w := range words {
		w = strings.TrimSpace(w)
		switch {
		case w == "" || slices.Contains(out, w):
			continue
		case len(w) > maxLen:
			im.problem(where, fmt.Errorf("%w: %s entry %q is longer than %d bytes; left out", ErrLimit, what, clip(w), maxLen))
			continue
		case strings.ContainsFunc(w, indicator.IsTextControl) || !utf8.ValidString(w):
			im.problem(where, fmt.Errorf("%w: %s entry %q has a control character; left out", ErrLimit, what, clip(w)))
			continue
		case len(out) == maxN:
			im.problem(where, fmt.Errorf("%w: more than %d %s; the first %d kept", ErrLimit, maxN, what, maxN))
			return out
		}
		out = append(out, w)
	}
	return out
}

// cut shortens s to at most n bytes on a character boundary, with a
// problem when it does.
func (im *importer) cut(where, what, s string, n int) string {
	if len(s) <= n {
		return s
	}
	im.problem(where, fmt.Errorf("%w: %s is %d bytes, cut to %d", ErrLimit, what, len(s), n))
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// SetSource records who shares what was imported: Source and SubmittedBy
// on the report and every submission, and source as the one organisation
// of every audience of kind orgs that names nobody (distribution "0", and
// what Import narrowed).
func (im *Imported) SetSource(source, submittedBy string) {
	fill := func(a *policy.Audience) {
		if a.Kind == policy.Orgs && len(a.Orgs) == 0 && source != "" {
			a.Orgs = []string{source}
		}
	}
	im.Report.Source, im.Report.SubmittedBy = source, submittedBy
	fill(&im.Report.Audience)
	for i := range im.Indicators {
		s := &im.Indicators[i].Sub
		s.Source, s.SubmittedBy = source, submittedBy
		fill(&s.Audience)
	}
}

// ResolveGroups turns the sharing groups of the report and indicators into
// hub group ids with resolve (given the group's uuid or name, and its name).
// A group resolve does not know narrows the audience to the source
// organisation alone (Report.Source, when SetSource ran before), with a
// problem.
func (im *Imported) ResolveGroups(resolve func(ref, name string) (id string, ok bool)) {
	do := func(where, ref, name string, a *policy.Audience) {
		if a.Kind != policy.Group || a.Group != "" {
			return
		}
		if id, ok := resolve(ref, name); ok && id != "" {
			a.Group = id
			return
		}
		im.Problems = append(im.Problems, Problem{Where: where, Err: fmt.Errorf("%w: sharing group %q is not known to the hub; shared with the source organisation only", ErrSharing, clip(ref))})
		*a = policy.Audience{Kind: policy.Orgs}
		if im.Report.Source != "" {
			a.Orgs = []string{im.Report.Source}
		}
	}
	do("Event", im.GroupRef, im.GroupName, &im.Report.Audience)
	for i := range im.Indicators {
		ii := &im.Indicators[i]
		do(ii.Where, ii.GroupRef, ii.GroupName, &ii.Sub.Audience)
	}
}

// appendNew appends the words of add not yet in dst.
func appendNew(dst []string, add ...string) []string {
	for _, w := range add {
		if !slices.Contains(dst, w) {
			dst = append(dst, w)
		}
	}
	return dst
}

// parseUnix reads MISP's unix-seconds timestamps.
func parseUnix(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// isUUID accepts the canonical 8-4-4-4-12 form only, which is what MISP
// writes and what feed file names use.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// hdnNamespace is the namespace of the ids Import and ExportEvent derive.
var hdnNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:hdn:misp"))
