package match

import (
	"net/netip"
	"slices"
	"sort"
)

// u128 is an address as a number (IPv4 in the low 32 bits).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func addrKey(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var k u128
	for i := 0; i < 8; i++ {
		k.hi = k.hi<<8 | uint64(b[i])
		k.lo = k.lo<<8 | uint64(b[i+8])
	}
	return k
}

// prefixRange returns the first and last address of a masked prefix.
func prefixRange(p netip.Prefix) (first, last u128) {
	first = addrKey(p.Addr())
	host := 128 - p.Bits()
	if p.Addr().Is4() {
		host = 32 - p.Bits()
	}
	last = first
	switch {
	case host >= 64:
		last.lo = ^uint64(0)
		if host > 64 {
			last.hi |= (uint64(1) << (host - 64)) - 1
		}
	case host > 0:
		last.lo |= (uint64(1) << host) - 1
	}
	return first, last
}

// cidrItem is a CIDR indicator waiting to be indexed.
type cidrItem struct {
	first, last u128
	bits        int
	off         uint32
}

// cidrSet answers "which ranges contain this address" for one address
// family. CIDR blocks are either nested or disjoint, so the blocks that
// contain an address form a chain from the innermost outwards. The set
// cuts the address space into intervals at every block's first address and
// after its last; each interval knows its innermost block, and each block
// its parent. A lookup is a binary search for the interval, then a walk up
// the chain reporting every block's indicators: every containing range is
// reported. Duplicates (one block in several indicators) share a node.
type cidrSet struct {
	starts []u128  // interval starts, sorted
	inner  []int32 // innermost node of each interval, -1 for none
	nodes  []cidrNode
	offs   []uint32 // arena offsets of the nodes' indicators
	// jump narrows the binary search for IPv4: jump[k] is the first
	// interval whose start is at or above k<<16 (65537 entries).
	jump []uint32
}

type cidrNode struct {
	parent      int32
	first, last uint32 // range in offs
}

func buildCIDRSet(items []cidrItem, ipv4 bool) cidrSet {
	var s cidrSet
	if len(items) == 0 {
		return s
	}
	// Outer blocks before the blocks they contain.
	slices.SortFunc(items, func(a, b cidrItem) int {
		if a.first != b.first {
			if a.first.less(b.first) {
				return -1
			}
			return 1
		}
		return a.bits - b.bits
	})
	type open struct {
		node int32
		last u128
	}
	var stack []open
	emit := func(start u128, node int32) {
		if n := len(s.starts); n > 0 && s.starts[n-1] == start {
			s.inner[n-1] = node
			return
		}
		if n := len(s.inner); n > 0 && s.inner[n-1] == node {
			return
		}
		s.starts = append(s.starts, start)
		s.inner = append(s.inner, node)
	}
	top := func() int32 {
		if len(stack) == 0 {
			return -1
		}
		return stack[len(stack)-1].node
	}
	closeUntil := func(before u128, all bool) {
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			if !all && !t.last.less(before) {
				return
			}
			stack = stack[:len(stack)-1]
			if next, ok := inc(t.last); ok {
				emit(next, top())
			}
		}
	}
	for i := 0; i < len(items); {
		it := items[i]
		j := i
		for j < len(items) && items[j].first == it.first && items[j].bits == it.bits {
			j++
		}
		closeUntil(it.first, false)
		node := int32(len(s.nodes))
		first := uint32(len(s.offs))
		for _, d := range items[i:j] {
			s.offs = append(s.offs, d.off)
		}
		s.nodes = append(s.nodes, cidrNode{parent: top(), first: first, last: uint32(len(s.offs))})
		stack = append(stack, open{node, it.last})
		emit(it.first, node)
		i = j
	}
	closeUntil(u128{}, true)
	s.starts = slices.Clip(s.starts)
	s.inner = slices.Clip(s.inner)
	if ipv4 && len(s.starts) > 64 {
		s.jump = make([]uint32, 1<<16+1)
		k := 0
		for hi := 0; hi <= 1<<16; hi++ {
			for k < len(s.starts) && s.starts[k].lo>>16 < uint64(hi) {
				k++
			}
			s.jump[hi] = uint32(k)
		}
	}
	return s
}

// inc returns a+1, or false if a is the last address.
func inc(a u128) (u128, bool) {
	a.lo++
	if a.lo == 0 {
		a.hi++
		if a.hi == 0 {
			return a, false
		}
	}
	return a, true
}

// lookup calls fn with the arena offset of every indicator whose block
// contains a, innermost first.
func (s *cidrSet) lookup(a u128, fn func(off uint32)) {
	if len(s.starts) == 0 {
		return
	}
	lo, hi := 0, len(s.starts)
	if s.jump != nil {
		k := a.lo >> 16
		lo, hi = int(s.jump[k]), int(s.jump[k+1])
		// The interval holding a may start in an earlier 64 Ki block.
		if lo > 0 {
			lo--
		}
		if hi < len(s.starts) {
			hi++
		}
	}
	// Index of the last start <= a.
	i := lo + sort.Search(hi-lo, func(i int) bool { return a.less(s.starts[lo+i]) }) - 1
	if i < 0 {
		return
	}
	for n := s.inner[i]; n >= 0; n = s.nodes[n].parent {
		nd := &s.nodes[n]
		for _, off := range s.offs[nd.first:nd.last] {
			fn(off)
		}
	}
}

func (s *cidrSet) bytes() int {
	return cap(s.starts)*16 + cap(s.inner)*4 + cap(s.nodes)*12 + cap(s.offs)*4 + cap(s.jump)*4
}
