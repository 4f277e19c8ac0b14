package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/export"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/stix"
	"github.com/hdnetwork/hdn/internal/store"
)

// STIXImportOptions says how STIX objects brought in from outside (a TAXII
// POST, a bundle upload, a TAXII feed) are stored.
type STIXImportOptions struct {
	// DefaultTLP is the TLP of objects that carry no TLP marking ("" means
	// DefaultTLP, amber).
	DefaultTLP policy.TLP
	// Audience of what is stored; the zero value is the whole network.
	Audience policy.Audience
	// Origin names where the objects came from in the audit log ("taxii",
	// "feed NAME", "import").
	Origin string
}

// STIXObjectOutcome is what became of one STIX object.
type STIXObjectOutcome struct {
	ID      string `json:"id"`
	Version string `json:"version"` // its modified, else created
	Message string `json:"message,omitempty"`
}

// STIXImportResult counts what an import did.
type STIXImportResult struct {
	Created   int                 `json:"created"`  // indicators created (plain and pattern)
	Updated   int                 `json:"updated"`  // indicators updated
	Patterns  int                 `json:"patterns"` // stix-pattern indicators among those stored
	Revoked   int                 `json:"revoked"`  // indicators revoked by a revoked version
	Context   int                 `json:"context"`  // objects kept as context (new or newer versions)
	Reports   int                 `json:"reports"`  // hdn reports made or updated from STIX reports and groupings
	Successes []STIXObjectOutcome `json:"successes"`
	Failures  []STIXObjectOutcome `json:"failures"`
	// LastSeq is the change sequence of the last indicator change (0 when
	// none).
	LastSeq int64 `json:"-"`
}

// stixItem is one object of an import on its way to the store.
type stixItem struct {
	obj     stix.Object
	tlp     policy.TLP
	fail    string // why it is refused; "" when it is not
	note    string // what was done, for a success
	subs    []int  // indices of its submissions
	stored  int    // how many of them were stored
	kept    bool   // kept as context
	keptAs  store.ObjectStatus
	skipped []string // values of the pattern that were refused
}

// ImportSTIX stores STIX 2.1 objects (a bundle's or an envelope's objects)
// as p's organisation's, all in one transaction:
//
//   - an indicator with a STIX pattern becomes hdn indicators: one plain
//     indicator per value when its pattern is an OR of equalities on a plain
//     type, else one stix-pattern indicator (indicator.FromSTIXPattern). The
//     first takes the STIX id's UUID as its id when that is free, so that
//     hdn's STIX export gives the same id back. Each passes the checks of a
//     native submission (canonical form, TLP and audience, warninglists).
//     Labels and indicator_types become labels, kill-chain phases tags
//     (stix.KillChainTag), the name the description when there is none. A
//     revoked indicator revokes the indicator of that id when p may curate
//     it. An indicator of another pattern_type (sigma, yara, snort, …) is
//     kept as context: hdn cannot evaluate it, but serves it back.
//   - a report or grouping becomes an hdn report (its UUID the report id;
//     the indicators it names are linked to it) and is kept as context too.
//   - TLP marking definitions and the TLP 2.0 extension definition are
//     read (they give the TLP of what refers to them) and not kept: the hub
//     serves the OASIS objects.
//   - every other object — identity, malware, threat-actor, campaign,
//     intrusion-set, relationship, sighting, attack-pattern, observables,
//     other marking definitions, custom objects — is kept as context,
//     byte for byte (store.STIXObjects).
//
// An object kept byte for byte (context indicators and reports included)
// is refused when its created_by_ref names anyone but the importer: the
// hub, another organisation, or an identity the importer does not hold
// (checkAuthors).
//
// Each object's TLP is that of its object_marking_refs (TLP 1.0 or 2.0,
// also TLP marking definitions among the objects; the most restrictive
// wins), else opt.DefaultTLP. An error of type *Error is the client's.
func (s *Server) ImportSTIX(ctx context.Context, p *Principal, objects []json.RawMessage, opt STIXImportOptions) (STIXImportResult, error) {
	res := STIXImportResult{Successes: []STIXObjectOutcome{}, Failures: []STIXObjectOutcome{}}
	if !p.Key.Role.CanSubmit() {
		return res, forbidden("a %s key may not add objects", p.Key.Role)
	}
	if len(objects) > s.limits.MaxItems {
		return res, errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "%d objects in one import, at most %d allowed; split it", len(objects), s.limits.MaxItems)
	}
	if opt.DefaultTLP == "" {
		opt.DefaultTLP = DefaultTLP
	}
	if opt.Audience.Kind == "" {
		opt.Audience = policy.NetworkAudience()
	}
	if opt.Origin == "" {
		opt.Origin = "STIX"
	}
	now := s.now().UTC()

	items := make([]stixItem, len(objects))
	defined := map[string]policy.TLP{} // TLP marking definitions among the objects
	for i, raw := range objects {
		it := &items[i]
		o, err := stix.ReadObject(raw)
		it.obj = o
		if o.ID == "" {
			o.ID = fmt.Sprintf("object %d", i+1)
			it.obj.ID = o.ID
		}
		if err != nil {
			it.fail = err.Error()
			continue
		}
		if o.Type == "marking-definition" {
			if tlp, ok := stix.TLPFromMarkingObject(raw); ok {
				defined[o.ID] = tlp
			}
		}
	}
	lookup := func(id string) (policy.TLP, bool) { tlp, ok := defined[id]; return tlp, ok }
	for i := range items {
		it := &items[i]
		if it.fail != "" {
			continue
		}
		tlp, err := stix.TLPOfObjectFunc(it.obj.MarkingRefs, opt.DefaultTLP, lookup)
		if err != nil {
			it.fail = err.Error()
			continue
		}
		it.tlp = tlp
		if err := policy.CheckAudience(tlp, opt.Audience); err != nil {
			it.fail = "tlp " + string(tlp) + ": " + err.Error()
		}
	}

	if err := s.checkAuthors(ctx, p, items); err != nil {
		return res, err
	}

	// Reports and groupings first: their ids link the indicators.
	reportOf := map[string]string{} // indicator STIX id -> hdn report id
	for i := range items {
		it := &items[i]
		if it.fail != "" || (it.obj.Type != "report" && it.obj.Type != "grouping") {
			continue
		}
		id, err := s.importSTIXReport(ctx, p, &it.obj, it.tlp, opt.Audience, now)
		if err != nil {
			if isInternal(err) {
				return res, err
			}
			it.fail = err.Error()
			continue
		}
		res.Reports++
		it.note = "report " + id
		for _, ref := range it.obj.ObjectRefs {
			if strings.HasPrefix(ref, "indicator--") && reportOf[ref] == "" {
				reportOf[ref] = id
			}
		}
	}

	rs := newResolver(s, p)
	var (
		subs    []model.Submission
		subItem []int
		objs    []model.STIXObject
		objItem []int
	)
	keep := func(i int) {
		it := &items[i]
		it.kept = true
		objs = append(objs, model.STIXObject{
			ID: it.obj.ID, Type: it.obj.Type, Modified: firstSet(it.obj.Modified, it.obj.Created),
			Raw: it.obj.Raw, TLP: it.tlp, Audience: opt.Audience, Source: p.Org.ID, SubmittedBy: p.Org.ID,
		})
		objItem = append(objItem, i)
	}
	for i := range items {
		it := &items[i]
		if it.fail != "" {
			continue
		}
		switch {
		case stix.IsTLPObject(&it.obj):
			it.note = "TLP definition: read, not kept (the hub serves the OASIS object)"
		case it.obj.ID == s.hubIdentity():
			it.note = "this hub's own identity: not kept"
		case it.obj.Type == "indicator" && it.obj.Indicator.PatternType != "stix":
			// Its id must not be one of the hub's indicators': exports and
			// TAXII would then carry two objects of one id, and a tool that
			// imports by id would take the context object (revoked, say)
			// for the indicator.
			if _, err := s.st.IndicatorByID(ctx, strings.TrimPrefix(it.obj.ID, "indicator--")); err == nil {
				it.fail = "its id is a hub indicator's; a context object needs an id of its own"
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return res, internalError{err}
			}
			it.note = "kept as context: pattern_type " + clip(it.obj.Indicator.PatternType) + " is not evaluated by hdn"
			keep(i)
		case it.obj.Type == "indicator" && it.obj.Revoked:
			if err := s.revokeSTIX(ctx, p, it, &res, now); err != nil {
				return res, err
			}
		case it.obj.Type == "indicator":
			ss, err := s.stixSubmissions(ctx, rs, it, reportOf[it.obj.ID], opt.Audience, now)
			if err != nil {
				if isInternal(err) {
					return res, err
				}
				it.fail = err.Error()
				continue
			}
			for _, sub := range ss {
				it.subs = append(it.subs, len(subs))
				subs = append(subs, sub)
				subItem = append(subItem, i)
			}
		default:
			keep(i)
		}
	}

	if len(subs) > 0 || len(objs) > 0 {
		var created []newIndicator
		if err := s.storeSTIX(ctx, subs, objs, func(k int, ur store.UpsertResult) {
			it := &items[subItem[k]]
			it.stored++
			if ur.Status == store.StatusCreated {
				if !ur.Quarantined { // a quarantined value is not announced
					created = append(created, newIndicator{k, ur.ID})
				}
				res.Created++
			} else {
				res.Updated++
			}
			if subs[k].Type == indicator.STIXPattern {
				res.Patterns++
			}
			res.LastSeq = max(res.LastSeq, ur.Seq)
		}, func(k int, st store.ObjectStatus) {
			it := &items[objItem[k]]
			it.keptAs = st
			if st == store.ObjectCreated || st == store.ObjectReplaced {
				res.Context++
			}
		}); err != nil {
			return res, internalError{err}
		}
		s.announceAll(ctx, subs, created)
	}

	for i := range items {
		it := &items[i]
		d := STIXObjectOutcome{ID: it.obj.ID, Version: it.obj.Version}
		switch {
		case it.fail != "":
			d.Message = it.fail
			res.Failures = append(res.Failures, d)
			continue
		case it.obj.Type == "indicator" && it.obj.Indicator.PatternType == "stix" && !it.obj.Revoked:
			d.Message = fmt.Sprintf("%d indicator value(s) stored", it.stored)
			if len(it.skipped) > 0 {
				d.Message += "; refused: " + strings.Join(it.skipped, "; ")
			}
		case it.kept:
			d.Message = keptMessage(it)
		default:
			d.Message = it.note
		}
		res.Successes = append(res.Successes, d)
	}
	s.audit(ctx, p, "stix.import", "", fmt.Sprintf("%s: %d objects: %d indicators created, %d updated (%d patterns), %d revoked, %d context, %d reports, %d failed",
		opt.Origin, len(objects), res.Created, res.Updated, res.Patterns, res.Revoked, res.Context, res.Reports, len(res.Failures)))
	if s.notify != nil && res.LastSeq > 0 {
		s.notify.Notify(ctx, res.LastSeq)
	}
	return res, nil
}

// hubIdentity is the STIX id of this hub's identity, the created_by_ref of
// everything it exports (export.HubIdentityID).
func (s *Server) hubIdentity() string { return export.HubIdentityID(s.hubName) }

// keptAsWritten says whether ImportSTIX keeps o byte for byte, so that the
// STIX export and TAXII serve it exactly as the importer wrote it: every
// object but TLP definitions, this hub's identity and indicators with a
// STIX pattern (which become hdn indicators, written by the hub).
func (s *Server) keptAsWritten(o *stix.Object) bool {
	switch {
	case stix.IsTLPObject(o), o.ID == s.hubIdentity():
		return false
	case o.Type == "indicator":
		return o.Indicator.PatternType != "stix"
	}
	return true
}

// checkAuthors refuses each object ImportSTIX would keep as written
// (keptAsWritten) whose created_by_ref names someone other than the
// importer. The hub serves such an object to every reader unchanged, so its
// created_by_ref is an authorship every reader's tools believe: a member
// must not write a Suricata rule, a report or a malware as the hub (whose
// identity id anyone can compute from its name), as another organisation,
// or as an outside source whose identity a reader's platform already
// knows. created_by_ref may be absent, or name an identity that is p's
// organisation's: one that this import carries and that no other
// organisation holds at the hub, or one that p's organisation already
// keeps at the hub. Indicators with a STIX pattern are not checked: the
// hub writes them itself, as its own identity.
func (s *Server) checkAuthors(ctx context.Context, p *Principal, items []stixItem) error {
	carried := map[string]bool{} // identities of this import
	for i := range items {
		if o := &items[i].obj; items[i].fail == "" && o.Type == "identity" && s.keptAsWritten(o) {
			carried[o.ID] = true
		}
	}
	held := map[string]string{} // identity id -> organisation holding it at the hub ("" when none)
	problem := func(ref string) (string, error) {
		if ref == "" {
			return "", nil
		}
		if ref == s.hubIdentity() {
			return "created_by_ref names this hub's own identity (" + ref + "): only the hub writes as itself; " +
				"leave created_by_ref out or name your organisation's identity", nil
		}
		if !strings.HasPrefix(ref, "identity--") {
			return fmt.Sprintf("created_by_ref %q is not an identity's id", clip(ref)), nil
		}
		src, ok := held[ref]
		if !ok {
			o, err := s.st.STIXObjectByID(ctx, ref)
			switch {
			case err == nil:
				src = o.Source
			case !errors.Is(err, store.ErrNotFound):
				return "", internalError{err}
			}
			held[ref] = src
		}
		switch {
		case src != "" && src != p.Org.ID:
			return "created_by_ref names identity " + ref + ", which another organisation keeps at this hub: " +
				"an object kept as context may only name its importer's identity", nil
		case src == "" && !carried[ref]:
			return "created_by_ref names identity " + ref + ", which neither this import carries nor your " +
				"organisation keeps at this hub: include that identity object, or leave created_by_ref out", nil
		}
		return "", nil
	}
	// Identities first: one refused is no longer this import's to name.
	for _, identities := range []bool{true, false} {
		for i := range items {
			it := &items[i]
			if it.fail != "" || (it.obj.Type == "identity") != identities || !s.keptAsWritten(&it.obj) {
				continue
			}
			msg, err := problem(it.obj.CreatedByRef)
			if err != nil {
				return err
			}
			if msg != "" {
				it.fail = msg
				delete(carried, it.obj.ID)
			}
		}
	}
	return nil
}

func keptMessage(it *stixItem) string {
	msg := it.note
	if msg == "" {
		msg = "kept as context"
	}
	if it.note != "" && strings.HasPrefix(it.note, "report ") {
		msg = "became " + it.note + "; kept as context"
	}
	switch it.keptAs {
	case store.ObjectUnchanged:
		msg += " (the hub holds this version or a newer one)"
	case store.ObjectForeign:
		msg += " (not replaced: this id belongs to another organisation's object)"
	}
	return msg
}

// stixSubmissions turns one STIX indicator into checked submissions.
func (s *Server) stixSubmissions(ctx context.Context, rs *resolver, it *stixItem, reportID string, aud policy.Audience, now time.Time) ([]model.Submission, error) {
	o := &it.obj
	plain, refused, err := indicator.FromSTIXPattern(o.Indicator.Pattern)
	if err != nil {
		return nil, err
	}
	for _, r := range refused {
		it.skipped = append(it.skipped, r.Error())
	}
	if len(plain) == 0 {
		return nil, fmt.Errorf("no value of the pattern could be taken: %s", strings.Join(it.skipped, "; "))
	}
	labels := append(slices.Clone(o.Indicator.IndicatorTypes), o.Labels...)
	labels = dedupFold(labels)
	var tags []string
	for _, kc := range o.Indicator.KillChainPhases {
		if kc.KillChainName != "" && kc.PhaseName != "" {
			tags = append(tags, stix.KillChainTag(kc))
		}
	}
	desc := o.Description
	if desc == "" && o.Name != "" && (len(plain) != 1 || o.Name != plain[0].Value) {
		desc = o.Name
	}
	_, uuidPart, _ := strings.Cut(o.ID, "--")
	var out []model.Submission
	for k, pv := range plain {
		base := model.Submission{
			Type: pv.Type, Value: pv.Value, TLP: it.tlp, Audience: aud, Labels: labels, Description: desc,
			Confidence: defaultConfidence, ValidFrom: o.Indicator.ValidFrom, ValidUntil: o.Indicator.ValidUntil, Tags: tags,
		}
		if o.Indicator.Confidence != nil {
			base.Confidence = *o.Indicator.Confidence
		}
		si := submitItemOf(&base)
		sub, hits, err := rs.validate(ctx, &si, now)
		if err != nil {
			if isInternal(err) {
				return nil, err
			}
			msg := pv.Value + ": " + err.Error()
			if len(hits) > 0 {
				msg += " (warninglist " + hits[0].List + ")"
			}
			if len(plain) == 1 {
				return nil, errors.New(msg)
			}
			it.skipped = append(it.skipped, msg)
			continue
		}
		sub.ReportID = reportID
		sub.ID = stixValueID(uuidPart, k, pv.Type, pv.Value)
		out = append(out, sub)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no value of the pattern could be taken: %s", strings.Join(it.skipped, "; "))
	}
	return out, nil
}

// stixValueNamespace names the ids of the values of a STIX indicator after
// its first (stixValueID).
var stixValueNamespace = uuid.MustParse("5b0b7a4e-3f8d-4c53-9a1e-6d2f0c8b7e41")

// stixValueID is the id a value of a STIX indicator's pattern asks for: the
// STIX id's UUID for the first value, and for the k-th after it a UUID
// derived from that UUID and the value, so that a later revoked version of
// the indicator finds every value it gave (revokeSTIX). The store gives a
// fresh id instead when the one asked for is taken.
func stixValueID(uuidPart string, k int, t indicator.Type, value string) string {
	if k == 0 {
		return uuidPart
	}
	return uuid.NewSHA1(stixValueNamespace, []byte(uuidPart+"\x00"+string(t)+"\x00"+value)).String()
}

// revokeSTIX handles a revoked indicator: the indicators its pattern's
// values gave (by the ids stixValueID asks for) are revoked when p may
// curate them.
func (s *Server) revokeSTIX(ctx context.Context, p *Principal, it *stixItem, res *STIXImportResult, now time.Time) error {
	_, uuidPart, _ := strings.Cut(it.obj.ID, "--")
	ids := []string{uuidPart}
	if plain, _, err := indicator.FromSTIXPattern(it.obj.Indicator.Pattern); err == nil {
		for k, pv := range plain {
			if k > 0 {
				ids = append(ids, stixValueID(uuidPart, k, pv.Type, pv.Value))
			}
		}
	}
	var held, foreign, already, revoked int
	for _, id := range ids {
		ind, err := s.st.Indicator(ctx, p.Viewer, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return internalError{err}
		case !canCurate(p, ind.Source) && p.Org.Kind != policy.Coordinator:
			held++
			foreign++
			continue
		case ind.Revoked:
			held++
			already++
			continue
		}
		held++
		rev, err := s.st.Revoke(ctx, id, now)
		if err != nil {
			return internalError{err}
		}
		revoked++
		res.Revoked++
		res.LastSeq = max(res.LastSeq, rev.Seq)
	}
	switch {
	case held == 0:
		it.fail = "the indicator is revoked and the hub holds no indicator of this id: nothing to store"
	case revoked == 0 && foreign > 0:
		it.fail = "the indicator is revoked, but the hub's indicator of this id belongs to another organisation"
	case revoked == 0:
		it.note = "already revoked"
	case revoked == 1:
		it.note = "indicator revoked"
	default:
		it.note = fmt.Sprintf("%d indicators revoked", revoked)
	}
	return nil
}

// importSTIXReport makes or updates the hdn report of a STIX report or
// grouping and returns its id: the STIX id's UUID, or p's own copy of it
// when that report is another organisation's.
func (s *Server) importSTIXReport(ctx context.Context, p *Principal, o *stix.Object, tlp policy.TLP, aud policy.Audience, now time.Time) (string, error) {
	_, id, _ := strings.Cut(o.ID, "--")
	title := strings.TrimSpace(o.Name)
	if title == "" {
		title = o.Type + " " + id
	}
	if len(title) > maxTitleLen {
		title = title[:maxTitleLen]
	}
	title = asText(title) // a cut in the middle of a character, or a NUL in the file
	narrative := asText(o.Description)
	if len(narrative) > maxNarrativeLen {
		return "", fmt.Errorf("description is %d bytes, at most %d allowed", len(narrative), maxNarrativeLen)
	}
	tags, err := checkWords("labels", o.Labels, maxTags, maxTagLen, false)
	if err != nil {
		return "", err
	}
	rep := model.Report{ID: id, Title: title, Narrative: narrative, Tags: tags, TLP: tlp, Audience: aud,
		Source: p.Org.ID, SubmittedBy: p.Org.ID, Created: firstSet(o.Created, now), Modified: firstSet(o.Modified, o.Created, now)}
	existing, err := s.st.ReportByID(ctx, id)
	if err == nil {
		ok, cerr := s.curatesReport(ctx, p, existing, rep)
		if cerr != nil {
			return "", internalError{cerr}
		}
		if !ok {
			rep.ID = OwnCopyID(p.Org.ID, id)
			existing, err = s.st.ReportByID(ctx, rep.ID)
		}
	}
	switch {
	case err == nil:
		rep.Source, rep.SubmittedBy, rep.Anonymous, rep.Created = existing.Source, existing.SubmittedBy, existing.Anonymous, existing.Created
		rep.Context = existing.Context
		if _, err := s.st.UpdateReport(ctx, rep); err != nil {
			return "", internalError{err}
		}
	case errors.Is(err, store.ErrNotFound):
		if _, err := s.st.CreateReport(ctx, rep); err != nil {
			return "", internalError{err}
		}
	default:
		return "", internalError{err}
	}
	return rep.ID, nil
}

// curatesReport says whether p may replace report r by next: p curates it
// (its source or the source's partner, or the coordinator) and may see it,
// and, unless p is the source's side, next shares it no more openly nor to
// other recipients. The coordinator does not see a RED report not addressed
// to it, and must neither re-mark it nor read what it keeps by replacing
// it; and it does not open what a member shared.
func (s *Server) curatesReport(ctx context.Context, p *Principal, r, next model.Report) (bool, error) {
	if !canCurate(p, r.Source) {
		return false, nil
	}
	if !sourceSide(p, r.Source) && reshares(r.TLP, r.Audience, next.TLP, next.Audience) {
		return false, nil
	}
	_, err := s.st.Report(ctx, p.Viewer, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// storeSTIX writes indicators and kept objects in one transaction.
func (s *Server) storeSTIX(ctx context.Context, subs []model.Submission, objs []model.STIXObject,
	eachSub func(k int, ur store.UpsertResult), eachObj func(k int, st store.ObjectStatus)) error {
	ing, err := s.beginIngest(ctx)
	if err != nil {
		return err
	}
	defer ing.Rollback()
	for start := 0; start < len(subs); start += putChunk {
		end := min(start+putChunk, len(subs))
		urs, err := ing.Put(ctx, subs[start:end])
		if err != nil {
			return err
		}
		for j, ur := range urs {
			eachSub(start+j, ur)
		}
	}
	if len(objs) > 0 {
		sts, err := ing.PutSTIXObjects(ctx, objs)
		if err != nil {
			return err
		}
		for k, st := range sts {
			eachObj(k, st)
		}
	}
	return ing.Commit()
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// dedupFold drops repeated labels (case-insensitively), keeping the first.
func dedupFold(xs []string) []string {
	out := xs[:0:0]
	for _, x := range xs {
		if !slices.ContainsFunc(out, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

// importSTIXBundle takes a STIX 2.1 bundle (or a TAXII envelope) and stores
// it with ImportSTIX. Query parameters: tlp, the level of objects without a
// TLP marking (default amber); group or orgs (comma-separated names or
// ids), the audience of everything stored (default the whole network).
func (s *Server) importSTIXBundle(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if !p.Key.Role.CanSubmit() {
		return forbidden("a %s key may not submit indicators", p.Key.Role)
	}
	if err := onlyParams(r, "tlp", "group", "orgs"); err != nil {
		return err
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	qs := r.URL.Query()
	var aud *AudienceJSON
	switch {
	case qs.Get("group") != "" && qs.Get("orgs") != "":
		return badRequest("give group or orgs, not both")
	case qs.Get("group") != "":
		aud = &AudienceJSON{Group: qs.Get("group")}
	case qs.Get("orgs") != "":
		aud = &AudienceJSON{Orgs: strings.Split(qs.Get("orgs"), ",")}
	}
	ctx := r.Context()
	rs := newResolver(s, p)
	// The default TLP and the audience are checked together; an object
	// marked red needs the audience to name organisations, which ImportSTIX
	// checks object by object.
	sh, err := rs.resolveSharing(ctx, qs.Get("tlp"), aud, false, "")
	if err != nil {
		if isInternal(err) {
			return err
		}
		return badRequest("%s", err.Error())
	}
	var bundle struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	dec := json.NewDecoder(s.body(w, r))
	if err := dec.Decode(&bundle); err != nil {
		return jsonError(err, "")
	}
	if bundle.Type != "" && bundle.Type != "bundle" {
		return badRequest("the body is a STIX %q object, not a bundle", clip(bundle.Type))
	}
	if bundle.Objects == nil {
		return badRequest(`the body has no "objects" array: send a STIX bundle or a TAXII envelope`)
	}
	res, err := s.ImportSTIX(ctx, p, bundle.Objects, STIXImportOptions{DefaultTLP: sh.TLP, Audience: sh.Audience, Origin: "STIX import"})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
