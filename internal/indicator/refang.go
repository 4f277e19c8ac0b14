package indicator

import "strings"

// defangTokens are the bracketed forms analysts write so that a value cannot
// be clicked or resolved by accident. They are matched case-insensitively.
// "[://]" comes first so that it wins over "[:]" at the same position.
var defangTokens = [...]struct{ from, to string }{
	{"[://]", "://"},
	{"[.]", "."},
	{"(.)", "."},
	{"{.}", "."},
	{"[dot]", "."},
	{"(dot)", "."},
	{"{dot}", "."},
	{"[:]", ":"},
	{"[at]", "@"},
	{"(at)", "@"},
	{"[@]", "@"},
}

// Refang undoes the usual defanging of indicators and trims surrounding
// white space: "hxxp"/"hxxps" (any case of the x's) become "http"/"https",
// "fxp" becomes "ftp", and "[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}",
// "[:]", "[://]", "[at]", "(at)" and "[@]" become ".", ":", "://" and "@".
//
// A scheme is only rewritten where it starts a word and is followed by ":"
// or a bracketed ":", so host names and paths that merely contain "hxxp" are
// left alone. Bracketed tokens are replaced wherever they occur; a literal
// "(.)" in a URL path is therefore taken as defanged, which is the usual
// intent in shared threat data. Refang undoes one layer: nested forms such as
// "[[.]]" come out as "[.]" (Canonicalize repeats it until nothing changes).
// A value without any of these forms is returned without allocating.
func Refang(s string) string {
	s = strings.TrimSpace(s)
	var b []byte // allocated on the first replacement only
	last := 0
	for i := 0; i < len(s); {
		// Every token starts with a bracket or has an "x" as its second
		// character; jumping between those keeps the common case (nothing
		// to undo) to one table lookup per byte.
		k := i
		for k < len(s) && !tokenByte[s[k]] {
			k++
		}
		if k == len(s) {
			break
		}
		i = k + 1
		start := k
		if s[k] == 'x' || s[k] == 'X' {
			start = k - 1
			if start < last {
				continue
			}
		}
		n, rep := defangAt(s, start)
		if n == 0 {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(s))
		}
		b = append(b, s[last:start]...)
		b = append(b, rep...)
		last = start + n
		i = last
	}
	if b == nil {
		return s
	}
	b = append(b, s[last:]...)
	return strings.TrimSpace(string(b))
}

// tokenByte marks the bytes at which a defanging token can be found: its
// first byte, or the "x" that follows the "h" or "f" of a scheme.
var tokenByte = [256]bool{'[': true, '(': true, '{': true, 'x': true, 'X': true}

// defangAt reports the length of a defanging token at s[i:] and its
// replacement, or 0 if there is none.
func defangAt(s string, i int) (int, string) {
	switch s[i] {
	case '[', '(', '{':
		for _, t := range defangTokens {
			if len(s)-i >= len(t.from) && strings.EqualFold(s[i:i+len(t.from)], t.from) {
				return len(t.from), t.to
			}
		}
	case 'h', 'H':
		// hxxp, hxxps, hXXp ...
		if !wordStart(s, i) || len(s)-i < 5 || !isX(s[i+1]) || !isX(s[i+2]) || lower(s[i+3]) != 'p' {
			return 0, ""
		}
		j, rep := i+4, "http"
		if lower(s[j]) == 's' {
			j, rep = j+1, "https"
		}
		if schemeColonAt(s, j) {
			return j - i, rep
		}
	case 'f', 'F':
		if !wordStart(s, i) || len(s)-i < 4 || !isX(s[i+1]) || lower(s[i+2]) != 'p' {
			return 0, ""
		}
		if schemeColonAt(s, i+3) {
			return 3, "ftp"
		}
	}
	return 0, ""
}

// schemeColonAt reports whether s[j:] starts with "://" in plain or
// defanged form ("[://]", "[:]//"), that is whether a defanged scheme name
// ends at j. Requiring the slashes keeps "hxxp" in other text untouched.
func schemeColonAt(s string, j int) bool {
	r := s[j:]
	return strings.HasPrefix(r, "://") || strings.HasPrefix(r, "[://]") || strings.HasPrefix(r, "[:]//")
}

// wordStart reports whether s[i] begins a word, so that a scheme is not
// rewritten inside a host name such as "a.fxp".
func wordStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	c := s[i-1]
	return !isAlnum(c) && c != '.' && c != '-' && c != '_' && c != '+'
}

func isX(c byte) bool { return c == 'x' || c == 'X' }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
