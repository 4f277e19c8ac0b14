package stixpattern

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tInt
	tFloat
	tBool
	tHex
	tBinary
	tTimestamp
	tKeyword // AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN START STOP SECONDS WITHIN REPEATS TIMES
	tEQ
	tNEQ
	tLT
	tLE
	tGT
	tGE
	tColon
	tDot
	tComma
	tLParen
	tRParen
	tLBrack
	tRBrack
	tStar
)

var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true, "LIKE": true, "MATCHES": true,
	"ISSUPERSET": true, "ISSUBSET": true, "EXISTS": true, "LAST": true, "IN": true, "START": true,
	"STOP": true, "SECONDS": true, "WITHIN": true, "REPEATS": true, "TIMES": true,
}

type token struct {
	kind   tokKind
	text   string // source text; for tKeyword the keyword
	pos    int    // byte offset
	hyphen bool   // tIdent containing '-' (valid as object type only)
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of pattern"
	case tKeyword:
		return t.text
	}
	s := t.text
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return "'" + s + "'"
}

// lex splits the pattern into tokens; it follows the lexer rules of the
// OASIS grammar (longest match, keywords before identifiers, whitespace and
// comments skipped).
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		// whitespace (the grammar's WS set, including the Unicode spaces)
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f' {
			i++
			continue
		}
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(src[i:])
			if isUnicodeSpace(r) {
				i += n
				continue
			}
			return nil, errAt(i, "unexpected character %q", r)
		}
		if c == '/' && i+1 < len(src) && src[i+1] == '*' {
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, errAt(i, "unterminated comment")
			}
			i += 2 + end + 2
			continue
		}
		if c == '/' && i+1 < len(src) && src[i+1] == '/' {
			for i < len(src) && src[i] != '\r' && src[i] != '\n' {
				i++
			}
			continue
		}
		start := i
		switch {
		case (c == 'b' || c == 'h' || c == 't') && i+1 < len(src) && src[i+1] == '\'':
			end := strings.IndexByte(src[i+2:], '\'')
			if end < 0 {
				return nil, errAt(i, "unterminated %c'…' literal", c)
			}
			body := src[i+2 : i+2+end]
			i += 2 + end + 1
			var k tokKind
			switch c {
			case 'b':
				if !validBase64(body) {
					return nil, errAt(start, "invalid binary literal b'%s'", clip(body))
				}
				k = tBinary
			case 'h':
				if len(body)%2 != 0 || !isHex(body) {
					return nil, errAt(start, "invalid hex literal h'%s'", clip(body))
				}
				k = tHex
			case 't':
				if !validTimestampSyntax(body) {
					return nil, errAt(start, "invalid timestamp literal t'%s' (want YYYY-MM-DDTHH:MM:SS[.s]Z)", clip(body))
				}
				k = tTimestamp
			}
			toks = append(toks, token{kind: k, text: src[start:i], pos: start})
		case isIdentStart(c):
			hy := false
			for i < len(src) && (isIdentPart(src[i]) || src[i] == '-') {
				if src[i] == '-' {
					hy = true
				}
				i++
			}
			w := src[start:i]
			switch {
			case !hy && keywords[w]:
				toks = append(toks, token{kind: tKeyword, text: w, pos: start})
			case w == "true" || w == "false":
				toks = append(toks, token{kind: tBool, text: w, pos: start})
			default:
				toks = append(toks, token{kind: tIdent, text: w, pos: start, hyphen: hy})
			}
		case c == '\'':
			i++
			closed := false
			for i < len(src) {
				if src[i] == '\\' {
					if i+1 < len(src) && (src[i+1] == '\'' || src[i+1] == '\\') {
						i += 2
						continue
					}
					return nil, errAt(i, "invalid escape in string (only \\' and \\\\ are allowed)")
				}
				if src[i] == '\'' {
					i++
					closed = true
					break
				}
				i++
			}
			if !closed {
				return nil, errAt(start, "unterminated string literal")
			}
			toks = append(toks, token{kind: tString, text: src[start:i], pos: start})
		case c == '+' || c == '-' || c == '.' || isDigit(c):
			j := i
			if c == '+' || c == '-' {
				j++
			}
			d0 := j
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			intDigits := src[d0:j]
			if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
				j++
				for j < len(src) && isDigit(src[j]) {
					j++
				}
				toks = append(toks, token{kind: tFloat, text: src[i:j], pos: start})
				i = j
				break
			}
			if intDigits == "" {
				if c == '.' {
					toks = append(toks, token{kind: tDot, text: ".", pos: start})
					i++
					break
				}
				return nil, errAt(i, "unexpected character %q", c)
			}
			if len(intDigits) > 1 && intDigits[0] == '0' {
				return nil, errAt(d0, "integer with a leading zero")
			}
			toks = append(toks, token{kind: tInt, text: src[i:j], pos: start})
			i = j
		default:
			k, n := punct(src[i:])
			if n == 0 {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, errAt(i, "unexpected character %q", r)
			}
			toks = append(toks, token{kind: k, text: src[i : i+n], pos: start})
			i += n
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(src)})
	return toks, nil
}

func punct(s string) (tokKind, int) {
	two := ""
	if len(s) >= 2 {
		two = s[:2]
	}
	switch two {
	case "==":
		return tEQ, 2
	case "!=", "<>":
		return tNEQ, 2
	case "<=":
		return tLE, 2
	case ">=":
		return tGE, 2
	}
	switch s[0] {
	case '=':
		return tEQ, 1
	case '<':
		return tLT, 1
	case '>':
		return tGT, 1
	case ':':
		return tColon, 1
	case ',':
		return tComma, 1
	case '(':
		return tLParen, 1
	case ')':
		return tRParen, 1
	case '[':
		return tLBrack, 1
	case ']':
		return tRBrack, 1
	case '*':
		return tStar, 1
	}
	return 0, 0
}

func isUnicodeSpace(r rune) bool {
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func validBase64(s string) bool {
	body := strings.TrimRight(s, "=")
	if len(s) == 0 || len(s)%4 != 0 || len(s)-len(body) > 2 {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '+' || c == '/') {
			return false
		}
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

// validTimestampSyntax checks the TimestampLiteral lexer rule: digit ranges
// only, so t'2024-02-30T00:00:00Z' is syntactically valid (the calendar
// check happens when the literal is used).
func validTimestampSyntax(s string) bool {
	if len(s) < 20 || s[len(s)-1] != 'Z' {
		return false
	}
	d := func(i int) bool { return isDigit(s[i]) }
	if !(d(0) && d(1) && d(2) && d(3) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':') {
		return false
	}
	mo, dd, hh, mi, ss := s[5:7], s[8:10], s[11:13], s[14:16], s[17:19]
	if !(mo >= "01" && mo <= "12" && d(5) && d(6)) {
		return false
	}
	if !(dd >= "01" && dd <= "31" && d(8) && d(9)) {
		return false
	}
	if !(hh >= "00" && hh <= "23" && d(11) && d(12)) {
		return false
	}
	if !(mi >= "00" && mi <= "59" && d(14) && d(15)) {
		return false
	}
	if !((ss >= "00" && ss <= "59" || ss == "60") && d(17) && d(18)) {
		return false
	}
	rest := s[19 : len(s)-1]
	if rest == "" {
		return true
	}
	if rest[0] != '.' || len(rest) < 2 {
		return false
	}
	for i := 1; i < len(rest); i++ {
		if !isDigit(rest[i]) {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// unquote undoes the two escapes a StringLiteral may hold.
func unquote(lit string) string {
	body := lit[1 : len(lit)-1]
	if !strings.Contains(body, `\`) {
		return body
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String()
}

// quote is the inverse of unquote.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}
