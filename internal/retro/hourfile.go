package retro

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Hour file layout (integers little-endian unless noted):
//
//	header, 100 bytes:
//	  0  magic "hdnretro"
//	  8  version uint32 (1), flags uint32 (0)
//	 16  hour int64: Unix time / 3600
//	 24  key ID uint64: which hash key the values were hashed with
//	 32  count uint64 per section (7)
//	 88  dropped uint64: values not kept because the hour was full
//	 96  CRC-32C of bytes 0–95
//	sections, in order: names, parents, urls, hashes, emails, ja4 — each a
//	  strictly increasing array of uint64 keys — then ips, a strictly
//	  increasing array of 16-byte addresses (big-endian, IPv4 mapped).
//	  Each section is cut into blocks of blockLen entries (the last one
//	  shorter).
//	index: per section, per block, the block's first entry (8 or 16
//	  bytes, encoded as in the block) and the CRC-32C of the block.
//	CRC-32C of the index, 4 bytes.
//
// A reader keeps header and index in memory and reads one block per lookup,
// checking its CRC, so a damaged block is found when it is read and a
// truncated file (its size no longer matches the header) when it is opened.

const (
	fileMagic   = "hdnretro"
	fileVersion = 1
	headerSize  = 100

	// Sections of an hour: the hashed sets, then the addresses.
	setNames   = 0 // DNS names as seen
	setParents = 1 // their parent domains (not the names themselves)
	setURLs    = 2 // URLs, and URLs without their query
	setHashes  = 3 // hex digests and TLS fingerprints
	setEmails  = 4
	setJA4     = 5
	nSets      = 6
	secIPs     = 6
	nSections  = 7

	hashBlockLen = 1024 // 8 KiB blocks
	ipBlockLen   = 512  // 8 KiB blocks
	maxBlockSize = 8 << 10

	// maxCount bounds a section's entry count read from a header, so that
	// sizes computed from counts cannot overflow.
	maxCount = 1 << 36
)

// ErrCorrupt is wrapped by errors about hour files that cannot be used:
// damaged, truncated, or written under another hash key.
var ErrCorrupt = errors.New("retro: unusable hour file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func width(sec int) int {
	if sec == secIPs {
		return 16
	}
	return 8
}

func blockLen(sec int) int {
	if sec == secIPs {
		return ipBlockLen
	}
	return hashBlockLen
}

func nBlocks(sec int, count uint64) uint64 {
	n := uint64(blockLen(sec))
	return (count + n - 1) / n
}

// fence is what the index says about a block: its first entry (for hashed
// sets in lo) and its checksum.
type fence struct {
	first ip128
	crc   uint32
}

// segment is one hour file as indexed in memory.
type segment struct {
	path    string
	hour    int64
	keyID   uint64
	dropped uint64
	count   [nSections]uint64
	off     [nSections]int64 // where each section's data starts
	fences  [nSections][]fence
	size    int64
}

func (s *segment) entries() uint64 {
	var n uint64
	for _, c := range s.count {
		n += c
	}
	return n
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// readSegment reads and checks the header and index of an hour file of the
// given size. It never trusts a count before it has checked that the file
// is as large as the count says, so damaged input cannot make it allocate
// more than the file's size.
func readSegment(ra io.ReaderAt, size int64) (*segment, error) {
	if size < headerSize {
		return nil, corrupt("%d bytes, shorter than a header", size)
	}
	var hdr [headerSize]byte
	if _, err := ra.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	if string(hdr[:8]) != fileMagic {
		return nil, corrupt("not an hour file")
	}
	le := binary.LittleEndian
	if v := le.Uint32(hdr[8:]); v != fileVersion {
		return nil, corrupt("version %d, want %d", v, fileVersion)
	}
	if crc32.Checksum(hdr[:96], castagnoli) != le.Uint32(hdr[96:]) {
		return nil, corrupt("header checksum mismatch")
	}
	if f := le.Uint32(hdr[12:]); f != 0 {
		return nil, corrupt("unknown flags %#x", f)
	}
	s := &segment{
		hour:    int64(le.Uint64(hdr[16:])),
		keyID:   le.Uint64(hdr[24:]),
		dropped: le.Uint64(hdr[88:]),
		size:    size,
	}
	off := int64(headerSize)
	var indexSize int64
	for sec := range nSections {
		c := le.Uint64(hdr[32+8*sec:])
		if c > maxCount {
			return nil, corrupt("section %d claims %d entries", sec, c)
		}
		s.count[sec] = c
		s.off[sec] = off
		off += int64(c) * int64(width(sec))
		indexSize += int64(nBlocks(sec, c)) * int64(width(sec)+4)
	}
	if want := off + indexSize + 4; size != want {
		return nil, corrupt("%d bytes, header says %d (truncated?)", size, want)
	}
	index := make([]byte, indexSize+4)
	if _, err := ra.ReadAt(index, off); err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	if crc32.Checksum(index[:indexSize], castagnoli) != le.Uint32(index[indexSize:]) {
		return nil, corrupt("index checksum mismatch")
	}
	p := index
	for sec := range nSections {
		w := width(sec)
		fs := make([]fence, nBlocks(sec, s.count[sec]))
		for i := range fs {
			fs[i] = fence{first: decodeEntry(p, sec), crc: le.Uint32(p[w:])}
			if i > 0 && !fs[i-1].first.less(fs[i].first) {
				return nil, corrupt("section %d index out of order", sec)
			}
			p = p[w+4:]
		}
		s.fences[sec] = fs
	}
	return s, nil
}

func decodeEntry(p []byte, sec int) ip128 {
	if sec == secIPs {
		return ip128{binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])}
	}
	return ip128{lo: binary.LittleEndian.Uint64(p)}
}

func putIP(p []byte, a ip128) {
	binary.BigEndian.PutUint64(p, a.hi)
	binary.BigEndian.PutUint64(p[8:], a.lo)
}

// block reads block i of section sec into buf (maxBlockSize bytes) and
// checks it: checksum, first entry as indexed, entries strictly increasing.
func (s *segment) block(ra io.ReaderAt, sec, i int, buf []byte) ([]byte, error) {
	w, n := width(sec), blockLen(sec)
	first := uint64(i) * uint64(n)
	if rest := s.count[sec] - first; rest < uint64(n) {
		n = int(rest)
	}
	b := buf[:n*w]
	if _, err := ra.ReadAt(b, s.off[sec]+int64(first)*int64(w)); err != nil {
		return nil, fmt.Errorf("reading block: %w", err)
	}
	f := s.fences[sec][i]
	if crc32.Checksum(b, castagnoli) != f.crc {
		return nil, corrupt("section %d block %d checksum mismatch", sec, i)
	}
	if decodeEntry(b, sec) != f.first {
		return nil, corrupt("section %d block %d does not start as indexed", sec, i)
	}
	for j := w; j < len(b); j += w {
		if !decodeEntry(b[j-w:], sec).less(decodeEntry(b[j:], sec)) {
			return nil, corrupt("section %d block %d out of order", sec, i)
		}
	}
	return b, nil
}

// hasKey reports whether hashed set sec holds k.
func (s *segment) hasKey(ra io.ReaderAt, sec int, k uint64, buf []byte) (bool, error) {
	fs := s.fences[sec]
	i := sort.Search(len(fs), func(j int) bool { return fs[j].first.lo > k }) - 1
	if i < 0 {
		return false, nil
	}
	b, err := s.block(ra, sec, i, buf)
	if err != nil {
		return false, err
	}
	n := len(b) / 8
	j := sort.Search(n, func(j int) bool { return binary.LittleEndian.Uint64(b[8*j:]) >= k })
	return j < n && binary.LittleEndian.Uint64(b[8*j:]) == k, nil
}

// ipsIn calls fn for each address from lo to hi inclusive, in order.
func (s *segment) ipsIn(ra io.ReaderAt, lo, hi ip128, buf []byte, fn func(ip128)) error {
	fs := s.fences[secIPs]
	i := max(sort.Search(len(fs), func(j int) bool { return lo.less(fs[j].first) })-1, 0)
	for ; i < len(fs) && !hi.less(fs[i].first); i++ {
		b, err := s.block(ra, secIPs, i, buf)
		if err != nil {
			return err
		}
		for j := 0; j < len(b); j += 16 {
			a := decodeEntry(b[j:], secIPs)
			if hi.less(a) {
				return nil
			}
			if !a.less(lo) {
				fn(a)
			}
		}
	}
	return nil
}

// hourContent is what an hour file holds: sorted, distinct entries.
type hourContent struct {
	hour    int64
	keyID   uint64
	dropped uint64
	sets    [nSets][]uint64
	ips     []ip128
}

// encode writes c in the hour file format.
func (c *hourContent) encode(w io.Writer) error {
	le := binary.LittleEndian
	var hdr [headerSize]byte
	copy(hdr[:], fileMagic)
	le.PutUint32(hdr[8:], fileVersion)
	le.PutUint64(hdr[16:], uint64(c.hour))
	le.PutUint64(hdr[24:], c.keyID)
	for sec := range nSets {
		le.PutUint64(hdr[32+8*sec:], uint64(len(c.sets[sec])))
	}
	le.PutUint64(hdr[32+8*secIPs:], uint64(len(c.ips)))
	le.PutUint64(hdr[88:], c.dropped)
	le.PutUint32(hdr[96:], crc32.Checksum(hdr[:96], castagnoli))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	var index []byte
	var blk [maxBlockSize]byte
	emit := func(b []byte, first []byte) error {
		index = append(index, first...)
		index = le.AppendUint32(index, crc32.Checksum(b, castagnoli))
		_, err := w.Write(b)
		return err
	}
	for sec := range nSets {
		keys := c.sets[sec]
		for len(keys) > 0 {
			n := min(len(keys), hashBlockLen)
			b := blk[:0]
			for _, k := range keys[:n] {
				b = le.AppendUint64(b, k)
			}
			if err := emit(b, b[:8]); err != nil {
				return err
			}
			keys = keys[n:]
		}
	}
	for ips := c.ips; len(ips) > 0; {
		n := min(len(ips), ipBlockLen)
		b := blk[:16*n]
		for i, a := range ips[:n] {
			putIP(b[16*i:], a)
		}
		if err := emit(b, b[:16]); err != nil {
			return err
		}
		ips = ips[n:]
	}
	index = le.AppendUint32(index, crc32.Checksum(index, castagnoli))
	_, err := w.Write(index)
	return err
}

// fileSize is the size encode will write.
func (c *hourContent) fileSize() int64 {
	size := int64(headerSize + 4)
	for sec := range nSections {
		n := uint64(len(c.ips))
		if sec < nSets {
			n = uint64(len(c.sets[sec]))
		}
		size += int64(n)*int64(width(sec)) + int64(nBlocks(sec, n))*int64(width(sec)+4)
	}
	return size
}

func sortContent(c *hourContent) {
	for sec := range nSets {
		slices.Sort(c.sets[sec])
	}
	slices.SortFunc(c.ips, ip128.cmp)
}

// Hour files are named after their hour in UTC, "2026-11-27T08.hr"; later
// files for the same hour (from observations that arrived after the first
// file was written) add a sequence number, "2026-11-27T08.1.hr".
const hourLayout = "2006-01-02T15"

func fileName(hour int64, seq int) string {
	s := hourStart(hour).Format(hourLayout)
	if seq > 0 {
		s += "." + strconv.Itoa(seq)
	}
	return s + ".hr"
}

func parseFileName(name string) (hour int64, seq int, ok bool) {
	base, found := strings.CutSuffix(name, ".hr")
	if !found {
		return 0, 0, false
	}
	stamp, num, hasSeq := strings.Cut(base, ".")
	t, err := time.Parse(hourLayout, stamp)
	if err != nil {
		return 0, 0, false
	}
	if hasSeq {
		seq, err = strconv.Atoi(num)
		if err != nil || seq <= 0 || strconv.Itoa(seq) != num {
			return 0, 0, false
		}
	}
	return hourOf(t), seq, true
}

// openSegment opens and indexes an hour file, checking that it is the hour
// its name says and was written under keyID.
func openSegment(path string, hour int64, keyID uint64) (*segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s, err := readSegment(f, fi.Size())
	if err != nil {
		return nil, err
	}
	switch {
	case s.hour != hour:
		return nil, corrupt("holds hour %s, not the hour of its name", hourStart(s.hour).Format(hourLayout))
	case s.keyID != keyID:
		return nil, corrupt("written under another hash key")
	}
	s.path = path
	return s, nil
}

// writeAtomic writes a file through a temporary file, fsyncs it, renames it
// into place and fsyncs the directory, so that the name only ever refers to
// a complete file, also after a crash.
func writeAtomic(dir, name string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
