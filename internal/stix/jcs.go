package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrNotCanonicalizable is wrapped by every error Canonicalize returns: the
// value has no RFC 8785 form (NaN or infinity, a Go integer that an IEEE 754
// double cannot hold exactly, invalid UTF-8, a duplicate object key, a cycle).
var ErrNotCanonicalizable = errors.New("value has no RFC 8785 canonical form")

// maxDepth bounds nesting, so that a cyclic Go value fails instead of
// exhausting the stack. encoding/json refuses deeper JSON text anyway.
const maxDepth = 10000

// maxExactInt is 2^53: every integer of at most this magnitude is exactly a
// float64, which RFC 8785 requires of every number.
const maxExactInt = 1 << 53

// Canonicalize serialises v by the JSON Canonicalization Scheme (RFC 8785):
// no whitespace, object members sorted by the UTF-16 code units of their
// names, numbers as ECMAScript's Number.prototype.toString prints the IEEE
// 754 double, strings with only the escapes JSON requires.
//
// v may be a value as encoding/json decodes it (map[string]any, []any,
// string, float64, json.Number, bool, nil), Go integers and floats,
// map[string]string and []string, json.RawMessage (JSON text, which is parsed;
// a duplicate member name is an error), or anything else encoding/json can
// marshal (it is marshalled first).
//
// Numbers in JSON text (json.Number, json.RawMessage, marshalled values) are
// read as the nearest double, as RFC 8785 prescribes; a Go integer given
// directly whose magnitude exceeds 2^53 is refused instead of rounded.
func Canonicalize(v any) ([]byte, error) {
	return appendCanonical(nil, v, 0)
}

func notCanonical(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotCanonicalizable, fmt.Sprintf(format, args...))
}

func appendCanonical(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, notCanonical("nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x)
	case float64:
		return appendFloat(b, x)
	case float32:
		return appendFloat(b, float64(x))
	case int:
		return appendInt(b, int64(x))
	case int8:
		return appendInt(b, int64(x))
	case int16:
		return appendInt(b, int64(x))
	case int32:
		return appendInt(b, int64(x))
	case int64:
		return appendInt(b, x)
	case uint:
		return appendUint(b, uint64(x))
	case uint8:
		return appendUint(b, uint64(x))
	case uint16:
		return appendUint(b, uint64(x))
	case uint32:
		return appendUint(b, uint64(x))
	case uint64:
		return appendUint(b, x)
	case json.Number:
		return appendNumber(b, x)
	case []any:
		return appendArray(b, len(x), func(b []byte, i int) ([]byte, error) {
			return appendCanonical(b, x[i], depth+1)
		})
	case []string:
		return appendArray(b, len(x), func(b []byte, i int) ([]byte, error) {
			return appendString(b, x[i])
		})
	case map[string]any:
		return appendObject(b, keysOf(x), func(b []byte, k string) ([]byte, error) {
			return appendCanonical(b, x[k], depth+1)
		})
	case map[string]string:
		return appendObject(b, keysOf(x), func(b []byte, k string) ([]byte, error) {
			return appendString(b, x[k])
		})
	case json.RawMessage:
		parsed, err := parseJSON(x)
		if err != nil {
			return nil, err
		}
		return appendCanonical(b, parsed, depth+1)
	}
	// Anything else (structs, typed maps and slices, json.Marshalers): let
	// encoding/json say what JSON it is, then canonicalize that text.
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCanonicalizable, err)
	}
	return appendCanonical(b, json.RawMessage(raw), depth+1)
}

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func appendArray(b []byte, n int, elem func([]byte, int) ([]byte, error)) ([]byte, error) {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = elem(b, i); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

func appendObject(b []byte, keys []string, value func([]byte, string) ([]byte, error)) ([]byte, error) {
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return nil, notCanonical("object member name %q is not valid UTF-8", k)
		}
	}
	slices.SortFunc(keys, compareUTF16)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendString(b, k); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = value(b, k); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// section 3.2.3 requires. It differs from Go's byte order only where a
// character above U+FFFF (a surrogate pair, D800–DFFF) meets one in
// E000–FFFF: UTF-16 puts the former first, UTF-8 the latter.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		a, b = a[na:], b[nb:]
		if ra == rb {
			continue
		}
		ua, ub := utf16Units(ra), utf16Units(rb)
		for i := range min(len(ua), len(ub)) {
			if ua[i] != ub[i] {
				return int(ua[i]) - int(ub[i])
			}
		}
		return len(ua) - len(ub) // unreachable for valid distinct runes
	}
	return len(a) - len(b)
}

func utf16Units(r rune) []uint16 {
	if r >= 0x10000 {
		r1, r2 := utf16.EncodeRune(r)
		return []uint16{uint16(r1), uint16(r2)}
	}
	return []uint16{uint16(r)}
}

const hexDigits = "0123456789abcdef"

// appendString writes s as ECMAScript's JSON.stringify does (RFC 8785
// section 3.2.2.2): only '"', '\\' and controls below U+0020 are escaped,
// the usual five by their short form, the rest as \u00xx in lower case.
func appendString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, notCanonical("string %q is not valid UTF-8", s)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\\', '"')
		case c == '\\':
			b = append(b, '\\', '\\')
		case c >= 0x20:
			b = append(b, c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(b, '"'), nil
}

func appendInt(b []byte, n int64) ([]byte, error) {
	if n > maxExactInt || n < -maxExactInt {
		return nil, notCanonical("integer %d is not exactly representable as an IEEE 754 double", n)
	}
	return strconv.AppendInt(b, n, 10), nil
}

func appendUint(b []byte, n uint64) ([]byte, error) {
	if n > maxExactInt {
		return nil, notCanonical("integer %d is not exactly representable as an IEEE 754 double", n)
	}
	return strconv.AppendUint(b, n, 10), nil
}

// appendNumber reads a JSON number as every RFC 8785 implementation does:
// as the nearest IEEE 754 double.
func appendNumber(b []byte, n json.Number) ([]byte, error) {
	if !isJSONNumber(string(n)) {
		return nil, notCanonical("%q is not a JSON number", string(n))
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return nil, notCanonical("number %s is out of the range of an IEEE 754 double", string(n))
	}
	return appendFloat(b, f)
}

func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, notCanonical("%v is not a JSON number", f)
	}
	return appendES6Number(b, f), nil
}

// appendES6Number formats a finite double as ECMAScript's
// Number.prototype.toString (ECMA-262, Number::toString): the shortest
// digits that read back to the same double, in plain notation for decimal
// exponents from -6 to 20 and in exponent notation otherwise.
func appendES6Number(b []byte, f float64) []byte {
	if f == 0 { // both +0 and -0
		return append(b, '0')
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// 'e' with precision -1 gives the shortest round-tripping digits:
	// "d.ddddde±xx". The value is 0.digits × 10^n with n = exponent+1.
	e := strconv.AppendFloat(nil, f, 'e', -1, 64)
	mant, exp, _ := bytes.Cut(e, []byte{'e'})
	digits := make([]byte, 0, len(mant))
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	x, _ := strconv.Atoi(string(exp))
	n := x + 1
	k := len(digits)
	switch {
	case k <= n && n <= 21:
		b = append(b, digits...)
		for range n - k {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, digits[:n]...)
		b = append(b, '.')
		b = append(b, digits[n:]...)
	case -6 < n && n <= 0:
		b = append(b, '0', '.')
		for range -n {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		b = append(b, digits[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}

// isJSONNumber reports whether s matches the number production of RFC 8259.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseJSON decodes one JSON text into map[string]any, []any, string,
// json.Number, bool and nil, refusing duplicate member names (I-JSON, which
// RFC 8785 builds on, forbids them; encoding/json would silently keep the
// last). Invalid UTF-8 and lone surrogates in strings become U+FFFD, as
// encoding/json decodes them.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, notCanonical("data after the JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCanonicalizable, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, fmt.Errorf("%w: %w", ErrNotCanonicalizable, err)
			}
			return arr, nil
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrNotCanonicalizable, err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, notCanonical("object member name is not a string")
				}
				if _, dup := obj[k]; dup {
					return nil, notCanonical("duplicate object member %q", k)
				}
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				obj[k] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, fmt.Errorf("%w: %w", ErrNotCanonicalizable, err)
			}
			return obj, nil
		}
		return nil, notCanonical("unexpected %q", t.String())
	default:
		return t, nil // string, json.Number, bool, nil
	}
}
