package retro

// The in-memory sets of an open hour are open-addressing hash tables with
// linear probing, a power-of-two number of slots and a load factor kept
// between 3/8 and 3/4 (they double when 3/4 full): 8-byte slots for hashed
// values, 16-byte slots for addresses. Keys of u64set are SipHash outputs,
// uniformly distributed, so their low bits serve as the slot index directly.

const minSlots = 16

// u64set is a set of non-zero 64-bit keys.
type u64set struct {
	slots []uint64
	n     int
}

// reserve makes room for one more key; hint is the expected number of keys,
// used for the first allocation so that a new hour does not regrow its
// tables from scratch.
func (s *u64set) reserve(hint int) {
	if s.slots == nil {
		s.slots = make([]uint64, slotsFor(hint))
		return
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		old := s.slots
		s.slots = make([]uint64, 2*len(old))
		mask := uint64(len(s.slots) - 1)
		for _, k := range old {
			if k == 0 {
				continue
			}
			i := k & mask
			for s.slots[i] != 0 {
				i = (i + 1) & mask
			}
			s.slots[i] = k
		}
	}
}

// find returns k's slot, or the empty slot where it belongs.
func (s *u64set) find(k uint64) (int, bool) {
	mask := uint64(len(s.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return int(i), true
		case 0:
			return int(i), false
		}
	}
}

func (s *u64set) has(k uint64) bool {
	if s.n == 0 {
		return false
	}
	_, ok := s.find(k)
	return ok
}

// appendTo appends the keys, unsorted.
func (s *u64set) appendTo(dst []uint64) []uint64 {
	if s.n == 0 {
		return dst
	}
	for _, k := range s.slots {
		if k != 0 {
			dst = append(dst, k)
		}
	}
	return dst
}

// ip128 is an IPv6 address (IPv4 as IPv4-mapped) as two big-endian halves,
// so that comparing (hi, lo) orders addresses as their bytes do.
type ip128 struct{ hi, lo uint64 }

func (a ip128) less(b ip128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a ip128) cmp(b ip128) int {
	switch {
	case a == b:
		return 0
	case a.less(b):
		return -1
	}
	return 1
}

// ipset is a set of addresses. The all-zero address "::" is kept in a flag
// because the all-zero slot means empty.
type ipset struct {
	slots []ip128
	n     int
	zero  bool
}

func (s *ipset) reserve(hint int, key sipKey) {
	if s.slots == nil {
		s.slots = make([]ip128, slotsFor(hint))
		return
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		old := s.slots
		s.slots = make([]ip128, 2*len(old))
		mask := uint64(len(s.slots) - 1)
		for _, a := range old {
			if a == (ip128{}) {
				continue
			}
			i := a.hash(key) & mask
			for s.slots[i] != (ip128{}) {
				i = (i + 1) & mask
			}
			s.slots[i] = a
		}
	}
}

// find returns a's slot, or the empty slot where it belongs; h is a's hash.
// a must not be zero.
func (s *ipset) find(a ip128, h uint64) (int, bool) {
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case a:
			return int(i), true
		case ip128{}:
			return int(i), false
		}
	}
}

func (s *ipset) has(a ip128, h uint64) bool {
	if a == (ip128{}) {
		return s.zero
	}
	if s.n == 0 {
		return false
	}
	_, ok := s.find(a, h)
	return ok
}

func (s *ipset) appendTo(dst []ip128) []ip128 {
	if s.zero {
		dst = append(dst, ip128{})
	}
	if s.n == 0 {
		return dst
	}
	for _, a := range s.slots {
		if a != (ip128{}) {
			dst = append(dst, a)
		}
	}
	return dst
}

func (a ip128) hash(key sipKey) uint64 {
	var b [16]byte
	putIP(b[:], a)
	return key.sum(b[:])
}

// slotsFor is the table size for about n keys: the smallest power of two
// that keeps them at most 3/4 full, and at least minSlots.
func slotsFor(n int) int {
	s := minSlots
	for s*3 < n*4 {
		s *= 2
	}
	return s
}
