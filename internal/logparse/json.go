package logparse

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON scanner works on a line and an index into it. Functions return
// the index after what they read, or -1 when the input is malformed. It
// checks what it reads; a value it skips is only checked for balance, so a
// malformed number inside a skipped object goes unnoticed — the price of
// not parsing what is not needed.

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// Strings are scanned eight bytes at a time (SWAR): a word of the input is
// tested for '"' and '\\' at once, which beats a call to bytes.IndexByte
// for the short keys and values that make up most of an event. After
// swarSpan bytes without either, the rest of a long string (a user agent, a
// JA3 string) is searched with bytes.IndexByte, which uses vector
// instructions.

const (
	lsb      = 0x0101010101010101
	msb      = 0x8080808080808080
	quotes   = '"' * lsb
	slashes  = '\\' * lsb
	swarSpan = 48
)

// stringEnd returns the index of the closing quote of the string whose
// opening quote is at b[i], or -1.
func stringEnd(b []byte, i int) int {
	k, _ := stringEndEsc(b, i)
	return k
}

// stringEndEsc is stringEnd, and reports whether the string has escapes.
func stringEndEsc(b []byte, i int) (int, bool) {
	j, esc := i+1, false
	limit := min(len(b), j+swarSpan)
	for {
		for j+8 <= limit {
			w := binary.LittleEndian.Uint64(b[j:])
			// The lowest flagged byte of this test is exact, which is all
			// that is used (higher ones may be false after a match).
			x, y := w^quotes, w^slashes
			if m := ((x-lsb)&^x | (y-lsb)&^y) & msb; m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				goto found
			}
			j += 8
		}
		if limit < len(b) {
			return longStringEnd(b, j, esc)
		}
		for j < len(b) && b[j] != '"' && b[j] != '\\' {
			j++
		}
		if j >= len(b) {
			return -1, false
		}
	found:
		if b[j] == '"' {
			return j, esc
		}
		esc = true
		j += 2 // skip the escaped byte
		limit = min(len(b), j+swarSpan)
	}
}

// longStringEnd finishes stringEndEsc for a long string with IndexByte.
func longStringEnd(b []byte, j int, esc bool) (int, bool) {
	for {
		if j >= len(b) {
			return -1, false
		}
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1, false
		}
		q += j
		k := bytes.IndexByte(b[j:q], '\\')
		if k < 0 {
			return q, esc
		}
		esc = true
		j += k + 2
	}
}

// structural marks the bytes skipContainer stops at.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// skipContainer skips the object or array that starts at b[i]. It looks
// at eight bytes at a time for the next quote or bracket ('[' and '{',
// ']' and '}' differ only in bit 0x20).
func skipContainer(b []byte, i int) int {
	depth := 0
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			x, o, c := w^quotes, (w|0x20*lsb)^('{'*lsb), (w|0x20*lsb)^('}'*lsb)
			if m := ((x-lsb)&^x | (o-lsb)&^o | (c-lsb)&^c) & msb; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && !structural[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			k := stringEnd(b, i)
			if k < 0 {
				return -1
			}
			i = k + 1
			continue
		case '{', '[':
			depth++
		default:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
}

// literalEnd marks the bytes that end a number or literal.
var literalEnd = [256]bool{',': true, '}': true, ']': true, ' ': true, '\t': true, '\r': true, '\n': true, ':': true, '"': true, '{': true, '[': true}

// skipValue skips the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		k := stringEnd(b, i)
		if k < 0 {
			return -1
		}
		return k + 1
	case '{', '[':
		return skipContainer(b, i)
	}
	return literalValue(b, i)
}

// literalValue returns the end of a number or true/false/null at b[i].
func literalValue(b []byte, i int) int {
	j := i
	for j < len(b) && !literalEnd[b[j]] {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// openValue expects the opening bracket c at b[i] and returns the index of
// the first member or element, or done if the container is empty.
func openValue(b []byte, i int, c byte) (j int, done bool) {
	if i >= len(b) || b[i] != c {
		return -1, false
	}
	j = skipWS(b, i+1)
	if j >= len(b) {
		return -1, false
	}
	if b[j] == c+2 { // '{'+2 == '}', '['+2 == ']'
		return j + 1, true
	}
	return j, false
}

// keySet is a filter on the keys an object parser wants: one bit per
// signature (length, first and last byte) of a wanted key. A key outside
// the set is certainly unwanted; a key inside may still be unwanted (two
// keys can share a signature), which the parser's own switch settles.
type keySet [4]uint64

func newKeySet(keys ...string) *keySet {
	var s keySet
	for _, k := range keys {
		h := keySig([]byte(k))
		s[h>>6] |= 1 << (h & 63)
	}
	return &s
}

func keySig(k []byte) uint8 {
	if len(k) == 0 {
		return 0
	}
	return uint8(len(k)*7 + int(k[0])*3 + int(k[len(k)-1]))
}

func (s *keySet) has(k []byte) bool {
	h := keySig(k)
	return s[h>>6]&(1<<(h&63)) != 0
}

// nextField reads the next member of an object whose key is in want (all
// members when want is nil), skipping the others and their values. With
// first set, b[i] is the object's '{'; otherwise i is the end of the
// previous member's value, and a ',' or the closing '}' follows. It
// returns the member's key and the index of its value; or done and the
// index after the closing '}'; or v < 0 when the input is malformed.
//
// It is the one call per wanted member of the scanner's inner loops: the
// common case (compact JSON, short keys and strings without escapes) and
// the unwanted members are handled here without further calls, as calls
// are what a member costs most on small CPUs.
func nextField(b []byte, i int, first bool, want *keySet) (key []byte, v int, done bool) {
	for {
		if i < 0 || i >= len(b) {
			return nil, -1, false
		}
		if b[i] <= ' ' {
			if i = skipWS(b, i); i >= len(b) {
				return nil, -1, false
			}
		}
		c := b[i]
		switch {
		case first && c == '{', !first && c == ',':
			i++
			if i < len(b) && b[i] <= ' ' {
				i = skipWS(b, i)
			}
			if first && i < len(b) && b[i] == '}' {
				return nil, i + 1, true
			}
		case !first && c == '}':
			return nil, i + 1, true
		default:
			return nil, -1, false
		}
		first = false
		if i >= len(b) || b[i] != '"' {
			return nil, -1, false
		}
		// The key: eight bytes at a time while no '"' or '\\' shows up.
		k := i + 1
		for {
			if k+8 > len(b) {
				k = stringEnd(b, i)
				break
			}
			w := binary.LittleEndian.Uint64(b[k:])
			x, y := w^quotes, w^slashes
			m := ((x-lsb)&^x | (y-lsb)&^y) & msb
			if m == 0 {
				k += 8
				continue
			}
			k += bits.TrailingZeros64(m) >> 3
			if b[k] != '"' {
				k = stringEnd(b, i) // an escape
			}
			break
		}
		if k < 0 {
			return nil, -1, false
		}
		key = b[i+1 : k]
		j := k + 1
		if j >= len(b) || b[j] != ':' {
			j = skipWS(b, j)
			if j >= len(b) || b[j] != ':' {
				return nil, -1, false
			}
		}
		j++
		if j >= len(b) || b[j] <= ' ' {
			if j = skipWS(b, j); j >= len(b) {
				return nil, -1, false
			}
		}
		if want == nil || want.has(key) {
			return key, j, false
		}
		// An unwanted member: skip its value here.
		switch c := b[j]; {
		case c == '"':
			k = j + 1
			for {
				if k+8 > len(b) {
					k = stringEnd(b, j)
					break
				}
				w := binary.LittleEndian.Uint64(b[k:])
				x, y := w^quotes, w^slashes
				m := ((x-lsb)&^x | (y-lsb)&^y) & msb
				if m == 0 {
					k += 8
					continue
				}
				k += bits.TrailingZeros64(m) >> 3
				if b[k] != '"' {
					k = stringEnd(b, j) // an escape
				}
				break
			}
			if k < 0 {
				return nil, -1, false
			}
			i = k + 1
		case c == '{' || c == '[':
			i = skipContainer(b, j)
		default:
			k = j
			for k < len(b) && !literalEnd[b[k]] {
				k++
			}
			if k == j {
				return nil, -1, false
			}
			i = k
		}
	}
}

// nextItem moves past the value that ended at b[i]: a ',' gives the index
// of the next member or element, the closing bracket c gives done.
func nextItem(b []byte, i int, c byte) (j int, done bool) {
	if i < 0 {
		return -1, false
	}
	if i >= len(b) || b[i] <= ' ' {
		i = skipWS(b, i)
		if i >= len(b) {
			return -1, false
		}
	}
	switch b[i] {
	case ',':
		j = i + 1
		if j < len(b) && b[j] > ' ' {
			return j, false
		}
		j = skipWS(b, j)
		if j >= len(b) {
			return -1, false
		}
		return j, false
	case c:
		return i + 1, true
	}
	return -1, false
}

// str reads the string at b[i], unescaping it into the event's scratch
// buffer when it has escapes. ok is false when b[i] is not a string (a
// null, a number); end is -1 when the input is malformed.
func (ev *Event) str(b []byte, i int) (v []byte, end int, ok bool) {
	if i >= len(b) {
		return nil, -1, false
	}
	if b[i] != '"' {
		return nil, skipValue(b, i), false
	}
	k, esc := stringEndEsc(b, i)
	if k < 0 {
		return nil, -1, false
	}
	v = b[i+1 : k]
	if !esc {
		return v, k + 1, true
	}
	start := len(ev.buf)
	buf, good := unescape(ev.buf, v)
	if !good {
		return nil, -1, false
	}
	ev.buf = buf
	return buf[start:], k + 1, true
}

// unescape appends the JSON string body s, with its escapes decoded, to
// dst. Invalid escapes make it fail; a lone surrogate becomes U+FFFD, as
// encoding/json does.
func unescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...), true
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(s) {
			return dst, false
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return dst, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						i += 6
						dst = utf8.AppendRune(dst, d)
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, false
		}
		i += 2
	}
	return dst, true
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// eachString calls fn for every string element of the array at b[i]
// (other elements are skipped); a single string instead of an array is
// taken as a one-element array, since loggers write both.
func (ev *Event) eachString(b []byte, i int, fn func(v []byte)) int {
	if i < len(b) && b[i] == '"' {
		v, end, _ := ev.str(b, i)
		if end >= 0 {
			fn(v)
		}
		return end
	}
	if i >= len(b) || b[i] != '[' {
		return skipValue(b, i)
	}
	j, done := openValue(b, i, '[')
	for !done {
		if j < 0 {
			return -1
		}
		v, end, ok := ev.str(b, j)
		if end < 0 {
			return -1
		}
		if ok {
			fn(v)
		}
		j, done = nextItem(b, end, ']')
	}
	return j
}

// number returns the digits of the (non-negative integer or decimal)
// number at b[i], or ok false if the value is something else.
func number(b []byte, i int) (v []byte, end int, ok bool) {
	j, dot := i, false
	for ; j < len(b); j++ {
		c := b[j]
		if '0' <= c && c <= '9' {
			continue
		}
		if c == '.' && !dot && j > i {
			dot = true
			continue
		}
		break
	}
	if j < len(b) && !literalEnd[b[j]] || j == i || b[j-1] == '.' {
		return nil, skipValue(b, i), false
	}
	return b[i:j], j, true
}

// port reads a port number value.
func port(b []byte, i int) (int32, int) {
	v, end, ok := number(b, i)
	if !ok {
		return -1, end
	}
	p, good := parsePort(v)
	if !good {
		return -1, end
	}
	return p, end
}
