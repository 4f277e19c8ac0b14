package retro

import (
	"encoding/binary"
	"math/bits"
)

// sipKey is a SipHash-2-4 key. SipHash is a keyed pseudo-random function:
// without the key nobody can construct two values with the same hash, so
// neither false retro hits nor hash-flooding of the in-memory sets can be
// forced by whoever controls the observed traffic. The standard library has
// no keyed hash whose key can be persisted (hash/maphash seeds cannot be
// saved), hence these forty lines.
type sipKey struct{ k0, k1 uint64 }

// sum returns the SipHash-2-4 of p, never 0 (0 marks an empty slot in the
// sets; mapping it to 1 changes the collision odds by 2^-64).
func (k sipKey) sum(p []byte) uint64 {
	v0 := k.k0 ^ 0x736f6d6570736575
	v1 := k.k1 ^ 0x646f72616e646f6d
	v2 := k.k0 ^ 0x6c7967656e657261
	v3 := k.k1 ^ 0x7465646279746573
	n := len(p)
	for len(p) >= 8 {
		m := binary.LittleEndian.Uint64(p)
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		p = p[8:]
	}
	m := uint64(n) << 56
	for i := len(p) - 1; i >= 0; i-- {
		m |= uint64(p[i]) << (8 * uint(i))
	}
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	h := v0 ^ v1 ^ v2 ^ v3
	if h == 0 {
		h = 1
	}
	return h
}

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
