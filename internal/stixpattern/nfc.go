package stixpattern

import (
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// nfc returns s in Unicode Normalization Form C. LIKE and MATCHES compare
// NFC text, as the OASIS matcher does; = and != compare code points as they
// are. Invalid UTF-8 is left as it is.
func nfc(s string) string {
	if !utf8.ValidString(s) {
		return s
	}
	return norm.NFC.String(s)
}
