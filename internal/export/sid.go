package export

import (
	"crypto/sha256"
	"encoding/binary"
)

// Sids. A rule's sid must stay the same for the same indicator in every
// export, so that thresholds, suppressions and alert history keyed by sid
// keep working when the rule file is replaced. A counter would renumber
// everything after the first change, so the sid is derived from the
// indicator id instead: the first 8 bytes of the id's SHA-256, big-endian,
// modulo 2^24 pick one of 2^24 slots,
// and each slot holds sidsPerSlot consecutive sids, one per rule kind (DNS,
// TLS, HTTP, …) of the indicator.
//
// Two ids can hash to the same slot. Within one export the later indicator
// takes the next free slot (and wraps), so sids never collide in a file;
// such an indicator may get another sid in an export where the first one is
// absent. With n indicators about n²/2^25 of them move: 3 in 10,000, 300 in
// 100,000.
const (
	sidSlots    = 1 << 24
	sidsPerSlot = 4
	sidSpan     = sidSlots * sidsPerSlot // sids in the range from SIDBase
)

// RuleKind is a rule's offset within its indicator's slot. The kinds are
// fixed so that a kind keeps its sid when other kinds are added.
type RuleKind int

// The rule kinds.
const (
	RuleMain RuleKind = 0 // the one rule of an indicator type, or DNS for names
	RuleTLS  RuleKind = 1 // TLS SNI for names
	RuleHTTP RuleKind = 2 // HTTP Host for names
)

// SID is the sid of the rule of kind k for the indicator with this id, at
// the default base (the hub's exports use no other): the sid of that rule
// in every export in which no other indicator took the id's slot first
// (see sidAllocator), and the signature_id of the sensor's alerts on the
// indicator (internal/match). The two are derived here, in one place, so
// that a SIEM can correlate the sensor's alerts with Suricata's on the
// same indicator. id is bytes so that an alert is written without
// allocating.
func SID(id []byte, k RuleKind) int64 {
	return sidAt(DefaultSIDBase, sidSlot(id), k)
}

// sidSlot is the slot the indicator with this id hashes to: the first 8
// bytes of the id's SHA-256, big-endian, modulo sidSlots.
func sidSlot(id []byte) uint32 {
	h := sha256.Sum256(id)
	return uint32(binary.BigEndian.Uint64(h[:8]) % sidSlots)
}

// sidAt is the sid of rule kind k in slot s from base.
func sidAt(base int64, s uint32, k RuleKind) int64 {
	return base + int64(s)*sidsPerSlot + int64(k)
}

type sidAllocator struct {
	base int64
	used map[uint32]struct{}
}

func newSIDAllocator(base int) *sidAllocator {
	return &sidAllocator{base: int64(base), used: make(map[uint32]struct{})}
}

// slot gives the indicator with this id its slot for this export: the one
// its id hashes to, or the next free one after it when another indicator
// of the export holds that.
func (a *sidAllocator) slot(id string) uint32 {
	s := sidSlot([]byte(id))
	for {
		if _, taken := a.used[s]; !taken {
			a.used[s] = struct{}{}
			return s
		}
		s = (s + 1) % sidSlots
	}
}

// sid is the sid of rule kind k in slot s.
func (a *sidAllocator) sid(s uint32, k RuleKind) int64 {
	return sidAt(a.base, s, k)
}

// revision is the rule's rev: the indicator's change sequence, so that a
// changed indicator gives a higher rev, or 1 when it has none or it does
// not fit Suricata's 32-bit rev.
func revision(seq int64) int64 {
	if seq < 1 || seq > 1<<31-1 {
		return 1
	}
	return seq
}
