package stixpattern

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
)

// Limits that keep any input from exhausting memory or the stack.
const (
	MaxPatternLen = 64 << 10 // bytes
	MaxDepth      = 256      // nesting of [ ] and ( )
	MaxRegexLen   = 4 << 10  // bytes of a MATCHES or LIKE operand
	// MaxRegexInsts bounds the compiled programs of a pattern's MATCHES and
	// LIKE operands together (instructions of Go's RE2 engine). Matching
	// is linear in the value's length, but also in the program's size, and
	// a counted repetition expands into copies (".{0,1000}" is about 2,000
	// instructions): without a bound, a few kilobytes of pattern cost
	// seconds to compile and milliseconds per event on every sensor. An
	// indicator's regular expression takes tens to a few hundred. The size
	// is estimated from the parsed expression (regexSize).
	MaxRegexInsts = 4000
)

// ParseError says where (byte offset into the pattern) and what went wrong.
type ParseError struct {
	Offset int
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("stixpattern: offset %d: %s", e.Offset, e.Msg)
}

func errAt(off int, format string, args ...any) error {
	return &ParseError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

type obsKind uint8

const (
	oSimple obsKind = iota
	oAnd
	oOr
	oFollowedBy
	oWithin
	oRepeats
	oStartStop
)

// obsExpr is an observation expression. Binary kinds use l and r;
// qualifiers use l as the qualified expression.
type obsExpr struct {
	kind       obsKind
	cmp        *cmpExpr
	l, r       *obsExpr
	within     time.Duration
	withinText string
	repeats    int
	start      literal
	stop       literal
}

type cmpKind uint8

const (
	cTest cmpKind = iota
	cAnd
	cOr
)

type cmpExpr struct {
	kind cmpKind
	l, r *cmpExpr
	test *propTest
}

type opKind uint8

const (
	opEQ opKind = iota
	opNEQ
	opLT
	opLE
	opGT
	opGE
	opIN
	opLIKE
	opMATCHES
	opISSUBSET
	opISSUPERSET
	opEXISTS
)

var opText = [...]string{"=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"}

type propTest struct {
	path objectPath
	not  bool
	op   opKind
	lit  literal   // all but IN and EXISTS
	set  []literal // IN
	re   *regexp.Regexp
	pfx  netip.Prefix // ISSUBSET, ISSUPERSET
}

type pathStep struct {
	key     string
	isIndex bool
	star    bool
	index   int
}

type objectPath struct {
	typ   string
	steps []pathStep // steps[0] is always a key
}

type litKind uint8

const (
	lString litKind = iota
	lInt
	lFloat
	lBool
	lHex
	lBinary
	lTimestamp
)

type literal struct {
	kind  litKind
	text  string // canonical source form
	s     string
	i     int64
	f     float64
	b     bool
	bytes []byte
	t     time.Time
	tErr  error // a syntactically valid but impossible timestamp (t'2024-02-30…')
}

// Pattern is a parsed and validated STIX 2.1 pattern.
type Pattern struct {
	root  *obsExpr
	canon string
}

// Parse parses and validates a STIX pattern. It takes the STIX 2.1 grammar
// and, for STIX 2.0 patterns, also a plain string timestamp after START and
// STOP.
func Parse(s string) (*Pattern, error) {
	if len(s) > MaxPatternLen {
		return nil, errAt(MaxPatternLen, "pattern longer than %d bytes", MaxPatternLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.observations()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, errAt(t.pos, "unexpected %s after the pattern", t.describe())
	}
	pat := &Pattern{root: root}
	pat.canon, _ = printObs(root)
	return pat, nil
}

type parser struct {
	toks  []token
	pos   int
	depth int
	insts int // of the regular expressions compiled so far (MaxRegexInsts)
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}
func (p *parser) isKeyword(w string) bool {
	t := p.peek()
	return t.kind == tKeyword && t.text == w
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return errAt(pos, "nesting deeper than %d", MaxDepth)
	}
	return nil
}

func (p *parser) observations() (*obsExpr, error) {
	l, err := p.obsOr()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("FOLLOWEDBY") {
		p.next()
		r, err := p.obsOr()
		if err != nil {
			return nil, err
		}
		l = &obsExpr{kind: oFollowedBy, l: l, r: r}
	}
	return l, nil
}

func (p *parser) obsOr() (*obsExpr, error) {
	l, err := p.obsAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		r, err := p.obsAnd()
		if err != nil {
			return nil, err
		}
		l = &obsExpr{kind: oOr, l: l, r: r}
	}
	return l, nil
}

func (p *parser) obsAnd() (*obsExpr, error) {
	l, err := p.obsQualified()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		r, err := p.obsQualified()
		if err != nil {
			return nil, err
		}
		l = &obsExpr{kind: oAnd, l: l, r: r}
	}
	return l, nil
}

func (p *parser) obsQualified() (*obsExpr, error) {
	bracket := p.peek().kind == tLBrack
	e, err := p.obsPrimary()
	if err != nil {
		return nil, err
	}
	// Like the OASIS validator, a qualifier may not repeat on a bracketed
	// observation expression ("[…] WITHIN 5 SECONDS WITHIN 6 SECONDS"); on
	// a parenthesized one it may.
	var seen uint8 // bit per qualifier kind
	for {
		t := p.peek()
		if t.kind != tKeyword {
			return e, nil
		}
		var q *obsExpr
		switch t.text {
		case "WITHIN":
			p.next()
			n := p.next()
			if n.kind != tInt && n.kind != tFloat || strings.HasPrefix(n.text, "-") {
				return nil, errAt(n.pos, "WITHIN wants a positive number of seconds, got %s", n.describe())
			}
			f, _ := strconv.ParseFloat(n.text, 64)
			if !(f > 0) || f > 1e9 {
				return nil, errAt(n.pos, "WITHIN %s: the number of seconds must be > 0 and at most 1e9", n.text)
			}
			if u := p.next(); u.kind != tKeyword || u.text != "SECONDS" {
				return nil, errAt(u.pos, "expected SECONDS, got %s", u.describe())
			}
			q = &obsExpr{kind: oWithin, within: time.Duration(math.Round(f * 1e9)), withinText: strings.TrimPrefix(n.text, "+")}
		case "REPEATS":
			p.next()
			n := p.next()
			if n.kind != tInt || strings.HasPrefix(n.text, "-") {
				return nil, errAt(n.pos, "REPEATS wants a positive integer, got %s", n.describe())
			}
			k, err := strconv.Atoi(strings.TrimPrefix(n.text, "+"))
			if err != nil || k < 1 || k > 1000 {
				return nil, errAt(n.pos, "REPEATS %s: the count must be between 1 and 1000", n.text)
			}
			if u := p.next(); u.kind != tKeyword || u.text != "TIMES" {
				return nil, errAt(u.pos, "expected TIMES, got %s", u.describe())
			}
			q = &obsExpr{kind: oRepeats, repeats: k}
		case "START":
			p.next()
			start, err := p.qualifierTime()
			if err != nil {
				return nil, err
			}
			if u := p.next(); u.kind != tKeyword || u.text != "STOP" {
				return nil, errAt(u.pos, "expected STOP, got %s", u.describe())
			}
			stop, err := p.qualifierTime()
			if err != nil {
				return nil, err
			}
			q = &obsExpr{kind: oStartStop, start: start, stop: stop}
		default:
			return e, nil
		}
		if bracket && seen&(1<<q.kind) != 0 {
			return nil, errAt(t.pos, "duplicate %s qualifier on one observation expression (put the inner part in parentheses)", t.text)
		}
		seen |= 1 << q.kind
		q.l = e
		e = q
	}
}

// qualifierTime reads the timestamp after START or STOP: t'…' (STIX 2.1) or
// '…' (STIX 2.0).
func (p *parser) qualifierTime() (literal, error) {
	t := p.next()
	switch t.kind {
	case tTimestamp:
		l, err := makeLiteral(t)
		if err == nil && l.tErr != nil {
			err = errAt(t.pos, "%v", l.tErr)
		}
		return l, err
	case tString:
		s := unquote(t.text)
		if !validTimestampSyntax(s) {
			return literal{}, errAt(t.pos, "invalid timestamp %s", t.describe())
		}
		l, _ := makeLiteral(token{kind: tTimestamp, text: "t'" + s + "'", pos: t.pos})
		if l.tErr != nil {
			return l, errAt(t.pos, "%v", l.tErr)
		}
		return l, nil
	}
	return literal{}, errAt(t.pos, "expected a timestamp t'…', got %s", t.describe())
}

func (p *parser) obsPrimary() (*obsExpr, error) {
	t := p.next()
	switch t.kind {
	case tLBrack:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		c, err := p.cmpOr()
		if err != nil {
			return nil, err
		}
		if e := p.next(); e.kind != tRBrack {
			return nil, errAt(e.pos, "expected ']' or AND/OR, got %s", e.describe())
		}
		p.depth--
		return &obsExpr{kind: oSimple, cmp: c}, nil
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		e, err := p.observations()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, errAt(c.pos, "expected ')', got %s", c.describe())
		}
		p.depth--
		return e, nil
	}
	if t.pos == 0 && t.kind == tIdent {
		return nil, errAt(t.pos, "expected '[' or '(': a comparison must be in square brackets")
	}
	return nil, errAt(t.pos, "expected '[' or '(', got %s", t.describe())
}

func (p *parser) cmpOr() (*cmpExpr, error) {
	l, err := p.cmpAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		r, err := p.cmpAnd()
		if err != nil {
			return nil, err
		}
		l = &cmpExpr{kind: cOr, l: l, r: r}
	}
	return l, nil
}

func (p *parser) cmpAnd() (*cmpExpr, error) {
	l, err := p.propTest()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		r, err := p.propTest()
		if err != nil {
			return nil, err
		}
		l = &cmpExpr{kind: cAnd, l: l, r: r}
	}
	return l, nil
}

func (p *parser) propTest() (*cmpExpr, error) {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		c, err := p.cmpOr()
		if err != nil {
			return nil, err
		}
		if e := p.next(); e.kind != tRParen {
			return nil, errAt(e.pos, "expected ')', got %s", e.describe())
		}
		p.depth--
		return c, nil
	}
	pt := &propTest{}
	if p.isKeyword("NOT") {
		// only "NOT EXISTS" may start with NOT
		p.next()
		if !p.isKeyword("EXISTS") {
			return nil, errAt(p.peek().pos, "expected EXISTS after a leading NOT")
		}
		pt.not = true
	}
	if p.isKeyword("EXISTS") {
		p.next()
		path, err := p.objectPath()
		if err != nil {
			return nil, err
		}
		pt.path, pt.op = path, opEXISTS
		return &cmpExpr{kind: cTest, test: pt}, nil
	}
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	pt.path = path
	if p.isKeyword("NOT") {
		p.next()
		pt.not = true
	}
	opTok := p.next()
	switch opTok.kind {
	case tEQ, tNEQ:
		pt.op = opEQ
		if opTok.kind == tNEQ {
			pt.op = opNEQ
		}
		lt := p.next()
		if pt.lit, err = primitive(lt, true); err != nil {
			return nil, err
		}
		if err := checkHash(pt, lt.pos); err != nil {
			return nil, err
		}
	case tLT, tLE, tGT, tGE:
		pt.op = opLT + opKind(opTok.kind-tLT) // tLT tLE tGT tGE and opLT opLE opGT opGE share an order
		if pt.lit, err = primitive(p.next(), false); err != nil {
			return nil, err
		}
	case tKeyword:
		switch opTok.text {
		case "IN":
			pt.op = opIN
			if pt.set, err = p.setLiteral(); err != nil {
				return nil, err
			}
		case "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET":
			for k := opLIKE; k <= opISSUPERSET; k++ {
				if opText[k] == opTok.text {
					pt.op = k
				}
			}
			st := p.next()
			if st.kind != tString {
				return nil, errAt(st.pos, "%s wants a string literal, got %s", opTok.text, st.describe())
			}
			pt.lit, _ = makeLiteral(st)
			if err := compileOperand(pt, st.pos, &p.insts); err != nil {
				return nil, err
			}
		default:
			return nil, errAt(opTok.pos, "expected a comparison operator, got %s", opTok.describe())
		}
	default:
		return nil, errAt(opTok.pos, "expected a comparison operator, got %s", opTok.describe())
	}
	return &cmpExpr{kind: cTest, test: pt}, nil
}

func (p *parser) objectPath() (objectPath, error) {
	t := p.next()
	if t.kind != tIdent {
		return objectPath{}, errAt(t.pos, "expected an object path (type:property), got %s", t.describe())
	}
	path := objectPath{typ: t.text}
	if c := p.next(); c.kind != tColon {
		return objectPath{}, errAt(c.pos, "expected ':' after the object type %q, got %s", t.text, c.describe())
	}
	first := p.next()
	switch {
	case first.kind == tIdent && !first.hyphen:
		path.steps = append(path.steps, pathStep{key: first.text})
	case first.kind == tString:
		path.steps = append(path.steps, pathStep{key: unquote(first.text)})
	default:
		return objectPath{}, errAt(first.pos, "expected a property name (quote names with '-' or '.'), got %s", first.describe())
	}
	for {
		switch p.peek().kind {
		case tDot:
			p.next()
			k := p.next()
			switch {
			case k.kind == tIdent && !k.hyphen:
				path.steps = append(path.steps, pathStep{key: k.text})
			case k.kind == tString:
				path.steps = append(path.steps, pathStep{key: unquote(k.text)})
			default:
				return objectPath{}, errAt(k.pos, "expected a property name after '.', got %s", k.describe())
			}
		case tLBrack:
			// "[" after a path is an index step
			open := p.next()
			k := p.next()
			switch k.kind {
			case tStar:
				path.steps = append(path.steps, pathStep{isIndex: true, star: true})
			case tInt:
				n, err := strconv.Atoi(strings.TrimPrefix(k.text, "+"))
				if err != nil || n > 1<<30 || n < -(1<<30) {
					return objectPath{}, errAt(k.pos, "list index %s out of range", k.text)
				}
				path.steps = append(path.steps, pathStep{isIndex: true, index: n})
			default:
				return objectPath{}, errAt(k.pos, "expected a list index or '*' after '[' at offset %d, got %s", open.pos, k.describe())
			}
			if c := p.next(); c.kind != tRBrack {
				return objectPath{}, errAt(c.pos, "expected ']', got %s", c.describe())
			}
		default:
			return path, nil
		}
	}
}

func (p *parser) setLiteral() ([]literal, error) {
	open := p.next()
	if open.kind != tLParen {
		return nil, errAt(open.pos, "IN wants a set literal (…), got %s", open.describe())
	}
	set := []literal{}
	if p.peek().kind == tRParen {
		p.next()
		return set, nil
	}
	for {
		t := p.next()
		l, err := primitive(t, true)
		if err != nil {
			return nil, err
		}
		if len(set) > 0 && litGroup(set[0].kind) != litGroup(l.kind) {
			return nil, errAt(t.pos, "set literal mixes %s and %s values", litGroupName(set[0].kind), litGroupName(l.kind))
		}
		set = append(set, l)
		c := p.next()
		if c.kind == tRParen {
			return set, nil
		}
		if c.kind != tComma {
			return nil, errAt(c.pos, "expected ',' or ')' in a set literal, got %s", c.describe())
		}
	}
}

func litGroup(k litKind) litKind {
	switch k {
	case lFloat:
		return lInt
	case lBinary:
		return lHex
	}
	return k
}

func litGroupName(k litKind) string {
	return [...]string{"string", "number", "number", "boolean", "binary", "binary", "timestamp"}[k]
}

func primitive(t token, allowBool bool) (literal, error) {
	switch t.kind {
	case tString, tInt, tFloat, tHex, tBinary, tTimestamp:
		return makeLiteral(t)
	case tBool:
		if allowBool {
			return makeLiteral(t)
		}
		return literal{}, errAt(t.pos, "booleans cannot be ordered")
	}
	return literal{}, errAt(t.pos, "expected a literal value, got %s", t.describe())
}

func makeLiteral(t token) (literal, error) {
	switch t.kind {
	case tString:
		s := unquote(t.text)
		return literal{kind: lString, s: s, text: quote(s)}, nil
	case tInt:
		txt := strings.TrimPrefix(t.text, "+")
		n, err := strconv.ParseInt(txt, 10, 64)
		if err != nil {
			return literal{}, errAt(t.pos, "integer %s out of range", t.text)
		}
		return literal{kind: lInt, i: n, f: float64(n), text: txt}, nil
	case tFloat:
		txt := strings.TrimPrefix(t.text, "+")
		f, err := strconv.ParseFloat(txt, 64)
		if err != nil {
			return literal{}, errAt(t.pos, "number %s out of range", t.text)
		}
		return literal{kind: lFloat, f: f, text: txt}, nil
	case tBool:
		return literal{kind: lBool, b: t.text == "true", text: t.text}, nil
	case tHex:
		h := strings.ToLower(t.text[2 : len(t.text)-1])
		b, _ := hex.DecodeString(h)
		return literal{kind: lHex, bytes: b, text: "h'" + h + "'"}, nil
	case tBinary:
		b, _ := base64.StdEncoding.DecodeString(t.text[2 : len(t.text)-1])
		return literal{kind: lBinary, bytes: b, text: t.text}, nil
	case tTimestamp:
		s := t.text[2 : len(t.text)-1]
		tm, err := parseTimestamp(s)
		return literal{kind: lTimestamp, t: tm, tErr: err, text: t.text}, nil
	}
	return literal{}, errAt(t.pos, "expected a literal value, got %s", t.describe())
}

// parseTimestamp reads the STIX timestamp form YYYY-MM-DDTHH:MM:SS[.s+]Z
// (upper case T and Z); fractions beyond nanoseconds are truncated.
func parseTimestamp(s string) (time.Time, error) {
	if !validTimestampSyntax(s) {
		return time.Time{}, fmt.Errorf("invalid timestamp %q", clip(s))
	}
	num := func(a, b int) int { n, _ := strconv.Atoi(s[a:b]); return n }
	y, mo, d, h, mi, sec := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	ns := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		digits := (frac[1:] + "000000000")[:9]
		ns, _ = strconv.Atoi(digits)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC)
	if t.Day() != d || t.Second() != sec || int(t.Month()) != mo {
		return time.Time{}, fmt.Errorf("timestamp %q is not a real date and time", clip(s))
	}
	return t, nil
}

// hashLengths are the hex lengths of the hash algorithms the OASIS
// validator checks (key upper-cased, '-' and '_' removed).
var hashLengths = map[string]int{
	"MD5": 32, "SHA1": 40, "SHA224": 56, "SHA256": 64, "SHA384": 96, "SHA512": 128,
	"SHA3224": 56, "SHA3256": 64, "SHA3384": 96, "SHA3512": 128, "RIPEMD160": 40, "WHIRLPOOL": 128,
}

// checkHash rejects an equality test of a known hash algorithm against a
// string that cannot be such a hash (the OASIS validator does the same).
func checkHash(pt *propTest, pos int) error {
	if pt.lit.kind != lString {
		return nil
	}
	st := pt.path.steps
	for i := 0; i+1 < len(st); i++ {
		if st[i].isIndex || st[i].key != "hashes" || st[i+1].isIndex {
			continue
		}
		alg := strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(st[i+1].key))
		n, ok := hashLengths[alg]
		if ok && (len(pt.lit.s) != n || !isHex(pt.lit.s)) {
			return errAt(pos, "%s is not a valid %s hash", quote(clip(pt.lit.s)), st[i+1].key)
		}
	}
	return nil
}

// compileOperand prepares the regular expression of LIKE and MATCHES and
// the network prefix of ISSUBSET and ISSUPERSET; insts counts the
// instructions of the pattern's regular expressions (MaxRegexInsts).
func compileOperand(pt *propTest, pos int, insts *int) error {
	s := pt.lit.s
	switch pt.op {
	case opLIKE, opMATCHES:
		if len(s) > MaxRegexLen {
			return errAt(pos, "%s operand longer than %d bytes", opText[pt.op], MaxRegexLen)
		}
		expr := nfc(s)
		if pt.op == opLIKE {
			expr = likeToRegexp(expr)
		}
		// The program's size is estimated from the parsed expression,
		// before anything is expanded: compiling a huge one is what costs.
		if parsed, err := syntax.Parse(expr, syntax.Perl); err == nil {
			*insts += regexSize(parsed)
			if *insts > MaxRegexInsts {
				return errAt(pos, "%s: the pattern's regular expressions are too large (over %d instructions compiled; a counted repetition such as {0,1000} expands into copies)", opText[pt.op], MaxRegexInsts)
			}
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			// Go's RE2 syntax lacks back-references and look-around; a
			// pattern using them is rejected here rather than at match time.
			return errAt(pos, "%s: %v", opText[pt.op], err)
		}
		pt.re = re
	case opISSUBSET, opISSUPERSET:
		pfx, err := parsePrefix(s)
		if err != nil {
			return errAt(pos, "%s wants an IP address or CIDR: %v", opText[pt.op], err)
		}
		pt.pfx = pfx
	}
	return nil
}

// regexSize estimates the instructions of re's compiled program: a counted
// repetition costs its body once per copy it expands into. It saturates
// above MaxRegexInsts.
func regexSize(re *syntax.Regexp) int {
	n := 1
	switch re.Op {
	case syntax.OpLiteral:
		n = len(re.Rune)
	case syntax.OpRepeat:
		copies := re.Max
		if copies < 0 {
			copies = re.Min + 1
		}
		n = 1 + (regexSize(re.Sub[0])+1)*max(copies, 1)
	default:
		for _, sub := range re.Sub {
			n += regexSize(sub)
		}
	}
	return min(n, MaxRegexInsts+1)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q: IPv4-mapped address", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// likeToRegexp turns a LIKE operand into an anchored regular expression:
// % is any run of characters, _ is one character.
func likeToRegexp(like string) string {
	var b strings.Builder
	b.WriteString("^(?:")
	for _, r := range like {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(")$")
	return b.String()
}
