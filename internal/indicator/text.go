package indicator

import (
	"strings"
	"unicode"
)

// IsLineBreak reports whether some common reader of line-oriented text ends
// a line at r: "\n", "\r", vertical tab and form feed; the information
// separators U+001C to U+001E; NEL (U+0085); and the line and paragraph
// separators U+2028 and U+2029. That is the set Python's str.splitlines
// splits on, and a superset of Unicode's mandatory breaks (UAX #14) and of
// JavaScript's line terminators. Exports that write one value a line use it
// (through HasLineBreak) so that no reader sees one value as two lines.
func IsLineBreak(r rune) bool {
	switch r {
	case '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// HasLineBreak reports whether s holds a rune for which IsLineBreak is true.
// Invalid UTF-8 is read rune by rune as U+FFFD, which is no line break.
func HasLineBreak(s string) bool { return strings.ContainsFunc(s, IsLineBreak) }

// IsTextControl reports whether r must not appear in a short text shared
// between hospitals, such as a label or a tag: a control character (C0,
// DEL and C1, Unicode category Cc), a line or paragraph separator (Zl, Zp),
// or a bidirectional formatting character (U+061C, U+200E, U+200F, U+202A
// to U+202E, U+2066 to U+2069), which makes text display in an order other
// than the one it is read in (the "Trojan Source" trick: a right-to-left
// override makes "moc.live" show as "evil.com"). Other format characters,
// such as the zero-width joiner in emoji sequences, are left to the caller.
func IsTextControl(r rune) bool {
	return unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r)
}
