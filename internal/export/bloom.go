package export

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"

	"github.com/hdnetwork/hdn/internal/model"
)

// The DCSO bloom filter file, as github.com/DCSO/bloom (the `bloom` tool,
// Debian's golang-github-dcso-bloom-cli) and DCSO FEVER read it. All
// numbers are little-endian 64-bit words:
//
//	flags   version in the low byte: 1
//	n       capacity the filter was sized for
//	p       false-positive rate, IEEE 754 float64 bits
//	k       number of hash functions
//	m       number of bits
//	N       number of elements added
//	v       ceil(m/64) words of bits; bit i is bit i%64 of word i/64
//	data    optional, to the end of the file (we write none)
//
// An element's k bit positions come from one FNV-1 64-bit hash of its bytes
// (FNV-1, not FNV-1a), stepped k times through a Lehmer-style generator:
//
//	x = fnv1(value) mod P
//	x = (x·G mod 2^64) mod P, then position x mod m    (k times)
//
// with P = 2^64−59 = 18446744073709551557 and G = 18446744073709550147. The
// product wraps at 64 bits before the reduction; that is how the reference
// implementation computes it, and a reader must do the same to find the same
// bits. N counts the additions that set at least one new bit.

// bloomFilter is a DCSO bloom filter.
type bloomFilter struct {
	n, k, m, count uint64
	p              float64
	bits           []uint64
}

// newBloomFilter sizes a filter for n elements at false-positive rate p:
// m = ceil(n·ln(1/p)/ln²2) bits and k = ceil(m/n·ln 2) hash functions.
func newBloomFilter(n uint64, p float64) *bloomFilter {
	if n == 0 {
		n = 1 // a filter of no bits cannot be read back
	}
	m := uint64(math.Ceil(float64(n) * math.Log(1/p) / (math.Ln2 * math.Ln2)))
	if m == 0 {
		m = 1
	}
	k := uint64(math.Ceil(math.Ln2 * float64(m) / float64(n)))
	if k == 0 {
		k = 1
	}
	return &bloomFilter{n: n, p: p, k: k, m: m, bits: make([]uint64, (m+63)/64)}
}

// The constants of the bit position generator.
const (
	bloomP uint64 = 18446744073709551557 // 2^64 − 59
	bloomG uint64 = 18446744073709550147
)

// positions calls f with each of the k bit positions of value, until f
// returns false.
func (b *bloomFilter) positions(value []byte, f func(pos uint64) bool) {
	h := fnv.New64() // FNV-1, as the format has it
	h.Write(value)
	x := h.Sum64() % bloomP
	for j := uint64(0); j < b.k; j++ {
		x = x * bloomG % bloomP // the product wraps, as in the reference
		if !f(x % b.m) {
			return
		}
	}
}

func (b *bloomFilter) add(value []byte) {
	fresh := false
	b.positions(value, func(pos uint64) bool {
		w, bit := pos/64, uint64(1)<<(pos%64)
		if b.bits[w]&bit == 0 {
			fresh = true
			b.bits[w] |= bit
		}
		return true
	})
	if fresh {
		b.count++
	}
}

func (b *bloomFilter) has(value []byte) bool {
	in := true
	b.positions(value, func(pos uint64) bool {
		in = b.bits[pos/64]&(1<<(pos%64)) != 0
		return in
	})
	return in
}

// writeTo writes the filter file.
func (b *bloomFilter) writeTo(w io.Writer) error {
	buf := make([]byte, 0, 8<<10)
	for _, x := range []uint64{1, b.n, math.Float64bits(b.p), b.k, b.m, b.count} {
		buf = binary.LittleEndian.AppendUint64(buf, x)
	}
	for _, x := range b.bits {
		if len(buf) == cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		buf = binary.LittleEndian.AppendUint64(buf, x)
	}
	_, err := w.Write(buf)
	return err
}

// readBloomFilter reads a filter file (without trailing data).
func readBloomFilter(r io.Reader) (*bloomFilter, error) {
	var head [48]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("bloom: header: %w", err)
	}
	word := func(i int) uint64 { return binary.LittleEndian.Uint64(head[8*i:]) }
	if word(0)&0xff != 1 {
		return nil, errors.New("bloom: version is not 1")
	}
	b := &bloomFilter{n: word(1), p: math.Float64frombits(word(2)), k: word(3), m: word(4), count: word(5)}
	if b.m == 0 || b.m > 1<<40 || b.k == 0 || b.k > 1024 {
		return nil, fmt.Errorf("bloom: implausible header: m=%d k=%d", b.m, b.k)
	}
	raw := make([]byte, 8*((b.m+63)/64))
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("bloom: bits: %w", err)
	}
	b.bits = make([]uint64, len(raw)/8)
	for i := range b.bits {
		b.bits[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	return b, nil
}

// bloomEncoder collects the values (the filter's size depends on their
// number) and writes the filter at the end. Values are the canonical values
// as they are, which is what FEVER looks up: DNS query names, HTTP hosts,
// "http://host/path" URLs, TLS SNI names. With Options.ListType only that
// type goes in.
type bloomEncoder struct {
	w      *writer
	opt    Options
	values []string
}

func (e *bloomEncoder) begin() error { return nil }

func (e *bloomEncoder) add(ind *model.Indicator) (int, bool) {
	if e.opt.ListType != "" && ind.Type != e.opt.ListType {
		return 0, false
	}
	// The bloom tool reads values to check one per line: a value with a
	// line break could never be looked up.
	if !oneLine(ind.Value) {
		return 0, false
	}
	e.values = append(e.values, ind.Value)
	return 1, true
}

func (e *bloomEncoder) end() (int, error) {
	f := newBloomFilter(uint64(len(e.values)), e.opt.BloomFPRate)
	for _, v := range e.values {
		f.add([]byte(v))
	}
	if err := f.writeTo(e.w); err != nil && e.w.err == nil {
		e.w.err = err
	}
	return 0, e.w.err
}
