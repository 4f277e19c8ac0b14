package warninglist

import (
	"cmp"
	"slices"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// Refusal is the first refusing hit of a screened value, and the value it
// hit: the screened value itself or, for a STIX pattern, one of the values
// the pattern pins down.
type Refusal struct {
	Hit   Hit
	Value string
	// InPattern is the type of Value when it is a value a STIX pattern
	// compares with; "" when Value is the screened value itself.
	InPattern indicator.Type
}

// Screen screens a canonical value as the hub screens a submission: a plain
// value by Check; a STIX pattern, which Check passes by, by the values it
// pins down (indicator.PatternValues: the constants of its '=', IN,
// ISSUBSET and ISSUPERSET comparisons on paths of a plain type, the domains
// and hosts its LIKE comparisons anchor on), each checked as the plain
// value of its type, so that a benign value wrapped in a pattern
// ("[domain-name:value = 'microsoft.com' AND domain-name:value = 'microsoft.com']")
// is refused or flagged as it would be on its own. It returns the hits,
// refusing ones first and each list entry once, and the first refusing hit
// (nil when none refuses). A nil set, and a pattern that does not parse,
// have no hits.
//
// The API screens submissions with it, and `hdn admin rescreen` stored
// indicators, so that both apply the same rules.
func (s *Set) Screen(t indicator.Type, value string) ([]Hit, *Refusal) {
	if s == nil {
		return nil, nil
	}
	if t != indicator.STIXPattern {
		hits := s.Check(t, value)
		for _, h := range hits {
			if h.Kind == Refuse {
				return hits, &Refusal{Hit: h, Value: value}
			}
		}
		return hits, nil
	}
	values, err := indicator.PatternValues(value)
	if err != nil {
		return nil, nil
	}
	var hits []Hit
	var refusal *Refusal
	seen := map[string]bool{}
	for _, v := range values {
		for _, h := range s.Check(v.Type, v.Value) {
			if h.Kind == Refuse && refusal == nil {
				refusal = &Refusal{Hit: h, Value: v.Value, InPattern: v.Type}
			}
			if k := h.List + "\x00" + h.Entry; !seen[k] {
				seen[k] = true
				hits = append(hits, h)
			}
		}
	}
	// Refusing hits first, as Check orders them.
	rank := func(h Hit) int {
		if h.Kind == Refuse {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(hits, func(a, b Hit) int { return cmp.Compare(rank(a), rank(b)) })
	return hits, refusal
}
