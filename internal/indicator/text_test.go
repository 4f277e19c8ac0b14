package indicator

import (
	"strings"
	"testing"
)

// The line breaks are exactly the characters Python's str.splitlines splits
// on, the widest set of any common blocklist reader.
func TestLineBreaks(t *testing.T) {
	breaks := "\n\v\f\r\x1c\x1d\x1e\u0085\u2028\u2029"
	for r := rune(0); r < 0x3000; r++ {
		if got, want := IsLineBreak(r), strings.ContainsRune(breaks, r); got != want {
			t.Errorf("IsLineBreak(%U) = %v, want %v", r, got, want)
		}
	}
	for _, s := range []string{"a\u2029b", "a\u0085b", "a\u2028", "\x1eb", "a\rb", "a\nb"} {
		if !HasLineBreak(s) {
			t.Errorf("HasLineBreak(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b\tc", "jörg@example.com", "\u00a0\u3000", "\xc2", "\xe2\x80"} {
		if HasLineBreak(s) {
			t.Errorf("HasLineBreak(%q) = true", s)
		}
	}
}

func TestIsTextControl(t *testing.T) {
	for _, r := range []rune{0, '\t', '\n', 0x1b, 0x7f, 0x85, 0x9b, 0x2028, 0x2029, 0x061c, 0x200e, 0x200f, 0x202a, 0x202e, 0x2066, 0x2069} {
		if !IsTextControl(r) {
			t.Errorf("IsTextControl(%U) = false", r)
		}
	}
	for _, r := range []rune{' ', 'a', 'é', 0xa0, 0x200d, 0x1f3e5, 0x3000} {
		if IsTextControl(r) {
			t.Errorf("IsTextControl(%U) = true", r)
		}
	}
}
