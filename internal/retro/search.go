package retro

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// ErrClosed is returned by Search after Close.
var ErrClosed = errors.New("retro: record closed")

// query is what Search looks for: a hashed value in some sets, or a range
// of addresses.
type query struct {
	sets   uint8 // bit i: look in set i
	key    uint64
	ip     bool
	lo, hi ip128
}

func (r *Record) query(t indicator.Type, value string) (query, error) {
	var q query
	var buf [320]byte
	v := []byte(value)
	switch t {
	case indicator.Domain, indicator.Hostname:
		name, ok := lower(buf[:], v, false)
		if !ok {
			return q, nil // longer than any name; finds nothing
		}
		q.key = r.key.sum(name)
		q.sets = 1 << setNames
		if t == indicator.Domain {
			q.sets |= 1 << setParents
		}
	case indicator.URL:
		q.key, q.sets = r.key.sum(v), 1<<setURLs
	case indicator.MD5, indicator.SHA1, indicator.SHA256, indicator.SHA512,
		indicator.X509SHA1, indicator.X509SHA256, indicator.JA3, indicator.JA3S:
		if h, ok := lower(buf[:], v, true); ok {
			q.key, q.sets = r.key.sum(h), 1<<setHashes
		}
	case indicator.Email:
		if e, ok := lower(buf[:], v, false); ok {
			q.key, q.sets = r.key.sum(e), 1<<setEmails
		}
	case indicator.JA4:
		q.key, q.sets = r.key.sum(v), 1<<setJA4
	case indicator.IPv4, indicator.IPv6:
		a, err := netip.ParseAddr(value)
		if err != nil {
			return q, fmt.Errorf("retro: searching %s %q: %w", t, value, err)
		}
		q.ip = true
		q.lo = toIP128(a)
		q.hi = q.lo
	case indicator.CIDR:
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return q, fmt.Errorf("retro: searching %s %q: %w", t, value, err)
		}
		bits := p.Bits()
		if p.Addr().Is4() {
			bits += 96
		}
		q.ip = true
		q.lo = toIP128(p.Masked().Addr())
		q.hi = q.lo
		if host := 128 - bits; host >= 64 {
			q.hi.lo = ^uint64(0)
			q.hi.hi |= 1<<(host-64) - 1
		} else if host > 0 {
			q.hi.lo |= 1<<host - 1
		}
	default:
		return q, fmt.Errorf("retro: cannot search indicator type %q", t)
	}
	return q, nil
}

// Search returns the hours, oldest first, within the retention window in
// which an indicator of type t and canonical value was seen, following the
// matching rules of DESIGN.md section 5: a domain is found as the name or a
// parent of an observed name, a hostname only as the name, a URL without a
// query also in observed URLs with one, a CIDR block through every observed
// address inside it. It searches the hour files and the hours in memory.
//
// If some hour files cannot be read, Search returns the hits it found in
// the others together with an error (wrapping ErrCorrupt for damage); the
// caller may use both.
func (r *Record) Search(t indicator.Type, value string) ([]Hit, error) {
	q, err := r.query(t, value)
	if err != nil {
		return nil, err
	}
	cut := r.cutoff(r.now())
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	mem := append(slices.Clone(r.open), r.sealing...)
	var segs []*segment
	for h, ss := range r.segs {
		if h >= cut {
			segs = append(segs, ss...)
		}
	}
	r.mu.Unlock()

	hits := make(map[int64]*Hit)
	hit := func(h int64) *Hit {
		x := hits[h]
		if x == nil {
			x = &Hit{Hour: hourStart(h)}
			hits[h] = x
		}
		return x
	}
	addr := func(h int64) func(ip128) {
		return func(a ip128) {
			x := hit(h)
			if len(x.Addrs) < MaxHitAddrs {
				var b [16]byte
				putIP(b[:], a)
				ad := netip.AddrFrom16(b).Unmap()
				if !slices.Contains(x.Addrs, ad) {
					x.Addrs = append(x.Addrs, ad)
				}
			}
		}
	}
	for _, b := range mem {
		if b.hour < cut {
			continue
		}
		if q.ip {
			b.searchIPs(q, r.key, addr(b.hour))
		} else if b.has(q) {
			hit(b.hour)
		}
	}
	var errs []error
	buf := make([]byte, maxBlockSize)
	for _, s := range segs {
		found, err := s.search(q, buf, addr(s.hour))
		if err != nil {
			errs = append(errs, fmt.Errorf("retro: searching %s: %w", s.path, err))
		}
		if found {
			hit(s.hour)
		}
	}
	out := make([]Hit, 0, len(hits))
	for _, x := range hits {
		slices.SortFunc(x.Addrs, netip.Addr.Compare)
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b Hit) int { return a.Hour.Compare(b.Hour) })
	return out, errors.Join(errs...)
}

// has reports whether an open or sealed bucket holds q's key.
func (b *bucket) has(q query) bool {
	sh := &b.shards[q.key>>(64-shardBits)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for set := range nSets {
		if q.sets&(1<<set) != 0 && sh.sets[set].has(q.key) {
			return true
		}
	}
	return false
}

// searchIPs calls fn for the bucket's addresses in q's range.
func (b *bucket) searchIPs(q query, key sipKey, fn func(ip128)) {
	if q.lo == q.hi {
		h := q.lo.hash(key)
		sh := &b.shards[h>>(64-shardBits)]
		sh.mu.Lock()
		ok := sh.ips.has(q.lo, h)
		sh.mu.Unlock()
		if ok {
			fn(q.lo)
		}
		return
	}
	var found []ip128
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		if sh.ips.zero && q.lo == (ip128{}) {
			found = append(found, ip128{})
		}
		for _, a := range sh.ips.slots {
			if a != (ip128{}) && !a.less(q.lo) && !q.hi.less(a) {
				found = append(found, a)
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(found, ip128.cmp)
	for _, a := range found {
		fn(a)
	}
}

// search looks for q in an hour file; it reports addresses through fn and
// other finds through its result.
func (s *segment) search(q query, buf []byte, fn func(ip128)) (bool, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // expired meanwhile
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if q.ip {
		return false, s.ipsIn(f, q.lo, q.hi, buf, fn)
	}
	for set := range nSets {
		if q.sets&(1<<set) == 0 {
			continue
		}
		found, err := s.hasKey(f, set, q.key, buf)
		if found || err != nil {
			return found, err
		}
	}
	return false, nil
}
