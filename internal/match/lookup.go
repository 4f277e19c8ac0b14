package match

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/logparse"
)

// Ref refers to one indicator in an Index. It is what lookups report:
// small, and free to make; its accessors decode the compact entry (those
// returning strings allocate).
type Ref struct {
	x   *Index // the layer that holds the entry
	tab uint8
	off uint32
}

func (r Ref) entry() []byte { return r.x.tabs[r.tab].arena.at(r.off) }

func (r Ref) meta() []byte { return entryMeta(r.entry()) }

func (r Ref) prof() *profile {
	return &r.x.profiles[binary.LittleEndian.Uint32(r.meta())]
}

// until returns the stored valid-until seconds (0 for none).
func (r Ref) until() uint32 { return binary.LittleEndian.Uint32(r.meta()[4:]) }

// LiveAt reports whether the indicator still matches at t: it has no
// valid-until time, or t is before it.
func (r Ref) LiveAt(t time.Time) bool {
	u := r.until()
	return u == 0 || t.Unix() < int64(u)
}

// Type returns the indicator's type.
func (r Ref) Type() indicator.Type { return r.prof().typ }

// idKey returns the bytes that identify the indicator's id in an entry:
// the id kind byte and the id as stored.
func (r Ref) idKey() []byte {
	m := r.meta()
	return m[8 : 9+idLen(m[8])]
}

// appendID appends the indicator's id.
func (r Ref) appendID(b []byte) []byte {
	m := r.meta()
	if m[8] == 0 {
		return appendUUID(b, m[9:25])
	}
	return append(b, m[9:9+int(m[8])]...)
}

// ID returns the indicator's id.
func (r Ref) ID() string { return string(r.appendID(nil)) }

// appendValue appends the indicator's canonical value.
func (r Ref) appendValue(b []byte) []byte {
	v := entryValue(r.entry())
	switch r.tab {
	case tabIP:
		return addrFromBytes(v).AppendTo(b)
	case tabCIDR:
		return netip.PrefixFrom(addrFromBytes(v[1:]), int(v[0])).AppendTo(b)
	}
	return append(b, v...)
}

func addrFromBytes(v []byte) netip.Addr {
	if len(v) == 4 {
		return netip.AddrFrom4([4]byte(v))
	}
	return netip.AddrFrom16([16]byte(v))
}

// Value returns the indicator's canonical value.
func (r Ref) Value() string { return string(r.appendValue(nil)) }

// ValidUntil returns when the indicator stops matching (to the second),
// or the zero time.
func (r Ref) ValidUntil() time.Time {
	u := r.until()
	if u == 0 {
		return time.Time{}
	}
	return time.Unix(int64(u), 0).UTC()
}

// Indicator returns the indicator as it was added (values as stored:
// canonical; ValidUntil to the second).
func (r Ref) Indicator() Indicator {
	p := r.prof()
	return Indicator{
		ID: r.ID(), Type: p.typ, Value: r.Value(), TLP: p.tlp,
		Labels: append([]string(nil), p.labels...), Confidence: p.confidence,
		Report: p.report, ValidUntil: r.ValidUntil(),
	}
}

// maxName is the longest name looked up: 253 bytes and a trailing dot.
const maxName = 254

// MatchDomain reports the indicators that a DNS or host name matches:
// domain indicators equal to the name or to any parent domain of it
// ("a.b.evil.example" looks up "a.b.evil.example", "b.evil.example" and
// "evil.example"; single labels are never indicators), and hostname
// indicators equal to the name itself. Case is ignored, a trailing dot
// dropped, and a name in Unicode is converted to punycode first (the only
// case that allocates).
func (x *Index) MatchDomain(name []byte, fn func(Ref)) {
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if len(name) == 0 || len(name) > maxName {
		return
	}
	var buf [maxName]byte
	n := buf[:len(name)]
	for i, c := range name {
		if c >= 0x80 {
			s, err := indicator.Canonicalize(indicator.Hostname, string(name))
			if err != nil {
				return
			}
			n = []byte(s)
			break
		}
		n[i] = lower(c)
	}
	x.lookName(n, fn)
	if b := x.base; b != nil {
		b.lookName(n, func(r Ref) {
			if !x.removedRef(r) {
				fn(r)
			}
		})
	}
}

// lookName looks up a lower-case name and its parents in one layer.
func (x *Index) lookName(n []byte, fn func(Ref)) {
	t := &x.tabs[tabName]
	if t.nb == 0 {
		return
	}
	exact := true
	for {
		t.lookup(n, func(off uint32) {
			r := Ref{x, tabName, off}
			if exact || !r.prof().hostnames {
				fn(r)
			}
		})
		exact = false
		dot := indexByte(n, '.')
		if dot < 0 {
			return
		}
		n = n[dot+1:]
		if indexByte(n, '.') < 0 {
			return // a single label
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// MatchIP reports the ipv4/ipv6 indicators equal to a, and the cidr
// indicators of every block that contains it. An IPv4-mapped IPv6 address
// is looked up as IPv4.
func (x *Index) MatchIP(a netip.Addr, fn func(Ref)) {
	if !a.IsValid() {
		return
	}
	a = a.Unmap()
	x.lookIP(a, fn)
	if b := x.base; b != nil {
		b.lookIP(a, func(r Ref) {
			if !x.removedRef(r) {
				fn(r)
			}
		})
	}
}

func (x *Index) lookIP(a netip.Addr, fn func(Ref)) {
	var buf [16]byte
	var k []byte
	if a.Is4() {
		b := a.As4()
		if h := uint32(b[0])<<8 | uint32(b[1]); x.v4filter[h/64]&(1<<(h%64)) == 0 {
			return
		}
		if f := x.v4filter24; f != nil {
			if h := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]); f[h/64]&(1<<(h%64)) == 0 {
				return
			}
		}
		k = append(buf[:0], b[:]...)
	} else {
		b := a.As16()
		k = append(buf[:0], b[:]...)
	}
	x.tabs[tabIP].lookup(k, func(off uint32) { fn(Ref{x, tabIP, off}) })
	set := &x.v6
	if a.Is4() {
		set = &x.v4
	}
	set.lookup(addrKey(a), func(off uint32) { fn(Ref{x, tabCIDR, off}) })
}

// MatchHash reports the hash indicators (md5, sha1, sha256, sha512,
// x509-sha1, x509-sha256, ja3, ja3s) whose value is the hex digest h, in
// any case. The types are not told apart: equal digests are digests of
// the same bytes (a certificate's SHA-1 fingerprint is the SHA-1 of its
// file), and indicator.Detect files a JA3 hash as md5.
func (x *Index) MatchHash(h []byte, fn func(Ref)) {
	switch len(h) {
	case 32, 40, 64, 128:
	default:
		return
	}
	var buf [128]byte
	k := buf[:len(h)]
	for i, c := range h {
		k[i] = lower(c)
	}
	x.lookValue(tabHex, k, fn)
}

// lookValue looks a key up in one table, in every layer.
func (x *Index) lookValue(tab uint8, k []byte, fn func(Ref)) {
	x.tabs[tab].lookup(k, func(off uint32) { fn(Ref{x, tab, off}) })
	if b := x.base; b != nil {
		b.tabs[tab].lookup(k, func(off uint32) {
			if r := (Ref{b, tab, off}); !x.removedRef(r) {
				fn(r)
			}
		})
	}
}

// MatchEmail reports the email indicators equal to addr, ignoring case.
func (x *Index) MatchEmail(addr []byte, fn func(Ref)) {
	if len(addr) == 0 || len(addr) > 320 {
		return
	}
	var buf [320]byte
	k := buf[:len(addr)]
	for i, c := range addr {
		if c >= 0x80 {
			e, err := indicator.Canonicalize(indicator.Email, string(addr))
			if err != nil {
				return
			}
			k = []byte(e)
			break
		}
		k[i] = lower(c)
	}
	x.lookValue(tabEmail, k, fn)
}

// MatchJA4 reports the ja4 indicators equal to fp (exactly, as JA4 is
// defined as a string).
func (x *Index) MatchJA4(fp []byte, fn func(Ref)) {
	x.lookValue(tabJA4, fp, fn)
}

// AppendCanonicalURL appends the canonical form (indicator.Canonicalize,
// type url) of an observed URL, as MatchURL looks it up: plain URLs without
// allocating, others through Canonicalize. False when it is no URL
// Canonicalize accepts. The sensor's retro-hunt record keeps URLs in this
// form, so that it finds what live matching finds.
func AppendCanonicalURL(dst, u []byte) ([]byte, bool) {
	if c, ok := appendCanonicalURL(dst, u); ok {
		return c, true
	}
	s, err := indicator.Canonicalize(indicator.URL, string(u))
	if err != nil {
		return dst, false
	}
	return append(dst, s...), true
}

// MatchURL reports the url indicators that an absolute URL matches: the
// same canonical URL, or the URL without its query (an indicator without a
// query matches the URL with any query). The observed URL is put in the
// canonical form of indicator.Canonicalize; plain URLs are handled without
// allocating, others (Unicode hosts, odd escapes) through Canonicalize.
func (x *Index) MatchURL(u []byte, fn func(Ref)) {
	if x.tabs[tabURL].nb == 0 && (x.base == nil || x.base.tabs[tabURL].nb == 0) {
		return
	}
	var buf [512]byte
	c, ok := AppendCanonicalURL(buf[:0], u)
	if !ok {
		return
	}
	x.lookValue(tabURL, c, fn)
	if q := indexByte(c, '?'); q >= 0 {
		x.lookValue(tabURL, c[:q], fn)
	}
}

// Match reports the indicators an observation matches, by its kind.
func (x *Index) Match(o *logparse.Observation, fn func(Ref)) {
	switch o.Kind {
	case logparse.KindName:
		x.MatchDomain(o.Value, fn)
	case logparse.KindIP:
		x.MatchIP(o.Addr, fn)
	case logparse.KindURL:
		x.MatchURL(o.Value, fn)
	case logparse.KindHash:
		x.MatchHash(o.Value, fn)
	case logparse.KindEmail:
		x.MatchEmail(o.Value, fn)
	case logparse.KindJA4:
		x.MatchJA4(o.Value, fn)
	}
}
