package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

// DefaultFlagLifetime is how long an indicator on a flagging warninglist
// stays valid when its submitter gives no valid_until (DESIGN.md §10: a
// value on popular infrastructure is real for a shorter time).
const DefaultFlagLifetime = 14 * 24 * time.Hour

// refusedError is an item stopped by a refusing warninglist.
type refusedError struct {
	value string
	hit   warninglist.Hit
	// inPattern is the type of value when it is a value a STIX pattern
	// compares with, not the submitted value itself.
	inPattern indicator.Type
}

func (e refusedError) Error() string {
	what := fmt.Sprintf("value %q", clip(e.value))
	if e.inPattern != "" {
		what = fmt.Sprintf("the pattern's %s %q", e.inPattern, clip(e.value))
	}
	return fmt.Sprintf("%s is on the warninglist %q, which refuses it: it is benign in itself; "+
		"a coordinator may store it anyway with \"override_warninglists\": true", what, e.hit.List)
}

// itemError is the error of a rejected item.
func itemError(err error) *ItemError {
	var re refusedError
	if errors.As(err, &re) {
		return &ItemError{Code: CodeWarninglisted, Message: err.Error()}
	}
	return &ItemError{Code: CodeInvalidValue, Message: err.Error()}
}

// screen checks a submission against the warninglists (a STIX pattern by
// the values it pins down, see warnHits). A hit on a refusing list stops it
// unless a coordinator overrides; a hit on a flagging list lets it through
// with a shorter lifetime when it has none. The hits are returned
// either way, so that the caller can show them. An override is audited
// unless preview.
func (s *Server) screen(ctx context.Context, p *Principal, sub *model.Submission, override, preview bool, now time.Time) ([]warninglist.Hit, error) {
	if override && p.Org.Kind != policy.Coordinator {
		return nil, errors.New("override_warninglists is for the coordinator only")
	}
	if s.warn == nil {
		return nil, nil
	}
	hits, refusal := s.warnHits(sub.Type, sub.Value)
	if len(hits) == 0 {
		return nil, nil
	}
	refused := refusal != nil
	if refused && !override {
		return []warninglist.Hit{refusal.hit}, *refusal
	}
	if !refused && sub.ValidUntil.IsZero() && s.flagLifetime > 0 {
		// From now, or from a valid_from still to come: a back-dated
		// valid_from must not make the value expire at once.
		from := now
		if sub.ValidFrom.After(now) {
			from = sub.ValidFrom
		}
		sub.ValidUntil = from.Add(s.flagLifetime)
	}
	if refused {
		sub.Tags = appendTag(sub.Tags, "hdn:warninglist-override")
		// Recorded when checked, before the store: a later failure of the
		// batch leaves an entry for an override that did not land, which is
		// the safe side for an audit. A preview stores nothing and records
		// nothing.
		if !preview {
			s.audit(ctx, p, "warninglist.override", "", fmt.Sprintf("%s %s despite %s", sub.Type, clip(sub.Value), hits[0].List))
		}
	}
	return hits, nil
}

// warnHits returns the warninglist hits of a value, and the first refusing
// hit as a refusedError (nil when none refuses).
//
// A STIX pattern is no value of any list's type, and warninglist.Check
// passes it by. Its hits are instead those of the values it pins down
// (indicator.PatternValues: the constants of its '=', IN, ISSUBSET and
// ISSUPERSET comparisons on paths of a plain type, the domains and hosts
// its LIKE comparisons anchor on), each checked as the plain value of its
// type: a benign value wrapped in a pattern
// ("[domain-name:value = 'microsoft.com' AND domain-name:value = 'microsoft.com']")
// is refused or flagged as it would be on its own. Done here rather than in
// package warninglist, whose Check takes one value of one type.
func (s *Server) warnHits(t indicator.Type, value string) ([]warninglist.Hit, *refusedError) {
	if t != indicator.STIXPattern {
		hits := s.warn.Check(t, value)
		for _, h := range hits {
			if h.Kind == warninglist.Refuse {
				return hits, &refusedError{value: value, hit: h}
			}
		}
		return hits, nil
	}
	values, err := indicator.PatternValues(value)
	if err != nil { // cannot happen: the value was canonicalised
		return nil, nil
	}
	var hits []warninglist.Hit
	var refusal *refusedError
	seen := map[string]bool{}
	for _, v := range values {
		for _, h := range s.warn.Check(v.Type, v.Value) {
			if h.Kind == warninglist.Refuse && refusal == nil {
				refusal = &refusedError{value: v.Value, hit: h, inPattern: v.Type}
			}
			if k := h.List + "\x00" + h.Entry; !seen[k] {
				seen[k] = true
				hits = append(hits, h)
			}
		}
	}
	// Refusing hits first, as Check orders them.
	rank := func(h warninglist.Hit) int {
		if h.Kind == warninglist.Refuse {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(hits, func(a, b warninglist.Hit) int { return cmp.Compare(rank(a), rank(b)) })
	return hits, refusal
}

// appendTag adds a tag unless present.
func appendTag(tags []string, tag string) []string {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return tags
		}
	}
	return append(tags, tag)
}
