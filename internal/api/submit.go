package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// Field limits on what a client submits.
const (
	maxLabels         = 32
	maxLabelLen       = 64
	maxTags           = 64
	maxTagLen         = 128
	maxDescriptionLen = 8192
	maxAudienceOrgs   = 1000
	defaultConfidence = 50
	putChunk          = 2000
	// An item of a bulk submission takes at least this many bytes of a
	// typical body, and a submission's lists are sized for at most
	// presizedItems items before they are read.
	minItemBytes  = 64
	presizedItems = 10_000
)

// DefaultTLP is the level of a submission that names none: shared within the
// network, not public.
const DefaultTLP = policy.Amber

// SubmitItem is one indicator as a client submits it.
type SubmitItem struct {
	Type        string        `json:"type"`
	Value       string        `json:"value"`
	TLP         string        `json:"tlp"`
	Audience    *AudienceJSON `json:"audience"`
	Labels      []string      `json:"labels"`
	Description string        `json:"description"`
	Confidence  *int          `json:"confidence"`
	ValidFrom   string        `json:"valid_from"`
	ValidUntil  string        `json:"valid_until"`
	Anonymous   bool          `json:"anonymous"`
	Report      string        `json:"report"`
	Tags        []string      `json:"tags"`
	OnBehalfOf  string        `json:"on_behalf_of"`
	// OverrideWarninglists stores a value that a refusing warninglist
	// would stop; only a coordinator may ask for it.
	OverrideWarninglists bool `json:"override_warninglists"`
}

// ItemResult reports what happened to one submitted item.
type ItemResult struct {
	Index  int        `json:"index"`
	Status string     `json:"status"` // created, updated, rejected, not_stored; valid in a dry run
	ID     string     `json:"id,omitempty"`
	Type   string     `json:"type,omitempty"`
	Value  string     `json:"value,omitempty"`
	Error  *ItemError `json:"error,omitempty"`
	// Quarantined: the stored indicator is quarantined (its value was
	// reported a false positive network-wide; docs/SIGNAL.md) and does not
	// match until the coordinator releases it.
	Quarantined bool `json:"quarantined,omitempty"`
	// Warninglists names the warninglists the value is on: flagging ones
	// for a stored item, the refusing one for a rejected item.
	Warninglists []warninglist.Hit `json:"warninglists,omitempty"`
}

// ItemError says why an item was rejected.
type ItemError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// resolver turns names in a request into ids, remembering them for the rest
// of the request.
type resolver struct {
	s      *Server
	p      *Principal
	orgs   map[string]model.Org
	groups map[string]model.Group
	report map[string]*model.Report // nil: not found
	// preview: nothing is stored, so an override is not audited.
	preview bool
	// trusted: the organisations named come from the hub's own
	// configuration (a peer's audience), not from the caller, and need not
	// be visible to it.
	trusted bool
}

func newResolver(s *Server, p *Principal) *resolver {
	return &resolver{s: s, p: p, orgs: map[string]model.Org{}, groups: map[string]model.Group{}, report: map[string]*model.Report{}}
}

func (rs *resolver) org(ctx context.Context, ref string) (model.Org, error) {
	if o, ok := rs.orgs[ref]; ok {
		return o, nil
	}
	o, err := rs.s.st.Org(ctx, ref)
	// An organisation the caller may not know of (another partner's
	// customer) is answered like one that does not exist: naming it in an
	// audience, a group or on_behalf_of must not tell that it exists.
	if errors.Is(err, store.ErrNotFound) || err == nil && !rs.trusted && !canSeeOrg(rs.p, o) {
		return model.Org{}, fmt.Errorf("organisation %q does not exist", ref)
	}
	if err != nil {
		return o, internalError{err}
	}
	rs.orgs[ref] = o
	return o, nil
}

func (rs *resolver) group(ctx context.Context, ref string) (model.Group, error) {
	if g, ok := rs.groups[ref]; ok {
		return g, nil
	}
	g, err := rs.s.st.Group(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return g, fmt.Errorf("sharing group %q does not exist", ref)
	}
	if err != nil {
		return g, internalError{err}
	}
	rs.groups[ref] = g
	return g, nil
}

// sharing is the part of a submission that decides who sees it.
type sharing struct {
	TLP         policy.TLP
	Audience    policy.Audience
	Source      string
	SubmittedBy string
	Anonymous   bool
}

// resolveSharing checks TLP, audience and on-behalf-of. A returned error is
// the client's (it says what is wrong); internal failures come back wrapped
// in errInternal.
func (rs *resolver) resolveSharing(ctx context.Context, tlp string, aud *AudienceJSON, anonymous bool, onBehalfOf string) (sharing, error) {
	sh := sharing{TLP: DefaultTLP, Audience: policy.NetworkAudience(), Source: rs.p.Org.ID, SubmittedBy: rs.p.Org.ID, Anonymous: anonymous}
	if tlp != "" {
		t, err := policy.ParseTLP(tlp)
		if err != nil {
			return sh, err
		}
		sh.TLP = t
	}
	if aud != nil {
		n := 0
		if aud.Network {
			n++
		}
		if aud.Group != "" {
			n++
		}
		if aud.Orgs != nil {
			n++
		}
		if n != 1 {
			return sh, errors.New(`audience must have exactly one of "network": true, "group": NAME, "orgs": [...]`)
		}
		switch {
		case aud.Group != "":
			g, err := rs.group(ctx, aud.Group)
			if err != nil {
				return sh, err
			}
			sh.Audience = policy.Audience{Kind: policy.Group, Group: g.ID}
		case aud.Orgs != nil:
			if len(aud.Orgs) == 0 {
				return sh, errors.New("audience orgs is an empty list")
			}
			if len(aud.Orgs) > maxAudienceOrgs {
				return sh, fmt.Errorf("audience orgs has %d entries, at most %d allowed", len(aud.Orgs), maxAudienceOrgs)
			}
			ids := make([]string, 0, len(aud.Orgs))
			seen := map[string]bool{}
			for _, ref := range aud.Orgs {
				o, err := rs.org(ctx, ref)
				if err != nil {
					return sh, err
				}
				if !seen[o.ID] {
					seen[o.ID] = true
					ids = append(ids, o.ID)
				}
			}
			sh.Audience = policy.Audience{Kind: policy.Orgs, Orgs: ids}
		}
	}
	if err := policy.CheckAudience(sh.TLP, sh.Audience); err != nil {
		return sh, err
	}
	if onBehalfOf != "" {
		if rs.p.Org.Kind != policy.Partner {
			return sh, errors.New("on_behalf_of is only for partners submitting for one of their customers")
		}
		c, err := rs.org(ctx, onBehalfOf)
		if err != nil {
			return sh, err
		}
		if c.Kind != policy.Customer || c.Partner != rs.p.Org.ID {
			return sh, fmt.Errorf("organisation %q is not a customer of %q", onBehalfOf, rs.p.Org.Name)
		}
		sh.Source = c.ID
	}
	return sh, nil
}

// checkReport checks that sub may join report id: the viewer may see it,
// and when it is sub's source's own, both are anonymous or neither is — a
// named report would tell the readers of an anonymous indicator its source,
// and a named indicator that of an anonymous report.
func (rs *resolver) checkReport(ctx context.Context, id string, sub *model.Submission) error {
	rep, seen := rs.report[id]
	if !seen {
		r, err := rs.s.st.Report(ctx, rs.p.Viewer, id)
		switch {
		case err == nil:
			rep = &r
		case !errors.Is(err, store.ErrNotFound):
			return internalError{err} // not remembered
		}
		rs.report[id] = rep
	}
	if rep == nil {
		return fmt.Errorf("report %q does not exist", id)
	}
	if rep.Source == sub.Source && rep.Anonymous != sub.Anonymous {
		if sub.Anonymous {
			return fmt.Errorf("report %q names its source, so an anonymous indicator cannot join it: submit the indicator named, or link it to an anonymous report", id)
		}
		return fmt.Errorf("report %q is anonymous, so a named indicator of its source cannot join it: submit the indicator anonymously too", id)
	}
	return nil
}

// parseTime reads an RFC 3339 time.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", field, clip(s))
	}
	return t.UTC(), nil
}

// clip shortens client text quoted in an error message to 64 bytes.
func clip(s string) string { return clipTo(s, 64) }

// clipPath shortens a request path quoted in an error message: long enough to
// recognise the route, never the whole of a hostile megabyte.
func clipPath(s string) string { return clipTo(s, 256) }

// clipTo cuts s to at most n bytes and marks the cut; it never splits a
// UTF-8 sequence, so that the message stays valid text.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func checkWords(field string, words []string, maxN, maxLen int, lower bool) ([]string, error) {
	if len(words) > maxN {
		return nil, fmt.Errorf("%s has %d entries, at most %d allowed", field, len(words), maxN)
	}
	out := make([]string, 0, len(words))
	for _, w := range words {
		w = strings.TrimSpace(w)
		if lower {
			w = strings.ToLower(w)
		}
		if w == "" {
			return nil, fmt.Errorf("%s contains an empty entry", field)
		}
		if len(w) > maxLen {
			return nil, fmt.Errorf("%s entry %q is longer than %d bytes", field, clip(w), maxLen)
		}
		// Labels and tags reach rule messages, Zeek descriptions, CSV
		// cells and MISP and STIX exports: no control characters (C1
		// ones such as NEL included), line or paragraph separators, or
		// bidirectional overrides that make a label display as another.
		for _, r := range w {
			if indicator.IsTextControl(r) {
				return nil, fmt.Errorf("%s entry %q contains a control character (%U)", field, clip(w), r)
			}
		}
		out = append(out, w)
	}
	return out, nil
}

// validate turns a submitted item into a submission, or says why not, with
// the warninglists its value is on.
func (rs *resolver) validate(ctx context.Context, it *SubmitItem, now time.Time) (model.Submission, []warninglist.Hit, error) {
	sub, err := rs.validateItem(ctx, it, now)
	if err != nil {
		return sub, nil, err
	}
	hits, err := rs.s.screen(ctx, rs.p, &sub, it.OverrideWarninglists, rs.preview, now)
	return sub, hits, err
}

// validateItem checks everything of an item but the warninglists.
func (rs *resolver) validateItem(ctx context.Context, it *SubmitItem, now time.Time) (model.Submission, error) {
	var sub model.Submission
	if it.Value == "" {
		return sub, errors.New("value is missing")
	}
	var err error
	if it.Type == "" {
		sub.Type, sub.Value, err = indicator.Detect(it.Value)
	} else {
		sub.Type, err = indicator.ParseType(it.Type)
		if err == nil {
			sub.Type, sub.Value, err = indicator.CanonicalizeAs(sub.Type, it.Value)
		}
	}
	if err != nil {
		return sub, err
	}
	if len(sub.Value) > indicator.MaxStoredLen {
		return sub, fmt.Errorf("%s %q is longer than %d bytes once canonicalised: the hub stores no longer value (its host or domain is the better indicator)",
			sub.Type, clip(sub.Value), indicator.MaxStoredLen)
	}
	sh, err := rs.resolveSharing(ctx, it.TLP, it.Audience, it.Anonymous, it.OnBehalfOf)
	if err != nil {
		return sub, err
	}
	sub.TLP, sub.Audience, sub.Source, sub.SubmittedBy, sub.Anonymous = sh.TLP, sh.Audience, sh.Source, sh.SubmittedBy, sh.Anonymous
	if sub.Labels, err = checkWords("labels", it.Labels, maxLabels, maxLabelLen, true); err != nil {
		return sub, err
	}
	if sub.Tags, err = checkWords("tags", it.Tags, maxTags, maxTagLen, false); err != nil {
		return sub, err
	}
	if rs.p.Org.Kind != policy.PeerHub {
		// Tags beginning "hdn:" are the hub's own (hdn:warninglist-override
		// marks what the coordinator stored over a warninglist, and puts it
		// in the coordinator's review): a client's are dropped. A peer hub
		// relays those of its own hub.
		sub.Tags = slices.DeleteFunc(sub.Tags, func(t string) bool { return hasFoldPrefix(t, "hdn:") })
	}
	if len(it.Description) > maxDescriptionLen {
		return sub, fmt.Errorf("description is %d bytes, at most %d allowed", len(it.Description), maxDescriptionLen)
	}
	// A client's own request cannot bring a NUL (utf8Reader); a feed's
	// or an imported file's description can, and loses it.
	sub.Description = asText(it.Description)
	sub.Confidence = defaultConfidence
	if it.Confidence != nil {
		if *it.Confidence < 0 || *it.Confidence > 100 {
			return sub, fmt.Errorf("confidence %d is not within 0–100", *it.Confidence)
		}
		sub.Confidence = *it.Confidence
	}
	if it.ValidFrom != "" {
		if sub.ValidFrom, err = parseTime("valid_from", it.ValidFrom); err != nil {
			return sub, err
		}
	}
	if it.ValidUntil != "" {
		if sub.ValidUntil, err = parseTime("valid_until", it.ValidUntil); err != nil {
			return sub, err
		}
		from := sub.ValidFrom
		if from.IsZero() {
			from = now
		}
		if !sub.ValidUntil.After(from) {
			return sub, fmt.Errorf("valid_until %s is not after valid_from %s", sub.ValidUntil.Format(time.RFC3339), from.Format(time.RFC3339))
		}
	}
	if it.Report != "" {
		if err := rs.checkReport(ctx, it.Report, &sub); err != nil {
			return sub, err
		}
		sub.ReportID = it.Report
	}
	return sub, nil
}

// submitIndicators takes a batch of indicators. The body is read and every
// item checked before the write transaction starts, so a slow client never
// holds the store's writer; memory is bounded by the body and item limits.
// Invalid items are reported and the rest stored, or, with ?atomic=true,
// nothing is stored unless every item is valid.
func (s *Server) submitIndicators(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if !p.Key.Role.CanSubmit() {
		return forbidden("a %s key may not submit indicators", p.Key.Role)
	}
	atomic, err := boolParam(r, "atomic")
	if err != nil {
		return err
	}
	// A dry run checks every item as a submission would (validation,
	// canonical form, warninglists) and stores nothing.
	dryRun, err := boolParam(r, "dry_run")
	if err != nil {
		return err
	}
	if err := onlyParams(r, "atomic", "dry_run"); err != nil {
		return err
	}
	if err := requireJSON(r); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now().UTC()
	rs := newResolver(s, p)
	rs.preview = dryRun // nothing is stored: an override is not audited either
	// Room for as many items as the body announces, up to presizedItems:
	// growing the lists item by item copied them over and over, and a
	// body that only claims to be large reserves no more than that.
	guess := int(min(max(r.ContentLength/minItemBytes, 0), presizedItems, int64(s.limits.MaxItems)))
	var (
		subs     = make([]model.Submission, 0, guess)
		subIndex = make([]int, 0, guess) // result index of each submission
		results  = make([]ItemResult, 0, guess)
		rejected int
	)
	dec := json.NewDecoder(s.body(w, r))
	dec.DisallowUnknownFields()
	err = decodeItems(dec, s.limits.MaxItems, func(i int, it *SubmitItem, decodeErr error) error {
		res := ItemResult{Index: i}
		var sub model.Submission
		verr := decodeErr
		if verr == nil {
			sub, res.Warninglists, verr = rs.validate(ctx, it, now)
		}
		if verr != nil {
			if isInternal(verr) {
				return verr
			}
			res.Status = "rejected"
			res.Type = string(sub.Type)
			res.Error = itemError(verr)
			rejected++
		} else {
			res.Type, res.Value = string(sub.Type), sub.Value
			subs = append(subs, sub)
			subIndex = append(subIndex, i)
		}
		results = append(results, res)
		return nil
	})
	if err != nil {
		return err
	}
	if atomic && rejected > 0 {
		for i := range results {
			if results[i].Status == "" {
				results[i].Status = "not_stored"
			}
		}
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error":   ItemError{Code: CodeRejectedItems, Message: fmt.Sprintf("%d of %d items were rejected; nothing was stored (atomic)", rejected, len(results))},
			"results": results,
		})
		return nil
	}
	if dryRun {
		for i := range results {
			if results[i].Status == "" {
				results[i].Status = "valid"
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"dry_run": true, "results": results})
		return nil
	}
	if len(subs) > 0 {
		lastSeq, err := s.store(ctx, subs, func(k int, ur store.UpsertResult) {
			res := &results[subIndex[k]]
			res.Status, res.ID, res.Quarantined = string(ur.Status), ur.ID, ur.Quarantined
		})
		if err != nil {
			return err
		}
		s.audit(ctx, p, "indicator.submit", "", fmt.Sprintf("%d stored, %d rejected", len(subs), rejected))
		if s.notify != nil {
			s.notify.Notify(ctx, lastSeq)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
	return nil
}

// store writes submissions in one transaction, which may hold other
// requests' too (bulkWriter), and returns the newest change sequence of
// them once committed.
func (s *Server) store(ctx context.Context, subs []model.Submission, each func(k int, ur store.UpsertResult)) (int64, error) {
	urs, err := s.submissions.add(ctx, subs)
	if err != nil {
		return 0, err
	}
	var last int64
	var created []newIndicator
	for k, ur := range urs {
		each(k, ur)
		last = max(last, ur.Seq)
		// A quarantined one is not announced: it is not in use.
		if ur.Status == store.StatusCreated && !ur.Quarantined && s.events != nil {
			created = append(created, newIndicator{k, ur.ID})
		}
	}
	s.announceAll(ctx, subs, created)
	return last, nil
}

// decodeItems walks {"indicators": [ … ]} item by item. A syntax error ends
// the whole request; an item of the wrong shape (a wrong type, an unknown
// field) is handed to fn as that item's error.
func decodeItems(dec *json.Decoder, maxItems int, fn func(i int, it *SubmitItem, err error) error) error {
	if err := expectDelim(dec, '{', "the request body"); err != nil {
		return err
	}
	sawItems := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err, "")
		}
		key, _ := tok.(string)
		if key != "indicators" {
			return errf(http.StatusBadRequest, CodeMalformedJSON, "unknown field %q at the top level (expected \"indicators\")", clip(key))
		}
		if sawItems {
			return errf(http.StatusBadRequest, CodeMalformedJSON, `field "indicators" appears twice`)
		}
		sawItems = true
		if err := expectDelim(dec, '[', `"indicators"`); err != nil {
			return err
		}
		for i := 0; dec.More(); i++ {
			if i >= maxItems {
				return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "more than %d indicators in one request; split it", maxItems)
			}
			var it SubmitItem
			derr := dec.Decode(&it)
			if derr != nil {
				var typ *json.UnmarshalTypeError
				if !errors.As(derr, &typ) && !strings.HasPrefix(derr.Error(), "json: unknown field") {
					return jsonError(derr, fmt.Sprintf("indicators[%d]", i))
				}
				derr = jsonError(derr, "")
				derr = errors.New(derr.(*Error).Message)
			}
			if err := fn(i, &it, derr); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ]
			return jsonError(err, `"indicators"`)
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return jsonError(err, "")
	}
	if !sawItems {
		return errf(http.StatusBadRequest, CodeMalformedJSON, `the request body has no "indicators" array`)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return errf(http.StatusBadRequest, CodeMalformedJSON, "unexpected data after the JSON document")
		}
		return jsonError(err, "")
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err, "")
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		kind := "an object"
		if want == '[' {
			kind = "an array"
		}
		return errf(http.StatusBadRequest, CodeMalformedJSON, "%s must be %s", what, kind)
	}
	return nil
}

// internalError marks an error as the hub's, not the client's.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

func isInternal(err error) bool {
	var ie internalError
	return errors.As(err, &ie)
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("query parameter %s=%q must be true or false", name, clip(v))
	}
	return b, nil
}

// onlyParams refuses query parameters the endpoint does not know, so that a
// typo is not silently ignored.
func onlyParams(r *http.Request, known ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, n := range known {
			if k == n {
				ok = true
				break
			}
		}
		if !ok {
			if !utf8.ValidString(k) {
				return badRequest("query parameter name is not valid UTF-8")
			}
			return badRequest("unknown query parameter %q (known: %s)", clip(k), strings.Join(known, ", "))
		}
	}
	return nil
}

// newIndicator is an indicator a store call created: the index of its
// submission and its id.
type newIndicator struct {
	sub int
	id  string
}

// announceAll tells the event sink of the indicators a store call created.
func (s *Server) announceAll(ctx context.Context, subs []model.Submission, created []newIndicator) {
	for _, c := range created {
		s.announceNew(ctx, &subs[c.sub], c.id)
	}
}

// hasFoldPrefix says whether s begins with prefix, ignoring case.
func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
