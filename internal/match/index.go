package match

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/stixpattern"
)

// Indicator is what the matcher needs to know of an indicator.
type Indicator struct {
	// ID is the indicator's id; a canonical lower-case UUID is stored in
	// 16 bytes, any other id (up to 255 bytes) as it is.
	ID   string
	Type indicator.Type
	// Value is the canonical value (indicator.Canonicalize).
	Value      string
	TLP        string
	Labels     []string
	Confidence int
	// Report is the title of the indicator's report, if any.
	Report string
	// ValidUntil is when the indicator stops matching; zero means never.
	// It is kept to the second (rounded down).
	ValidUntil time.Time
}

// The tables of an index, by the kind of value they hold.
const (
	tabName    = iota // domain, hostname
	tabHex            // md5, sha1, sha256, sha512, x509-sha1, x509-sha256, ja3, ja3s
	tabEmail          // email
	tabJA4            // ja4
	tabURL            // url
	tabIP             // ipv4, ipv6: 4 or 16 address bytes
	tabCIDR           // cidr: arena only; 1 byte of prefix length, then the address bytes
	tabPattern        // stix-pattern: arena only; the canonical pattern (see pattern.go)
	nTabs
)

func tabOf(t indicator.Type) (int, bool) {
	switch t {
	case indicator.Domain, indicator.Hostname:
		return tabName, true
	case indicator.MD5, indicator.SHA1, indicator.SHA256, indicator.SHA512,
		indicator.X509SHA1, indicator.X509SHA256, indicator.JA3, indicator.JA3S:
		return tabHex, true
	case indicator.Email:
		return tabEmail, true
	case indicator.JA4:
		return tabJA4, true
	case indicator.URL:
		return tabURL, true
	case indicator.IPv4, indicator.IPv6:
		return tabIP, true
	case indicator.CIDR:
		return tabCIDR, true
	case indicator.STIXPattern:
		return tabPattern, true
	}
	return 0, false
}

// profile is the metadata that many indicators share — type, TLP, labels,
// confidence, report — stored once and referenced by number from each
// entry. Alert fields derived from it are computed once too.
type profile struct {
	typ        indicator.Type
	tlp        string
	labels     []string
	confidence int
	report     string

	severity  int
	category  string
	hostnames bool // typ is hostname: matches exact names only
}

// Index is an immutable set of indicators, built once (Build or a
// Builder) and then shared by any number of goroutines without locks.
// Its lookups allocate nothing (except for the rare observed value that
// needs IDNA or URL normalisation). Lookups report every indicator with the
// value, whatever its ValidUntil: liveness is the caller's (Matcher's)
// business, since it depends on the clock.
type Index struct {
	tabs   [nTabs]table
	v4, v6 cidrSet
	// v4filter has a bit for every IPv4 /16 that holds an ipv4
	// indicator or meets a cidr indicator: most addresses in traffic
	// (internal ranges, popular services) are turned away by one load.
	// With many IPv4 indicators most public /16s hold one, and v4filter24
	// (2 MiB, a bit per /24) does the same job one level down.
	v4filter   *[1 << 16 / 64]uint64
	v4filter24 []uint64
	profiles   []profile
	counts     map[indicator.Type]int
	n          int
	gen        uint64 // unique per index, for Sessions' miss caches

	// An index made by Update: base is the large index it is layered
	// over, removed the ids (as idKey) hidden in base.
	base    *Index
	removed map[string]struct{}
	lc      *layerCounts

	// Pattern indicators (pattern.go): pats those of this layer, live
	// the observable ones this index evaluates (its own and its base's
	// not removed), unobservable how many others it holds.
	pats         []*patEntry
	live         []*patEntry
	unobservable int
}

// Builder builds an Index one indicator at a time, so that a large set
// never has to exist as a []Indicator. A Builder is not safe for
// concurrent use; after Build it is empty and can be reused.
type Builder struct {
	tabs     [nTabs]table
	cidr4    []cidrItem
	cidr6    []cidrItem
	profiles []profile
	byKey    map[string]uint32
	last     *Indicator // the previous Add's indicator, for its profile
	lastProf uint32
	counts   map[indicator.Type]int
	n        int
	buf      []byte
	pats     []builtPattern
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{byKey: map[string]uint32{}, counts: map[indicator.Type]int{}}
}

// Errors from Add.
var (
	ErrType  = errors.New("indicator type cannot be matched")
	ErrValue = errors.New("indicator value is not in canonical form")
	ErrID    = errors.New("indicator id is empty or longer than 255 bytes")
	ErrFull  = errors.New("index is full (4 GiB of one kind of value)")
)

// Add adds an indicator. Values are expected in canonical form
// (indicator.Canonicalize); Add tidies what is cheap to tidy (case, a
// trailing dot, colons in a hex digest, IDNA for a name) and refuses the
// rest with an error wrapping ErrValue, ErrType or ErrID. Several
// indicators may share a value; each is reported.
func (b *Builder) Add(ind Indicator) error {
	tab, ok := tabOf(ind.Type)
	if !ok {
		return fmt.Errorf("%w: %q", ErrType, ind.Type)
	}
	if ind.ID == "" || len(ind.ID) > 255 {
		return fmt.Errorf("%w: %q", ErrID, ind.ID)
	}
	var key []byte
	var prefix netip.Prefix
	var pat *stixpattern.Pattern
	switch tab {
	case tabName:
		key = appendName(b.buf[:0], ind.Value)
	case tabHex:
		key = appendHex(b.buf[:0], ind.Value)
	case tabEmail:
		key = appendEmail(b.buf[:0], ind.Value)
	case tabJA4:
		if ind.Value != "" && len(ind.Value) <= indicator.MaxValueLen {
			key = append(b.buf[:0], ind.Value...)
		}
	case tabURL:
		if ind.Value != "" && len(ind.Value) <= indicator.MaxURLLen {
			key = append(b.buf[:0], ind.Value...)
		}
	case tabIP:
		if a, err := netip.ParseAddr(ind.Value); err == nil && a.Zone() == "" {
			key = appendAddrBytes(b.buf[:0], a.Unmap())
		}
	case tabCIDR:
		if p, err := netip.ParsePrefix(ind.Value); err == nil {
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			prefix = p.Masked()
			key = append(b.buf[:0], byte(prefix.Bits()))
			key = appendAddrBytes(key, prefix.Addr())
		}
	case tabPattern:
		p, err := parsePattern(ind.Value)
		if err != nil {
			return err
		}
		pat = p
		key = append(b.buf[:0], p.String()...)
	}
	if key == nil {
		return fmt.Errorf("%w: %s %q", ErrValue, ind.Type, ind.Value)
	}
	prof := b.profile(&ind)
	e := key // the entry is built after the key in the same buffer
	start := len(e)
	e = binary.AppendUvarint(e, uint64(len(key)))
	e = append(e, key...)
	e = binary.LittleEndian.AppendUint32(e, prof)
	e = binary.LittleEndian.AppendUint32(e, untilSeconds(ind.ValidUntil))
	if u, ok := parseUUID(ind.ID); ok {
		e = append(e, 0)
		e = append(e, u[:]...)
	} else {
		e = append(e, byte(len(ind.ID)))
		e = append(e, ind.ID...)
	}
	b.buf = e[:0]
	entry := e[start:]
	if len(entry) > maxEntry {
		return fmt.Errorf("%w: %s value of %d bytes", ErrValue, ind.Type, len(ind.Value))
	}
	off, ok := b.tabs[tab].arena.add(entry)
	if !ok {
		return ErrFull
	}
	b.tabs[tab].n++
	if tab == tabCIDR {
		first, last := prefixRange(prefix)
		it := cidrItem{first: first, last: last, bits: prefix.Bits(), off: off}
		if prefix.Addr().Is4() {
			b.cidr4 = append(b.cidr4, it)
		} else {
			b.cidr6 = append(b.cidr6, it)
		}
	}
	if tab == tabPattern {
		b.pats = append(b.pats, builtPattern{off: off, pat: pat})
	}
	b.counts[ind.Type]++
	b.n++
	return nil
}

func appendAddrBytes(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		x := a.As4()
		return append(b, x[:]...)
	}
	x := a.As16()
	return append(b, x[:]...)
}

// appendName appends a name lower-cased, without a trailing dot; a name
// with non-ASCII characters goes through IDNA.
func appendName(b []byte, s string) []byte {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return nil
	}
	return appendLowered(b, s, indicator.Hostname)
}

// appendHex appends a digest lower-cased, without colons.
func appendHex(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
			b = append(b, c)
		case 'A' <= c && c <= 'F':
			b = append(b, c+'a'-'A')
		default:
			return nil
		}
	}
	switch len(b) {
	case 32, 40, 64, 128:
		return b
	}
	return nil
}

func appendEmail(b []byte, s string) []byte {
	if strings.IndexByte(s, '@') <= 0 || len(s) > indicator.MaxValueLen {
		return nil
	}
	return appendLowered(b, s, indicator.Email)
}

// appendLowered appends s lower-cased; a value with non-ASCII characters is
// canonicalised as type t instead (IDNA), or refused (nil).
func appendLowered(b []byte, s string, t indicator.Type) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			c, err := indicator.Canonicalize(t, s)
			if err != nil {
				return nil
			}
			return append(b, c...)
		}
	}
	for i := 0; i < len(s); i++ {
		b = append(b, lower(s[i]))
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// untilSeconds stores a valid-until time as unsigned seconds since 1970:
// 0 for none, 1 for anything at or before 1970 (long expired), and the
// largest value for anything after 2106.
func untilSeconds(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	u := t.Unix()
	switch {
	case u < 1:
		return 1
	case u > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(u)
}

// profile returns the number of the indicator's profile, adding it if new.
// Consecutive indicators usually come from one feed and share a profile, so
// the previous one is tried first.
func (b *Builder) profile(ind *Indicator) uint32 {
	if l := b.last; l != nil && l.Type == ind.Type && l.TLP == ind.TLP && l.Confidence == ind.Confidence &&
		l.Report == ind.Report && slicesEqual(l.Labels, ind.Labels) {
		return b.lastProf
	}
	var k strings.Builder
	k.WriteString(string(ind.Type))
	k.WriteByte(0)
	k.WriteString(ind.TLP)
	k.WriteByte(0)
	fmt.Fprint(&k, ind.Confidence)
	k.WriteByte(0)
	k.WriteString(ind.Report)
	for _, l := range ind.Labels {
		k.WriteByte(0)
		k.WriteString(l)
	}
	key := k.String()
	p, ok := b.byKey[key]
	if !ok {
		p = uint32(len(b.profiles))
		labels := append([]string(nil), ind.Labels...)
		b.profiles = append(b.profiles, newProfile(ind.Type, ind.TLP, labels, ind.Confidence, ind.Report))
		b.byKey[key] = p
	}
	last := Indicator{Type: ind.Type, TLP: ind.TLP, Confidence: ind.Confidence, Report: ind.Report, Labels: b.profiles[p].labels}
	b.last, b.lastProf = &last, p
	return p
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func newProfile(t indicator.Type, tlp string, labels []string, conf int, report string) profile {
	return profile{
		typ: t, tlp: tlp, labels: labels, confidence: conf, report: report,
		severity:  Severity(labels, conf),
		category:  Category(labels),
		hostnames: t == indicator.Hostname,
	}
}

// Len reports how many indicators the builder holds.
func (b *Builder) Len() int { return b.n }

// Build returns the index of everything added, and empties the builder.
func (b *Builder) Build() *Index {
	x := &Index{profiles: b.profiles, counts: b.counts, n: b.n, gen: indexGen.Add(1)}
	seed := maphash.MakeSeed()
	for i := range b.tabs {
		x.tabs[i] = b.tabs[i]
		if i != tabCIDR && i != tabPattern {
			x.tabs[i].build(seed)
		} else {
			x.tabs[i].arena.trim()
		}
	}
	x.v4filter, x.v4filter24 = buildV4Filters(&x.tabs[tabIP], b.cidr4)
	x.v4 = buildCIDRSet(b.cidr4, true)
	x.v6 = buildCIDRSet(b.cidr6, false)
	x.buildPatterns(b.pats)
	*b = *NewBuilder()
	return x
}

// Build builds an index of inds. Indicators that cannot be indexed are
// left out, and the error (errors.Join of the first 100 reasons, wrapping
// ErrValue, ErrType or ErrID) says which; the index of the rest is
// returned in any case.
func Build(inds []Indicator) (*Index, error) {
	b := NewBuilder()
	var errs []error
	bad := 0
	for i := range inds {
		if err := b.Add(inds[i]); err != nil {
			if bad++; bad <= 100 {
				errs = append(errs, fmt.Errorf("indicator %s: %w", inds[i].ID, err))
			}
		}
	}
	if bad > 100 {
		errs = append(errs, fmt.Errorf("and %d more indicators refused", bad-100))
	}
	return b.Build(), errors.Join(errs...)
}

// v4Filter24Min is the number of IPv4 addresses and blocks from which the
// /24 filter is worth its 2 MiB.
const v4Filter24Min = 1 << 16

func buildV4Filters(ips *table, cidrs []cidrItem) (*[1 << 16 / 64]uint64, []uint64) {
	f := new([1 << 16 / 64]uint64)
	var f24 []uint64
	if ips.n+len(cidrs) >= v4Filter24Min {
		f24 = make([]uint64, 1<<24/64)
	}
	set := func(k24 uint32) {
		k := k24 >> 8
		f[k/64] |= 1 << (k % 64)
		if f24 != nil {
			f24[k24/64] |= 1 << (k24 % 64)
		}
	}
	ips.arena.each(func(_ uint32, e []byte) {
		if v := entryValue(e); len(v) == 4 {
			set(uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2]))
		}
	})
	for _, c := range cidrs {
		for k := c.first.lo >> 8; k <= c.last.lo>>8; k++ {
			set(uint32(k))
		}
	}
	return f, f24
}

// Len reports how many indicators the index holds. (For an index made
// by Update, the first call counts the base's, which takes a while.)
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	if x.base != nil {
		return x.layerCounts().n
	}
	return x.n
}

// Count reports how many indicators of type t the index holds.
func (x *Index) Count(t indicator.Type) int {
	if x == nil {
		return 0
	}
	if x.base != nil {
		return x.layerCounts().counts[t]
	}
	return x.counts[t]
}

// Bytes reports the memory the index's structures take, in bytes (for an
// index made by Update, its base's included).
func (x *Index) Bytes() int {
	if x == nil {
		return 0
	}
	n := 0
	if x.base != nil {
		n += x.base.Bytes() + len(x.removed)*48
	}
	for i := range x.tabs {
		n += x.tabs[i].bytes()
	}
	n += x.v4.bytes() + x.v6.bytes() + len(x.v4filter)*8 + cap(x.v4filter24)*8
	for _, p := range x.profiles {
		n += 160 + len(p.tlp) + len(p.report)
		for _, l := range p.labels {
			n += 16 + len(l)
		}
	}
	return n
}

// parseUUID parses a canonical lower-case UUID
// ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"); other forms are kept as text,
// so that an id always comes back exactly as it was given.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		d, ok := lowerHex(s[i])
		if !ok {
			return u, false
		}
		u[j/2] |= d << (4 * (1 - j%2))
		j++
	}
	return u, j == 32
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func appendUUID(b []byte, u []byte) []byte {
	const hexDigits = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}
