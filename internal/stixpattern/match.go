package stixpattern

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ErrTooComplex is returned by Match when finding the observations that
// satisfy a pattern would take more steps than allowed (REPEATS and AND over
// many matching observations grow combinatorially).
var ErrTooComplex = errors.New("stixpattern: pattern too complex for these observations")

// maxSteps bounds the work of one Match call.
const maxSteps = 4_000_000

// Match reports whether the observations satisfy the pattern. An error means
// the pattern could not be evaluated against them (a JSON value that should
// be a timestamp or an IP address is not, a timestamp literal that is not a
// real date, a malformed *_hex, *_bin or *_ref value, or ErrTooComplex).
func (p *Pattern) Match(obs []Observation) (bool, error) {
	m := &matcher{obs: obs}
	total := 0
	for i, o := range obs {
		if o.NumberObserved < 1 {
			return false, fmt.Errorf("stixpattern: observation %d: number_observed %d < 1", i, o.NumberObserved)
		}
		if o.LastObserved.Before(o.FirstObserved) {
			return false, fmt.Errorf("stixpattern: observation %d: last_observed before first_observed", i)
		}
		total += o.NumberObserved
		if total > MaxObservations {
			return false, fmt.Errorf("stixpattern: more than %d observations", MaxObservations)
		}
		m.start = append(m.start, int32(len(m.sdoOf)))
		for k := 0; k < o.NumberObserved; k++ {
			m.sdoOf = append(m.sdoOf, int32(i))
		}
	}
	if err := m.evalSimple(p.root); err != nil {
		return false, err
	}
	found := false
	_, err := m.gen(p.root, nil, func(binding) (bool, error) {
		found = true
		return true, nil
	})
	if err != nil {
		return false, err
	}
	return found, nil
}

// A binding is a set of observation indices (after expanding
// number_observed), sorted, bound to the observation expressions of a
// (sub)pattern. Every constraint a pattern can place on a binding (being
// disjoint from another, WITHIN, START/STOP, FOLLOWEDBY order) depends only
// on this set, so bindings are kept as sets (and deduplicated where they are
// collected, for REPEATS).
type binding []int32

type matcher struct {
	obs    []Observation
	sdoOf  []int32 // expanded index -> observation
	start  []int32 // observation -> first expanded index
	simple map[*obsExpr][]int32
	roots  [][]string // observation -> sorted object keys
	steps  int
}

func (m *matcher) tick(n int) error {
	m.steps += n
	if m.steps > maxSteps {
		return ErrTooComplex
	}
	return nil
}

func (m *matcher) first(i int32) time.Time { return m.obs[m.sdoOf[i]].FirstObserved }
func (m *matcher) last(i int32) time.Time  { return m.obs[m.sdoOf[i]].LastObserved }

// evalSimple evaluates every bracketed comparison expression against every
// observation first, so that an error anywhere is reported (as the OASIS
// matcher does) before the search for a binding stops early.
func (m *matcher) evalSimple(o *obsExpr) error {
	if o == nil {
		return nil
	}
	if o.kind != oSimple {
		if err := m.evalSimple(o.l); err != nil {
			return err
		}
		return m.evalSimple(o.r)
	}
	var idx []int32
	for j, ob := range m.obs {
		ok, err := m.matchObservation(o.cmp, j)
		if err != nil {
			return err
		}
		if ok {
			if err := m.tick(ob.NumberObserved); err != nil {
				return err
			}
			for k := 0; k < ob.NumberObserved; k++ {
				idx = append(idx, m.start[j]+int32(k))
			}
		}
	}
	if m.simple == nil {
		m.simple = map[*obsExpr][]int32{}
	}
	m.simple[o] = idx
	return nil
}

// A constraint is a condition on a binding that is monotone: if a binding
// fails it, every larger binding fails it too. Constraints of enclosing
// expressions are pushed down so that partial bindings are pruned early.
type constraint func(binding) bool

func (m *matcher) satisfies(cons []constraint, b binding) bool {
	m.steps += len(cons) * len(b)
	for _, c := range cons {
		if !c(b) {
			return false
		}
	}
	return true
}

func with(cons []constraint, c constraint) []constraint {
	return append(cons[:len(cons):len(cons)], c)
}

// gen enumerates the bindings of o that satisfy cons, calling yield for
// each until yield asks to stop; it reports whether it was stopped.
func (m *matcher) gen(o *obsExpr, cons []constraint, yield func(binding) (bool, error)) (bool, error) {
	switch o.kind {
	case oSimple:
		for _, i := range m.simple[o] {
			if err := m.tick(1); err != nil {
				return false, err
			}
			b := binding{i}
			if !m.satisfies(cons, b) {
				continue
			}
			if stop, err := yield(b); stop || err != nil {
				return stop, err
			}
		}
		return false, nil
	case oOr:
		if stop, err := m.gen(o.l, cons, yield); stop || err != nil {
			return stop, err
		}
		return m.gen(o.r, cons, yield)
	case oAnd, oFollowedBy:
		return m.gen(o.l, cons, func(lb binding) (bool, error) {
			var maxFirst time.Time
			if o.kind == oFollowedBy {
				for _, i := range lb {
					if t := m.first(i); t.After(maxFirst) {
						maxFirst = t
					}
				}
			}
			rcons := []constraint{func(rb binding) bool {
				if !disjoint(lb, rb) {
					return false
				}
				if o.kind == oFollowedBy && !m.allLastAtOrAfter(rb, maxFirst) {
					return false
				}
				return len(cons) == 0 || m.satisfies(cons, m.union(lb, rb))
			}}
			return m.gen(o.r, rcons, func(rb binding) (bool, error) {
				return yield(m.union(lb, rb))
			})
		})
	case oWithin:
		d := o.within
		return m.gen(o.l, with(cons, func(b binding) bool { return m.within(b, d) }), yield)
	case oStartStop:
		if !o.start.t.Before(o.stop.t) {
			return false, nil // an empty interval: nothing can be in it
		}
		start, stop := o.start.t, o.stop.t
		return m.gen(o.l, with(cons, func(b binding) bool { return m.inInterval(b, start, stop) }), yield)
	case oRepeats:
		if o.repeats == 1 {
			return m.gen(o.l, cons, yield)
		}
		d := newDedup()
		if _, err := m.gen(o.l, cons, func(b binding) (bool, error) {
			d.add(b)
			return false, m.tick(len(b)) // what is kept counts, to bound memory
		}); err != nil {
			return false, err
		}
		return m.repeats(d.list, o.repeats, cons, yield)
	}
	return false, fmt.Errorf("stixpattern: internal error: observation expression kind %d", o.kind)
}

// repeats enumerates the unions of n pairwise disjoint bindings of in.
func (m *matcher) repeats(in []binding, n int, cons []constraint, yield func(binding) (bool, error)) (bool, error) {
	var rec func(from, k int, u binding) (bool, error)
	rec = func(from, k int, u binding) (bool, error) {
		if k == n {
			return yield(u)
		}
		for i := from; i <= len(in)-(n-k); i++ {
			if err := m.tick(1); err != nil {
				return false, err
			}
			if !disjoint(u, in[i]) {
				continue
			}
			nu := m.union(u, in[i])
			if !m.satisfies(cons, nu) {
				continue
			}
			if stop, err := rec(i+1, k+1, nu); stop || err != nil {
				return stop, err
			}
		}
		return false, nil
	}
	return rec(0, 0, nil)
}

func (m *matcher) allLastAtOrAfter(b binding, t time.Time) bool {
	for _, i := range b {
		if m.last(i).Before(t) {
			return false
		}
	}
	return true
}

// within reports whether one instant can be picked in each observation's
// [first_observed, last_observed] so that all lie within d: the window that
// starts at the earliest last_observed must reach every first_observed.
func (m *matcher) within(b binding, d time.Duration) bool {
	earliestLast := m.last(b[0])
	for _, i := range b[1:] {
		if t := m.last(i); t.Before(earliestLast) {
			earliestLast = t
		}
	}
	end := earliestLast.Add(d)
	for _, i := range b {
		if m.first(i).After(end) {
			return false
		}
	}
	return true
}

// inInterval reports whether every observation overlaps [start, stop): it
// may touch start but not only touch stop.
func (m *matcher) inInterval(b binding, start, stop time.Time) bool {
	for _, i := range b {
		if !m.first(i).Before(stop) || m.last(i).Before(start) {
			return false
		}
	}
	return true
}

func disjoint(a, b binding) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			return false
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return true
}

// union merges two bindings; the work counts towards the step budget.
func (m *matcher) union(a, b binding) binding {
	m.steps += len(a) + len(b)
	return union(a, b)
}

func union(a, b binding) binding {
	out := make(binding, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

type dedup struct {
	seen map[string]bool
	list []binding
}

func newDedup() *dedup { return &dedup{seen: map[string]bool{}} }

func (d *dedup) add(b binding) {
	var sb strings.Builder
	for _, i := range b {
		sb.WriteString(strconv.Itoa(int(i)))
		sb.WriteByte(',')
	}
	k := sb.String()
	if !d.seen[k] {
		d.seen[k] = true
		d.list = append(d.list, b)
	}
}

// matchObservation evaluates a comparison expression against every object of
// one observation; it holds if it holds for one object. Like the OASIS
// matcher, it evaluates every test on every object, so an error anywhere is
// reported rather than hidden by a short cut.
func (m *matcher) matchObservation(c *cmpExpr, j int) (bool, error) {
	ob := m.obs[j]
	refs := ob.Refs
	if refs == nil {
		refs = ob.Objects
	}
	any := false
	for _, key := range m.rootKeys(j) {
		ok, err := m.evalCmp(c, ob.Objects[key], refs)
		if err != nil {
			return false, err
		}
		any = any || ok
	}
	return any, nil
}

// rootKeys returns the object keys of an observation in a fixed order,
// so that the first error found does not depend on map order.
func (m *matcher) rootKeys(j int) []string {
	if m.roots == nil {
		m.roots = make([][]string, len(m.obs))
	}
	if m.roots[j] == nil {
		m.roots[j] = sortedRoots(m.obs[j].Objects)
	}
	return m.roots[j]
}

func (m *matcher) evalCmp(c *cmpExpr, obj map[string]any, refs map[string]map[string]any) (bool, error) {
	if c.kind == cTest {
		if err := m.tick(1); err != nil {
			return false, err
		}
		return evalTest(c.test, obj, refs)
	}
	l, err := m.evalCmp(c.l, obj, refs)
	if err != nil {
		return false, err
	}
	r, err := m.evalCmp(c.r, obj, refs)
	if err != nil {
		return false, err
	}
	if c.kind == cAnd {
		return l && r, nil
	}
	return l || r, nil
}

func evalTest(t *propTest, obj map[string]any, refs map[string]map[string]any) (bool, error) {
	if typ, _ := obj["type"].(string); typ != t.path.typ {
		return false, nil
	}
	vals, err := resolve(t.path.steps, obj, refs)
	if err != nil {
		return false, err
	}
	if t.op == opEXISTS {
		return (len(vals) > 0) != t.not, nil
	}
	for _, v := range vals {
		ok, err := pred(t, v)
		if err != nil {
			return false, err
		}
		if ok != t.not {
			return true, nil
		}
	}
	return false, nil
}

// resolve selects the values a path names in one object, following
// *_ref and *_refs properties to the objects they name.
func resolve(steps []pathStep, obj map[string]any, refs map[string]map[string]any) ([]any, error) {
	vals := []any{obj}
	for _, s := range steps {
		var next []any
		for _, v := range vals {
			switch {
			case !s.isIndex:
				mv, ok := v.(map[string]any)
				if !ok {
					continue
				}
				x, ok := mv[s.key]
				if !ok {
					continue
				}
				x, err := decodeSuffixed(s.key, x)
				if err != nil {
					return nil, err
				}
				switch {
				case strings.HasSuffix(s.key, "_ref"):
					id, ok := x.(string)
					if !ok {
						return nil, fmt.Errorf("stixpattern: %s is not a string reference", s.key)
					}
					if o, ok := refs[id]; ok {
						next = append(next, o)
					}
				case strings.HasSuffix(s.key, "_refs"):
					list, ok := x.([]any)
					if !ok {
						return nil, fmt.Errorf("stixpattern: %s is not a list of references", s.key)
					}
					var objs []any
					for _, e := range list {
						id, ok := e.(string)
						if !ok {
							return nil, fmt.Errorf("stixpattern: %s holds a non-string reference", s.key)
						}
						if o, ok := refs[id]; ok {
							objs = append(objs, o)
						}
					}
					if len(objs) > 0 {
						next = append(next, objs)
					}
				default:
					next = append(next, x)
				}
			case s.star:
				if l, ok := v.([]any); ok {
					next = append(next, l...)
				}
			default:
				l, ok := v.([]any)
				if !ok {
					continue
				}
				i := s.index
				if i < 0 {
					i += len(l) // counts from the end, as in the OASIS matcher
				}
				if i >= 0 && i < len(l) {
					next = append(next, l[i])
				}
			}
		}
		if len(next) == 0 {
			return nil, nil
		}
		vals = next
	}
	return vals, nil
}

// decodeSuffixed turns *_hex and *_bin string properties into bytes.
func decodeSuffixed(key string, v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return v, nil
	}
	switch {
	case strings.HasSuffix(key, "_hex"):
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("stixpattern: %s: invalid hex: %w", key, err)
		}
		return b, nil
	case strings.HasSuffix(key, "_bin"):
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("stixpattern: %s: invalid base64: %w", key, err)
		}
		return b, nil
	}
	return v, nil
}

// pred applies the operator (without NOT) to one value.
func pred(t *propTest, v any) (bool, error) {
	switch t.op {
	case opEQ, opNEQ:
		eq, err := equal(v, t.lit, true)
		return eq != (t.op == opNEQ), err
	case opLT, opLE, opGT, opGE:
		c, ok, err := order(v, t.lit)
		if err != nil || !ok {
			return false, err
		}
		switch t.op {
		case opLT:
			return c < 0, nil
		case opLE:
			return c <= 0, nil
		case opGT:
			return c > 0, nil
		}
		return c >= 0, nil
	case opIN:
		for _, l := range t.set {
			eq, err := equal(v, l, false)
			if err != nil || eq {
				return eq, err
			}
		}
		return false, nil
	case opLIKE, opMATCHES:
		switch x := v.(type) {
		case string:
			return t.re.MatchString(nfc(x)), nil
		case []byte:
			// binary values are matched as Latin-1 text, and only by
			// operands that are Latin-1 themselves
			if _, ok := latin1(t.lit.s); !ok {
				return false, nil
			}
			return t.re.MatchString(fromLatin1(x)), nil
		}
		return false, nil
	case opISSUBSET, opISSUPERSET:
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		vp, err := parsePrefix(s)
		if err != nil {
			return false, fmt.Errorf("stixpattern: %s: value %q is not an IP address or CIDR", opText[t.op], clip(s))
		}
		if t.op == opISSUBSET {
			return prefixContains(t.pfx, vp), nil
		}
		return prefixContains(vp, t.pfx), nil
	}
	return false, fmt.Errorf("stixpattern: internal error: operator %d", t.op)
}

func prefixContains(outer, inner netip.Prefix) bool {
	return outer.Addr().Is4() == inner.Addr().Is4() && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// jsonTime reads a JSON string as a timestamp for comparison with a
// timestamp literal.
func jsonTime(v any, l literal) (time.Time, bool, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false, nil
	}
	if l.tErr != nil {
		return time.Time{}, false, fmt.Errorf("stixpattern: literal %s: %w", l.text, l.tErr)
	}
	t, err := parseTimestamp(s)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("stixpattern: value compared with %s: %w", l.text, err)
	}
	return t, true, nil
}

// equal compares a JSON value with a literal. Values of kinds that cannot be
// compared are unequal. cross allows comparing binary with strings whose
// characters are all below U+0100 (as the specification says for = and !=).
func equal(v any, l literal, cross bool) (bool, error) {
	switch l.kind {
	case lTimestamp:
		t, ok, err := jsonTime(v, l)
		return ok && t.Equal(l.t), err
	case lString:
		switch x := v.(type) {
		case string:
			return x == l.s, nil
		case []byte:
			b, ok := latin1(l.s)
			return cross && ok && bytes.Equal(b, x), nil
		}
	case lInt, lFloat:
		if n, ok := v.(json.Number); ok {
			c, ok := compareNumber(n, l)
			return ok && c == 0, nil
		}
	case lBool:
		b, ok := v.(bool)
		return ok && b == l.b, nil
	case lHex, lBinary:
		switch x := v.(type) {
		case []byte:
			return bytes.Equal(x, l.bytes), nil
		case string:
			b, ok := latin1(x)
			return cross && ok && bytes.Equal(b, l.bytes), nil
		}
	}
	return false, nil
}

// order compares a JSON value with a literal; ok is false when they cannot
// be ordered.
func order(v any, l literal) (c int, ok bool, err error) {
	switch l.kind {
	case lTimestamp:
		t, ok, err := jsonTime(v, l)
		if !ok || err != nil {
			return 0, false, err
		}
		return t.Compare(l.t), true, nil
	case lString:
		switch x := v.(type) {
		case string:
			return strings.Compare(x, l.s), true, nil
		case []byte:
			b, ok := latin1(l.s)
			return bytes.Compare(x, b), ok, nil
		}
	case lInt, lFloat:
		if n, ok := v.(json.Number); ok {
			c, ok := compareNumber(n, l)
			return c, ok, nil
		}
	case lHex, lBinary:
		switch x := v.(type) {
		case []byte:
			return bytes.Compare(x, l.bytes), true, nil
		case string:
			b, ok := latin1(x)
			return bytes.Compare(b, l.bytes), ok, nil
		}
	}
	return 0, false, nil
}

func compareNumber(n json.Number, l literal) (int, bool) {
	s := string(n)
	if l.kind == lInt && !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			switch {
			case i < l.i:
				return -1, true
			case i > l.i:
				return 1, true
			}
			return 0, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	lf := l.f
	switch {
	case f < lf:
		return -1, true
	case f > lf:
		return 1, true
	case f == lf:
		return 0, true
	}
	return 0, false // NaN
}

func latin1(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}

func fromLatin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
