package stixpattern

import "strconv"

// Comparison is one comparison of a pattern as Comparisons reports it, for
// a caller that judges what a pattern matches (the hub refuses patterns
// that match too broadly) rather than evaluating it.
type Comparison struct {
	// Text is the comparison as the pattern's canonical text prints it:
	// "domain-name:value LIKE '%.example.com'".
	Text       string
	ObjectType string // "domain-name"
	// Props are the path's steps, unquoted, as in Equality: property
	// names, and "[*]" or "[n]" for list steps ("dst_ref", "value").
	Props []string
	// Op is the operator as written: "=", "!=", "<", "<=", ">", ">=",
	// "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET" or "EXISTS".
	Op string
	// Not is set for a comparison negated with NOT ("a:b NOT = 'x'",
	// "NOT EXISTS a:b"). "!=" is Op "!=" without Not.
	Not bool
	// Constant is the kind of the constant compared with: "string",
	// "number", "boolean", "binary" or "timestamp"; "" for EXISTS and an
	// empty IN set.
	Constant string
	// Strings holds the string constants: the one operand of a string
	// comparison (the LIKE or MATCHES text as written), every member of an
	// IN set of strings; nil when the constant is not a string.
	Strings []string
}

// Negated reports whether the comparison holds where a value is not
// something: "!=" or NOT.
func (c Comparison) Negated() bool { return c.Not || c.Op == "!=" }

// Comparisons returns every comparison of the pattern, in the order of its
// text. Unanchored numbers them in the same order.
func (p *Pattern) Comparisons() []Comparison {
	var out []Comparison
	p.eachTest(func(_ int, t *propTest) { out = append(out, describeTest(t)) })
	return out
}

// Unanchored looks for a bracketed observation expression that some
// observation can satisfy through comparisons none of which is an anchor:
// anchor[i] says whether the i-th comparison (in the order of Comparisons)
// is one. Inside brackets, AND needs one side to be satisfied that way, OR
// either. It returns the first such observation expression (its canonical
// text) with the comparisons of that way of satisfying it, and found false
// when every way of satisfying every observation expression takes an
// anchor. anchor must hold one entry per comparison.
func (p *Pattern) Unanchored(anchor []bool) (observation string, loose []int, found bool) {
	index := map[*propTest]int{}
	p.eachTest(func(i int, t *propTest) { index[t] = i })
	// way returns the comparisons of one way of satisfying c that takes no
	// anchor, and false when there is none.
	var way func(c *cmpExpr) ([]int, bool)
	way = func(c *cmpExpr) ([]int, bool) {
		switch c.kind {
		case cTest:
			i := index[c.test]
			return []int{i}, !anchor[i]
		case cAnd:
			l, ok := way(c.l)
			if !ok {
				return nil, false
			}
			r, ok := way(c.r)
			return append(l, r...), ok
		}
		if l, ok := way(c.l); ok {
			return l, true
		}
		return way(c.r)
	}
	var walk func(o *obsExpr) (string, []int, bool)
	walk = func(o *obsExpr) (string, []int, bool) {
		if o == nil {
			return "", nil, false
		}
		if o.kind == oSimple {
			if w, ok := way(o.cmp); ok {
				text, _ := printObs(o)
				return text, w, true
			}
			return "", nil, false
		}
		if text, w, ok := walk(o.l); ok {
			return text, w, ok
		}
		return walk(o.r)
	}
	return walk(p.root)
}

// eachTest calls fn for every comparison in the order of the pattern's
// text, with its number from 0.
func (p *Pattern) eachTest(fn func(i int, t *propTest)) {
	n := 0
	var walkCmp func(c *cmpExpr)
	walkCmp = func(c *cmpExpr) {
		if c.kind == cTest {
			fn(n, c.test)
			n++
			return
		}
		walkCmp(c.l)
		walkCmp(c.r)
	}
	var walk func(o *obsExpr)
	walk = func(o *obsExpr) {
		if o == nil {
			return
		}
		if o.kind == oSimple {
			walkCmp(o.cmp)
			return
		}
		walk(o.l)
		walk(o.r)
	}
	walk(p.root)
}

func describeTest(t *propTest) Comparison {
	c := Comparison{
		Text:       printCmp(&cmpExpr{kind: cTest, test: t}, 0),
		ObjectType: t.path.typ,
		Props:      make([]string, len(t.path.steps)),
		Op:         opText[t.op],
		Not:        t.not,
	}
	for i, st := range t.path.steps {
		switch {
		case st.star:
			c.Props[i] = "[*]"
		case st.isIndex:
			c.Props[i] = "[" + strconv.Itoa(st.index) + "]"
		default:
			c.Props[i] = st.key
		}
	}
	lits := []literal{t.lit}
	switch t.op {
	case opEXISTS:
		lits = nil
	case opIN:
		lits = t.set
	}
	for _, l := range lits {
		c.Constant = litGroupName(l.kind)
		if l.kind == lString {
			c.Strings = append(c.Strings, l.s)
		}
	}
	return c
}
