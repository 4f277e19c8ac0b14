package indicator

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// canonURL is the canonical form of type url. It is written by hand rather
// than with net/url because url.URL.String re-escapes by its own rules and
// Parse refuses much of what turns up in phishing feeds (bad escapes, raw
// spaces). The result is an RFC 3986 URI:
//
//   - the scheme ("scheme://" is required) is lower-cased;
//   - userinfo is kept (with percent-encoding normalised); an empty one is
//     dropped;
//   - the host is lower-cased and IDNA-encoded like a domain but may be a
//     single label; percent-escapes in it are decoded first; a host ending in
//     a number is read as an IPv4 address the way browsers read it
//     ("2130706433", "0x7f.1" become "127.0.0.1"); an IPv6 host keeps its
//     brackets, and an IPv4-mapped one becomes the plain IPv4 address; a
//     host name that is or is under a special-use name ("localhost",
//     "x.local", "1.10.in-addr.arpa", see specialUse) is refused;
//   - a port is written without leading zeros and dropped when empty or the
//     scheme's default (http 80, https 443, ftp 21, ws 80, wss 443);
//   - in userinfo, path and query, escapes of unreserved characters
//     (ALPHA DIGIT - . _ ~) are decoded, the hex of the remaining escapes
//     upper-cased, a "%" that starts no valid escape is written "%25", and
//     characters RFC 3986 does not allow there (space, quotes, "<>[]{}|\^`",
//     non-ASCII) are percent-encoded as UTF-8;
//   - for the web schemes (http, https, ftp, ws, wss) a backslash before the
//     query counts as "/", as browsers treat it;
//   - dot-segments are removed and an empty path becomes "/";
//   - the query is kept as it is apart from escapes; an empty query ("?") is
//     dropped; the fragment is dropped, since it never reaches the server.
//
// Control characters are refused.
func canonURL(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return "", "contains a control character"
		}
	}
	n := schemeLen(s)
	if n == 0 {
		return "", `has no scheme such as "http://"`
	}
	scheme, rest := s[:n], s[n+3:]
	web := isWebScheme(scheme)

	end := len(rest)
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == '/' || c == '?' || c == '#' || web && c == '\\' {
			end = i
			break
		}
	}
	auth, tail := rest[:end], rest[end:]
	if h := strings.IndexByte(tail, '#'); h >= 0 {
		tail = tail[:h]
	}
	path, query := tail, ""
	if q := strings.IndexByte(tail, '?'); q >= 0 {
		path, query = tail[:q], tail[q+1:]
	}

	userinfo, hostport := "", auth
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		userinfo, hostport = auth[:at], auth[at+1:]
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		rb := strings.IndexByte(hostport, ']')
		if rb < 0 {
			return "", "has an IPv6 host without a closing bracket"
		}
		host = hostport[:rb+1]
		if after := hostport[rb+1:]; after != "" {
			if after[0] != ':' {
				return "", "has characters after its IPv6 host"
			}
			port = after[1:]
		}
	} else if c := strings.LastIndexByte(hostport, ':'); c >= 0 {
		host, port = hostport[:c], hostport[c+1:]
	}
	if host == "" {
		return "", "has no host"
	}
	port, reason := canonPort(port)
	if reason != "" {
		return "", reason
	}

	var arr [256]byte
	b := arr[:0]
	for i := 0; i < len(scheme); i++ {
		b = append(b, lower(scheme[i]))
	}
	b = append(b, "://"...)
	if userinfo != "" {
		b = appendEscaped(b, userinfo, &userinfoChars, false)
		b = append(b, '@')
	}
	b, reason = appendHost(b, host)
	if reason != "" {
		return "", reason
	}
	if port != "" && port != defaultPort(b[:n]) {
		b = append(b, ':')
		b = append(b, port...)
	}
	pathStart := len(b)
	if path == "" {
		b = append(b, '/')
	} else {
		b = appendEscaped(b, path, &pathChars, web)
		b = b[:pathStart+len(removeDotSegments(b[pathStart:]))]
	}
	if query != "" {
		b = append(b, '?')
		b = appendEscaped(b, query, &queryChars, false)
	}
	return sameOrString(b, s), ""
}

// schemeLen returns the length of the scheme if s starts with
// "scheme://" (RFC 3986: a letter, then letters, digits, "+", "-", "."),
// else 0.
func schemeLen(s string) int {
	if s == "" || !('a' <= lower(s[0]) && lower(s[0]) <= 'z') {
		return 0
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || c == '+' || c == '-' || c == '.' {
			continue
		}
		if strings.HasPrefix(s[i:], "://") {
			return i
		}
		return 0
	}
	return 0
}

func isWebScheme(scheme string) bool {
	for _, w := range [...]string{"http", "https", "ftp", "ws", "wss"} {
		if strings.EqualFold(scheme, w) {
			return true
		}
	}
	return false
}

// defaultPort is the port a lower-case scheme implies, as browsers and
// servers treat "http://h:80/" and "http://h/" as one URL.
func defaultPort(scheme []byte) string {
	switch string(scheme) {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	case "ftp":
		return "21"
	}
	return ""
}

// canonPort strips leading zeros and checks the range; "" stays "".
func canonPort(p string) (string, string) {
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return "", "has a port that is not a number"
		}
	}
	if p == "" {
		return "", ""
	}
	p = strings.TrimLeft(p, "0")
	if p == "" {
		return "0", ""
	}
	if len(p) > 5 || len(p) == 5 && p > "65535" {
		return "", "has a port above 65535"
	}
	return p, ""
}

// appendHost appends the canonical host.
func appendHost(b []byte, host string) ([]byte, string) {
	if host[0] == '[' {
		inner := host[1 : len(host)-1]
		if strings.IndexByte(inner, '%') >= 0 {
			return b, "has an IPv6 host with a zone; zones are not accepted"
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || a.Is4() {
			return b, "has a host in brackets that is not an IPv6 address"
		}
		if a.Is4In6() {
			return a.Unmap().AppendTo(b), ""
		}
		b = append(b, '[')
		b = a.AppendTo(b)
		return append(b, ']'), ""
	}
	if strings.IndexByte(host, '%') >= 0 {
		h, ok := percentDecode(host)
		if !ok {
			return b, "has a host with invalid percent-encoding"
		}
		host = h
	}
	// As in the WHATWG URL Standard, the IPv4 test comes after IDNA, which
	// can turn characters such as "。" or "８" into dots and digits.
	name, reason := asciiName(host)
	if reason != "" {
		return b, "has a host that " + reason
	}
	if name != "" && endsInNumber(name) {
		a, ok := parseWebIPv4(name)
		if !ok {
			return b, "has a host that ends in a number but is not an IPv4 address"
		}
		return a.AppendTo(b), ""
	}
	if reason := checkLabels(name); reason != "" {
		return b, "has a host that " + reason
	}
	// "localhost" is loopback as much as 127.0.0.1 is, and the other
	// special-use names are local too; see specialUse.
	if reason := checkSpecialUse(name); reason != "" {
		return b, "has a host that " + reason
	}
	return append(b, name...), ""
}

// percentDecode decodes every escape in a host, which browsers do before
// IDNA. The result must be valid UTF-8.
func percentDecode(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", false
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// endsInNumber reports whether the last label of a host is a number in the
// WHATWG sense (decimal, or "0x" hex), which makes the host an IPv4 address.
func endsInNumber(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if allDigits(last) {
		return true
	}
	if len(last) >= 2 && last[0] == '0' && lower(last[1]) == 'x' {
		for i := 2; i < len(last); i++ {
			if !isHex(last[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// parseWebIPv4 is the WHATWG URL Standard's IPv4 parser: one to four parts,
// each decimal, octal (leading 0) or hex (0x), the last filling the
// remaining bytes. Phishing URLs use these forms to hide an address.
func parseWebIPv4(host string) (netip.Addr, bool) {
	var nums [4]uint64
	n := 0
	for part := range strings.SplitSeq(host, ".") {
		if n == 4 || part == "" {
			return netip.Addr{}, false
		}
		v, ok := parseWebIPv4Number(part)
		if !ok {
			return netip.Addr{}, false
		}
		nums[n] = v
		n++
	}
	for i := 0; i < n-1; i++ {
		if nums[i] > 255 {
			return netip.Addr{}, false
		}
	}
	if nums[n-1] >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	v := nums[n-1]
	for i := 0; i < n-1; i++ {
		v += nums[i] << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseWebIPv4Number(s string) (uint64, bool) {
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && lower(s[1]) == 'x':
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case base == 16 && isHex(c):
			d = uint64(unhex(c))
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 1<<32 {
			return 0, false // larger than any address; also stops overflow
		}
	}
	return v, true
}

// Character classes of RFC 3986 that may appear unescaped in each part.
var userinfoChars, pathChars, queryChars [256]bool

func init() {
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	const subDelims = "!$&'()*+,;="
	for _, c := range []byte(unreserved + subDelims + ":") {
		userinfoChars[c] = true
	}
	for _, c := range []byte(unreserved + subDelims + ":@/") {
		pathChars[c] = true
	}
	for _, c := range []byte(unreserved + subDelims + ":@/?") {
		queryChars[c] = true
	}
}

func isUnreserved(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// appendEscaped appends s with its percent-encoding normalised (see
// canonURL). If backslash is set, "\" is written as "/".
func appendEscaped(b []byte, s string, allowed *[256]bool, backslash bool) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				if v := unhex(s[i+1])<<4 | unhex(s[i+2]); isUnreserved(v) {
					b = append(b, v)
				} else {
					b = append(b, '%', upper(s[i+1]), upper(s[i+2]))
				}
				i += 2
			} else {
				b = append(b, "%25"...)
			}
		case backslash && c == '\\':
			b = append(b, '/')
		case allowed[c]:
			b = append(b, c)
		default:
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return b
}

// removeDotSegments applies RFC 3986 section 5.2.4 to a path that starts
// with "/", in place, and returns the shortened slice.
func removeDotSegments(p []byte) []byte {
	if !hasDotSegment(p) {
		return p
	}
	out := p[:0] // writing never overtakes reading, so in place is safe
	for i := 0; i < len(p); {
		j := i + 1
		for j < len(p) && p[j] != '/' {
			j++
		}
		seg, last := p[i+1:j], j == len(p)
		switch {
		case len(seg) == 1 && seg[0] == '.':
			if last {
				out = append(out, '/')
			}
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			if k := lastSlash(out); k >= 0 {
				out = out[:k]
			}
			if last {
				out = append(out, '/')
			}
		default:
			out = append(out, p[i:j]...)
		}
		i = j
	}
	if len(out) == 0 {
		out = append(out, '/')
	}
	return out
}

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

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
