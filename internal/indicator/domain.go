package indicator

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// idnaProfile is the UTS #46 lookup profile (case and width mapping,
// non-transitional so "ß" stays distinct from "ss", Bidi rule), loosened
// the way browsers loosen it: underscores are allowed because real malware
// and service names use them, and hyphen placement is not checked because
// names such as "r3---sn-abc.googlevideo.com" are in everyday use. Lengths
// and the allowed ASCII characters are checked by checkLabels instead.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
)

// canonDomain is the canonical form of types domain and hostname.
//
// Public suffixes: a value is refused when it is exactly its own public
// suffix and that suffix is ICANN-managed ("com", "co.uk", "kawasaki.jp"
// wildcard children). Suffixes from the private section of the list
// ("blogspot.com", "duckdns.org", "github.io") are accepted, because they are
// ordinary domains owned by one company and are themselves reported as
// indicators. Single labels are refused whatever the list says, and so are
// names under the special-use top-level domains of specialUse ("arpa",
// "local", "localhost", …).
func canonDomain(s string) (string, string) {
	switch {
	case strings.Contains(s, "://"):
		return "", "is a URL, use type url"
	case strings.IndexByte(s, '@') >= 0:
		return "", "is an email address, use type email"
	case strings.IndexByte(s, ':') >= 0:
		if _, err := netip.ParseAddr(s); err == nil {
			return "", "is an IP address, use type ipv6"
		}
	case strings.IndexByte(s, '/') >= 0:
		if _, err := netip.ParsePrefix(s); err == nil {
			return "", "is a CIDR block, use type cidr"
		}
	}
	d, reason := canonName(s)
	if reason != "" {
		return "", reason
	}
	if reason := checkDomainShape(d); reason != "" {
		if _, err := netip.ParseAddr(d); err == nil {
			return "", "is an IP address, use type ipv4"
		}
		return "", reason
	}
	if reason := checkSpecialUse(d); reason != "" {
		return "", reason
	}
	if ps, icann := publicsuffix.PublicSuffix(d); icann && ps == d {
		return "", "is a public suffix"
	}
	if d == s {
		return s, ""
	}
	return d, ""
}

// checkDomainShape applies the rules for a registrable-looking name on top
// of canonName: two labels at least, and a last label that is not a number,
// because such a name is an IP address or garbage (WHATWG treats it as an
// IPv4 address). The last label must be a top-level domain's shape: letters,
// or an internationalised one ("xn--…"). No top-level domain has digits,
// hyphens or underscores otherwise, and a name ending in "rpz-ip",
// "rpz-client-ip" or "rpz-nsdname" would be read by a DNS firewall as a
// rule on addresses or clients, not a name (a response policy zone export
// of "8.0.0.0.10.rpz-ip" blocks every answer in 10.0.0.0/8).
func checkDomainShape(d string) string {
	dot := strings.LastIndexByte(d, '.')
	if dot < 0 {
		return "must have at least two labels"
	}
	tld := d[dot+1:]
	if allDigits(tld) {
		return "ends in a numeric label"
	}
	if !strings.HasPrefix(tld, "xn--") {
		for i := 0; i < len(tld); i++ {
			if c := tld[i]; c < 'a' || c > 'z' {
				return fmt.Sprintf("ends in %q, which is not a top-level domain (letters only)", tld)
			}
		}
	}
	return ""
}

// specialUse gives, for each top-level domain whose names are never an
// indicator to share, the reason a name under it is refused. These are the
// special-use names of RFC 6761, 6762 and 8375 that belong to one network or
// machine, and ICANN's private-use ".internal": an RPZ or blocklist entry
// for one of them would block hospitals' own names ("*.10.in-addr.arpa" in a
// response policy zone breaks every reverse lookup of 10.0.0.0/8), and a
// detection rule on them alerts on every local lookup. "test" and "invalid"
// are refused too: nothing under them exists on the internet, and networks
// use ".test" for their own test systems.
//
// Left out on purpose: "onion" (RFC 7686) — Tor services are real threat
// intelligence (ransomware leak sites and negotiation portals, C2), shared as
// context and matched in proxy logs; an RPZ entry for one is harmless, as
// resolvers answer NXDOMAIN for .onion anyway. "alt" (RFC 9476) likewise
// names other name spaces. "example" (RFC 6761) and the example.* domains
// name documentation, like the documentation address ranges, and are left
// to the warninglists; hdn's own documentation and tests use them.
var specialUse = map[string]string{
	"arpa":      "the zone of reverse DNS (in-addr.arpa, ip6.arpa) and other infrastructure names (home.arpa, resolver.arpa): never an indicator, and blocking it breaks lookups on the hospitals' own networks",
	"local":     "the multicast DNS domain of each local network (RFC 6762): it names a host on the reader's own network",
	"localhost": "which names the machine itself (RFC 6761)",
	"internal":  "which is reserved for private networks' own names (ICANN, 2024)",
	"test":      "which is reserved for testing (RFC 6761): no such name exists on the internet, and networks use it for their own test systems",
	"invalid":   "which is reserved as a name that never exists (RFC 6761)",
}

// checkSpecialUse refuses a lower-case name that is, or is under, one of the
// special-use top-level domains of specialUse; "arpa" covers "home.arpa"
// (RFC 8375) and every reverse-DNS zone. The name may be a single label,
// as a URL host may be ("http://localhost/").
func checkSpecialUse(d string) string {
	tld := d[strings.LastIndexByte(d, '.')+1:]
	why, ok := specialUse[tld]
	switch {
	case !ok:
		return ""
	case tld == d:
		return fmt.Sprintf("is %q, %s", tld, why)
	}
	return fmt.Sprintf("is under %q, %s", tld, why)
}

// canonName canonicalises a DNS name: asciiName, then checkLabels.
func canonName(s string) (string, string) {
	s, reason := asciiName(s)
	if reason != "" {
		return "", reason
	}
	if reason := checkLabels(s); reason != "" {
		return "", reason
	}
	return s, ""
}

// asciiName drops one trailing dot, converts IDNA to punycode and lower-cases
// a name, without checking what characters remain. Names that are plain
// ASCII without "xn--" labels skip IDNA, and already-canonical names are
// returned without allocating.
func asciiName(s string) (string, string) {
	s = strings.TrimSuffix(s, ".")
	ascii, upper := true, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !ascii || hasPunycodeLabel(s) {
		a, err := idnaProfile.ToASCII(s)
		if err != nil {
			return "", "is not a valid internationalised domain name"
		}
		s = strings.TrimSuffix(a, ".")
		upper = false
		for i := 0; i < len(s); i++ {
			if c := s[i]; 'A' <= c && c <= 'Z' {
				upper = true
			}
		}
	}
	if upper {
		s = strings.ToLower(s)
	}
	return s, ""
}

// hasPunycodeLabel reports whether a label starts with "xn--" in any case;
// such labels must be decoded and validated by IDNA.
func hasPunycodeLabel(s string) bool {
	for {
		if len(s) >= 4 && strings.EqualFold(s[:4], "xn--") {
			return true
		}
		dot := strings.IndexByte(s, '.')
		if dot < 0 {
			return false
		}
		s = s[dot+1:]
	}
}

// checkLabels checks a lower-case name: labels of 1 to 63 characters from
// a–z, 0–9, "-" and "_", and 253 bytes in all (the DNS limits).
func checkLabels(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > 253 {
		return fmt.Sprintf("is %d bytes long; a domain name has at most 253", len(s))
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			switch n := i - start; {
			case n == 0:
				return "has an empty label"
			case n > 63:
				return fmt.Sprintf("has a label of %d characters; at most 63 are allowed", n)
			}
			start = i + 1
			continue
		}
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return fmt.Sprintf("contains %q, which is not allowed in a domain name", string(r))
		}
	}
	return ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
