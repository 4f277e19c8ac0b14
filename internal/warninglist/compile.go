package warninglist

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// compiled is a list made ready for matching. It is immutable and may be
// shared by several Sets.
type compiled struct {
	typ     string   // the Type it was compiled as
	types   typeMask // the indicator types the list applies to
	entries []string

	// string and hostname lists: the keys Set merges into its name map.
	keys []key
	// cidr lists: outermost blocks, sorted and disjoint.
	v4 []span4
	v6 []span6
	// substring lists.
	subs []substring
	// regex lists.
	res []pattern
}

// Modes of a key in the name map.
const (
	modeExact    uint8 = iota // the entry as written (or a URL entry in canonical form)
	modeFolded                // the lower-cased entry: matches case-insensitive types only
	modeHostname              // a hostname entry: matches the name and its sub-domains
)

type key struct {
	s     string
	entry int32
	mode  uint8
}

type substring struct {
	s, lower string
	entry    int32
}

type pattern struct {
	re    *regexp.Regexp
	entry int32
}

func compile(l *List) (*compiled, error) {
	c := &compiled{typ: l.Type, types: attributeTypes(l.MatchingAttributes), entries: l.Entries}
	bad := func(i int, e, reason string) error {
		return &ParseError{List: l.Name, Entry: i + 1, Value: clip(e), Reason: reason}
	}
	switch l.Type {
	case typeRegex:
		if len(l.Entries) > MaxRegexEntries {
			return nil, &ParseError{List: l.Name, Field: "list", Reason: fmt.Sprintf("has %d regular expressions; at most %d are allowed", len(l.Entries), MaxRegexEntries)}
		}
	case typeSubstring:
		if len(l.Entries) > MaxSubstringEntries {
			return nil, &ParseError{List: l.Name, Field: "list", Reason: fmt.Sprintf("has %d substrings; at most %d are allowed", len(l.Entries), MaxSubstringEntries)}
		}
	}
	for i, raw := range l.Entries {
		if len(raw) > MaxEntryLen {
			return nil, bad(i, raw, fmt.Sprintf("is %d bytes long; at most %d are allowed", len(raw), MaxEntryLen))
		}
		e := strings.TrimSpace(raw)
		if e == "" {
			return nil, bad(i, raw, "is empty")
		}
		n := int32(i)
		switch l.Type {
		case typeString:
			c.keys = append(c.keys, key{e, n, modeExact})
			if lo := strings.ToLower(e); lo != e {
				c.keys = append(c.keys, key{lo, n, modeFolded})
			}
			if strings.Contains(e, "://") {
				if u, err := indicator.Canonicalize(indicator.URL, e); err == nil && u != e {
					c.keys = append(c.keys, key{u, n, modeExact})
				}
			}
		case typeHostname:
			h, reason := hostKey(e)
			if reason != "" {
				return nil, bad(i, raw, reason)
			}
			c.keys = append(c.keys, key{h, n, modeHostname})
		case typeCIDR:
			p, ok := parseBlock(e)
			if !ok {
				return nil, bad(i, raw, "is not a CIDR block or IP address")
			}
			if p.Addr().Is4() {
				c.v4 = append(c.v4, span4From(p, n))
			} else {
				c.v6 = append(c.v6, span6From(p, n))
			}
		case typeSubstring:
			c.subs = append(c.subs, substring{e, strings.ToLower(e), n})
		case typeRegex:
			re, reason := compileRegex(e)
			if reason != "" {
				return nil, bad(i, raw, reason)
			}
			c.res = append(c.res, pattern{re, n})
		}
	}
	c.v4 = outermost4(c.v4)
	c.v6 = outermost6(c.v6)
	return c, nil
}

// hostKey normalises a hostname entry: lower case, no leading "." or "*.",
// no trailing ".", IDNA names in punycode. It returns a reason when the
// entry cannot be a host name.
func hostKey(e string) (string, string) {
	h := strings.TrimSuffix(e, ".")
	if s, ok := strings.CutPrefix(h, "*."); ok {
		h = s
	} else {
		h = strings.TrimPrefix(h, ".")
	}
	if h == "" {
		return "", "has no host name left once a leading \".\" or \"*.\" is dropped"
	}
	ascii := true
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= utf8.RuneSelf:
			ascii = false
		case c <= ' ' || c == 0x7f:
			return "", "contains a space or control character"
		case c == '*':
			return "", "has a wildcard other than a leading \"*.\""
		case strings.IndexByte("/\\@?#", c) >= 0:
			return "", fmt.Sprintf("contains %q, which a host name cannot", string(c))
		}
	}
	if !ascii {
		// Canonical values are punycode; an entry in Unicode must be too.
		// Canonicalize refuses public suffixes and single labels, which a
		// list may hold; those stay as written.
		if a, err := indicator.Canonicalize(indicator.Hostname, h); err == nil {
			return a, ""
		}
	}
	return strings.ToLower(h), ""
}

// parseBlock reads a CIDR block or a bare address (a /32 or /128), with the
// host bits cleared and IPv4-mapped IPv6 blocks unmapped, as canonical values
// are.
func parseBlock(e string) (netip.Prefix, bool) {
	var p netip.Prefix
	if strings.IndexByte(e, '/') >= 0 {
		var err error
		if p, err = netip.ParsePrefix(e); err != nil {
			return p, false
		}
	} else {
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			return p, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), p.IsValid()
}

// compileRegex compiles an entry, accepting MISP's PHP (PCRE) form with
// delimiters and flags ("/^foo$/i") as well as a bare expression.
func compileRegex(e string) (*regexp.Regexp, string) {
	if len(e) > MaxRegexLen {
		return nil, fmt.Sprintf("is %d bytes long; a regular expression may have at most %d", len(e), MaxRegexLen)
	}
	expr := e
	if body, flags, ok := cutDelimiters(e); ok {
		var goFlags strings.Builder
		for _, f := range flags {
			switch f {
			case 'i', 'm', 's', 'U':
				if !strings.ContainsRune(goFlags.String(), f) {
					goFlags.WriteRune(f)
				}
			case 'u', 'D':
				// UTF-8 mode and dollar-end-only: what RE2 does anyway.
			default:
				return nil, fmt.Sprintf("has the PCRE flag %q, which Go's regexp does not support", string(f))
			}
		}
		expr = body
		if goFlags.Len() > 0 {
			expr = "(?" + goFlags.String() + ")" + body
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, "is not a Go (RE2) regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
	}
	return re, ""
}

// cutDelimiters splits "/body/flags" (PHP's preg form; also "#", "~", "!",
// "@", "%", "|" as delimiters) into body and flags.
func cutDelimiters(e string) (body, flags string, ok bool) {
	if len(e) < 2 || strings.IndexByte("/#~!@%|", e[0]) < 0 {
		return "", "", false
	}
	end := strings.LastIndexByte(e, e[0])
	if end <= 0 {
		return "", "", false
	}
	for _, f := range e[end+1:] {
		if !('a' <= f && f <= 'z' || 'A' <= f && f <= 'Z') {
			return "", "", false
		}
	}
	return e[1:end], e[end+1:], true
}

// span4 and span6 are the address ranges of CIDR blocks. CIDR blocks either
// nest or are disjoint, so once the blocks nested in others are dropped the
// rest are disjoint and can be binary-searched.
type span4 struct {
	lo, hi uint32
	entry  int32
}

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

type span6 struct {
	lo, hi u128
	entry  int32
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func v6(a netip.Addr) u128 {
	b := a.As16()
	var x u128
	for i := 0; i < 8; i++ {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	return x
}

func span4From(p netip.Prefix, entry int32) span4 {
	lo := v4(p.Addr())
	host := uint32(0)
	if b := p.Bits(); b < 32 {
		host = 1<<(32-b) - 1
	}
	return span4{lo, lo | host, entry}
}

func span6From(p netip.Prefix, entry int32) span6 {
	lo := v6(p.Addr())
	hi := lo
	switch b := p.Bits(); {
	case b == 0:
		hi = u128{^uint64(0), ^uint64(0)}
	case b < 64:
		hi.hi |= 1<<(64-b) - 1
		hi.lo = ^uint64(0)
	case b < 128:
		hi.lo |= 1<<(128-b) - 1
	}
	return span6{lo, hi, entry}
}

// outermost4 sorts the spans and drops those inside another; the first of
// equal blocks is kept, so a hit names the earliest entry of its block.
func outermost4(s []span4) []span4 {
	slices.SortStableFunc(s, func(a, b span4) int {
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		return cmp.Compare(b.hi, a.hi)
	})
	out := s[:0]
	for _, x := range s {
		if len(out) > 0 && x.lo <= out[len(out)-1].hi {
			continue
		}
		out = append(out, x)
	}
	return slices.Clip(out)
}

func outermost6(s []span6) []span6 {
	slices.SortStableFunc(s, func(a, b span6) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		case b.hi.less(a.hi):
			return -1
		case a.hi.less(b.hi):
			return 1
		}
		return 0
	})
	out := s[:0]
	for _, x := range s {
		if len(out) > 0 && !out[len(out)-1].hi.less(x.lo) {
			continue
		}
		out = append(out, x)
	}
	return slices.Clip(out)
}

// find4 returns the entry of the block that overlaps [lo, hi], or -1.
func find4(s []span4, lo, hi uint32) int32 {
	// The last span starting at or before hi is the only candidate.
	i, j := 0, len(s)
	for i < j {
		h := int(uint(i+j) >> 1)
		if s[h].lo <= hi {
			i = h + 1
		} else {
			j = h
		}
	}
	if i == 0 || s[i-1].hi < lo {
		return -1
	}
	return s[i-1].entry
}

func find6(s []span6, lo, hi u128) int32 {
	i, j := 0, len(s)
	for i < j {
		h := int(uint(i+j) >> 1)
		if !hi.less(s[h].lo) {
			i = h + 1
		} else {
			j = h
		}
	}
	if i == 0 || s[i-1].hi.less(lo) {
		return -1
	}
	return s[i-1].entry
}

// typeMask is a set of indicator types.
type typeMask uint32

const allTypes = ^typeMask(0)

func bit(t indicator.Type) typeMask {
	for i, k := range indicator.Types {
		if k == t {
			return 1 << i
		}
	}
	return 0
}

var (
	ipTypes   = bit(indicator.IPv4) | bit(indicator.IPv6) | bit(indicator.CIDR)
	nameTypes = bit(indicator.Domain) | bit(indicator.Hostname)
)

// attributeTypes maps MISP's matching_attributes to indicator types. No
// attributes means every type. Attribute types hdn has no counterpart for
// (sha224, ssdeep, AS, …) match nothing.
func attributeTypes(attrs []string) typeMask {
	if len(attrs) == 0 {
		return allTypes
	}
	var m typeMask
	for _, a := range attrs {
		m |= attributeType(strings.ToLower(strings.TrimSpace(a)))
	}
	return m
}

func attributeType(a string) typeMask {
	switch a {
	case "ip-src", "ip-dst", "ip-src|port", "ip-dst|port":
		return ipTypes
	case "domain|ip":
		return ipTypes | nameTypes
	case "domain", "hostname", "hostname|port":
		return nameTypes
	case "url", "uri", "link":
		return bit(indicator.URL)
	case "email", "email-src", "email-dst", "target-email", "email-reply-to", "whois-registrant-email", "dns-soa-email":
		return bit(indicator.Email)
	case "md5", "filename|md5", "malware-sample":
		return bit(indicator.MD5)
	case "sha1", "filename|sha1":
		return bit(indicator.SHA1)
	case "sha256", "filename|sha256":
		return bit(indicator.SHA256)
	case "sha512", "filename|sha512":
		return bit(indicator.SHA512)
	case "x509-fingerprint-sha1":
		return bit(indicator.X509SHA1)
	case "x509-fingerprint-sha256":
		return bit(indicator.X509SHA256)
	case "ja3-fingerprint-md5":
		return bit(indicator.JA3)
	case "ja3s-fingerprint-md5":
		return bit(indicator.JA3S)
	}
	return 0
}

// consulted is the set of indicator types for which Check may consult a
// list of type typ applying to the types in m: besides the types
// themselves, a URL whose host is a name or an address, and an email
// address whose domain is a name.
func consulted(typ string, m typeMask) typeMask {
	switch typ {
	case typeCIDR:
		out := m & ipTypes
		if m&(maskIPv4|maskIPv6|maskURL) != 0 {
			out |= maskURL
		}
		return out
	case typeHostname:
		out := m & nameTypes
		if m&(nameTypes|maskURL) != 0 {
			out |= maskURL
		}
		if m&(nameTypes|maskEmail) != 0 {
			out |= maskEmail
		}
		return out
	}
	if m&(nameTypes|maskIPv4|maskIPv6) != 0 {
		m |= maskURL
	}
	return m
}

// typesOf lists the indicator types in m.
func typesOf(m typeMask) []indicator.Type {
	out := []indicator.Type{}
	for i, t := range indicator.Types {
		if m&(1<<i) != 0 {
			out = append(out, t)
		}
	}
	return out
}
