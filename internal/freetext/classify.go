package freetext

import (
	"bytes"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// word finds the candidates in the current word e.f: URLs first, then
// tokens in what lies around them.
func (e *extractor) word() {
	f := e.f
	if len(f) < 32 && bytes.IndexAny(f, ".:@/") < 0 {
		return // the common case in prose: a plain word
	}
	pos := 0
	for pos < len(f) {
		s, end := findURL(f, pos)
		if s < 0 {
			break
		}
		e.segment(pos, s)
		if !e.url(s, end) {
			e.segment(s, end)
		}
		pos = end
	}
	e.segment(pos, len(f))
}

// webSchemes are the schemes that start a URL candidate (after refanging).
// Other "scheme://" prefixes are passed over and their host is taken on its
// own: a sensor sees web URLs; for "tcp://1.2.3.4:443" it needs the address.
var webSchemes = [...]string{"http", "https", "ftp", "ws", "wss"}

// findURL returns the start and end of the first URL with a web scheme in
// f[from:], or -1.
func findURL(f []byte, from int) (int, int) {
	for p := from; p < len(f); {
		k := bytes.Index(f[p:], []byte("://"))
		if k < 0 {
			return -1, -1
		}
		p += k
		s := p
		for s > from && ('a' <= f[s-1]|0x20 && f[s-1]|0x20 <= 'z') {
			s--
		}
		if p-s <= 5 {
			for _, w := range webSchemes {
				if strings.EqualFold(string(f[s:p]), w) {
					return s, urlEnd(f, s, p+3)
				}
			}
		}
		p += 3
	}
	return -1, -1
}

// urlEnd returns where the URL whose authority starts at f[i] ends: at a
// closing bracket it did not open, at an HTML-escaped quote or angle
// bracket, at a comma that separates it from what follows (commaEnds),
// with trailing punctuation dropped.
func urlEnd(f []byte, s, i int) int {
	var paren, square, curly int
	auth, query := true, false
loop:
	for ; i < len(f); i++ {
		switch f[i] {
		case '(':
			paren++
		case ')':
			if paren == 0 {
				break loop
			}
			paren--
		case '[':
			square++
		case ']':
			if square == 0 {
				break loop
			}
			square--
		case '{':
			curly++
		case '}':
			if curly == 0 {
				break loop
			}
			curly--
		case '/', '#':
			auth = false
		case '?':
			auth, query = false, true
		case ',':
			if auth || commaEnds(f[i+1:], query) {
				break loop
			}
		case '&':
			if htmlEscape(f[i:]) {
				break loop
			}
		}
	}
	for i > s && strings.IndexByte(".,;:!?'*", f[i-1]) >= 0 {
		i--
	}
	return i
}

// commaEnds reports whether a comma in the path or query of a URL, followed
// by rest, separates the URL from the next item of a list (a CSV row, "a,
// b"), rather than being part of it as in "?ids=1,2" or
// "/Acme,_Inc/x.html". It does when another comma, a "#" or a URL follows;
// in the path also unless what follows is a plain path segment going on to
// a "/".
func commaEnds(rest []byte, query bool) bool {
	if len(rest) == 0 || rest[0] == ',' || rest[0] == '#' {
		return true
	}
	k := 0
	for k < len(rest) && ('a' <= rest[k]|0x20 && rest[k]|0x20 <= 'z') {
		k++
	}
	if k > 0 && bytes.HasPrefix(rest[k:], []byte("://")) {
		return true
	}
	if query {
		return false
	}
	for k = 0; k < len(rest) && (isAlnum(rest[k]) || rest[k] == '_' || rest[k] == '-' || rest[k] == '%'); k++ {
	}
	return k == 0 || k == len(rest) || rest[k] != '/'
}

// htmlEscape reports whether b starts with an HTML escape of a character
// that ends a URL in markup.
func htmlEscape(b []byte) bool {
	for _, x := range [...]string{"&quot;", "&lt;", "&gt;", "&#34;", "&#39;", "&apos;"} {
		if len(b) >= len(x) && strings.EqualFold(string(b[:len(x)]), x) {
			return true
		}
	}
	return false
}

// url records the URL f[a:b] and reports whether it is one. "&amp;" is
// read as "&": it is how an href in HTML writes a query separator, and a
// URL that really contains "&amp;" is not worth the confusion.
func (e *extractor) url(a, b int) bool {
	s := string(e.f[a:b])
	if strings.Contains(s, "&amp;") {
		s = strings.ReplaceAll(s, "&amp;", "&")
	}
	t, v, err := indicator.Detect(s)
	if err != nil || t != indicator.URL {
		return false
	}
	e.add(t, v, a, b)
	return true
}

// tokenByte marks the ASCII bytes a token outside a URL can contain: those
// of addresses, names, e-mail addresses, hashes and fingerprints, and of
// the path and query of a URL without scheme. Non-ASCII bytes (letters,
// digits and marks, as words hold no others) are token bytes too.
var tokenByte = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0); c < utf8.RuneSelf; c++ {
		t[c] = isAlnum(c)
	}
	for _, c := range ".-_:/@+%?=&#~" {
		t[c] = true
	}
	return t
}()

// segment splits f[a:b] into tokens at the bytes no token contains
// (brackets, quotes, commas, "*" …) and between ASCII letters or digits and
// the letters of scripts written without spaces, so that "访问evil.com获取"
// gives "evil.com".
func (e *extractor) segment(a, b int) {
	f := e.f
	for i := a; i < b; {
		if c := f[i]; c < utf8.RuneSelf && !tokenByte[c] {
			i++
			continue
		}
		j := i
		var prevAlnum, prevDense bool
		for j < b {
			c := f[j]
			if c < utf8.RuneSelf {
				if !tokenByte[c] || prevDense && isAlnum(c) {
					break
				}
				prevAlnum, prevDense = isAlnum(c), false
				j++
				continue
			}
			r, n := utf8.DecodeRune(f[j:b])
			dense := denseScript(r)
			if dense && prevAlnum {
				break
			}
			prevAlnum, prevDense = false, dense
			j += n
		}
		e.token(i, j)
		i = j
	}
}

// denseScript reports whether r is a letter of a script written without
// spaces between words.
func denseScript(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// token finds the candidates in one token f[a:b].
func (e *extractor) token(a, b int) {
	a, b = e.trim(a, b)
	if a >= b || !interesting(e.f[a:b]) {
		return
	}
	if p := bytes.Index(e.f[a:b], []byte("://")); p >= 0 {
		// Not a web URL (findURL took those): take the host of the
		// authority, and look at the rest as a path.
		auth := a + p + 3
		end := auth
		for end < b && e.f[end] != '/' && e.f[end] != '?' && e.f[end] != '#' {
			end++
		}
		e.token(auth, end)
		if end < b {
			e.fallback(end, b)
		}
		return
	}
	if !e.classify(a, b) {
		e.fallback(a, b)
	}
}

// interesting reports whether a token can hold a candidate at all, to keep
// ordinary words away from Detect.
func interesting(t []byte) bool {
	return len(t) >= 32 || bytes.IndexAny(t, ".:@/") >= 0
}

// trim drops the punctuation that surrounds a token in prose ("evil.com.",
// "#evil.com", "evil.com:") but keeps the "::" of IPv6 addresses, and drops
// a trailing "/" only when it is the only one ("evil.com/" is the name).
func (e *extractor) trim(a, b int) (int, int) {
	f := e.f
	const edge = ".-:@+%?=&#~"
	for a < b {
		c := f[a]
		if c == ':' && a+1 < b && f[a+1] == ':' || strings.IndexByte(edge, c) < 0 {
			break
		}
		a++
	}
	for b > a {
		c := f[b-1]
		if c == '/' && bytes.IndexByte(f[a:b-1], '/') < 0 {
			b--
			continue
		}
		if c == ':' && b-2 >= a && f[b-2] == ':' || strings.IndexByte(edge, c) < 0 {
			break
		}
		b--
	}
	return a, b
}

// classify records f[a:b] if it is, as a whole, an indicator that passes
// the rules of free text, and reports whether it did.
func (e *extractor) classify(a, b int) bool {
	s := string(e.f[a:b])
	t, v, err := indicator.Detect(s)
	if err != nil {
		return false
	}
	switch t {
	case indicator.IPv4:
		// "version 1.2.3.4", "build 10.0.19041.1": a four-part version
		// that happens to be an address. A defanged one is meant.
		if !e.defanged(a, b) && e.versionWordBefore(e.textStart(a)) {
			return false
		}
	case indicator.CIDR, indicator.X509SHA1, indicator.X509SHA256, indicator.JA4:
	case indicator.IPv6:
		if v == "::" {
			return false
		}
	case indicator.MD5, indicator.SHA1, indicator.SHA256, indicator.SHA512:
		if !digitAndLetter(s) {
			return false
		}
	case indicator.Domain:
		if !nameOK(s, v, e.defanged(a, b)) {
			return false
		}
	case indicator.URL:
		// URLs with a scheme are findURL's; here only a host with a path,
		// to which Detect prefixed "http://", is one. A piece with "://"
		// left over from another scheme ("A://A") is not.
		if strings.Contains(s, "://") || !e.schemelessHostOK(s, v, a, b) {
			return false
		}
	case indicator.Email:
		// Detect does not ask for a known top-level domain here, but
		// "logo@2x.png" is a file.
		if dt, _, err := indicator.Detect(v[strings.IndexByte(v, '@')+1:]); err != nil || dt != indicator.Domain {
			return false
		}
	default:
		return false
	}
	e.add(t, v, a, b)
	return true
}

// schemelessHostOK checks the host of a URL written without scheme (s,
// canonical v): a dotted-quad address or a name that passes nameOK, and no
// "user@" part. Detect lets a numeric host through, which in prose is a
// version ("2.0/3.0"). (A bracketed IPv6 host cannot occur: brackets split
// tokens.)
func (e *extractor) schemelessHostOK(s, v string, a, b int) bool {
	head := s
	if i := strings.IndexAny(head, "/?#"); i >= 0 {
		head = head[:i]
	}
	if strings.IndexByte(head, '@') >= 0 {
		return false // "mailto:a@b.example?subject=…", not a URL with userinfo
	}
	if c := strings.LastIndexByte(head, ':'); c >= 0 {
		head = head[:c]
	}
	if _, err := netip.ParseAddr(head); err == nil {
		return true
	}
	_, host, _ := strings.Cut(v, "://")
	host, _, _ = strings.Cut(host, "/")
	if c := strings.LastIndexByte(host, ':'); c >= 0 {
		host = host[:c]
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return false // a number that Canonicalize read as an address
	}
	return nameOK(head, host, e.defanged(a, b))
}

// fileExtTLDs are top-level domains that are also common file extensions
// in reports. A two-label name ending in one is taken for a file unless it
// was defanged; for the weak ones, whose domains are popular with phishing
// sites, only when it is written with capitals ("Safari.app",
// "Invoice.one"), as file names are and domains rarely.
var fileExtTLDs = map[string]extStrength{
	"zip": strongExt, "mov": strongExt, "cab": strongExt, "py": strongExt, "sh": strongExt,
	"so": strongExt, "rs": strongExt, "md": strongExt, "java": strongExt, "pub": strongExt,
	"app": weakExt, "one": weakExt,
}

type extStrength int

const (
	notExt extStrength = iota
	weakExt
	strongExt
)

// nameOK applies the domain rules of free text to a name written as
// written and canonical as canon (whose top-level domain Detect has checked).
func nameOK(written, canon string, defanged bool) bool {
	if defanged {
		return true
	}
	written = strings.TrimSuffix(written, ".")
	dot := strings.LastIndexByte(canon, '.')
	if dot < 0 {
		return false // Detect refuses single labels; stay safe if that changes
	}
	if strings.IndexByte(canon[:dot], '.') < 0 {
		switch fileExtTLDs[canon[dot+1:]] {
		case strongExt:
			return false
		case weakExt:
			if strings.ToLower(written) != written {
				return false
			}
		}
	}
	return !mixedCase(written[strings.LastIndexByte(written, '.')+1:])
}

func mixedCase(s string) bool {
	var up, low bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		up = up || 'A' <= c && c <= 'Z'
		low = low || 'a' <= c && c <= 'z'
	}
	return up && low
}

// outerSplit and innerSplit mark the bytes at which a token that is not an
// indicator as a whole is split into pieces, in two rounds: first at the
// separators of key-value pairs and queries ("MD5=…&SHA1=…",
// "fe80::1%eth0"), then at colons and slashes ("1.2.3.4:8080", "sha256:…",
// "mailto:a@b.example", "C:/Users/x/evil.example"), so that an IPv6
// address or a colon-hex fingerprint is tried whole before its colons split
// it.
var outerSplit, innerSplit = byteSet("?=&#%~"), byteSet(":/")

func byteSet(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

// fallback looks for candidates in the pieces of a token f[a:b] that is
// not an indicator as a whole.
func (e *extractor) fallback(a, b int) {
	if !containsAny(e.f[a:b], &outerSplit) {
		e.inner(a, b)
		return
	}
	e.splitEach(a, b, &outerSplit, func(p, q int) {
		if p, q = e.trim(p, q); p < q && !(interesting(e.f[p:q]) && e.classify(p, q)) {
			e.inner(p, q)
		}
	})
}

// inner splits a piece that is not an indicator at colons and slashes.
func (e *extractor) inner(a, b int) {
	if !containsAny(e.f[a:b], &innerSplit) {
		e.subpieces(a, b)
		return
	}
	f := e.f
	for i := a; i < b; {
		if n := x509Run(f[i:b]); n > 0 && e.classify(i, i+n) {
			i += n + 1
			continue
		}
		j := i
		for j < b && !innerSplit[f[j]] {
			j++
		}
		e.piece(i, j)
		i = j + 1
	}
}

// splitEach calls fn for each piece of f[a:b] between bytes of set.
func (e *extractor) splitEach(a, b int, set *[256]bool, fn func(p, q int)) {
	for i := a; i <= b; {
		j := i
		for j < b && !set[e.f[j]] {
			j++
		}
		if j > i {
			fn(i, j)
		}
		i = j + 1
	}
}

func containsAny(f []byte, set *[256]bool) bool {
	for _, c := range f {
		if set[c] {
			return true
		}
	}
	return false
}

func (e *extractor) piece(a, b int) {
	a, b = e.trim(a, b)
	if a >= b {
		return
	}
	if interesting(e.f[a:b]) && e.classify(a, b) {
		return
	}
	e.subpieces(a, b)
}

// subpieces splits a piece at "-" (address ranges "a-b") and then looks for
// hashes in what is left.
func (e *extractor) subpieces(a, b int) {
	if bytes.IndexByte(e.f[a:b], '-') < 0 {
		e.hashes(a, b)
		return
	}
	e.splitEach(a, b, &hyphen, func(p, q int) {
		if p, q = e.trim(p, q); p < q && !(interesting(e.f[p:q]) && e.classify(p, q)) {
			e.hashes(p, q)
		}
	})
}

var hyphen = byteSet("-")

// hashes records the runs of exactly 32, 40, 64 or 128 hex digits in
// f[a:b] that hold a digit and a letter.
func (e *extractor) hashes(a, b int) {
	f := e.f
	for i := a; i < b; {
		if !isHex(f[i]) {
			i++
			continue
		}
		j := i
		for j < b && isHex(f[j]) {
			j++
		}
		var t indicator.Type
		switch j - i {
		case 32:
			t = indicator.MD5
		case 40:
			t = indicator.SHA1
		case 64:
			t = indicator.SHA256
		case 128:
			t = indicator.SHA512
		}
		if t != "" && digitAndLetter(string(f[i:j])) {
			if v, err := indicator.Canonicalize(t, string(f[i:j])); err == nil {
				e.add(t, v, i, j)
			}
		}
		i = j
	}
}

// x509Run returns the length of a colon-hex run of 20 or 32 bytes
// ("AB:CD:…") at the start of f that ends at the end of f or at a byte that
// splits pieces, or 0. It reads at most 33 pairs, so that a long run
// costs no more than a short one at each of its colons.
func x509Run(f []byte) int {
	n := 0
	i := 0
	for i+2 <= len(f) && isHex(f[i]) && isHex(f[i+1]) && n <= 32 {
		n++
		i += 2
		if i < len(f) && f[i] == ':' && i+2 < len(f) && isHex(f[i+1]) {
			i++
			continue
		}
		break
	}
	if (n == 20 || n == 32) && (i == len(f) || innerSplit[f[i]] || outerSplit[f[i]]) {
		return i
	}
	return 0
}

// digitAndLetter reports whether a hex string holds both a digit and a
// letter.
func digitAndLetter(s string) bool {
	var digit, letter bool
	for i := 0; i < len(s); i++ {
		if s[i] <= '9' {
			digit = true
		} else {
			letter = true
		}
	}
	return digit && letter
}

// versionWords are the words after which a dotted quad is a version number.
// (Not "update", "patch" or "v": "UPDATE: 203.0.113.5 is also a C2" is an
// address.)
var versionWords = map[string]bool{"version": true, "versions": true, "ver": true, "build": true,
	"release": true, "firmware": true}

// versionWordBefore says whether the word before text offset pos (across
// spaces, and a "." or ":" after it) is one of versionWords.
func (e *extractor) versionWordBefore(pos int) bool {
	i := pos
	for i > 0 && (e.text[i-1] == ' ' || e.text[i-1] == '\t') {
		i--
	}
	if i > 0 && (e.text[i-1] == '.' || e.text[i-1] == ':') {
		i--
	}
	j := i
	for j > 0 && j > i-16 && isASCIILetter(e.text[j-1]) {
		j--
	}
	if j == i || (j > 0 && isASCIILetter(e.text[j-1])) {
		return false
	}
	return versionWords[strings.ToLower(e.text[j:i])]
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
