package match

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/hdnetwork/hdn/internal/logparse"
)

// missCache remembers, per Session, observed values that matched nothing
// in the current index, so that the values traffic repeats all day (the
// same resolvers, CDNs, update servers, TLS clients) cost one probe of a
// small table instead of a walk over the index's parent domains and
// ranges. It is exact: an entry holds the whole value and is compared byte
// for byte, and entries of an older index are ignored (every Index has its
// own generation number). Only misses are kept, and expiry cannot turn a
// miss into a hit, so the cache never hides an alert.
type missCache struct {
	seed    maphash.Seed
	entries []missEntry
}

const (
	missSlots    = 4096 // 256 KiB per Session
	missValueMax = 48
)

type missEntry struct {
	gen  uint64
	kind logparse.Kind
	n    uint8
	val  [missValueMax]byte
}

// indexGen numbers the indexes built by this process.
var indexGen atomic.Uint64

func newMissCache() missCache {
	return missCache{seed: maphash.MakeSeed(), entries: make([]missEntry, missSlots)}
}

// key returns the bytes an observation is cached by (an address as its 16
// bytes), or false when it is too long to cache.
func missKey(o *logparse.Observation, buf *[16]byte) ([]byte, bool) {
	if o.Kind == logparse.KindIP {
		*buf = o.Addr.As16()
		return buf[:], true
	}
	return o.Value, len(o.Value) <= missValueMax
}

func (c *missCache) slot(k []byte, kind logparse.Kind) *missEntry {
	h := maphash.Bytes(c.seed, k) ^ uint64(kind)*0x9e3779b97f4a7c15
	return &c.entries[h&(missSlots-1)]
}

// missed reports whether the observation is known to match nothing in the
// index of generation gen.
func (c *missCache) missed(gen uint64, o *logparse.Observation) bool {
	var buf [16]byte
	k, ok := missKey(o, &buf)
	if !ok {
		return false
	}
	e := c.slot(k, o.Kind)
	return e.gen == gen && e.kind == o.Kind && int(e.n) == len(k) && string(e.val[:e.n]) == string(k)
}

// add records that the observation matched nothing in index gen.
func (c *missCache) add(gen uint64, o *logparse.Observation) {
	var buf [16]byte
	k, ok := missKey(o, &buf)
	if !ok {
		return
	}
	e := c.slot(k, o.Kind)
	e.gen, e.kind, e.n = gen, o.Kind, uint8(len(k))
	copy(e.val[:], k)
}
