package indicator

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits, in bytes, for a value given to Canonicalize and for its
// canonical form: MaxURLLen for type url (and for any value given to
// Detect), MaxValueLen for every other type. They bound the work done per
// value on bulk import; no real indicator comes near them.
const (
	MaxValueLen = 2048
	MaxURLLen   = 8192
	// MaxPatternLen bounds a STIX pattern given to Canonicalize or read for
	// its values (FromSTIXPattern). Real patterns are a few hundred bytes;
	// the pattern parser itself allows more.
	MaxPatternLen = 16 << 10
	// MaxStoredLen bounds every value the hub stores, of every type, once
	// canonical: what is longer is refused on submission, so that every
	// store can index it (a PostgreSQL B-tree entry holds at most about
	// 2.7 KB). Canonicalize itself allows more, so that a sensor still
	// canonicalises, and matches, a long URL it observes.
	MaxStoredLen = 2048
)

// maxRefangRounds bounds how often Canonicalize refangs and normalises a
// value whose canonical form still contains a defanging token (nested forms
// such as "[[.]]", or tokens that percent-decoding brings to light). Each
// round shrinks the value, so real input needs at most two.
const maxRefangRounds = 4

// Canonicalize trims and refangs raw (repeatedly, for nested forms) and
// returns the one canonical form of it as an indicator of type t (DESIGN.md
// section 3), or an *Error saying why it is refused. Two inputs denote the
// same indicator exactly when their canonical forms are equal, which is what
// storage de-duplicates and sensors match on. Values that are already
// canonical are returned without allocating (except domains, see below).
//
// Canonicalize is idempotent: the canonical form canonicalises to itself.
// The one exception is deliberate: an IPv4-mapped IPv6 address given as
// type ipv6 ("::ffff:192.0.2.1") is unmapped and returned as the IPv4 text
// ("192.0.2.1"), which is an ipv4 indicator; callers that store the type
// should use Detect, or re-check such a result as IPv4.
//
// Per type:
//   - ipv4, ipv6: net/netip text form; zones are refused; a value of the
//     other family is refused.
//   - cidr: masked network/prefix length; a prefix length must be given and
//     be at least /8 for IPv4 and /29 for IPv6 (minPrefixLen6 says why);
//     IPv4-mapped prefixes of /96 and longer become IPv4 prefixes (so /96 to
//     /103 are too broad).
//   - domain, hostname: lower-case, IDNA (UTS #46 lookup mapping, not
//     transitional) to punycode, no trailing dot; labels of 1–63 letters,
//     digits, hyphens or underscores, at most 253 bytes, at least two labels,
//     not ending in a numeric label, not under a special-use top-level
//     domain that names local things ("arpa" with every reverse-DNS zone,
//     "local", "localhost", "internal", "test", "invalid"; "onion" is
//     accepted, see specialUse), and not an ICANN public suffix ("co.uk";
//     private-section suffixes such as "duckdns.org" are accepted). The
//     public-suffix lookup costs one small allocation.
//   - url: "scheme://" and a host are required. Scheme and host lower-case;
//     host IDNA-encoded (a single label is allowed, a special-use name as
//     for domains is not: "http://localhost/" is refused), or read as an IPv4
//     address the way browsers read it ("http://2130706433/" is
//     "http://127.0.0.1/"); default port dropped; escapes of unreserved
//     characters decoded, other escapes upper-cased, characters RFC 3986
//     does not allow percent-encoded; dot-segments removed; empty path "/";
//     userinfo and query kept; empty query and fragment dropped; "\" read
//     as "/" in http, https, ftp, ws and wss URLs.
//   - email: one "@", a non-empty local part of at most 64 bytes (RFC 5322
//     atext, dots and non-ASCII graphic characters other than spaces; no
//     quoted forms), a domain name checked as above but without the
//     public-suffix rule (no address literals); all lower case.
//   - md5, sha1, sha256, sha512, ja3, ja3s: lower-case hex of the right length.
//   - x509-sha1, x509-sha256: as hashes; "AB:CD:…" is accepted.
//   - ja4: three "_"-separated parts of letters and digits, kept as given.
//   - stix-pattern: a valid STIX 2.1 (or 2.0) pattern, printed in the one
//     form package stixpattern prints (keywords upper case, one space
//     around operators, 2.1 timestamps); nothing is refanged, as a pattern
//     may legitimately hold "[.]". At most MaxPatternLen bytes. Its
//     comparisons' values must pass their plain types' rules, and every
//     alternative must narrow what it matches (pattern_rules.go).
func Canonicalize(t Type, raw string) (string, error) {
	if t == STIXPattern {
		return canonPattern(raw)
	}
	fn := canonFuncs(t)
	if fn == nil {
		return "", &Error{Type: t, Value: raw, Reason: "is of an unknown indicator type"}
	}
	limit := MaxValueLen
	if t == URL {
		limit = MaxURLLen
	}
	s := strings.TrimSpace(raw)
	if reason := checkInput(s, limit); reason != "" {
		return "", &Error{Type: t, Value: raw, Reason: reason}
	}
	for round := 0; ; round++ {
		var ok bool
		if s, ok = refangAll(s); !ok {
			return "", &Error{Type: t, Value: raw, Reason: reasonNested}
		}
		if s == "" {
			return "", &Error{Type: t, Value: raw, Reason: reasonEmpty}
		}
		c, reason := fn(s)
		if reason == "" && len(c) > limit {
			reason = fmt.Sprintf("is longer than %d bytes once canonicalised", limit)
		}
		if reason != "" {
			return "", &Error{Type: t, Value: raw, Reason: reason}
		}
		// A canonical form must not itself look defanged, or canonicalising
		// it again would change it. Only URLs and email addresses can come
		// out that way (percent-decoding "h%78xp://" in a query, say); the
		// other forms have no brackets and no "://".
		if t != URL && t != Email || Refang(c) == c {
			return c, nil
		}
		if round == maxRefangRounds {
			return "", &Error{Type: t, Value: raw, Reason: reasonNested}
		}
		s = c
	}
}

// CanonicalizeAs is Canonicalize that also gives the type the value is
// stored as: an IPv4-mapped IPv6 address canonicalises to the IPv4 address
// it is, and is an IPv4 then. Every caller that keeps or looks up a value by
// its type uses this, so that the value and its type always agree.
func CanonicalizeAs(t Type, raw string) (Type, string, error) {
	v, err := Canonicalize(t, raw)
	if err == nil && t == IPv6 && !strings.Contains(v, ":") {
		t = IPv4
	}
	return t, v, err
}

const reasonNested = "is defanged in too many nested layers"

// refangAll refangs until nothing changes, so that nested forms such as
// "[[.]]" are undone too; it gives up after maxRefangRounds.
func refangAll(s string) (string, bool) {
	for range maxRefangRounds {
		r := Refang(s)
		if r == s {
			return s, true
		}
		s = r
	}
	return s, Refang(s) == s
}

// checkInput applies the checks common to all types to the trimmed value.
func checkInput(s string, limit int) string {
	if len(s) > limit {
		return fmt.Sprintf("is longer than %d bytes", limit)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if s == "" {
		return reasonEmpty
	}
	return ""
}

// canonFunc canonicalises a trimmed, refanged, non-empty value of one type.
// It returns the canonical form, or a reason for refusing it. Reasons are
// plain strings so that the accepting path allocates no error values.
type canonFunc func(s string) (string, string)

func canonFuncs(t Type) canonFunc {
	switch t {
	case IPv4:
		return canonIPv4
	case IPv6:
		return canonIPv6
	case CIDR:
		return canonCIDR
	case Domain, Hostname:
		return canonDomain
	case URL:
		return canonURL
	case Email:
		return canonEmail
	case MD5, JA3, JA3S:
		return func(s string) (string, string) { return canonHex(s, 32, false) }
	case SHA1:
		return func(s string) (string, string) { return canonHex(s, 40, false) }
	case SHA256:
		return func(s string) (string, string) { return canonHex(s, 64, false) }
	case SHA512:
		return func(s string) (string, string) { return canonHex(s, 128, false) }
	case X509SHA1:
		return func(s string) (string, string) { return canonHex(s, 40, true) }
	case X509SHA256:
		return func(s string) (string, string) { return canonHex(s, 64, true) }
	case JA4:
		return canonJA4
	}
	return nil
}

// sameOrString returns s if b holds exactly s, so that already-canonical
// input costs no allocation, and a new string otherwise.
func sameOrString(b []byte, s string) string {
	if string(b) == s {
		return s
	}
	return string(b)
}

func canonIPv4(s string) (string, string) {
	a, reason := parseIP(s, "IPv4")
	if reason != "" {
		return "", reason
	}
	if !a.Is4() {
		return "", "is an IPv6 address, use type ipv6"
	}
	var buf [16]byte
	return sameOrString(a.AppendTo(buf[:0]), s), ""
}

func canonIPv6(s string) (string, string) {
	a, reason := parseIP(s, "IPv6")
	if reason != "" {
		return "", reason
	}
	if a.Is4() && !strings.Contains(s, ":") {
		return "", "is an IPv4 address, use type ipv4"
	}
	var buf [48]byte
	return sameOrString(a.AppendTo(buf[:0]), s), ""
}

// parseIP parses an address, refusing zones (a zone names an interface on
// one machine and means nothing to anyone else) and unmapping IPv4-mapped
// IPv6 addresses, which reach the same host as the plain IPv4 address.
func parseIP(s, family string) (netip.Addr, string) {
	if strings.IndexByte(s, '/') >= 0 {
		return netip.Addr{}, "is a CIDR block, use type cidr"
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, "is not a valid " + family + " address"
	}
	if a.Zone() != "" {
		return netip.Addr{}, "has a zone (%" + a.Zone() + "); zones are not accepted"
	}
	return a.Unmap(), ""
}

func canonCIDR(s string) (string, string) {
	if strings.IndexByte(s, '/') < 0 {
		return "", "has no prefix length (such as /24); use type ipv4 or ipv6 for a single address"
	}
	if strings.IndexByte(s, '%') >= 0 {
		return "", "has a zone; zones are not accepted"
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", "is not a valid CIDR block (address/prefix length)"
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if p.Addr().Is4() && p.Bits() < minPrefixLen4 {
		return "", fmt.Sprintf("has prefix length /%d; /0 to /%d are too broad", p.Bits(), minPrefixLen4-1)
	}
	if p.Addr().Is6() && p.Bits() < minPrefixLen6 {
		return "", fmt.Sprintf("has prefix length /%d; /0 to /%d are too broad for IPv6 (a whole provider's allocation is /29)", p.Bits(), minPrefixLen6-1)
	}
	var buf [64]byte
	return sameOrString(p.Masked().AppendTo(buf[:0]), s), ""
}

// Shortest prefix lengths of a cidr indicator. An IPv4 /0 to /7 covers at
// least 1/256 of the address space: never a legitimate indicator, and a typo
// that would flag half the world. IPv6 is counted in allocations instead,
// as its space is mostly unused: /29 is what RIPE NCC allocates to a member
// by default (other registries' minimum is /32), so a /29 is a whole
// provider's space, the widest block a network blocklist has reason to name
// (a rogue or hijacked allocation). Anything wider spans several providers
// or a large ISP's customers: 2a00::/8 is a quarter of RIPE's region.
const (
	minPrefixLen4 = 8
	minPrefixLen6 = 29
)

// canonHex checks a hex digest of n digits and lower-cases it. With colons,
// the "AB:CD:…" form that certificate tools print is accepted as well.
func canonHex(s string, n int, colons bool) (string, string) {
	if colons && strings.IndexByte(s, ':') >= 0 {
		return canonColonHex(s, n)
	}
	// A table lookup instead of range tests: hex digits arrive in random
	// order, and the branches of a switch mispredict on every other byte.
	var seen byte
	for i := 0; i < len(s); i++ {
		k := hexClass[s[i]]
		if k == 0 {
			return "", notHex(s, i)
		}
		seen |= k
	}
	if len(s) != n {
		return "", fmt.Sprintf("must be %d hex characters, got %d", n, len(s))
	}
	if seen&hexUpper != 0 {
		return strings.ToLower(s), ""
	}
	return s, ""
}

// hexClass classifies bytes for canonHex: 0 for non-hex.
var hexClass = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = hexLower
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = hexLower
		t[c-'a'+'A'] = hexUpper
	}
	return t
}()

const (
	hexLower = 1 << iota
	hexUpper
)

func canonColonHex(s string, n int) (string, string) {
	const reason = "must have two hex digits between colons"
	var arr [128]byte // room for a SHA-512; longer input is refused anyway
	b := arr[:0]
	for i := 0; i < len(s); i += 3 {
		for j := i; j < i+2; j++ {
			if j == len(s) || s[j] == ':' {
				return "", reason
			}
			if hexClass[s[j]] == 0 {
				return "", notHex(s, j)
			}
			b = append(b, s[j]|0x20) // lower-cases A–F, keeps digits
		}
		if i+2 < len(s) && s[i+2] != ':' {
			return "", reason
		}
	}
	if s[len(s)-1] == ':' {
		return "", reason
	}
	if len(b) != n {
		return "", fmt.Sprintf("must be %d hex characters, got %d", n, len(b))
	}
	return string(b), ""
}

// notHex describes the first non-hex character at byte i; the position is
// counted in characters from 1, as a person reading the value would count.
func notHex(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return fmt.Sprintf("must be hexadecimal, found %q at position %d", string(r), utf8.RuneCountInString(s[:i])+1)
}

// canonJA4 checks the JA4 shape loosely — three non-empty parts of letters
// and digits joined by "_" — and keeps the value as given, because JA4 is
// defined as an exact string and its parts are not all hex.
func canonJA4(s string) (string, string) {
	parts, partLen := 1, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
			partLen++
		case c == '_':
			if partLen == 0 {
				return "", reasonJA4
			}
			parts, partLen = parts+1, 0
		default:
			return "", reasonJA4
		}
	}
	if parts != 3 || partLen == 0 {
		return "", reasonJA4
	}
	return s, ""
}

const reasonJA4 = `must look like "t13d1516h2_8daaf6152771_b186095e22b6": three parts of letters and digits joined by "_"`

// localPartRune reports whether a non-ASCII rune may stand in an email
// address's local part. RFC 6531 allows any, but an address is a single
// visible token: a rune that is not graphic (controls, C1 controls such as
// NEL and CSI, format characters such as the bidirectional overrides,
// private-use and unassigned code points, the line and paragraph
// separators) or is a space would let one value pass as two lines or two
// words to the blocklist loaders that read exports (Python's splitlines
// splits at U+0085, U+2028 and U+2029), or display as another address.
func localPartRune(r rune) bool {
	return unicode.IsGraphic(r) && !unicode.Is(unicode.Zs, r)
}

// canonEmail lower-cases the whole address. Local parts are case-sensitive
// in theory but not in any mail system that matters, and one form per
// address is what matching needs.
func canonEmail(s string) (string, string) {
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return "", "has no @"
	}
	if strings.IndexByte(s[at+1:], '@') >= 0 {
		return "", "has more than one @"
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return "", "has an empty local part"
	}
	if len(local) > 64 {
		return "", "has a local part longer than 64 bytes"
	}
	needLower := false
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(local[i:])
			if !localPartRune(r) {
				return "", fmt.Sprintf("has %q (%U) in its local part: control, format, separator and space characters are not accepted", string(r), r)
			}
			needLower = true
			i += n - 1
		case 'A' <= c && c <= 'Z':
			needLower = true
		case isAlnum(c) || c == '.' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return "", fmt.Sprintf("has %q in its local part", string(c))
		}
	}
	if domain == "" {
		return "", "has an empty domain"
	}
	if domain[0] == '[' {
		return "", "has an address literal as domain; only domain names are accepted"
	}
	d, reason := canonName(domain)
	if reason != "" {
		return "", "has a domain that " + reason
	}
	if reason := checkDomainShape(d); reason != "" {
		return "", "has a domain that " + reason
	}
	if reason := checkSpecialUse(d); reason != "" {
		return "", "has a domain that " + reason
	}
	if needLower {
		local = strings.ToLower(local)
		if len(local) > 64 {
			return "", "has a local part longer than 64 bytes"
		}
	}
	if len(local)+1+len(d) == len(s) && s[:len(local)] == local && s[len(local)+1:] == d {
		return s, ""
	}
	return local + "@" + d, ""
}
