// Package retro keeps the sensor's retro-hunt record: for each hour of the
// last Retain (default 14 days), the distinct observables the sensor saw —
// DNS and host names with their parent domains, addresses, URLs, hashes and
// fingerprints, e-mail addresses — so that an indicator that arrives later
// can be searched for, and a retro alert can name the hours in which it was
// seen (DESIGN.md section 5 gives the matching rules, which Search follows).
//
// # What is kept
//
// Values are not kept, only their 64-bit SipHash-2-4 under a random 128-bit
// key made when the record's directory is first used (file "key"; hour files
// are only readable with it). Addresses are kept whole (16 bytes, IPv4 as
// IPv4-mapped), because a CIDR indicator has to find the addresses inside
// it. A domain observation records the name and, separately, each parent
// domain of at least two labels, so that the domain indicator evil.example
// finds a.b.evil.example while the hostname indicator evil.example finds
// only evil.example, and neither finds notevil.example. A URL is recorded
// as given and without its query. Hashes are lower-cased, with colons
// dropped; names and e-mail addresses are lower-cased (ASCII) and names lose
// a trailing dot; URLs and JA4 fingerprints are taken as given (canonical).
//
// False hits: two different values share a hash with probability 2^-64 per
// pair. A search compares one value with at most MaxPerHour values per hour,
// so over 14 days at the default cap the chance of one false retro hit per
// search is below 336 × 2,000,000 × 2^-64 ≈ 4·10^-11 (twice that for a
// domain, which is looked up among names and parents). Because the key is
// secret, nobody can craft a collision by choosing what the sensor sees.
//
// # Memory and disk
//
// The hour in progress lives in memory, sharded over 64 mutex-guarded
// hash sets so that Add from many goroutines rarely contends; once an hour
// is over it is written to an immutable hour file ("2026-11-27T08.hr", UTC)
// and dropped from memory. Up to three hours can be open at once (the
// current one, the one before it, which still receives late events, and one
// more for stragglers), each holding at most MaxPerHour values; beyond that
// further new values of the hour are dropped and counted (Stats.Dropped).
//
//   - Memory per open hour: 10.7–21.3 bytes per hashed value and
//     21.3–42.7 bytes per address (the sets double when 3/4 full), under
//     100 KB of fixed overhead, and while an hour is written a sorted copy,
//     8 bytes per value and 16 per address. At the default cap (2,000,000)
//     one full hour of hashed values takes at most 43 MB, of addresses 85 MB;
//     with three hours open the worst case is three times that.
//   - Disk per hour: 8 bytes per distinct hashed value, 16 per distinct
//     address, plus an index of 12 bytes per 1,024 values and 20 bytes per
//     512 addresses and 104 bytes of header and trailer: 8.012 and 16.04
//     bytes. Per day that is at most 24 × MaxPerHour × 16.04 bytes (770 MB at
//     the default cap, if every value were an address; 385 MB if none were).
//     A site that sees 50,000 distinct values an hour writes about
//     10 MB a day, 135 MB for 14 days.
//   - Memory for the hours on disk: only their indexes, 24 bytes per
//     1,024 values or 512 addresses (at most 94 KB per full hour, 32 MB for
//     14 full days); a lookup reads one 8 KiB block per file and section.
//
// # Late and odd times
//
// An observation is filed under the hour of its own time, not of its
// arrival. An hour is written when an observation two hours later arrives,
// when a fourth hour has to be opened (the oldest open one is written), or
// when Maintain finds it ended more than ten minutes ago. Observations
// that arrive for an hour already written go to a new bucket for that hour
// and a further file ("2026-11-27T08.1.hr"); all files of an hour together
// keep at most MaxPerHour values. Times more than five minutes ahead of Now
// are filed under the current hour, times before the retention window are
// not recorded (Stats.TooOld), and a zero time means now.
//
// Hour files are checksummed (CRC-32C over header, index and each 8 KiB
// block) and written atomically. A file that is damaged, truncated or made
// under another key is skipped, logged, and counted (Stats.Corrupt) when
// the record is opened, or reported by Search when a damaged block is read.
// Hours older than Retain are deleted on Open, after every hour written,
// and by Maintain.
package retro

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// maxParentLabels is the most labels a parent domain recorded for a name
// has: sub-domains of a domain indicator deeper than that are found by
// their exact name only.
const maxParentLabels = 8

// Defaults for Options.
const (
	DefaultRetain     = 14 * 24 * time.Hour
	DefaultMaxPerHour = 2_000_000
)

const (
	shardBits = 6
	nShards   = 1 << shardBits

	// maxOpen is how many hours may be in memory at once.
	maxOpen = 3
	// lateGrace is how long after its end Maintain keeps an hour open for
	// late observations.
	lateGrace = 10 * time.Minute
	// maxSkew is how far ahead of Now an observation's time may be before it
	// is filed under the current hour instead.
	maxSkew = 5 * time.Minute

	keyFile = "key"
)

// Options configure a Record. Zero values mean the defaults.
type Options struct {
	// Retain is how long hours are kept (default 14 days).
	Retain time.Duration
	// MaxPerHour caps the distinct values kept per hour, all kinds together
	// (a name and each of its parent domains count one each; default
	// 2,000,000). It bounds memory and disk; see the package comment.
	MaxPerHour int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives reports of unusable hour files and failed writes
	// (default: none).
	Logger *slog.Logger
}

// Kind says what an observed value is. The kinds are those of
// internal/logparse observations.
type Kind uint8

// The observation kinds.
const (
	// Domain is a DNS name or host name (DNS query and answer names, TLS SNI,
	// certificate names, HTTP Host, URL hosts), any case, maybe with a
	// trailing dot. Found by domain and hostname indicators.
	Domain Kind = iota + 1
	// IP is an address in text form. Parsing it costs an allocation; the
	// hot path should call AddIP with the address its parser already has.
	// Found by ipv4, ipv6 and cidr indicators.
	IP
	// URL is a canonical URL (see internal/indicator). Found by url
	// indicators.
	URL
	// Hash is a hex digest or fingerprint, any case, colons allowed: file
	// hashes, certificate fingerprints, JA3/JA3S. Found by every hash type.
	Hash
	// Email is an e-mail address, any case.
	Email
	// JA4 is a JA4 fingerprint.
	JA4
)

// MaxHitAddrs is how many addresses a Hit lists at most.
const MaxHitAddrs = 16

// Hit is an hour in which a searched indicator was seen.
type Hit struct {
	// Hour is the start of the hour, in UTC.
	Hour time.Time
	// Addrs are, for ipv4, ipv6 and cidr indicators, the addresses seen in
	// that hour that the indicator covers, in order (at most MaxHitAddrs).
	Addrs []netip.Addr
}

// Stats describe a record.
type Stats struct {
	Hours     int   // hours with readable files on disk
	Files     int   // readable hour files
	DiskBytes int64 // their size
	Corrupt   int   // hour files skipped as unusable
	Open      int   // hours held in memory
	InMemory  int64 // values held in memory
	Dropped   int64 // new values refused because their hour was full (since Open)
	TooOld    int64 // observations older than Retain, not recorded
	Lost      int64 // values lost because their hour file could not be written
}

// Record is a retro-hunt record in a directory. Add, AddIP, Search, Flush,
// Maintain and Stats may be called from any number of goroutines. One
// directory must be used by one Record at a time.
type Record struct {
	dir    string
	retain time.Duration
	max    int64
	now    func() time.Time
	log    *slog.Logger
	key    sipKey
	keyID  uint64

	// hot lists the open buckets for Add to find without locking; it is
	// replaced, never modified, under mu.
	hot atomic.Pointer[[maxOpen]*bucket]
	// minHour caches the first hour within the retention window, so that
	// observations that are too old are refused without locking.
	minHour atomic.Int64
	tooOld  atomic.Int64

	// flushMu serialises writing and deleting hour files.
	flushMu sync.Mutex

	mu      sync.Mutex
	closed  bool
	newest  int64     // the latest hour observed
	open    []*bucket // hours being filled
	sealing []*bucket // hours closed to Add, waiting to be written
	segs    map[int64][]*segment
	bad     map[int64][]string // unusable files, deleted when expired
	nextSeq map[int64]int
	hints   [nShards][nSections]int32 // set sizes of the last full hour
	dropped int64
	lost    int64
}

// bucket is one hour being filled, in shards chosen by a value's hash.
type bucket struct {
	hour    int64
	budget  int64 // values it may still take
	created time.Time
	regular bool // it was the newest hour when made; its sizes become hints
	hint    [nShards][nSections]int32
	count   atomic.Int64
	dropped atomic.Int64
	shards  [nShards]shard
}

type shard struct {
	mu     sync.Mutex
	sealed bool // the bucket is closed to Add
	sets   [nSets]u64set
	ips    ipset
	_      [64]byte // keep neighbouring shards' locks off one cache line
}

// Open opens the record in dir, creating dir and the hash key if needed.
// dir is made 0700 and its files 0600 when group or others had any
// permission on them.
// Hour files are indexed, not loaded; unusable ones are skipped, logged and
// counted in Stats.Corrupt, and hours older than Retain are deleted.
func Open(dir string, opts Options) (*Record, error) {
	if opts.Retain <= 0 {
		opts.Retain = DefaultRetain
	}
	if opts.MaxPerHour <= 0 {
		opts.MaxPerHour = DefaultMaxPerHour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("retro: %w", err)
	}
	// What the sensor saw is the organisation's own: the directory and its
	// files are its owner's only, also when an earlier version or an
	// administrator made them otherwise.
	if err := ownerOnly(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := loadKey(dir)
	if err != nil {
		return nil, err
	}
	r := &Record{
		dir:     dir,
		retain:  opts.Retain,
		max:     int64(opts.MaxPerHour),
		now:     opts.Now,
		log:     opts.Logger,
		key:     key,
		keyID:   key.sum([]byte("hdn retro key id")),
		newest:  noHour,
		segs:    make(map[int64][]*segment),
		bad:     make(map[int64][]string),
		nextSeq: make(map[int64]int),
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("retro: %w", err)
	}
	cut := r.cutoff(r.now())
	r.minHour.Store(cut)
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".tmp-") { // a write cut short by a crash
			os.Remove(path)
			continue
		}
		if e.Type().IsRegular() {
			if err := ownerOnly(path, 0o600); err != nil {
				return nil, err
			}
		}
		hour, seq, ok := parseFileName(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		r.nextSeq[hour] = max(r.nextSeq[hour], seq+1)
		if hour < cut {
			r.remove(path)
			continue
		}
		s, err := openSegment(path, hour, r.keyID)
		if err != nil {
			r.log.Warn("retro: skipping hour file", "file", path, "err", err)
			r.bad[hour] = append(r.bad[hour], path)
			continue
		}
		r.segs[hour] = append(r.segs[hour], s)
	}
	return r, nil
}

const noHour = -1 << 62

// ownerOnly narrows the mode of the file or directory at path to most
// (0600 for files, 0700 for directories) when group or others have any
// permission on it. Files the record writes are created 0600 (os.CreateTemp).
func ownerOnly(path string, most fs.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("retro: %w", err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, fi.Mode().Perm()&most); err != nil && !errors.Is(err, fs.ErrPermission) {
		// (One the sensor does not own is left as its owner made it.)
		return fmt.Errorf("retro: make %s owner-only: %w", path, err)
	}
	return nil
}

// loadKey reads the record's hash key, or makes one.
func loadKey(dir string) (sipKey, error) {
	path := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var k [16]byte
		rand.Read(k[:])
		err = writeAtomic(dir, keyFile, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "%x\n", k)
			return err
		})
		if err != nil {
			return sipKey{}, fmt.Errorf("retro: writing key: %w", err)
		}
		return keyFrom(k[:]), nil
	}
	if err != nil {
		return sipKey{}, fmt.Errorf("retro: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 16 {
		return sipKey{}, fmt.Errorf("retro: key file %s is damaged; remove it and the hour files, which cannot be read without it", path)
	}
	return keyFrom(k), nil
}

func keyFrom(k []byte) sipKey {
	var key sipKey
	for i := range 8 {
		key.k0 |= uint64(k[i]) << (8 * i)
		key.k1 |= uint64(k[8+i]) << (8 * i)
	}
	return key
}

// hourOf is t's hour: Unix seconds / 3600, rounded down.
func hourOf(t time.Time) int64 {
	s := t.Unix()
	h := s / 3600
	if s < 0 && s%3600 != 0 {
		h--
	}
	return h
}

func hourStart(h int64) time.Time { return time.Unix(h*3600, 0).UTC() }

// cutoff is the first hour still within the retention window at now: an
// hour is expired once all of it lies more than Retain in the past.
func (r *Record) cutoff(now time.Time) int64 { return hourOf(now.Add(-r.retain)) }

// Add records that value, of the given kind, was observed at t. It copies
// what it keeps and ignores values that cannot be indicators (empty, too
// long, a name of one label). It does not allocate, except for kind IP
// (parsing the text allocates; use AddIP) and when an hour begins: its
// sets are then made once, sized after the previous hour's. The call that
// begins an hour may write the hour before last to disk.
func (r *Record) Add(t time.Time, kind Kind, value []byte) {
	var buf [320]byte // the longest e-mail address
	switch kind {
	case Domain:
		if n := len(value); n > 0 && value[n-1] == '.' {
			value = value[:n-1]
		}
		name, ok := lower(buf[:253], value, false)
		dots := 0
		for _, c := range name {
			if c == '.' {
				dots++
			}
		}
		if !ok || dots == 0 {
			return
		}
		h, b := r.hourOf(t)
		if b = r.put(b, h, setNames, r.key.sum(name)); b == nil {
			return
		}
		// The parents of at most maxParentLabels labels: a name of a
		// hundred labels would otherwise put a hundred values into the
		// hour's budget, and a few thousand such queries (their names are
		// the asker's choice) would fill it for everyone.
		for i := 0; dots > 1; i++ {
			if name[i] == '.' {
				dots--
				if dots >= maxParentLabels {
					continue
				}
				if b = r.put(b, h, setParents, r.key.sum(name[i+1:])); b == nil {
					return
				}
			}
		}
	case IP:
		if a, err := netip.ParseAddr(string(value)); err == nil {
			r.AddIP(t, a)
		}
	case URL:
		if len(value) == 0 || len(value) > indicator.MaxURLLen {
			return
		}
		h, b := r.hourOf(t)
		b = r.put(b, h, setURLs, r.key.sum(value))
		if q := bytes.IndexByte(value, '?'); q >= 0 && b != nil {
			r.put(b, h, setURLs, r.key.sum(value[:q]))
		}
	case Hash:
		if v, ok := lower(buf[:128], value, true); ok && len(v) > 0 {
			h, b := r.hourOf(t)
			r.put(b, h, setHashes, r.key.sum(v))
		}
	case Email:
		if v, ok := lower(buf[:], value, false); ok && len(v) > 0 {
			h, b := r.hourOf(t)
			r.put(b, h, setEmails, r.key.sum(v))
		}
	case JA4:
		if len(value) > 0 && len(value) <= indicator.MaxValueLen {
			h, b := r.hourOf(t)
			r.put(b, h, setJA4, r.key.sum(value))
		}
	}
}

// AddIP records that address a was observed at t (a zone is dropped and an
// IPv4-mapped address unmapped, as indicators are).
func (r *Record) AddIP(t time.Time, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	ip := toIP128(a)
	hash := ip.hash(r.key)
	h, b := r.hourOf(t)
	for {
		if b == nil {
			if b = r.bucket(h); b == nil {
				return
			}
		}
		if b.insertIP(ip, hash, r.key) {
			return
		}
		b = nil
	}
}

func toIP128(a netip.Addr) ip128 {
	b := a.Unmap().As16()
	return decodeEntry(b[:], secIPs)
}

// lower copies v into dst lower-casing ASCII letters (and dropping colons if
// asked); it fails if v does not fit.
func lower(dst, v []byte, dropColons bool) ([]byte, bool) {
	n := 0
	for _, c := range v {
		if c == ':' && dropColons {
			continue
		}
		if n == len(dst) {
			return nil, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[n] = c
		n++
	}
	return dst[:n], true
}

// hourOf returns t's hour and, if it is open, its bucket.
func (r *Record) hourOf(t time.Time) (int64, *bucket) {
	if t.IsZero() {
		t = r.now()
	}
	h := hourOf(t)
	if hot := r.hot.Load(); hot != nil {
		for _, b := range hot {
			if b != nil && b.hour == h {
				return h, b
			}
		}
	}
	return h, nil
}

// put adds key k to set of hour h, in bucket b if that is not nil, and
// returns the bucket used, for the next value of the same observation.
func (r *Record) put(b *bucket, h int64, set int, k uint64) *bucket {
	for {
		if b == nil {
			if b = r.bucket(h); b == nil {
				return nil
			}
		}
		if b.insert(set, k) {
			return b
		}
		b = nil // sealed meanwhile; find the hour's new bucket
	}
}

// bucket returns the open bucket for hour h, opening one if needed, or nil
// if h is too old or the record is closed.
func (r *Record) bucket(h int64) *bucket {
	if h < r.minHour.Load() {
		r.tooOld.Add(1)
		return nil
	}
	if hot := r.hot.Load(); hot != nil {
		for _, b := range hot {
			if b != nil && b.hour == h {
				return b
			}
		}
	}
	now := r.now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	cut := r.cutoff(now)
	r.minHour.Store(cut)
	if h < cut {
		r.mu.Unlock()
		r.tooOld.Add(1)
		return nil
	}
	if h > hourOf(now.Add(maxSkew)) {
		h = hourOf(now)
	}
	for _, b := range r.open {
		if b.hour == h {
			r.mu.Unlock()
			return b
		}
	}
	if h > r.newest {
		r.newest = h
		for _, b := range slices.Clone(r.open) {
			if b.hour < h-1 {
				r.sealLocked(b)
			}
		}
	}
	if len(r.open) == maxOpen {
		oldest := r.open[0]
		for _, b := range r.open {
			if b.hour < oldest.hour {
				oldest = b
			}
		}
		r.sealLocked(oldest)
	}
	b := r.newBucketLocked(h, now)
	r.open = append(r.open, b)
	r.publishLocked()
	pending := len(r.sealing) > 0
	r.mu.Unlock()
	if pending {
		r.writeSealed()
	}
	return b
}

func (r *Record) newBucketLocked(h int64, now time.Time) *bucket {
	budget := r.max
	for _, s := range r.segs[h] {
		budget -= int64(s.entries())
	}
	for _, b := range r.sealing {
		if b.hour == h {
			budget -= b.count.Load()
		}
	}
	b := &bucket{hour: h, budget: max(budget, 0), created: now, regular: h == r.newest}
	if b.regular {
		b.hint = r.hints
	}
	return b
}

// publishLocked makes the open buckets visible to Add.
func (r *Record) publishLocked() {
	var hot [maxOpen]*bucket
	copy(hot[:], r.open)
	r.hot.Store(&hot)
}

// sealLocked closes b to Add and queues it for writing.
func (r *Record) sealLocked(b *bucket) {
	r.open = slices.DeleteFunc(r.open, func(o *bucket) bool { return o == b })
	r.publishLocked()
	r.sealing = append(r.sealing, b)
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		sh.sealed = true
		sh.mu.Unlock()
	}
}

// writeSealed writes every sealed bucket to its hour file, then deletes
// expired hours. A bucket that cannot be written is logged and lost.
func (r *Record) writeSealed() error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	todo := slices.Clone(r.sealing) // all unwritten: writers hold flushMu
	r.mu.Unlock()
	var errs []error
	for _, b := range todo {
		c := b.content(r.keyID)
		var s *segment
		var err error
		if len(c.ips) > 0 || slices.ContainsFunc(c.sets[:], func(k []uint64) bool { return len(k) > 0 }) {
			s, err = r.writeHour(c)
		}
		r.mu.Lock()
		r.sealing = slices.DeleteFunc(r.sealing, func(o *bucket) bool { return o == b })
		r.dropped += b.dropped.Load()
		switch {
		case err != nil:
			r.lost += b.count.Load()
			r.log.Error("retro: writing hour file", "hour", hourStart(b.hour), "err", err)
			errs = append(errs, err)
		case s != nil:
			r.segs[s.hour] = append(r.segs[s.hour], s)
		}
		if b.regular && err == nil {
			for i := range b.shards {
				for sec := range nSets {
					r.hints[i][sec] = int32(b.shards[i].sets[sec].n)
				}
				r.hints[i][secIPs] = int32(b.shards[i].ips.n)
			}
		}
		r.mu.Unlock()
	}
	r.expireLocked(r.now())
	return errors.Join(errs...)
}

// content gathers a sealed bucket's values, sorted.
func (b *bucket) content(keyID uint64) *hourContent {
	c := &hourContent{hour: b.hour, keyID: keyID, dropped: uint64(b.dropped.Load())}
	for sec := range nSets {
		n := 0
		for i := range b.shards {
			n += b.shards[i].sets[sec].n
		}
		c.sets[sec] = make([]uint64, 0, n)
		for i := range b.shards {
			c.sets[sec] = b.shards[i].sets[sec].appendTo(c.sets[sec])
		}
	}
	for i := range b.shards {
		c.ips = b.shards[i].ips.appendTo(c.ips)
	}
	sortContent(c)
	return c
}

// writeHour writes c to a new hour file and indexes it.
func (r *Record) writeHour(c *hourContent) (*segment, error) {
	r.mu.Lock()
	seq := r.nextSeq[c.hour]
	r.nextSeq[c.hour]++
	r.mu.Unlock()
	name := fileName(c.hour, seq)
	if err := writeAtomic(r.dir, name, c.encode); err != nil {
		return nil, fmt.Errorf("retro: writing %s: %w", name, err)
	}
	s, err := openSegment(filepath.Join(r.dir, name), c.hour, r.keyID)
	if err != nil {
		return nil, fmt.Errorf("retro: reading back %s: %w", name, err)
	}
	return s, nil
}

// expireLocked deletes hours that have left the retention window; the
// caller holds flushMu.
func (r *Record) expireLocked(now time.Time) {
	cut := r.cutoff(now)
	var paths []string
	r.mu.Lock()
	for h, ss := range r.segs {
		if h < cut {
			for _, s := range ss {
				paths = append(paths, s.path)
			}
			delete(r.segs, h)
		}
	}
	for h, ps := range r.bad {
		if h < cut {
			paths = append(paths, ps...)
			delete(r.bad, h)
		}
	}
	for h := range r.nextSeq {
		if h < cut {
			delete(r.nextSeq, h)
		}
	}
	r.mu.Unlock()
	for _, p := range paths {
		r.remove(p)
	}
}

func (r *Record) remove(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Warn("retro: deleting expired hour file", "file", path, "err", err)
	}
}

// insert adds k to set of b. It returns false if b was sealed.
func (b *bucket) insert(set int, k uint64) bool {
	i := k >> (64 - shardBits)
	sh := &b.shards[i]
	sh.mu.Lock()
	if sh.sealed {
		sh.mu.Unlock()
		return false
	}
	s := &sh.sets[set]
	s.reserve(int(b.hint[i][set]))
	if slot, found := s.find(k); !found && b.take() {
		s.slots[slot] = k
		s.n++
	}
	sh.mu.Unlock()
	return true
}

func (b *bucket) insertIP(a ip128, hash uint64, key sipKey) bool {
	i := hash >> (64 - shardBits)
	sh := &b.shards[i]
	sh.mu.Lock()
	if sh.sealed {
		sh.mu.Unlock()
		return false
	}
	s := &sh.ips
	if a == (ip128{}) {
		if !s.zero && b.take() {
			s.zero = true
		}
	} else {
		s.reserve(int(b.hint[i][secIPs]), key)
		if slot, found := s.find(a, hash); !found && b.take() {
			s.slots[slot] = a
			s.n++
		}
	}
	sh.mu.Unlock()
	return true
}

// take claims room for one more value, or counts it as dropped.
func (b *bucket) take() bool {
	if b.count.Add(1) > b.budget {
		b.count.Add(-1)
		b.dropped.Add(1)
		return false
	}
	return true
}

// Flush writes every hour held in memory to disk. Observations that arrive
// later for those hours go to further files.
func (r *Record) Flush() error {
	r.mu.Lock()
	for len(r.open) > 0 {
		r.sealLocked(r.open[0])
	}
	r.mu.Unlock()
	return r.writeSealed()
}

// Maintain writes hours that ended more than ten minutes ago (by Now) and
// deletes expired ones. The sensor calls it periodically, once a minute
// say, so that hours are written even when traffic stops.
func (r *Record) Maintain() error {
	now := r.now()
	r.mu.Lock()
	for _, b := range slices.Clone(r.open) {
		if end := hourStart(b.hour + 1).Add(lateGrace); !now.Before(end) && !now.Before(b.created.Add(lateGrace)) {
			r.sealLocked(b)
		}
	}
	r.mu.Unlock()
	return r.writeSealed()
}

// Close writes the hours held in memory and closes the record; later Adds
// are ignored and Searches fail.
func (r *Record) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	for len(r.open) > 0 {
		r.sealLocked(r.open[0])
	}
	r.mu.Unlock()
	return r.writeSealed()
}

// Stats reports the record's size and counters.
func (r *Record) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{
		Hours:   len(r.segs),
		Open:    len(r.open),
		Dropped: r.dropped,
		TooOld:  r.tooOld.Load(),
		Lost:    r.lost,
	}
	for _, ss := range r.segs {
		st.Files += len(ss)
		for _, s := range ss {
			st.DiskBytes += s.size
		}
	}
	for _, ps := range r.bad {
		st.Corrupt += len(ps)
	}
	for _, b := range r.open {
		st.InMemory += b.count.Load()
		st.Dropped += b.dropped.Load()
	}
	for _, b := range r.sealing {
		st.InMemory += b.count.Load()
		st.Dropped += b.dropped.Load()
	}
	return st
}
