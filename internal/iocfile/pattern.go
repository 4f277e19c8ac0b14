package iocfile

import (
	"fmt"
	"strings"
)

// This file parses STIX 2.1 patterns (the grammar in the OASIS
// STIXPattern.g4) into a small tree, so that the offline matcher can take
// the patterns that are an OR of equality comparisons and name precisely
// what it cannot take in the others.

// maxPatternDepth bounds the nesting of parentheses and brackets, so that a
// hostile pattern cannot exhaust the stack.
const maxPatternDepth = 64

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokLBrack
	tokRBrack
	tokLParen
	tokRParen
	tokComma
	tokOp     // = != <> < <= > >=
	tokWord   // keyword, true, false
	tokPath   // object path
	tokString // '…', unescaped
	tokTyped  // t'…', h'…', b'…'
	tokNumber // integer or float
)

type token struct {
	kind tokKind
	text string   // operator, word (upper case for keywords), string value, number
	path *objPath // tokPath
	pos  int      // byte offset in the pattern
}

// objPath is "object-type:prop.prop[*].'quoted prop'".
type objPath struct {
	objType string
	props   []string // "[*]" and "[n]" are kept as components
}

func (p *objPath) String() string {
	var b strings.Builder
	b.WriteString(p.objType)
	b.WriteByte(':')
	for i, c := range p.props {
		if strings.HasPrefix(c, "[") {
			b.WriteString(c)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if plainIdent(c) {
			b.WriteString(c)
		} else {
			b.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(c) + "'")
		}
	}
	return b.String()
}

// plainIdent reports whether a property can be written without quotes.
func plainIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '-' || !isIdentByte(c) {
			return false
		}
	}
	return s != ""
}

var punct = [256]tokKind{'[': tokLBrack, ']': tokRBrack, '(': tokLParen, ')': tokRParen, ',': tokComma}

type lexer struct {
	s   string
	i   int
	err error
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func (lx *lexer) fail(format string, args ...any) token {
	if lx.err == nil {
		lx.err = fmt.Errorf("%w: at byte %d: %s", ErrInvalidPattern, lx.i, fmt.Sprintf(format, args...))
	}
	return token{kind: tokEOF, pos: lx.i}
}

func (lx *lexer) next() token {
	s := lx.s
	for lx.i < len(s) && (s[lx.i] == ' ' || s[lx.i] == '\t' || s[lx.i] == '\n' || s[lx.i] == '\r') {
		lx.i++
	}
	start := lx.i
	if lx.i >= len(s) {
		return token{kind: tokEOF, pos: start}
	}
	c := s[lx.i]
	switch c {
	case '[', ']', '(', ')', ',':
		lx.i++
		return token{kind: punct[c], text: s[start:lx.i], pos: start}
	case '=':
		lx.i++
		return token{kind: tokOp, text: "=", pos: start}
	case '!':
		if strings.HasPrefix(s[lx.i:], "!=") {
			lx.i += 2
			return token{kind: tokOp, text: "!=", pos: start}
		}
		return lx.fail("unexpected %q", c)
	case '<', '>':
		op := s[lx.i : lx.i+1]
		if lx.i+1 < len(s) && (s[lx.i+1] == '=' || c == '<' && s[lx.i+1] == '>') {
			op = s[lx.i : lx.i+2]
		}
		lx.i += len(op)
		return token{kind: tokOp, text: op, pos: start}
	case '\'':
		v, ok := lx.str()
		if !ok {
			return token{kind: tokEOF, pos: start}
		}
		return token{kind: tokString, text: v, pos: start}
	}
	if c == '-' || c == '+' || '0' <= c && c <= '9' {
		j := lx.i + 1
		for j < len(s) && ('0' <= s[j] && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
			(s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
			j++
		}
		if j == lx.i+1 && (c == '-' || c == '+') {
			return lx.fail("unexpected %q", c)
		}
		lx.i = j
		return token{kind: tokNumber, text: s[start:j], pos: start}
	}
	if !isIdentByte(c) {
		return lx.fail("unexpected %q", c)
	}
	j := lx.i
	for j < len(s) && isIdentByte(s[j]) {
		j++
	}
	word := s[lx.i:j]
	lx.i = j
	if j < len(s) && s[j] == '\'' && (word == "t" || word == "h" || word == "b") {
		v, ok := lx.str()
		if !ok {
			return token{kind: tokEOF, pos: start}
		}
		return token{kind: tokTyped, text: word + "'" + v + "'", pos: start}
	}
	if j < len(s) && s[j] == ':' {
		lx.i++
		p, ok := lx.path(word)
		if !ok {
			return token{kind: tokEOF, pos: start}
		}
		return token{kind: tokPath, path: p, pos: start}
	}
	up := strings.ToUpper(word)
	switch up {
	case "AND", "OR", "NOT", "FOLLOWEDBY", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS", "IN",
		"WITHIN", "REPEATS", "TIMES", "SECONDS", "START", "STOP":
		return token{kind: tokWord, text: up, pos: start}
	case "TRUE", "FALSE":
		return token{kind: tokWord, text: strings.ToLower(word), pos: start}
	}
	return lx.fail("unexpected word %q (an object path needs \"type:property\")", word)
}

// str reads a quoted string at lx.i; the only escapes are \' and \\.
func (lx *lexer) str() (string, bool) {
	s := lx.s
	lx.i++ // opening quote
	var b strings.Builder
	for lx.i < len(s) {
		c := s[lx.i]
		switch c {
		case '\'':
			lx.i++
			return b.String(), true
		case '\\':
			if lx.i+1 < len(s) && (s[lx.i+1] == '\'' || s[lx.i+1] == '\\') {
				b.WriteByte(s[lx.i+1])
				lx.i += 2
				continue
			}
			lx.fail("invalid escape in a string (only \\' and \\\\ are allowed)")
			return "", false
		}
		b.WriteByte(c)
		lx.i++
	}
	lx.fail("unterminated string")
	return "", false
}

// path reads the property part of an object path after "type:".
func (lx *lexer) path(objType string) (*objPath, bool) {
	p := &objPath{objType: objType}
	s := lx.s
	component := func() bool {
		if lx.i < len(s) && s[lx.i] == '\'' {
			v, ok := lx.str()
			p.props = append(p.props, v)
			return ok
		}
		j := lx.i
		for j < len(s) && isIdentByte(s[j]) {
			j++
		}
		if j == lx.i {
			lx.fail("object path %q has an empty property", objType+":")
			return false
		}
		p.props = append(p.props, s[lx.i:j])
		lx.i = j
		return true
	}
	if !component() {
		return nil, false
	}
	for lx.i < len(s) {
		switch s[lx.i] {
		case '.':
			lx.i++
			if !component() {
				return nil, false
			}
			continue
		case '[':
			end := strings.IndexByte(s[lx.i:], ']')
			if end < 0 {
				lx.fail("unterminated list index")
				return nil, false
			}
			idx := s[lx.i+1 : lx.i+end]
			if idx != "*" && (idx == "" || strings.Trim(idx, "0123456789") != "") {
				lx.fail("list index %q is neither * nor a number", idx)
				return nil, false
			}
			p.props = append(p.props, "["+idx+"]")
			lx.i += end + 1
			continue
		}
		break
	}
	return p, true
}

// nodeKind is the kind of a pattern tree node.
type nodeKind uint8

const (
	nodeObsOr      nodeKind = iota // [..] OR [..]
	nodeObsAnd                     // [..] AND [..]
	nodeFollowedBy                 // [..] FOLLOWEDBY [..]
	nodeQualified                  // [..] WITHIN / REPEATS / START…STOP
	nodeObs                        // [comparison]
	nodeCmpOr                      // a = 'x' OR b = 'y'
	nodeCmpAnd                     // a = 'x' AND b = 'y'
	nodeCmp                        // one comparison
)

type node struct {
	kind nodeKind
	kids []*node
	// nodeQualified: the qualifier keyword.
	qual string
	// nodeCmp:
	path   *objPath
	not    bool
	op     string // "=", "!=", "<", …, "LIKE", "MATCHES", "IN", "EXISTS", …
	lit    token  // the literal (tokString, tokTyped, tokNumber, tokWord true/false); a set's first
	setLen int    // IN: number of elements
}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

// parsePattern parses a whole pattern; errors wrap ErrInvalidPattern.
func parsePattern(s string) (*node, error) {
	p := &parser{lx: lexer{s: s}}
	p.advance()
	n := p.followedBy()
	if p.lx.err == nil && p.tok.kind != tokEOF {
		p.fail("unexpected %q after the end of the pattern", p.tokText())
	}
	if p.lx.err != nil {
		return nil, p.lx.err
	}
	return n, nil
}

func (p *parser) advance() { p.tok = p.lx.next() }

func (p *parser) fail(format string, args ...any) *node {
	if p.lx.err == nil {
		p.lx.err = fmt.Errorf("%w: at byte %d: %s", ErrInvalidPattern, p.tok.pos, fmt.Sprintf(format, args...))
	}
	p.tok = token{kind: tokEOF, pos: p.tok.pos}
	return &node{kind: nodeObs}
}

func (p *parser) tokText() string {
	switch p.tok.kind {
	case tokEOF:
		return "end of pattern"
	case tokPath:
		return p.tok.path.String()
	case tokString:
		return "'" + p.tok.text + "'"
	}
	return p.tok.text
}

func (p *parser) isWord(w string) bool { return p.tok.kind == tokWord && p.tok.text == w }

func (p *parser) enter() bool {
	p.depth++
	if p.depth > maxPatternDepth {
		p.fail("nested more than %d levels deep", maxPatternDepth)
		return false
	}
	return true
}

// binary parses operands separated by the keyword op.
func (p *parser) binary(op string, k nodeKind, operand func() *node) *node {
	n := operand()
	if !p.isWord(op) {
		return n
	}
	bin := &node{kind: k, kids: []*node{n}}
	for p.isWord(op) && p.lx.err == nil {
		p.advance()
		bin.kids = append(bin.kids, operand())
	}
	return bin
}

func (p *parser) followedBy() *node { return p.binary("FOLLOWEDBY", nodeFollowedBy, p.obsOr) }
func (p *parser) obsOr() *node      { return p.binary("OR", nodeObsOr, p.obsAnd) }
func (p *parser) obsAnd() *node     { return p.binary("AND", nodeObsAnd, p.qualified) }
func (p *parser) cmpOr() *node      { return p.binary("OR", nodeCmpOr, p.cmpAnd) }
func (p *parser) cmpAnd() *node     { return p.binary("AND", nodeCmpAnd, p.cmpPrimary) }

// qualified parses an observation expression and its qualifiers.
func (p *parser) qualified() *node {
	n := p.obsPrimary()
	for p.lx.err == nil {
		switch {
		case p.isWord("WITHIN"):
			p.advance()
			p.expectNumber()
			p.expectWord("SECONDS")
			n = &node{kind: nodeQualified, qual: "WITHIN", kids: []*node{n}}
		case p.isWord("REPEATS"):
			p.advance()
			p.expectNumber()
			p.expectWord("TIMES")
			n = &node{kind: nodeQualified, qual: "REPEATS", kids: []*node{n}}
		case p.isWord("START"):
			p.advance()
			p.expectTimestamp()
			p.expectWord("STOP")
			p.expectTimestamp()
			n = &node{kind: nodeQualified, qual: "START/STOP", kids: []*node{n}}
		default:
			return n
		}
	}
	return n
}

func (p *parser) expectNumber() {
	if p.tok.kind != tokNumber {
		p.fail("want a number, have %q", p.tokText())
		return
	}
	p.advance()
}

func (p *parser) expectWord(w string) {
	if !p.isWord(w) {
		p.fail("want %s, have %q", w, p.tokText())
		return
	}
	p.advance()
}

func (p *parser) expectTimestamp() {
	if p.tok.kind != tokTyped || !strings.HasPrefix(p.tok.text, "t'") {
		p.fail("want a timestamp t'…', have %q", p.tokText())
		return
	}
	p.advance()
}

func (p *parser) expect(k tokKind, what string) {
	if p.tok.kind != k {
		p.fail("want %s, have %q", what, p.tokText())
		return
	}
	p.advance()
}

func (p *parser) obsPrimary() *node {
	if !p.enter() {
		return &node{kind: nodeObs}
	}
	defer func() { p.depth-- }()
	switch p.tok.kind {
	case tokLBrack:
		p.advance()
		n := &node{kind: nodeObs, kids: []*node{p.cmpOr()}}
		p.expect(tokRBrack, "]")
		return n
	case tokLParen:
		p.advance()
		n := p.followedBy()
		p.expect(tokRParen, ")")
		return n
	}
	return p.fail("want [ or (, have %q", p.tokText())
}

func (p *parser) cmpPrimary() *node {
	if !p.enter() {
		return &node{kind: nodeCmp}
	}
	defer func() { p.depth-- }()
	switch {
	case p.tok.kind == tokLParen:
		p.advance()
		n := p.cmpOr()
		p.expect(tokRParen, ")")
		return n
	case p.isWord("EXISTS"):
		p.advance()
		if p.tok.kind != tokPath {
			return p.fail("want an object path after EXISTS, have %q", p.tokText())
		}
		n := &node{kind: nodeCmp, op: "EXISTS", path: p.tok.path}
		p.advance()
		return n
	case p.tok.kind != tokPath:
		return p.fail("want an object path, have %q", p.tokText())
	}
	n := &node{kind: nodeCmp, path: p.tok.path}
	p.advance()
	if p.isWord("NOT") {
		n.not = true
		p.advance()
	}
	switch {
	case p.tok.kind == tokOp:
		n.op = p.tok.text
	case p.isWord("LIKE"), p.isWord("MATCHES"), p.isWord("ISSUBSET"), p.isWord("ISSUPERSET"), p.isWord("IN"):
		n.op = p.tok.text
	default:
		return p.fail("want a comparison operator, have %q", p.tokText())
	}
	p.advance()
	if n.op == "IN" {
		p.expect(tokLParen, "(")
		for p.lx.err == nil {
			if !p.literal() {
				return p.fail("want a literal in the set, have %q", p.tokText())
			}
			if n.setLen == 0 {
				n.lit = p.tok
			}
			n.setLen++
			p.advance()
			if p.tok.kind != tokComma {
				break
			}
			p.advance()
		}
		p.expect(tokRParen, ")")
		return n
	}
	if !p.literal() {
		return p.fail("want a literal, have %q", p.tokText())
	}
	n.lit = p.tok
	p.advance()
	return n
}

func (p *parser) literal() bool {
	switch p.tok.kind {
	case tokString, tokTyped, tokNumber:
		return true
	}
	return p.isWord("true") || p.isWord("false")
}

// comparison is an equality test the offline matcher can take.
type comparison struct {
	path  *objPath
	value string
}

// disjunction returns the comparisons of a pattern that is an OR (at either
// level) of "path = 'string'" comparisons, and, for each part that is
// something else, why it cannot be taken. When some parts of an OR can be
// taken and others cannot, the first are still good indicators: any of them
// matching means the pattern matches.
func disjunction(n *node) ([]comparison, []string) {
	switch n.kind {
	case nodeObsOr, nodeCmpOr:
		var (
			cs      []comparison
			reasons []string
		)
		for _, k := range n.kids {
			c, r := disjunction(k)
			cs = append(cs, c...)
			reasons = append(reasons, r...)
		}
		return cs, reasons
	case nodeObs:
		return disjunction(n.kids[0])
	case nodeObsAnd:
		return nil, []string{"observations joined by AND"}
	case nodeFollowedBy:
		return nil, []string{"observations joined by FOLLOWEDBY"}
	case nodeQualified:
		return nil, []string{"qualifier " + n.qual}
	case nodeCmpAnd:
		return nil, []string{"comparisons joined by AND"}
	}
	// nodeCmp
	switch {
	case n.op == "EXISTS":
		return nil, []string{"EXISTS " + n.path.String()}
	case n.not:
		return nil, []string{n.path.String() + " NOT " + n.op}
	case n.op != "=":
		return nil, []string{n.path.String() + " " + n.op}
	case n.lit.kind != tokString:
		return nil, []string{n.path.String() + " compared with a non-string literal " + n.lit.text}
	}
	return []comparison{{path: n.path, value: n.lit.text}}, nil
}
