package match

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// arena holds indicator entries back to back in chunks of up to 1 MiB, so
// that a large index is a few hundred big allocations rather than millions
// of small ones (the garbage collector never scans them: they hold no
// pointers), and growing it never copies more than one chunk. An entry is
// addressed by a uint32 offset: chunk number << chunkBits | position.
//
// Entry layout (see entry.go): uvarint value length, value, profile (4
// bytes), valid-until (4 bytes), id kind (1 byte), id.
type arena struct {
	chunks [][]byte
}

const (
	chunkBits = 20
	chunkSize = 1 << chunkBits
	// maxEntry bounds an entry so that it always fits a chunk.
	maxEntry = chunkSize / 2
)

// add appends an entry and returns its offset; ok is false when the arena
// is full (4 GiB).
func (a *arena) add(e []byte) (uint32, bool) {
	n := len(a.chunks)
	if n == 0 || len(a.chunks[n-1])+len(e) > chunkSize {
		if n == 1<<(32-chunkBits) {
			return 0, false
		}
		size := 4096
		if n > 0 {
			size = chunkSize // the first chunk grows; later ones start full size
		}
		a.chunks = append(a.chunks, make([]byte, 0, size))
		n++
	}
	c := a.chunks[n-1]
	off := uint32(n-1)<<chunkBits | uint32(len(c))
	a.chunks[n-1] = append(c, e...)
	return off, true
}

// at returns the bytes from an entry's offset to the end of its chunk.
func (a *arena) at(off uint32) []byte {
	return a.chunks[off>>chunkBits][off&(chunkSize-1):]
}

// trim gives back the unused capacity of the chunks.
func (a *arena) trim() {
	for i, c := range a.chunks {
		if cap(c)-len(c) > len(c)/32 {
			a.chunks[i] = append([]byte(nil), c...)
		}
	}
}

// each calls fn with the offset of every entry, in order.
func (a *arena) each(fn func(off uint32, e []byte)) {
	for ci, c := range a.chunks {
		for pos := 0; pos < len(c); {
			n := entryLen(c[pos:])
			fn(uint32(ci)<<chunkBits|uint32(pos), c[pos:pos+n])
			pos += n
		}
	}
}

func (a *arena) bytes() int {
	n := 0
	for _, c := range a.chunks {
		n += cap(c)
	}
	return n + cap(a.chunks)*24
}

// table is an immutable hash index over the entries of an arena, keyed by
// the entry's value. It is an open-addressing table of buckets of eight
// slots, probed bucket by bucket: each slot holds a 16-bit tag (bits of the
// value's hash, never 0, 0 marks an empty slot) and the entry's arena
// offset, in two parallel arrays, so a lookup that finds nothing — by far
// the common case — usually reads 16 bytes of tags and nothing else. A tag
// hit is confirmed by comparing the value's bytes in the arena, so a match
// is exact. Entries are only ever inserted, so a bucket with an empty slot
// ends every probe sequence that passes through it. The table is filled to
// 7/8 on average: about 6.9 bytes of index per entry.
type table struct {
	seed  maphash.Seed
	nb    uint64   // buckets
	tags  []uint64 // two words of four 16-bit tags per bucket
	offs  []uint32
	arena arena
	n     int // entries
}

const (
	slots = 8
	// loadSlots is the average number of used slots per bucket.
	loadSlots = 7
)

func tagOf(h uint64) uint16 {
	t := uint16(h)
	if t == 0 {
		t = 1
	}
	return t
}

// bucketOf maps a hash to a bucket by multiplication, which needs no power
// of two table size and uses the hash's high bits (the tag uses the low).
func (t *table) bucketOf(h uint64) uint64 {
	hi, _ := bits.Mul64(h, t.nb)
	return hi
}

// build indexes every entry of the arena.
func (t *table) build(seed maphash.Seed) {
	t.seed = seed
	t.arena.trim()
	if t.n == 0 {
		return
	}
	t.nb = uint64(t.n/loadSlots + 1)
	t.tags = make([]uint64, t.nb*2)
	t.offs = make([]uint32, t.nb*slots)
	t.arena.each(func(off uint32, e []byte) {
		v := entryValue(e)
		h := maphash.Bytes(t.seed, v)
		tag := tagOf(h)
		for b := t.bucketOf(h); ; {
			for s := uint64(0); s < slots; s++ {
				w := &t.tags[2*b+s/4]
				shift := 16 * (s % 4)
				if *w>>shift&0xffff == 0 {
					*w |= uint64(tag) << shift
					t.offs[b*slots+s] = off
					return
				}
			}
			if b++; b == t.nb {
				b = 0
			}
		}
	})
}

// lookup calls fn with the offset of every entry whose value is key.
// The tags of a bucket are compared four at a time (SWAR): one word
// yields the slots whose tag matches and whether any slot is empty.
func (t *table) lookup(key []byte, fn func(off uint32)) {
	if t.nb == 0 {
		return
	}
	h := maphash.Bytes(t.seed, key)
	pat := uint64(tagOf(h)) * lanes
	for b := t.bucketOf(h); ; {
		w := t.tags[2*b : 2*b+2 : 2*b+2]
		for half, x := range w {
			for m := zeroLanes(x ^ pat); m != 0; m &= m - 1 {
				s := b*slots + uint64(half*4+bits.TrailingZeros64(m)>>4)
				off := t.offs[s]
				if bytes.Equal(entryValue(t.arena.at(off)), key) {
					fn(off)
				}
			}
			if zeroLanes(x) != 0 {
				return // an empty slot ends the probe sequence
			}
		}
		if b++; b == t.nb {
			b = 0
		}
	}
}

const (
	lanes    = 0x0001000100010001
	lanesLow = 0x7fff7fff7fff7fff
)

// zeroLanes sets the high bit of every 16-bit lane of x that is zero,
// exactly, and clears all other bits.
func zeroLanes(x uint64) uint64 {
	return ^((x&lanesLow + lanesLow) | x | lanesLow)
}

func (t *table) bytes() int {
	return cap(t.tags)*8 + cap(t.offs)*4 + t.arena.bytes()
}

// Entry encoding.

// entryValue returns the value of the entry at the start of e.
func entryValue(e []byte) []byte {
	n, k := binary.Uvarint(e)
	return e[k : k+int(n)]
}

// entryMeta returns the bytes after the value: profile, valid-until, id.
func entryMeta(e []byte) []byte {
	n, k := binary.Uvarint(e)
	return e[k+int(n):]
}

// entryLen returns the length of the entry at the start of e.
func entryLen(e []byte) int {
	m := entryMeta(e)
	return len(e) - len(m) + 9 + idLen(m[8])
}

func idLen(kind byte) int {
	if kind == 0 {
		return 16
	}
	return int(kind)
}
