package match

import (
	"bytes"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// appendCanonicalURL appends the canonical form (indicator.Canonicalize,
// type url) of an observed http or https URL, without allocating, when the
// URL is plain enough for the result to be certain: an ASCII host name or
// dotted-quad address without userinfo or "xn--" labels, a port without
// leading zeros, and a path and query made only of characters that stay as
// they are (unreserved, sub-delimiters other than "(", ":", "@", "/", "?",
// and escapes of reserved characters in upper case) with no dot-segments
// and nothing a refanging step would touch. Anything else returns false,
// and the caller uses Canonicalize itself. A fuzz test holds the two to the
// same result.
func appendCanonicalURL(dst, u []byte) ([]byte, bool) {
	if len(u) > indicator.MaxURLLen {
		return dst, false
	}
	var rest []byte
	https := false
	switch {
	case hasPrefixFold(u, "http://"):
		rest = u[7:]
		dst = append(dst, "http://"...)
	case hasPrefixFold(u, "https://"):
		rest, https = u[8:], true
		dst = append(dst, "https://"...)
	default:
		return dst, false
	}
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' || c == '\\' {
			end = i
			break
		}
	}
	auth, tail := rest[:end], rest[end:]
	host, port := auth, []byte(nil)
	if c := bytes.LastIndexByte(auth, ':'); c >= 0 {
		host, port = auth[:c], auth[c+1:]
		if len(port) == 0 {
			return dst, false
		}
	}
	if !plainHost(host) {
		return dst, false
	}
	for _, c := range host {
		dst = append(dst, lower(c))
	}
	if port != nil {
		if port[0] == '0' || len(port) > 5 {
			return dst, false
		}
		p := 0
		for _, c := range port {
			if c < '0' || c > '9' {
				return dst, false
			}
			p = p*10 + int(c-'0')
		}
		if p > 65535 {
			return dst, false
		}
		if https && p != 443 || !https && p != 80 {
			dst = append(dst, ':')
			dst = append(dst, port...)
		}
	}
	if h := bytes.IndexByte(tail, '#'); h >= 0 {
		for _, c := range tail[h+1:] {
			if c <= ' ' || c >= 0x7f {
				return dst, false
			}
		}
		tail = tail[:h]
	}
	path, query := tail, []byte(nil)
	if q := bytes.IndexByte(tail, '?'); q >= 0 {
		path, query = tail[:q], tail[q+1:]
	}
	if len(path) == 0 {
		dst = append(dst, '/')
	} else {
		if !plainPart(path, &pathOK) || hasDotSegment(path) {
			return dst, false
		}
		dst = append(dst, path...)
	}
	if len(query) > 0 {
		if !plainPart(query, &queryOK) {
			return dst, false
		}
		dst = append(dst, '?')
		dst = append(dst, query...)
	}
	if bytes.Contains(tail, []byte("://")) {
		return dst, false // "hxxp://" in a query would be refanged
	}
	return dst, true
}

func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lower(b[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// pathOK and queryOK are the characters that canonicalisation leaves as
// they are in a path and a query (RFC 3986), less "(" which may start a
// defanging token such as "(.)".
var pathOK, queryOK = func() (p, q [256]bool) {
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	const subDelims = "!$&')*+,;="
	for _, c := range []byte(unreserved + subDelims + ":@/") {
		p[c] = true
		q[c] = true
	}
	q['?'] = true
	return
}()

// plainPart reports whether a path or query is already canonical: only
// allowed characters, and escapes that stay as they are (upper-case hex of
// a character that is not unreserved).
func plainPart(s []byte, ok *[256]bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ok[c] {
			continue
		}
		if c != '%' || i+2 >= len(s) {
			return false
		}
		h, l := upperHexVal(s[i+1]), upperHexVal(s[i+2])
		if h < 0 || l < 0 || unreservedByte(byte(h<<4|l)) {
			return false
		}
		i += 2
	}
	return true
}

func upperHexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func unreservedByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// hasDotSegment reports whether a path has a "." or ".." segment.
func hasDotSegment(p []byte) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' || i+1 == len(p) || p[i+1] != '.' {
			continue
		}
		j := i + 2
		if j < len(p) && p[j] == '.' {
			j++
		}
		if j == len(p) || p[j] == '/' {
			return true
		}
	}
	return false
}

// plainHost reports whether a URL host is canonical once lower-cased: a
// name of letters, digits, "-" and "_" in non-empty labels of at most 63
// bytes, no "xn--" label, not ending in a number unless it is a plain
// dotted quad.
func plainHost(h []byte) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			c := h[i]
			if !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
			continue
		}
		n := i - start
		if n == 0 || n > 63 {
			return false
		}
		if n >= 4 && lower(h[start]) == 'x' && lower(h[start+1]) == 'n' && h[start+2] == '-' && h[start+3] == '-' {
			return false
		}
		start = i + 1
	}
	last := h[bytes.LastIndexByte(h, '.')+1:]
	if len(last) >= 2 && last[0] == '0' && lower(last[1]) == 'x' {
		return false // may be a hexadecimal IPv4 part
	}
	for _, c := range last {
		if c < '0' || c > '9' {
			return true
		}
	}
	return dottedQuad(h)
}

// dottedQuad reports whether h is an IPv4 address in canonical form.
func dottedQuad(h []byte) bool {
	parts, val, digits := 0, 0, 0
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			if digits == 0 || digits > 1 && h[i-digits] == '0' || val > 255 {
				return false
			}
			parts++
			val, digits = 0, 0
			continue
		}
		c := h[i]
		if c < '0' || c > '9' {
			return false
		}
		val = val*10 + int(c-'0')
		digits++
		if digits > 3 {
			return false
		}
	}
	return parts == 4
}
