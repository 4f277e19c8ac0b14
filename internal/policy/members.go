package policy

import (
	"slices"
	"sync"
)

// Numbering gives organisation ids small numbers, so that the members of a
// group can be kept as a bit set and a viewer's membership tested with one
// bit instead of hashing its id. A stream reads every change for every
// subscriber, so the test runs changes × subscribers times.
//
// One Numbering serves a whole process (the stream broker's); a set and a
// viewer agree only when they were numbered by the same Numbering, and
// CanSee falls back to the member list otherwise. Numbers are never reused
// or taken back: there are as many as organisations ever numbered. It is safe
// for concurrent use.
type Numbering struct {
	mu   sync.RWMutex
	nums map[string]uint32
}

// NewNumbering makes an empty numbering.
func NewNumbering() *Numbering { return &Numbering{nums: map[string]uint32{}} }

// of numbers id, giving it the next number when it has none; 0 stands for
// the empty id.
func (n *Numbering) of(id string) uint32 {
	if id == "" {
		return 0
	}
	n.mu.RLock()
	num, ok := n.nums[id]
	n.mu.RUnlock()
	if ok {
		return num
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if num, ok := n.nums[id]; ok {
		return num
	}
	num = uint32(len(n.nums) + 1)
	n.nums[id] = num
	return num
}

// Viewer returns v with its organisation and partner numbered, for CanSee
// against sets of this numbering.
func (n *Numbering) Viewer(v Viewer) Viewer {
	v.numbering, v.num, v.partnerNum = n, n.of(v.OrgID), n.of(v.Partner)
	v.numberedOrg, v.numberedPart = v.OrgID, v.Partner
	return v
}

// number is an organisation's number in a numbering; the zero number
// stands for none.
type number struct {
	numbering *Numbering
	num       uint32
}

// numberOf is the number of id, which is v's organisation or partner, when
// v was numbered for it.
func (v *Viewer) numberOf(id string) number {
	switch {
	case v.numbering == nil || id == "":
		return number{}
	case id == v.OrgID && id == v.numberedOrg:
		return number{v.numbering, v.num}
	case id == v.Partner && id == v.numberedPart:
		return number{v.numbering, v.partnerNum}
	}
	return number{}
}

// Set is the set of members, for Item.GroupSet.
func (n *Numbering) Set(members []string) *MemberSet {
	s := &MemberSet{numbering: n}
	for _, m := range members {
		num := n.of(m)
		if num == 0 {
			continue
		}
		w := int(num / 64)
		if w >= len(s.bits) {
			s.bits = slices.Grow(s.bits, w+1-len(s.bits))[:w+1]
		}
		s.bits[w] |= 1 << (num % 64)
	}
	return s
}

// MemberSet holds a group's members as bits of a Numbering.
type MemberSet struct {
	numbering *Numbering
	bits      []uint64
}

// has says whether the organisation numbered num is a member.
func (s *MemberSet) has(num uint32) bool {
	w := int(num / 64)
	return num != 0 && w < len(s.bits) && s.bits[w]&(1<<(num%64)) != 0
}

// Len is the number of members.
func (s *MemberSet) Len() int {
	n := 0
	for _, w := range s.bits {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}

// Contains says whether organisation id is a member.
func (s *MemberSet) Contains(id string) bool {
	if id == "" {
		return false
	}
	s.numbering.mu.RLock()
	num, ok := s.numbering.nums[id]
	s.numbering.mu.RUnlock()
	return ok && s.has(num)
}

// member says whether the organisation of number n is in the set; ok is
// false when the set cannot tell (no set, another numbering, or no number).
func (s *MemberSet) member(n number) (in, ok bool) {
	if s == nil || n.numbering == nil || s.numbering != n.numbering || n.num == 0 {
		return false, false
	}
	return s.has(n.num), true
}
