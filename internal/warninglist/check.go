package warninglist

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// Hit is one list a value is on.
type Hit struct {
	// List is the list's name.
	List string `json:"list"`
	// Kind is what the hit does: usually the list's kind, but see the
	// package documentation for the URL, email and delegation rules.
	Kind Kind `json:"kind"`
	// Entry is the list entry that matched, as written in the list.
	Entry string `json:"entry"`
}

var (
	maskIPv4  = bit(indicator.IPv4)
	maskIPv6  = bit(indicator.IPv6)
	maskCIDR  = bit(indicator.CIDR)
	maskURL   = bit(indicator.URL)
	maskEmail = bit(indicator.Email)
	maskJA4   = bit(indicator.JA4)
)

// Where a probed value came from, for the URL and email rules.
const (
	fromValue uint8 = iota // the indicator's value itself
	fromHost               // a URL's host name
	fromEmail              // an email address's domain
)

// rawHit is a hit before the rules and de-duplication.
type rawHit struct {
	list, entry int32
	// offset is where the matched suffix starts in a name that was walked
	// (0: the whole name); -1 for every other hit.
	offset int32
	from   uint8
	kind   Kind
	// under: the entry lies strictly under the value, a domain that
	// stands for every name under it (Set.under).
	under bool
}

// collector gathers hits without allocating for the common case of a few.
type collector struct {
	n     int
	buf   [8]rawHit
	more  []rawHit
	pathy bool // the URL has a path other than "/", or a query
	// walked is the name whose dot-suffixes were looked up (Set.name),
	// which offsets point into.
	walked string
}

func (c *collector) add(h rawHit) {
	if c.n < len(c.buf) {
		c.buf[c.n] = h
		c.n++
		return
	}
	c.more = append(c.more, h)
}

// Check returns the hits of a canonical value of type t on the set's lists,
// refuse hits first, then in the order of the set; nil when nothing matches.
// Each list is named at most once (with Refuse if any of its hits refuses).
// Values that are not canonical are matched as well as they can be; Check
// never fails. A STIX pattern is not a value of any list's type and is
// never screened (its observables are, when the pattern is read as plain
// indicators).
func (s *Set) Check(t indicator.Type, value string) []Hit {
	if s == nil || value == "" || t == indicator.STIXPattern {
		return nil
	}
	var c collector
	switch t {
	case indicator.IPv4, indicator.IPv6:
		m := maskIPv4
		if t == indicator.IPv6 {
			m = maskIPv6
		}
		v := lowerASCII(value)
		s.exact(&c, v, m, true)
		if a, err := netip.ParseAddr(v); err == nil {
			s.addr(&c, a.Unmap(), m)
		}
		s.patterns(&c, v, m, true, fromValue)
	case indicator.CIDR:
		v := lowerASCII(value)
		s.exact(&c, v, maskCIDR, true)
		if p, err := netip.ParsePrefix(v); err == nil {
			s.block(&c, p.Masked(), maskCIDR)
		}
		s.patterns(&c, v, maskCIDR, true, fromValue)
	case indicator.Domain, indicator.Hostname:
		v := lowerASCII(value)
		s.name(&c, v, nameTypes, fromValue)
		if t == indicator.Domain {
			s.under(&c, v, nameTypes)
		}
		s.patterns(&c, v, nameTypes, true, fromValue)
	case indicator.URL:
		s.exact(&c, value, maskURL, false)
		s.patterns(&c, value, maskURL, false, fromValue)
		if host, pathy, ok := splitURL(value); ok && host != "" {
			c.pathy = pathy
			h := lowerASCII(host)
			if a, ok := hostAddr(h); ok {
				a = a.Unmap()
				m := maskIPv4
				if a.Is6() {
					m = maskIPv6
				}
				s.exact(&c, h, m|maskURL, true)
				s.addr(&c, a, m|maskURL)
				s.patterns(&c, h, m, true, fromValue)
			} else {
				s.name(&c, h, nameTypes|maskURL, fromHost)
				s.patterns(&c, h, nameTypes, true, fromHost)
			}
		}
	case indicator.Email:
		v := lowerASCII(value)
		s.exact(&c, v, maskEmail, true)
		s.patterns(&c, v, maskEmail, true, fromValue)
		if at := strings.LastIndexByte(v, '@'); at >= 0 && at+1 < len(v) {
			s.name(&c, v[at+1:], nameTypes|maskEmail, fromEmail)
		}
	case indicator.JA4:
		s.exact(&c, value, maskJA4, false)
		s.patterns(&c, value, maskJA4, false, fromValue)
	default:
		m := bit(t)
		if m == 0 {
			return nil
		}
		v := lowerASCII(value)
		s.exact(&c, v, m, true)
		s.patterns(&c, v, m, true, fromValue)
	}
	return s.finish(&c)
}

// exact looks v up in the name map as a whole. fold says whether v is of a
// case-insensitive type (and lower-cased), so that folded keys count.
func (s *Set) exact(c *collector, v string, mask typeMask, fold bool) {
	if len(v) > s.maxKey {
		return
	}
	head, ok := s.names[v]
	if !ok {
		return
	}
	for r := head; r >= 0; r = s.refs[r].next {
		ref := &s.refs[r]
		if s.comp[ref.list].types&mask == 0 || ref.mode == modeFolded && !fold {
			continue
		}
		c.add(rawHit{list: int32(ref.list), entry: ref.entry, offset: -1, from: fromValue})
	}
}

// name walks the dot-suffixes of a lower-case name, from the whole name to
// its last label, with one map lookup each. Hostname entries match any
// suffix; string entries only the whole name, and not an email's domain.
func (s *Set) name(c *collector, v string, mask typeMask, from uint8) {
	c.walked = v
	for i := 0; ; {
		if len(v)-i <= s.maxKey {
			if head, ok := s.names[v[i:]]; ok {
				for r := head; r >= 0; r = s.refs[r].next {
					ref := &s.refs[r]
					if s.comp[ref.list].types&mask == 0 || ref.mode != modeHostname && (i > 0 || from == fromEmail) {
						continue
					}
					c.add(rawHit{list: int32(ref.list), entry: ref.entry, offset: int32(i), from: from})
				}
			}
		}
		dot := strings.IndexByte(v[i:], '.')
		if dot < 0 {
			return
		}
		i += dot + 1
	}
}

// under finds the hostname entries that lie strictly under a domain value:
// a domain indicator matches every name under it, so a value above a listed
// name covers that name, as a cidr value that contains an entry overlaps it
// (block). One hit per list, with the list's kind (finish refuses a value
// above a delegating zone).
func (s *Set) under(c *collector, v string, mask typeMask) {
	head, ok := s.parents[v]
	if !ok {
		return
	}
	for r := head; r >= 0; r = s.parentRefs[r].next {
		ref := &s.parentRefs[r]
		if s.comp[ref.list].types&mask == 0 {
			continue
		}
		c.add(rawHit{list: int32(ref.list), entry: ref.entry, offset: -1, from: fromValue, under: true})
	}
}

// customerZones are the delegating zones whose customers' names lie more
// than one label below the zone, with how many labels below it a
// customer's name has at least. Fewer labels name the provider's own
// service: at amazonaws.com, elb (every load balancer),
// s3.eu-west-2 (a region's S3 endpoint), eu-west-2.compute, sqs.us-east-1
// are AWS's; bucket.s3.eu-west-2, ec2-….eu-west-2.compute,
// name-1.eu-west-2.elb are customers'. A zone listed here need not be on
// any list: it refines the delegating zone above it (compute-1 under
// amazonaws.com, where us-east-1's instances are one label below).
// Keyed by zone; the rule holds whichever list names the zone above.
var customerZones = map[string]int{
	"amazonaws.com":                           3,
	"compute-1.amazonaws.com":                 1, // ec2-1-2-3-4.compute-1.amazonaws.com
	"s3-external-1.amazonaws.com":             1, // bucket.s3-external-1.amazonaws.com
	"s3-website-us-east-1.amazonaws.com":      1, // legacy S3 website endpoints: bucket.s3-website-REGION.amazonaws.com
	"s3-website-us-west-1.amazonaws.com":      1,
	"s3-website-us-west-2.amazonaws.com":      1,
	"s3-website-eu-west-1.amazonaws.com":      1,
	"s3-website-ap-southeast-1.amazonaws.com": 1,
	"s3-website-ap-southeast-2.amazonaws.com": 1,
	"s3-website-ap-northeast-1.amazonaws.com": 1,
	"s3-website-sa-east-1.amazonaws.com":      1,
	"awstrack.me":                             3, // SES click tracking: ID.r.REGION.awstrack.me
	"cloudapp.azure.com":                      2, // NAME.REGION.cloudapp.azure.com
	"cloudflarestorage.com":                   2, // ACCOUNT.r2.cloudflarestorage.com
	"myqcloud.com":                            3, // BUCKET.cos.REGION.myqcloud.com
	"run.app":                                 2, // SERVICE-HASH.a.run.app
	"sendgrid.net":                            2, // uNNN.ct.sendgrid.net; ct. and wlNNN. are SendGrid's
}

// providerLabels are labels that, directly under a delegating zone, name
// the provider's own host, not a customer's: www.tumblr.com is Tumblr's.
var providerLabels = map[string]bool{"www": true}

// customerName says whether name v, a strict sub-domain of the delegating
// zone v[o:], is a customer's: it lies at least as many labels below the
// most specific zone of customerZones at or under v[o:] that it is a strict
// sub-domain of (else v[o:]; one label by default), and the label directly
// under that zone is not one of providerLabels. Otherwise v is the
// provider's own service name.
func customerName(v string, o int) bool {
	zone, depth := o, 1
	if d, ok := customerZones[v[o:]]; ok {
		depth = d
	}
	for i := strings.IndexByte(v, '.') + 1; i > 0 && i < o; {
		if d, ok := customerZones[v[i:]]; ok {
			zone, depth = i, d
			break
		}
		j := strings.IndexByte(v[i:], '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	below := v[:zone-1]
	first := below[strings.LastIndexByte(below, '.')+1:]
	return strings.Count(below, ".")+1 >= depth && !providerLabels[first]
}

// addr looks an address up in the cidr lists.
func (s *Set) addr(c *collector, a netip.Addr, mask typeMask) {
	for _, li := range s.cidrs {
		comp := s.comp[li]
		if comp.types&mask == 0 {
			continue
		}
		e := int32(-1)
		if a.Is4() {
			x := v4(a)
			e = find4(comp.v4, x, x)
		} else {
			x := v6(a)
			e = find6(comp.v6, x, x)
		}
		if e >= 0 {
			c.add(rawHit{list: li, entry: e, offset: -1})
		}
	}
}

// block looks a CIDR block up in the cidr lists: it hits an entry it
// overlaps, that is, one that contains it or that it contains.
func (s *Set) block(c *collector, p netip.Prefix, mask typeMask) {
	for _, li := range s.cidrs {
		comp := s.comp[li]
		if comp.types&mask == 0 {
			continue
		}
		e := int32(-1)
		if p.Addr().Is4() {
			sp := span4From(p, 0)
			e = find4(comp.v4, sp.lo, sp.hi)
		} else {
			sp := span6From(p, 0)
			e = find6(comp.v6, sp.lo, sp.hi)
		}
		if e >= 0 {
			c.add(rawHit{list: li, entry: e, offset: -1})
		}
	}
}

// patterns tries the substring and regex lists. fold says v is lower-cased
// and of a case-insensitive type; from, where v came from.
func (s *Set) patterns(c *collector, v string, mask typeMask, fold bool, from uint8) {
	for _, li := range s.patternLists {
		comp := s.comp[li]
		if comp.types&mask == 0 {
			continue
		}
		for _, sub := range comp.subs {
			needle := sub.s
			if fold {
				needle = sub.lower
			}
			if strings.Contains(v, needle) {
				c.add(rawHit{list: li, entry: sub.entry, offset: -1, from: from})
				break
			}
		}
		for _, p := range comp.res {
			if p.re.MatchString(v) {
				c.add(rawHit{list: li, entry: p.entry, offset: -1, from: from})
				break
			}
		}
	}
}

// finish applies the rules that change a hit's kind, keeps one hit per list
// and orders them.
func (s *Set) finish(c *collector) []Hit {
	if c.n == 0 {
		return nil
	}
	hits := c.buf[:c.n]
	if len(c.more) > 0 {
		hits = append(hits[:c.n:c.n], c.more...)
	}
	// The most specific zone of a delegating list that the name is in. A
	// strict sub-domain of it deep enough to be a customer's
	// (customerName): refuse hits on that zone or a parent of it are the
	// customer's, not the provider's. The zone itself, or a name of the
	// provider's service under it, is the provider's: refused.
	zone := int32(-1)
	for _, h := range hits {
		if h.offset >= 0 && s.deleg[h.list] && (zone < 0 || h.offset < zone) {
			zone = h.offset
		}
	}
	customer := zone > 0 && customerName(c.walked, int(zone))
	n := 0
	for i := range hits {
		h := &hits[i]
		k := s.kinds[h.list]
		switch {
		case h.under && s.deleg[h.list]:
			k = Refuse // a domain above a delegating zone covers the provider's zone
		case h.offset < 0:
		case s.deleg[h.list] && !customer:
			k = Refuse // the provider's own domain or service
		case customer && h.offset >= zone && !s.deleg[h.list]:
			k = Flag
		}
		switch {
		case h.from == fromHost && c.pathy:
			k = Flag // a path on a listed site's host
		case h.from == fromEmail:
			k = Flag // a sender at a listed domain
		}
		h.kind = k
		// One hit per list: the first, unless a later one refuses.
		dup := false
		for j := range hits[:n] {
			if hits[j].list == h.list {
				if hits[j].kind == Flag && k == Refuse {
					hits[j] = *h
				}
				dup = true
				break
			}
		}
		if !dup {
			hits[n] = *h
			n++
		}
	}
	hits = hits[:n]
	slices.SortStableFunc(hits, func(a, b rawHit) int {
		if (a.kind == Refuse) != (b.kind == Refuse) {
			if a.kind == Refuse {
				return -1
			}
			return 1
		}
		return int(a.list - b.list)
	})
	out := make([]Hit, n)
	for i, h := range hits {
		out[i] = Hit{List: s.lists[h.list].Name, Kind: h.kind, Entry: s.comp[h.list].entries[h.entry]}
	}
	return out
}

// splitURL returns a URL's host (without brackets, userinfo or port) and
// whether it has a path other than "/" or a query.
func splitURL(u string) (host string, pathy, ok bool) {
	i := strings.Index(u, "://")
	if i < 0 {
		return "", false, false
	}
	rest := u[i+3:]
	end := len(rest)
	for j := 0; j < len(rest); j++ {
		if c := rest[j]; c == '/' || c == '?' || c == '#' {
			end = j
			break
		}
	}
	auth, tail := rest[:end], rest[end:]
	if h := strings.IndexByte(tail, '#'); h >= 0 {
		tail = tail[:h]
	}
	pathy = tail != "" && tail != "/"
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		auth = auth[at+1:]
	}
	if strings.HasPrefix(auth, "[") {
		rb := strings.IndexByte(auth, ']')
		if rb < 0 {
			return "", pathy, false
		}
		return auth[1:rb], pathy, true
	}
	if colon := strings.LastIndexByte(auth, ':'); colon >= 0 {
		auth = auth[:colon]
	}
	return auth, pathy, true
}

// hostAddr reads a URL's host as an IP address. Canonical hosts that are
// addresses contain ":" or end in a digit (a name cannot); other hosts are
// not parsed, since a failed parse allocates its error.
func hostAddr(h string) (netip.Addr, bool) {
	if h == "" || strings.IndexByte(h, ':') < 0 && (h[len(h)-1] < '0' || h[len(h)-1] > '9') {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(h)
	return a, err == nil
}

// lowerASCII lower-cases s, without allocating when it has no upper-case
// ASCII letter (canonical values have none, apart from URLs and JA4).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
