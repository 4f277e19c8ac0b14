package indicator

import (
	"fmt"
	"net"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"

	"github.com/hdnetwork/hdn/internal/stixpattern"
)

// The rules a stix-pattern indicator is held to beyond its syntax. A
// sensor evaluates every pattern on every event it observes, so a pattern
// that anything satisfies ("[domain-name:value LIKE '%']") alerts on every
// event of every member, and one that wraps a value the plain type refuses
// ("[domain-name:value = 'co.uk' AND domain-name:value = 'co.uk']") slips
// past the rules the plain indicator is held to. checkPatternRules refuses
// both:
//
//  1. Values. A comparison on an object path that has a plain type —
//     domain-name:value, ipv4-addr:value and ipv6-addr:value, url:value,
//     email-addr:value, the file and x509-certificate hashes of the plain
//     hash types, and network-traffic:src_ref.value and dst_ref.value (an
//     address, CIDR or domain name) — must compare with a value that type
//     accepts (Canonicalize); the operand of ISSUBSET and ISSUPERSET, on any
//     path, must be an address or CIDR block the ipv4, ipv6 and cidr types
//     accept (so no block broader than /8). LIKE and MATCHES operands are
//     not values; rule 2 judges them.
//  2. Breadth. Every bracketed observation expression must, whichever of
//     its alternatives (OR) an observation takes, hold through at least one
//     anchor: a comparison that pins the object down. A negation ("!=",
//     NOT) stands alone there only by matching nearly everything, so it
//     anchors nothing; it may be ANDed with an anchor. An anchor is a
//     comparison, not negated, that is:
//     - '=' or IN with string or binary constants, on a property that is not
//     an enumeration (a path ending in "type", network-traffic:protocols:
//     "[network-traffic:dst_ref.type = 'ipv4-addr']" is all IPv4 traffic);
//     numbers, booleans and timestamps (a port, a size) anchor nothing;
//     - ISSUBSET or ISSUPERSET (rule 1 bounds the block);
//     - LIKE without '%' or '_' (an equality); else, on a domain name, a
//     LIKE that ends in a literal domain of whole labels the domain type
//     accepts ("%.evil.example", not "%.co.uk", "%evil.example" or
//     "evil.%"); on a URL, one whose host is such a name or an accepted
//     address, ended by "/", "?" or "#" ("http://%.evil.example/%"); on an
//     e-mail address, one whose domain after the last "@" is such a name;
//     on an address, none (use ISSUBSET); on any other path, one with a
//     literal run of at least minPatternLiteral characters;
//     - MATCHES whose regular expression cannot match without one of a set
//     of literal strings, each at least minPatternLiteral characters long
//     and, on a name-bearing path (domain, URL, e-mail address, a
//     network-traffic reference), not an ICANN public suffix once its dots
//     are trimmed. Such an expression cannot match the empty string.
//     Anything else anchors nothing: EXISTS, <, <=, >, >=.

// minPatternLiteral is the fewest characters of literal text a LIKE (on a
// path without a plain type) or MATCHES operand must require for the
// comparison to anchor a pattern: short fragments (".exe", ".html", "tcp")
// occur in a large share of all values, eight characters ("evil.com") by
// chance in few. A short name is compared with '=' or a LIKE suffix.
const minPatternLiteral = 8

// checkPatternRules applies rules 1 and 2 above to p, the parsed pattern
// raw; the error is an *Error naming the comparison and why.
func checkPatternRules(raw string, p *stixpattern.Pattern) error {
	cmps := p.Comparisons()
	anchor := make([]bool, len(cmps))
	why := make([]string, len(cmps))
	for i, c := range cmps {
		if err := checkComparisonValues(c); err != nil {
			return &Error{Type: STIXPattern, Value: raw, Reason: fmt.Sprintf("compares with a value its type refuses: in %s, %v", c.Text, err)}
		}
		why[i] = looseness(c)
		anchor[i] = why[i] == ""
	}
	obs, loose, found := p.Unanchored(anchor)
	if !found {
		return nil
	}
	parts := make([]string, 0, len(loose))
	for _, i := range loose {
		parts = append(parts, cmps[i].Text+" ("+why[i]+")")
	}
	return &Error{Type: STIXPattern, Value: raw, Reason: fmt.Sprintf(
		"matches too broadly: an observation satisfies %s through %s alone, which pins down no value; "+
			"each alternative of an observation expression needs a comparison that does: = or IN with a string, "+
			"a LIKE with a literal domain, a MATCHES with %d characters of literal text, or ISSUBSET",
		clipPattern(obs), strings.Join(parts, " AND "), minPatternLiteral)}
}

// clipPattern shortens an observation expression for an error message.
func clipPattern(s string) string { return truncate(s, maxQuoted) }

// pathKind is what the values of an object path are.
type pathKind uint8

const (
	pathOther   pathKind = iota
	pathAddress          // ipv4-addr, ipv6-addr: an address or CIDR
	pathDomain           // domain-name: a name, or an address
	pathURL
	pathEmail
	pathHash // of a plain hash type (comparisonType says which)
	pathRef  // network-traffic:src_ref.value, dst_ref.value: address, CIDR, name or MAC
)

// comparisonPath classifies the object path of c, with the plain hash type
// for pathHash.
func comparisonPath(c stixpattern.Comparison) (pathKind, Type) {
	if c.ObjectType == "network-traffic" && len(c.Props) == 2 && c.Props[1] == "value" &&
		(c.Props[0] == "src_ref" || c.Props[0] == "dst_ref") {
		return pathRef, ""
	}
	t, ok := stixPathType(c.ObjectType, c.Props)
	switch {
	case !ok:
		return pathOther, ""
	case t == IPv4:
		return pathAddress, ""
	case t == Domain:
		return pathDomain, ""
	case t == URL:
		return pathURL, ""
	case t == Email:
		return pathEmail, ""
	}
	return pathHash, t
}

// nameBearing reports whether values of the path hold a domain name.
func (k pathKind) nameBearing() bool {
	return k == pathDomain || k == pathURL || k == pathEmail || k == pathRef
}

// constantType is the plain type a string constant of a path of kind k is
// checked as, and false when it has none.
func constantType(k pathKind, hash Type, v string) (Type, bool) {
	switch k {
	case pathAddress:
		return addressType(v), true
	case pathDomain:
		if isAddress(v) {
			return addressType(v), true
		}
		return Domain, true
	case pathRef:
		if isAddress(v) || strings.Contains(v, "/") {
			return addressType(v), true
		}
		if _, err := net.ParseMAC(strings.TrimSpace(v)); err == nil {
			return "", false // a mac-addr reference; no plain type
		}
		return Domain, true
	case pathURL:
		return URL, true
	case pathEmail:
		return Email, true
	case pathHash:
		return hash, true
	}
	return "", false
}

// checkComparisonValues applies rule 1 to one comparison.
func checkComparisonValues(c stixpattern.Comparison) error {
	switch c.Op {
	case "ISSUBSET", "ISSUPERSET":
		for _, v := range c.Strings {
			if _, err := Canonicalize(addressType(v), v); err != nil {
				return err
			}
		}
		return nil
	case "MATCHES", "EXISTS":
		return nil
	case "LIKE":
		if len(c.Strings) == 1 && hasLikeWildcard(c.Strings[0]) {
			return nil
		}
	}
	k, hash := comparisonPath(c)
	for _, v := range c.Strings {
		if t, ok := constantType(k, hash, v); ok {
			if _, err := Canonicalize(t, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// looseness says why a comparison anchors nothing (rule 2), completing a
// sentence whose subject is the comparison; "" when it is an anchor.
func looseness(c stixpattern.Comparison) string {
	if c.Negated() {
		return "is a negation, which holds for every other value"
	}
	k, _ := comparisonPath(c)
	switch c.Op {
	case "=", "IN":
		if c.Constant != "string" && c.Constant != "binary" && c.Constant != "" {
			return "compares with a " + c.Constant + ", which too many objects share"
		}
		last := c.Props[len(c.Props)-1]
		if last == "type" || c.ObjectType == "network-traffic" && c.Props[0] == "protocols" {
			return "compares an enumeration, which too many objects share"
		}
		return ""
	case "ISSUBSET", "ISSUPERSET":
		return ""
	case "LIKE":
		s := c.Strings[0]
		if !hasLikeWildcard(s) {
			return ""
		}
		switch k {
		case pathDomain, pathRef:
			if _, ok := likeAnchor(k, s); !ok {
				return "does not end in a literal domain name of whole labels that is not a public suffix (as in '%.evil.example')"
			}
			return ""
		case pathURL:
			if _, ok := likeAnchor(k, s); !ok {
				return "does not name a host that is not a public suffix, ended by '/' (as in 'http://evil.example/%' or 'https://%.evil.example/%')"
			}
			return ""
		case pathEmail:
			if _, ok := likeAnchor(k, s); !ok {
				return "does not end in '@' and a literal domain name that is not a public suffix (as in '%@evil.example')"
			}
			return ""
		case pathAddress:
			return "is a LIKE on an address; compare a range with ISSUBSET"
		}
		for _, run := range strings.FieldsFunc(s, func(r rune) bool { return r == '%' || r == '_' }) {
			if utf8.RuneCountInString(run) >= minPatternLiteral {
				return ""
			}
		}
		return fmt.Sprintf("has no literal run of %d characters", minPatternLiteral)
	case "MATCHES":
		return matchesLoose(c.Strings[0], k.nameBearing())
	case "EXISTS":
		return "holds for every object with the property"
	}
	return "compares by order, which holds for a range of values"
}

func hasLikeWildcard(s string) bool { return strings.ContainsAny(s, "%_") }

// likeName returns the literal domain of whole labels that a LIKE on a
// domain name ends in, canonical, and false when it ends in none the domain
// type accepts (a LIKE without wildcards is the domain itself).
func likeName(s string) (string, bool) {
	s = Refang(s)
	tail := s
	if w := strings.LastIndexAny(s, "%_"); w >= 0 {
		tail = s[w+1:]
		if t, ok := strings.CutPrefix(tail, "."); ok {
			tail = t
		} else if _, after, ok := strings.Cut(tail, "."); ok {
			tail = after // the wildcard ends inside a label: only the labels after it are whole
		} else {
			tail = ""
		}
	}
	if tail == "" {
		return "", false
	}
	d, err := Canonicalize(Domain, tail)
	return d, err == nil
}

// likeURLHost returns the host a LIKE on a URL names — a domain name as
// likeName wants, or an address the address types accept — ended by "/",
// "?" or "#", and false when it names none.
func likeURLHost(s string) (Typed, bool) {
	_, rest, ok := strings.Cut(Refang(s), "://")
	if !ok {
		return Typed{}, false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		return Typed{}, false
	}
	host := rest[:end]
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	if strings.HasPrefix(host, "[") { // [IPv6]:port
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[1:i]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if isAddress(host) {
		t, v, err := CanonicalizeAs(addressType(host), host)
		return Typed{t, v}, err == nil
	}
	d, ok := likeName(host)
	return Typed{Domain, d}, ok
}

// likeAnchor returns the value a LIKE comparison on a path of kind k pins
// down, and false when it pins down none: the domain a name ends in, the
// host of a URL, the domain of an e-mail address. On other paths it has
// none (looseness judges those by their literal text).
func likeAnchor(k pathKind, s string) (Typed, bool) {
	switch k {
	case pathDomain, pathRef:
		d, ok := likeName(s)
		return Typed{Domain, d}, ok
	case pathURL:
		return likeURLHost(s)
	case pathEmail:
		s = Refang(s)
		if at := strings.LastIndexByte(s, '@'); at >= 0 {
			d, ok := likeName(s[at+1:])
			return Typed{Domain, d}, ok
		}
	}
	return Typed{}, false
}

// matchesLoose judges a MATCHES: every match of its regular expression must
// contain one of a set of literal strings, each at least minPatternLiteral
// characters long and, on a name-bearing path, not an ICANN public suffix
// with dots around it (".co.uk.").
func matchesLoose(expr string, names bool) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil { // cannot happen: the pattern parsed
		return "has a regular expression that does not parse"
	}
	ok := func(lit string) bool {
		if utf8.RuneCountInString(lit) < minPatternLiteral {
			return false
		}
		if names {
			d := strings.Trim(strings.ToLower(lit), ".")
			if ps, icann := publicsuffix.PublicSuffix(d); icann && ps == d {
				return false // the same public-suffix test as canonDomain
			}
		}
		return true
	}
	if !regexAnchored(re, ok) {
		return fmt.Sprintf("can match without a literal of %d characters (that is not a public suffix)", minPatternLiteral)
	}
	return ""
}

// maxExactSet bounds the literal strings exactSet enumerates.
const maxExactSet = 64

// regexAnchored reports whether every string re matches contains a string
// for which ok holds. It is conservative: false when it cannot tell.
func regexAnchored(re *syntax.Regexp, ok func(string) bool) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return ok(string(re.Rune))
	case syntax.OpCapture, syntax.OpPlus:
		return regexAnchored(re.Sub[0], ok)
	case syntax.OpRepeat:
		return re.Min >= 1 && regexAnchored(re.Sub[0], ok)
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if !regexAnchored(sub, ok) {
				return false
			}
		}
		return true
	case syntax.OpConcat:
		// A run of parts that each match one of few strings ("evil\.",
		// "(com|net)") matches one of their concatenations.
		var run []string
		allOK := func() bool {
			if len(run) == 0 {
				return false
			}
			for _, s := range run {
				if !ok(s) {
					return false
				}
			}
			return true
		}
		for _, sub := range re.Sub {
			if regexAnchored(sub, ok) {
				return true
			}
			set, finite := exactSet(sub)
			if finite && len(run) == 0 {
				run = set
				continue
			}
			if finite {
				if next := cross(run, set); next != nil {
					run = next
					continue
				}
			}
			if allOK() {
				return true
			}
			run = nil
			if finite {
				run = set
			}
		}
		return allOK()
	}
	return false
}

// exactSet returns every string re matches when they are few (lower-cased
// where re ignores case), and false otherwise. Zero-width assertions match
// "".
func exactSet(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}, true
	case syntax.OpLiteral:
		s := string(re.Rune)
		if re.Flags&syntax.FoldCase != 0 {
			s = strings.ToLower(s)
		}
		return []string{s}, true
	case syntax.OpCapture:
		return exactSet(re.Sub[0])
	case syntax.OpQuest:
		set, ok := exactSet(re.Sub[0])
		if !ok || len(set) >= maxExactSet {
			return nil, false
		}
		return append(set, ""), true
	case syntax.OpCharClass:
		var set []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(set) == maxExactSet {
					return nil, false
				}
				set = append(set, strings.ToLower(string(r)))
			}
		}
		return set, len(set) > 0
	case syntax.OpAlternate:
		var set []string
		for _, sub := range re.Sub {
			s, ok := exactSet(sub)
			if !ok || len(set)+len(s) > maxExactSet {
				return nil, false
			}
			set = append(set, s...)
		}
		return set, true
	case syntax.OpConcat:
		set := []string{""}
		for _, sub := range re.Sub {
			s, ok := exactSet(sub)
			if !ok {
				return nil, false
			}
			if set = cross(set, s); set == nil {
				return nil, false
			}
		}
		return set, true
	}
	return nil, false
}

// cross returns every a+b, or nil when there would be more than
// maxExactSet.
func cross(as, bs []string) []string {
	if len(as)*len(bs) > maxExactSet {
		return nil
	}
	out := make([]string, 0, len(as)*len(bs))
	for _, a := range as {
		for _, b := range bs {
			out = append(out, a+b)
		}
	}
	return out
}

// PatternValues returns the values a pattern pins down, as plain indicators
// in canonical form and without repeats: the string constants of its '='
// and IN comparisons (not negated) on paths of a plain type, the operands
// of ISSUBSET and ISSUPERSET, and the domain or host its LIKE comparisons
// anchor on ("%.evil.example" gives the domain evil.example). The hub
// screens them against the warninglists as it screens plain values, so
// that a benign value does not pass for being wrapped in a pattern
// ("[domain-name:value = 'microsoft.com' AND …]"). Negated comparisons are
// left out (excluding a benign value is harmless), and so are MATCHES
// operands, which name no one value. err is set when pattern is not a
// valid pattern.
func PatternValues(pattern string) ([]Typed, error) {
	_, p, err := parsePattern(pattern)
	if err != nil {
		return nil, err
	}
	var out []Typed
	seen := map[Typed]bool{}
	add := func(t Type, v string) {
		t, c, err := CanonicalizeAs(t, v)
		if err != nil {
			return
		}
		t, c = oneAddress(t, c)
		if k := (Typed{t, c}); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, c := range p.Comparisons() {
		if c.Negated() {
			continue
		}
		k, hash := comparisonPath(c)
		switch c.Op {
		case "=", "IN":
			for _, v := range c.Strings {
				if t, ok := constantType(k, hash, v); ok {
					add(t, v)
				}
			}
		case "ISSUBSET", "ISSUPERSET":
			for _, v := range c.Strings {
				add(addressType(v), v)
			}
		case "LIKE":
			s := c.Strings[0]
			if !hasLikeWildcard(s) {
				if t, ok := constantType(k, hash, s); ok {
					add(t, s)
				}
			} else if a, ok := likeAnchor(k, s); ok {
				add(a.Type, a.Value)
			}
		}
	}
	return out, nil
}
