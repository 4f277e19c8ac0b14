package match

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// A large index is expensive to rebuild for every change (5,000,000
// indicators take seconds), so Update layers the changes over it: the new
// Index holds the added indicators itself, keeps the large one as its base,
// and hides the base's indicators whose ids were removed or replaced. Each
// lookup consults both layers. Layers never nest: the next Update starts
// again from the same base, with the previous changes carried over, and
// once the changes grow to a sixteenth of the base (or 65,536 indicators)
// Update folds everything into one new index.

// maxDelta is the size of the changes layer that makes Update compact.
func maxDelta(base int) int { return max(maxDeltaMin, base/16) }

// maxDeltaMin is lowered by tests.
var maxDeltaMin = 1 << 16

// Update returns a new Index with the indicators of x, less those whose
// ids are in remove, plus add (an indicator of add replaces any with its
// id). x is unchanged and may go on being used. Indicators of add that
// cannot be indexed are left out and reported in the error, as by Build.
//
// Update costs in proportion to the changes since x's base was built,
// except when it compacts (see above), which costs as much as Build.
func (x *Index) Update(add []Indicator, remove []string) (*Index, error) {
	base, removed := x, map[string]struct{}{}
	var carried []Indicator
	if x.base != nil {
		base = x.base
		for k := range x.removed {
			removed[k] = struct{}{}
		}
		x.eachOwn(func(r Ref) { carried = append(carried, r.Indicator()) })
	}
	gone := make(map[string]bool, len(remove)+len(add))
	for _, id := range remove {
		gone[id] = true
	}
	for _, ind := range add {
		gone[ind.ID] = true
	}
	for id := range gone {
		removed[idKey(id)] = struct{}{}
	}
	b := NewBuilder()
	for _, ind := range carried {
		if !gone[ind.ID] {
			if err := b.Add(ind); err != nil {
				return nil, fmt.Errorf("carrying %s over: %w", ind.ID, err)
			}
		}
	}
	var errs []error
	for _, ind := range add {
		if err := b.Add(ind); err != nil && len(errs) < 100 {
			errs = append(errs, fmt.Errorf("indicator %s: %w", ind.ID, err))
		}
	}
	if b.Len() > maxDelta(base.n) {
		nx := compact(base, removed, b)
		nx.linkPatterns(x)
		return nx, errors.Join(errs...)
	}
	nx := b.Build()
	nx.base, nx.removed, nx.lc = base, removed, &layerCounts{}
	nx.linkPatterns(x)
	return nx, errors.Join(errs...)
}

// Compact returns x as a single-layer index (x itself if it has no base).
func (x *Index) Compact() *Index {
	if x.base == nil {
		return x
	}
	b := NewBuilder()
	x.eachOwn(func(r Ref) { _ = b.Add(r.Indicator()) })
	nx := compact(x.base, x.removed, b)
	nx.linkPatterns(x)
	return nx
}

// compact adds to b every indicator of base not removed, and builds.
func compact(base *Index, removed map[string]struct{}, b *Builder) *Index {
	base.eachOwn(func(r Ref) {
		if _, ok := removed[string(r.idKey())]; !ok {
			_ = b.Add(r.Indicator()) // it was indexed before, so it is valid
		}
	})
	return b.Build()
}

// eachOwn calls fn for every indicator held by x's own layer.
func (x *Index) eachOwn(fn func(Ref)) {
	for tab := range x.tabs {
		x.tabs[tab].arena.each(func(off uint32, _ []byte) { fn(Ref{x, uint8(tab), off}) })
	}
}

// removedRef reports whether a base indicator is hidden by x.
func (x *Index) removedRef(r Ref) bool {
	_, ok := x.removed[string(r.idKey())]
	return ok
}

// idKey is the form in which entries store an id (see Ref.idKey).
func idKey(id string) string {
	if u, ok := parseUUID(id); ok {
		return string(append([]byte{0}, u[:]...))
	}
	return string(append([]byte{byte(len(id))}, id...))
}

// layered counts of an updated index, computed when first asked for.
type layerCounts struct {
	once   sync.Once
	n      int
	counts map[indicator.Type]int
}

func (x *Index) layerCounts() *layerCounts {
	c := x.lc
	c.once.Do(func() {
		c.counts = map[indicator.Type]int{}
		for t, n := range x.counts {
			c.counts[t] += n
		}
		c.n = x.n
		x.base.eachOwn(func(r Ref) {
			if !x.removedRef(r) {
				c.counts[r.Type()]++
				c.n++
			}
		})
	})
	return c
}
