package freetext

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// The text is read in words: maximal runs of characters that can belong to
// an indicator, with defanging forms ("[.]", "hxxp", " [at] ") taken in
// and undone as the word is built. Each word is then searched for URLs and
// split into tokens (classify.go).

// hard marks the ASCII bytes that end a word: white space, control
// characters, and characters no indicator contains but markup and prose put
// around them. A backslash is one too (Windows paths), except in "\.".
var hard = func() (t [utf8.RuneSelf]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for _, c := range " \"<>`|\\^\x7f" {
		t[c] = true
	}
	return t
}()

// wordRune reports whether a non-ASCII rune can be part of a word: letters,
// marks and digits (internationalised domain names), not punctuation,
// symbols or spaces ("“evil.com”", "evil.com→", "a.com\u00a0b.com").
func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r)
}

func (e *extractor) run() {
	t := e.text
	for i := 0; i < len(t); {
		if c := t[i]; c < utf8.RuneSelf {
			if hard[c] {
				i++
				continue
			}
		} else if r, n := utf8.DecodeRuneInString(t[i:]); !wordRune(r) {
			i += n
			continue
		}
		i = e.scanWord(i)
		e.word()
	}
}

// scanWord reads the word starting at text[i] (a word character) into e.f
// and e.src, and returns where it ends.
func (e *extractor) scanWord(i int) int {
	t := e.text
	e.f, e.forms, e.wordStart = e.f[:0], e.forms[:0], i
	for i < len(t) {
		c := t[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(t[i:])
			if !wordRune(r) {
				return i
			}
			e.f = append(e.f, t[i:i+n]...)
			i += n
			continue
		}
		switch c {
		case '[', '(', '{':
			if n, m := groupAt(t, i); n > 0 {
				n += e.spacesAfterGroup(i+n, m)
				e.emit(m, i, i+n)
				i += n
				continue
			}
		case ' ', '\t':
			if n, m := e.spacedGroupAt(i); n > 0 {
				e.emit(m, i, i+n)
				i += n
				continue
			}
			return i
		case '\\':
			// "evil\.com", as in a regular expression.
			if i+2 < len(t) && t[i+1] == '.' && e.afterAlnum() && isAlnum(t[i+2]) {
				e.emit(".", i, i+2)
				i += 2
				continue
			}
			return i
		case 'h', 'H', 'f', 'F', 'm', 'M':
			if n, m := schemeAt(t, i); n > 0 {
				e.emit(m, i, i+n)
				i += n
				continue
			}
		default:
			if hard[c] {
				return i
			}
		}
		e.f = append(e.f, c)
		i++
	}
	return i
}

// emit appends m, which stands for the defanged text[start:end].
func (e *extractor) emit(m string, start, end int) {
	e.forms = append(e.forms, form{f0: len(e.f), f1: len(e.f) + len(m), t0: start, t1: end})
	e.f = append(e.f, m...)
}

// afterAlnum reports whether the word so far ends in an ASCII letter or
// digit.
func (e *extractor) afterAlnum() bool {
	return len(e.f) > 0 && isAlnum(e.f[len(e.f)-1])
}

// groupAt recognises a bracketed defanging form at text[i] ("[.]",
// "(dot)", "[://]", …) and returns its length and what it stands for.
// Which forms there are is indicator.Refang's business; this only asks it
// about a short bracketed run and keeps the answers that can occur in an
// indicator. "[/]" is added here.
func groupAt(t string, i int) (int, string) {
	closer := byte(']')
	switch t[i] {
	case '(':
		closer = ')'
	case '{':
		closer = '}'
	}
	for j := i + 1; j < len(t) && j < i+maxGroup; j++ {
		c := t[j]
		if c == closer {
			g := t[i : j+1]
			if g == "[/]" {
				return len(g), "/"
			}
			switch m := indicator.Refang(g); m {
			case ".":
				return len(g), "."
			case ":":
				return len(g), ":"
			case "://":
				return len(g), "://"
			case "@":
				return len(g), "@"
			}
			return 0, ""
		}
		if c <= ' ' || c == t[i] || c >= utf8.RuneSelf {
			return 0, ""
		}
	}
	return 0, ""
}

// maxGroup bounds the length of a bracketed defanging form ("[://]" and
// "[dot]" are the longest).
const maxGroup = 7

// spacesAfterGroup returns how many spaces after a dot or at form at
// text[i] belong to it, as in "evil[.] com": all of them when the word so
// far ends in a letter or digit and one follows the spaces.
func (e *extractor) spacesAfterGroup(i int, m string) int {
	if m != "." && m != "@" || !e.afterAlnum() {
		return 0
	}
	t := e.text
	j := i
	for j < len(t) && (t[j] == ' ' || t[j] == '\t') {
		j++
	}
	if j < len(t) && isAlnum(t[j]) {
		return j - i
	}
	return 0
}

// spacedGroupAt recognises a dot or at form between spaces starting at the
// space text[i]: " [.] ", " [at] ", " (dot) " after a letter or digit and
// before one, and " DOT " and " AT " in capitals between lower-case letters
// or digits. It returns the length up to the next word character.
func (e *extractor) spacedGroupAt(i int) (int, string) {
	if !e.afterAlnum() {
		return 0, ""
	}
	t := e.text
	j := i
	for j < len(t) && (t[j] == ' ' || t[j] == '\t') {
		j++
	}
	if j == len(t) {
		return 0, ""
	}
	var (
		n    int
		m    string
		word bool // " DOT ", " AT "
	)
	switch t[j] {
	case '[', '(', '{':
		n, m = groupAt(t, j)
		if m != "." && m != "@" {
			return 0, ""
		}
	case 'D':
		if strings.HasPrefix(t[j:], "DOT") {
			n, m, word = 3, ".", true
		}
	case 'A':
		if strings.HasPrefix(t[j:], "AT") {
			n, m, word = 2, "@", true
		}
	}
	if n == 0 {
		return 0, ""
	}
	k := j + n
	for k < len(t) && (t[k] == ' ' || t[k] == '\t') {
		k++
	}
	if k == len(t) || !isAlnum(t[k]) {
		return 0, ""
	}
	if word && (k == j+n || !isLowerOrDigit(t[k]) || !isLowerOrDigit(e.f[len(e.f)-1])) {
		return 0, ""
	}
	return k - i, m
}

// schemeAt recognises a defanged URL scheme at text[i] — "hxxp", "hxxps",
// "fxp" (any case of the x's, as indicator.Refang takes them), "meow",
// "meows" — at the start of a word and before "://", "[://]" or "[:]//",
// and returns its length and the scheme it stands for.
func schemeAt(t string, i int) (int, string) {
	if i > 0 {
		if p := t[i-1]; isAlnum(p) || p == '.' || p == '-' || p == '_' || p == '+' {
			return 0, ""
		}
	}
	var n int
	var m string
	switch lower(t[i]) {
	case 'h':
		if len(t)-i >= 4 && isX(t[i+1]) && isX(t[i+2]) && lower(t[i+3]) == 'p' {
			n, m = 4, "http"
		}
	case 'f':
		if len(t)-i >= 3 && isX(t[i+1]) && lower(t[i+2]) == 'p' {
			n, m = 3, "ftp"
		}
	case 'm':
		if len(t)-i >= 4 && strings.EqualFold(t[i:i+4], "meow") {
			n, m = 4, "http"
		}
	}
	if n == 0 {
		return 0, ""
	}
	if m == "http" && i+n < len(t) && lower(t[i+n]) == 's' {
		n, m = n+1, "https"
	}
	r := t[i+n:]
	if strings.HasPrefix(r, "://") || strings.HasPrefix(r, "[://]") || strings.HasPrefix(r, "[:]//") {
		return n, m
	}
	return 0, ""
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

func isLowerOrDigit(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
