package indicator

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Detect works out the type of a single value the way free-text import needs
// it, refangs and canonicalises it, and returns the type and canonical form.
// On failure it returns an *Error whose Type is the type it tried (empty if
// the value looks like nothing it knows) and zero values otherwise.
//
// In order:
//   - "scheme://…" is a url;
//   - an address followed by "/bits" is a cidr;
//   - an IP address is ipv4 or ipv6 (an IPv4-mapped IPv6 address is ipv4);
//   - colon-separated hex of 20 or 32 bytes is x509-sha1 or x509-sha256;
//   - a host followed by a path or query ("evil.com/login.php",
//     "1.2.3.4/x", "evil.com:8080/x") is a url with "http://" prefixed;
//   - "host:port" alone is refused, since it is unclear whether the address
//     or a URL is meant and the scheme is unknown;
//   - a value with "@" is an email;
//   - 32, 40, 64 or 128 hex characters are md5, sha1, sha256 or sha512
//     (a ja3/ja3s hash is indistinguishable from md5 and comes out as md5);
//   - the JA4 shape "t13d1516h2_8daaf6152771_b186095e22b6" is ja4;
//   - anything else with a dot is a domain (never hostname).
//
// Free text is full of file names ("invoice.pdf", "dropper.exe"), so a
// domain, and the host of a url without scheme, must end in a top-level
// domain from the ICANN section of the public suffix list. Canonicalize with
// an explicit type has no such rule, so names under other top-level domains
// (".bit", ".onion") can still be entered deliberately; special-use names
// (".local", ".arpa") are refused by both.
func Detect(raw string) (Type, string, error) {
	s := strings.TrimSpace(raw)
	if reason := checkInput(s, MaxURLLen); reason != "" {
		return "", "", &Error{Value: raw, Reason: reason}
	}
	s, ok := refangAll(s)
	if !ok {
		return "", "", &Error{Value: raw, Reason: reasonNested}
	}
	t, v, reason := detectType(s)
	if reason != "" {
		return "", "", &Error{Type: t, Value: raw, Reason: reason}
	}
	c, err := Canonicalize(t, v)
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			e.Value = raw
		}
		return "", "", err
	}
	var host string
	switch {
	case t == Domain:
		host = c
	case t == URL && v != s: // "http://" was added
		host = urlHost(c)
	}
	if host != "" {
		tld := host[strings.LastIndexByte(host, '.')+1:]
		// Ask about the whole host: a top-level domain listed only by a
		// wildcard rule ("*.np") is not ICANN's on its own, but
		// "example.com.np" is under it.
		_, icannTLD := publicsuffix.PublicSuffix(tld)
		if _, icannHost := publicsuffix.PublicSuffix(host); !icannTLD && !icannHost && !allDigits(tld) && tld[0] != '[' {
			return "", "", &Error{Type: t, Value: raw, Reason: fmt.Sprintf("has an unknown top-level domain %q", "."+tld)}
		}
	}
	return t, c, nil
}

const reasonUnknown = "is not a recognised indicator (IP address, CIDR block, URL, email address, hash, JA4 fingerprint or domain)"

// detectType returns the type of a refanged value, and the value to
// canonicalise as that type, or a reason.
func detectType(s string) (Type, string, string) {
	if s == "" {
		return "", "", reasonEmpty
	}
	if schemeLen(s) > 0 {
		return URL, s, ""
	}
	if slash := strings.IndexByte(s, '/'); slash >= 0 {
		if ipChars(s[:slash]) && allDigits(s[slash+1:]) {
			if _, err := netip.ParseAddr(s[:slash]); err == nil {
				return CIDR, s, ""
			}
		}
	} else if ipChars(s) {
		if a, err := netip.ParseAddr(s); err == nil {
			if a.Unmap().Is4() {
				return IPv4, s, ""
			}
			return IPv6, s, ""
		}
	}
	switch colonHexBytes(s) {
	case 20:
		return X509SHA1, s, ""
	case 32:
		return X509SHA256, s, ""
	}
	if head, rest := splitHost(s); rest != "" {
		if hostLike(head) {
			return URL, "http://" + s, ""
		}
		return "", "", reasonUnknown
	} else if c := strings.LastIndexByte(s, ':'); c >= 0 {
		if allDigits(s[c+1:]) && hostLike(s) {
			return "", "", `is host:port; give the address alone, or a URL with its scheme`
		}
		return "", "", reasonUnknown
	}
	if strings.IndexByte(s, '@') >= 0 {
		return Email, s, ""
	}
	if hexOnly(s) {
		switch len(s) {
		case 32:
			return MD5, s, ""
		case 40:
			return SHA1, s, ""
		case 64:
			return SHA256, s, ""
		case 128:
			return SHA512, s, ""
		}
		if len(s) >= 16 {
			return "", "", fmt.Sprintf("has %d hex characters, which is not the length of a known hash (32, 40, 64 or 128)", len(s))
		}
	}
	if isJA4(s) {
		return JA4, s, ""
	}
	if strings.IndexByte(s, '.') >= 0 && strings.Trim(s, ".") != "" {
		return Domain, s, ""
	}
	return "", "", reasonUnknown
}

// ipChars reports whether s could be an IP address (hex digits, dots,
// colons, and a zone after "%"), so that ParseAddr, which allocates an error
// on failure, only sees plausible input.
func ipChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			return i > 0
		}
		if !isHex(c) && c != '.' && c != ':' {
			return false
		}
	}
	return true
}

func hexOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return s != ""
}

// colonHexBytes returns n if s is n bytes written as "AB:CD:…", else 0.
func colonHexBytes(s string) int {
	if len(s)%3 != 2 {
		return 0
	}
	for i := 0; i < len(s); i++ {
		if i%3 == 2 {
			if s[i] != ':' {
				return 0
			}
		} else if !isHex(s[i]) {
			return 0
		}
	}
	return (len(s) + 1) / 3
}

// splitHost splits a scheme-less value at the first "/", "?" or "#" into
// the authority part and the rest (which keeps its delimiter).
func splitHost(s string) (string, string) {
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// hostLike reports whether an authority ("user@host:port") has a host that
// is a bracketed IPv6 address or contains a dot, and a numeric port if any.
func hostLike(auth string) bool {
	h := auth[strings.LastIndexByte(auth, '@')+1:]
	if strings.HasPrefix(h, "[") {
		rb := strings.IndexByte(h, ']')
		return rb > 0 && (rb == len(h)-1 || h[rb+1] == ':' && allDigits(h[rb+2:]))
	}
	if c := strings.LastIndexByte(h, ':'); c >= 0 {
		if !allDigits(h[c+1:]) {
			return false
		}
		h = h[:c]
	}
	dot := strings.IndexByte(h, '.')
	return dot > 0 && dot < len(h)-1
}

// urlHost returns the host of a canonical URL, without brackets handling:
// an IPv6 host is returned with its brackets.
func urlHost(u string) string {
	rest := u[strings.Index(u, "://")+3:]
	rest = rest[:strings.IndexByte(rest, '/')] // canonical URLs have a path
	rest = rest[strings.LastIndexByte(rest, '@')+1:]
	if strings.HasPrefix(rest, "[") {
		return rest[:strings.IndexByte(rest, ']')+1]
	}
	if c := strings.LastIndexByte(rest, ':'); c >= 0 {
		rest = rest[:c]
	}
	return rest
}

// isJA4 reports whether s has the exact JA4 TLS client shape: a 10-character
// "a" part (protocol t/q/d, version, d/i, two 2-digit counts, ALPN) and two
// 12-hex-digit hash parts. Detection needs the exact shape; Canonicalize
// with type ja4 is looser.
func isJA4(s string) bool {
	if len(s) != 36 || s[10] != '_' || s[23] != '_' {
		return false
	}
	a := s[:10]
	switch lower(a[0]) {
	case 't', 'q', 'd':
	default:
		return false
	}
	if !isAlnum(a[1]) || !isAlnum(a[2]) || lower(a[3]) != 'd' && lower(a[3]) != 'i' ||
		!allDigits(a[4:8]) || !isAlnum(a[8]) || !isAlnum(a[9]) {
		return false
	}
	return hexOnly(s[11:23]) && hexOnly(s[24:])
}
