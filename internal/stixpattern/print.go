package stixpattern

import (
	"sort"
	"strconv"
	"strings"
)

// String returns the canonical text of the pattern: single spaces, upper-case
// keywords, '=' and '!=' for equality, t'…' after START/STOP and only the
// parentheses the grammar needs. Parse(p.String()) gives the same String().
func (p *Pattern) String() string { return p.canon }

// Simple reports whether the pattern is one '=' comparison of a string in one
// observation expression without qualifiers, and if so returns its parts:
// ("domain-name", "value", "evil.com") or ("file", "hashes.'SHA-256'", "…").
// Such a pattern can become a plain indicator.
func (p *Pattern) Simple() (objectType, path, value string, ok bool) {
	if p.root.kind != oSimple || p.root.cmp.kind != cTest {
		return "", "", "", false
	}
	t := p.root.cmp.test
	if t.op != opEQ || t.not || t.lit.kind != lString {
		return "", "", "", false
	}
	return t.path.typ, t.path.propString(), t.lit.s, true
}

// ObjectTypes returns the sorted, distinct object types the pattern names.
func (p *Pattern) ObjectTypes() []string {
	seen := map[string]bool{}
	p.eachTest(func(_ int, t *propTest) { seen[t.path.typ] = true })
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func obsPrec(k obsKind) int {
	switch k {
	case oFollowedBy:
		return 1
	case oOr:
		return 2
	case oAnd:
		return 3
	}
	return 4 // simple and qualified
}

// printObs returns the text of o and the qualifier kinds on its trailing,
// unparenthesized qualifier chain (a repeated kind there must be wrapped).
func printObs(o *obsExpr) (string, uint8) {
	switch o.kind {
	case oSimple:
		return "[" + printCmp(o.cmp, 0) + "]", 0
	case oAnd, oOr, oFollowedBy:
		word := map[obsKind]string{oAnd: " AND ", oOr: " OR ", oFollowedBy: " FOLLOWEDBY "}[o.kind]
		l, _ := printObs(o.l)
		if obsPrec(o.l.kind) < obsPrec(o.kind) {
			l = "(" + l + ")"
		}
		r, _ := printObs(o.r)
		if obsPrec(o.r.kind) <= obsPrec(o.kind) {
			r = "(" + r + ")"
		}
		return l + word + r, 0
	}
	inner, chain := printObs(o.l)
	bit := uint8(1) << o.kind
	if obsPrec(o.l.kind) < 4 || chain&bit != 0 {
		inner, chain = "("+inner+")", 0
	}
	var q string
	switch o.kind {
	case oWithin:
		q = " WITHIN " + o.withinText + " SECONDS"
	case oRepeats:
		q = " REPEATS " + strconv.Itoa(o.repeats) + " TIMES"
	case oStartStop:
		q = " START " + o.start.text + " STOP " + o.stop.text
	}
	return inner + q, chain | bit
}

func printCmp(c *cmpExpr, parentPrec int) string {
	switch c.kind {
	case cAnd, cOr:
		prec, word := 1, " OR "
		if c.kind == cAnd {
			prec, word = 2, " AND "
		}
		l := printCmp(c.l, prec)
		r := printCmp(c.r, prec+1) // right operand of the same operator needs parentheses
		s := l + word + r
		if prec < parentPrec {
			s = "(" + s + ")"
		}
		return s
	}
	t := c.test
	var b strings.Builder
	if t.op == opEXISTS {
		if t.not {
			b.WriteString("NOT ")
		}
		b.WriteString("EXISTS ")
		b.WriteString(t.path.String())
		return b.String()
	}
	b.WriteString(t.path.String())
	if t.not {
		b.WriteString(" NOT")
	}
	b.WriteByte(' ')
	b.WriteString(opText[t.op])
	b.WriteByte(' ')
	if t.op == opIN {
		b.WriteByte('(')
		for i, l := range t.set {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(l.text)
		}
		b.WriteByte(')')
	} else {
		b.WriteString(t.lit.text)
	}
	return b.String()
}

func (p objectPath) String() string { return p.typ + ":" + p.propString() }

func (p objectPath) propString() string {
	var b strings.Builder
	for i, s := range p.steps {
		switch {
		case s.star:
			b.WriteString("[*]")
		case s.isIndex:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			if plainName(s.key) {
				b.WriteString(s.key)
			} else {
				b.WriteString(quote(s.key))
			}
		}
	}
	return b.String()
}

// plainName reports whether a property name can be written unquoted.
func plainName(s string) bool {
	if s == "" || !isIdentStart(s[0]) || keywords[s] || s == "true" || s == "false" {
		return false
	}
	// b'…', h'…', t'…' cannot follow, so single letters are fine.
	for i := 1; i < len(s); i++ {
		if !isIdentPart(s[i]) {
			return false
		}
	}
	return true
}

// Equality is one '=' comparison of a string: objectType:path = 'value'.
type Equality struct {
	ObjectType string // "domain-name"
	Path       string // "value", "hashes.'SHA-256'"
	// Props are the path's steps, unquoted: property names, and "[*]" or
	// "[n]" for list steps ("hashes", "SHA-256").
	Props []string
	Value string
}

// Equalities reports whether the pattern is one observation expression
// without qualifiers whose comparison expression is an OR of '='
// comparisons of strings ("[a:value = 'x' OR b:value = 'y']"), and if so
// returns them in order. Each then stands for the pattern on its own: the
// pattern matches exactly when one of them does. Simple patterns give one.
func (p *Pattern) Equalities() ([]Equality, bool) {
	if p.root.kind != oSimple {
		return nil, false
	}
	var out []Equality
	var walk func(c *cmpExpr) bool
	walk = func(c *cmpExpr) bool {
		switch c.kind {
		case cOr:
			return walk(c.l) && walk(c.r)
		case cTest:
			t := c.test
			if t.op != opEQ || t.not || t.lit.kind != lString {
				return false
			}
			props := make([]string, len(t.path.steps))
			for i, st := range t.path.steps {
				switch {
				case st.star:
					props[i] = "[*]"
				case st.isIndex:
					props[i] = "[" + strconv.Itoa(st.index) + "]"
				default:
					props[i] = st.key
				}
			}
			out = append(out, Equality{ObjectType: t.path.typ, Path: t.path.propString(), Props: props, Value: t.lit.s})
			return true
		}
		return false
	}
	if !walk(p.root.cmp) {
		return nil, false
	}
	return out, true
}
