package indicator

import (
	"fmt"
	"unicode/utf8"
)

// Error says why a value was refused. Canonicalize and Detect return every
// refusal as an *Error so callers (API handlers, importers) can report the
// type, the offending value and the reason separately with errors.As instead
// of matching message text. Reason is written for people; its wording may
// change.
type Error struct {
	// Type is the type the value was checked as; it is empty when Detect
	// could not tell what the value is.
	Type Type
	// Value is the value as it was given, before trimming and refanging.
	Value string
	// Reason completes a sentence whose subject is the value, for example
	// "is a public suffix".
	Reason string
}

// Error renders the refusal as `type "value" reason`, for example
// `domain "co.uk" is a public suffix`. The value is cut to 100 characters so
// that one bad line in a bulk import cannot blow up a log or a response.
func (e *Error) Error() string {
	if e.Reason == reasonEmpty {
		if e.Type == "" {
			return reasonEmpty
		}
		return string(e.Type) + " " + reasonEmpty
	}
	v := truncate(e.Value, maxQuoted)
	if e.Type == "" {
		return fmt.Sprintf("%q %s", v, e.Reason)
	}
	return fmt.Sprintf("%s %q %s", e.Type, v, e.Reason)
}

const (
	reasonEmpty = "value is empty"
	maxQuoted   = 100
)

// truncate cuts s to at most n characters, marking the cut with "…". Bytes
// that are not valid UTF-8 count as one character each.
func truncate(s string, n int) string {
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return s
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	if i >= len(s) {
		return s
	}
	return s[:i] + "…"
}
