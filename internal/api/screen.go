package api

import (
	"context"
	"errors"
	"fmt"
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
// hit as a refusedError (nil when none refuses). A STIX pattern is screened
// by the values it pins down (warninglist.Set.Screen, which `hdn admin
// rescreen` uses too).
func (s *Server) warnHits(t indicator.Type, value string) ([]warninglist.Hit, *refusedError) {
	hits, r := s.warn.Screen(t, value)
	if r == nil {
		return hits, nil
	}
	return hits, &refusedError{value: r.Value, hit: r.Hit, inPattern: r.InPattern}
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
