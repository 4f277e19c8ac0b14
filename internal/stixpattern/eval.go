package stixpattern

import (
	"sort"
	"time"
)

// Helpers for a matcher that evaluates patterns over a stream of
// observations (a sensor) rather than over one set of observed-data.

// SingleObservation reports whether the pattern is one bracketed
// observation expression without qualifiers ("[a:x = 1 AND b:y = 2]"):
// it is decided by each observation on its own, and Match on one
// observation says whether that observation alone satisfies it.
func (p *Pattern) SingleObservation() bool { return p.root.kind == oSimple }

// Within returns the duration of the WITHIN qualifier that applies to the
// whole pattern (the outermost chain of qualifiers holds one), and ok
// false when there is none. Every set of observations that satisfies such
// a pattern lies within that duration.
func (p *Pattern) Within() (d time.Duration, ok bool) {
	for o := p.root; o != nil; o = o.l {
		switch o.kind {
		case oWithin:
			return o.within, true
		case oRepeats, oStartStop:
			continue
		}
		break
	}
	return 0, false
}

// MatchesAny reports whether the comparison expression of at least one of
// the pattern's bracketed observation expressions holds for the one
// observation o. An observation for which it is false can take part in no
// set of observations that satisfies the pattern, so a stream matcher
// need not keep it. The error is as for Match.
func (p *Pattern) MatchesAny(o *Observation) (bool, error) {
	if o.NumberObserved < 1 {
		return false, nil
	}
	m := &matcher{obs: []Observation{*o}}
	var walk func(e *obsExpr) (bool, error)
	walk = func(e *obsExpr) (bool, error) {
		if e == nil {
			return false, nil
		}
		if e.kind == oSimple {
			return m.matchObservation(e.cmp, 0)
		}
		ok, err := walk(e.l)
		if ok || err != nil {
			return ok, err
		}
		return walk(e.r)
	}
	return walk(p.root)
}

// PropertyRoots returns, sorted and distinct, the object type and first
// property of every object path the pattern compares
// ("file:hashes", "network-traffic:dst_ref"): what an observer must fill
// in for the pattern to be decidable.
func (p *Pattern) PropertyRoots() []string {
	seen := map[string]bool{}
	p.eachTest(func(_ int, t *propTest) { seen[t.path.typ+":"+t.path.steps[0].key] = true })
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
