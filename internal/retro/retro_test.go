package retro

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var day = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func at(hour, minute int) time.Time {
	return day.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

func open(t *testing.T, dir string, c *clock, opts Options) *Record {
	t.Helper()
	opts.Now = c.Now
	r, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// hours is the hours of hits, as hours of day.
func hours(hits []Hit) []int {
	var hs []int
	for _, h := range hits {
		hs = append(hs, int(h.Hour.Sub(day)/time.Hour))
	}
	return hs
}

type observation struct {
	t     time.Time
	kind  Kind
	value string
}

var observations = []observation{
	{at(8, 10), Domain, "A.B.Evil.Example."},
	{at(8, 15), URL, "http://x.example/p?q=1"},
	{at(8, 20), IP, "192.0.2.10"},
	{at(8, 30), Hash, "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"},
	{at(9, 0), IP, "2001:db8::1"},
	{at(9, 10), IP, "::ffff:198.51.100.7"},
	{at(9, 20), Domain, "notevil.example"},
	{at(9, 30), Domain, "host.other.example"},
	{at(9, 45), Email, "Bob@Example.ORG"},
	{at(10, 5), URL, "http://x.example/p"},
	{at(10, 10), JA4, "t13d1516h2_8daaf6152771_b186095e22b6"},
	{at(10, 40), IP, "192.0.2.200"},
	// Late: hour 8 was already left behind when hour 10 began.
	{at(8, 50), Domain, "late.example"},
	{at(7, 59), Hash, "D41D8CD98F00B204E9800998ECF8427E"},
}

type search struct {
	typ   indicator.Type
	value string
	hours []int
	addrs []string // all hits' addresses, in order
}

var searches = []search{
	{typ: indicator.Domain, value: "evil.example", hours: []int{8}},
	{typ: indicator.Domain, value: "b.evil.example", hours: []int{8}},
	{typ: indicator.Domain, value: "a.b.evil.example", hours: []int{8}},
	{typ: indicator.Domain, value: "x.a.b.evil.example"},
	{typ: indicator.Hostname, value: "evil.example"},
	{typ: indicator.Hostname, value: "a.b.evil.example", hours: []int{8}},
	{typ: indicator.Domain, value: "notevil.example", hours: []int{9}},
	{typ: indicator.Domain, value: "other.example", hours: []int{9}},
	{typ: indicator.Hostname, value: "other.example"},
	{typ: indicator.Domain, value: "late.example", hours: []int{8}},
	{typ: indicator.URL, value: "http://x.example/p", hours: []int{8, 10}},
	{typ: indicator.URL, value: "http://x.example/p?q=1", hours: []int{8}},
	{typ: indicator.URL, value: "http://x.example/p?q=2"},
	{typ: indicator.IPv4, value: "192.0.2.10", hours: []int{8}, addrs: []string{"192.0.2.10"}},
	{typ: indicator.IPv4, value: "192.0.2.11"},
	{typ: indicator.CIDR, value: "192.0.2.0/24", hours: []int{8, 10}, addrs: []string{"192.0.2.10", "192.0.2.200"}},
	{typ: indicator.CIDR, value: "192.0.2.128/25", hours: []int{10}, addrs: []string{"192.0.2.200"}},
	{typ: indicator.CIDR, value: "198.51.100.0/24", hours: []int{9}, addrs: []string{"198.51.100.7"}},
	{typ: indicator.IPv4, value: "198.51.100.7", hours: []int{9}, addrs: []string{"198.51.100.7"}},
	{typ: indicator.IPv6, value: "2001:db8::1", hours: []int{9}, addrs: []string{"2001:db8::1"}},
	{typ: indicator.CIDR, value: "2001:db8::/32", hours: []int{9}, addrs: []string{"2001:db8::1"}},
	{typ: indicator.CIDR, value: "2001:db9::/32"},
	{typ: indicator.X509SHA1, value: "abcdef0123456789abcdef0123456789abcdef01", hours: []int{8}},
	{typ: indicator.SHA1, value: "abcdef0123456789abcdef0123456789abcdef01", hours: []int{8}},
	{typ: indicator.MD5, value: "d41d8cd98f00b204e9800998ecf8427e", hours: []int{7}},
	{typ: indicator.Email, value: "bob@example.org", hours: []int{9}},
	{typ: indicator.Email, value: "alice@example.org"},
	{typ: indicator.JA4, value: "t13d1516h2_8daaf6152771_b186095e22b6", hours: []int{10}},
}

func addAll(r *Record, obs []observation) {
	for _, o := range obs {
		r.Add(o.t, o.kind, []byte(o.value))
	}
}

func checkSearches(t *testing.T, r *Record, phase string) {
	t.Helper()
	for _, s := range searches {
		hits, err := r.Search(s.typ, s.value)
		if err != nil {
			t.Errorf("%s: Search(%s, %s): %v", phase, s.typ, s.value, err)
			continue
		}
		if got := hours(hits); !slices.Equal(got, s.hours) {
			t.Errorf("%s: Search(%s, %s) hours = %v, want %v", phase, s.typ, s.value, got, s.hours)
		}
		var addrs []string
		for _, h := range hits {
			for _, a := range h.Addrs {
				addrs = append(addrs, a.String())
			}
		}
		if !slices.Equal(addrs, s.addrs) {
			t.Errorf("%s: Search(%s, %s) addresses = %v, want %v", phase, s.typ, s.value, addrs, s.addrs)
		}
	}
}

func TestSearch(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: at(11, 0)}
	r := open(t, dir, c, Options{})
	addAll(r, observations)
	checkSearches(t, r, "in memory")
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	checkSearches(t, r, "flushed")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Search(indicator.Domain, "evil.example"); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: %v, want ErrClosed", err)
	}
	r = open(t, dir, c, Options{})
	defer r.Close()
	checkSearches(t, r, "reopened")
	st := r.Stats()
	if st.Hours != 4 || st.Corrupt != 0 || st.Open != 0 {
		t.Errorf("Stats = %+v, want 4 hours, none corrupt or open", st)
	}
}

// TestIndicatorAfterTraffic is the retro-hunt in short: traffic is seen,
// hours pass and are written, then an indicator arrives and is found.
func TestIndicatorAfterTraffic(t *testing.T) {
	c := &clock{t: at(8, 0)}
	r := open(t, t.TempDir(), c, Options{})
	defer r.Close()
	r.Add(at(8, 5), Domain, []byte("c2.evil.example"))
	r.AddIP(at(8, 5), netip.MustParseAddr("203.0.113.9"))
	c.Set(at(12, 0))
	if err := r.Maintain(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Open != 0 || st.Files != 1 {
		t.Fatalf("after Maintain: %+v, want the hour written", st)
	}
	for _, s := range []struct {
		typ   indicator.Type
		value string
	}{{indicator.Domain, "evil.example"}, {indicator.CIDR, "203.0.113.0/24"}} {
		hits, err := r.Search(s.typ, s.value)
		if err != nil || !slices.Equal(hours(hits), []int{8}) {
			t.Errorf("Search(%s, %s) = %v, %v; want hour 8", s.typ, s.value, hits, err)
		}
	}
}

func TestFileNames(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: at(11, 0)}
	r := open(t, dir, c, Options{})
	r.Add(at(8, 0), Hash, []byte("aa"))
	r.Flush()
	r.Add(at(8, 1), Hash, []byte("bb"))
	r.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "*.hr"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	want := []string{"2026-11-27T08.1.hr", "2026-11-27T08.hr"}
	if !slices.Equal(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	for _, n := range want {
		h, seq, ok := parseFileName(n)
		if !ok || hourStart(h) != at(8, 0) || fileName(h, seq) != n {
			t.Errorf("parseFileName(%q) = %d, %d, %v", n, h, seq, ok)
		}
	}
	for _, n := range []string{"2026-11-27T08.0.hr", "2026-11-27T08.01.hr", "2026-11-27.hr", "x.hr", "2026-11-27T08.hrx"} {
		if _, _, ok := parseFileName(n); ok {
			t.Errorf("parseFileName(%q) accepted", n)
		}
	}
}

func TestExpiry(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: at(11, 0)}
	opts := Options{Retain: 48 * time.Hour}
	r := open(t, dir, c, opts)
	r.Add(at(8, 0), Domain, []byte("old.example"))
	r.Add(at(10, 0), Domain, []byte("new.example"))
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	// 08:00–09:00 lies more than 48 h in the past from 09:30 two days on;
	// 10:00–11:00 does not.
	c.Set(at(48+9, 30))
	if hits, _ := r.Search(indicator.Domain, "old.example"); len(hits) != 0 {
		t.Errorf("expired hour still found: %v", hits)
	}
	if err := r.Maintain(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "2026-11-27T08.hr")); !os.IsNotExist(err) {
		t.Errorf("expired hour file not deleted: %v", err)
	}
	if hits, _ := r.Search(indicator.Domain, "new.example"); !slices.Equal(hours(hits), []int{10}) {
		t.Errorf("hour within Retain: %v", hits)
	}
	r.Add(at(8, 59), Domain, []byte("too.old.example"))
	if st := r.Stats(); st.TooOld != 1 || st.Files != 1 {
		t.Errorf("Stats = %+v, want 1 too old, 1 file", st)
	}
	r.Close()

	// Open deletes what expired while the record was closed.
	c.Set(at(48+11, 0))
	r = open(t, dir, c, opts)
	defer r.Close()
	if st := r.Stats(); st.Files != 0 {
		t.Errorf("after reopening: %+v, want no files", st)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*.hr")); len(names) != 0 {
		t.Errorf("files left: %v", names)
	}
}

// TestRotation checks when hours are written: when an observation two hours
// later arrives, when Maintain finds them over, and that times in the future
// are filed under the current hour.
func TestRotation(t *testing.T) {
	c := &clock{t: at(9, 0)}
	r := open(t, t.TempDir(), c, Options{})
	defer r.Close()
	r.Add(at(8, 0), Hash, []byte("01"))
	r.Add(at(9, 0), Hash, []byte("02"))
	if st := r.Stats(); st.Open != 2 || st.Files != 0 {
		t.Fatalf("two hours: %+v", st)
	}
	c.Set(at(10, 0))
	r.Add(at(10, 0), Hash, []byte("03"))
	if st := r.Stats(); st.Open != 2 || st.Files != 1 {
		t.Fatalf("hour 8 not written when hour 10 began: %+v", st)
	}
	c.Set(at(11, 5))
	r.Maintain()
	if st := r.Stats(); st.Open != 1 || st.Files != 2 {
		t.Fatalf("Maintain at 11:05: %+v, want hour 10 open still", st)
	}
	c.Set(at(11, 10))
	r.Maintain()
	if st := r.Stats(); st.Open != 0 || st.Files != 3 {
		t.Fatalf("Maintain at 11:10: %+v, want all written", st)
	}
	r.Add(at(23, 0), Hash, []byte("04")) // clock skew or garbage
	if hits, _ := r.Search(indicator.MD5, "04"); !slices.Equal(hours(hits), []int{11}) {
		t.Errorf("future time filed under %v, want hour 11", hours(hits))
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: at(11, 0)}
	r := open(t, dir, c, Options{})
	for h := 6; h <= 9; h++ {
		r.Add(at(h, 0), Domain, []byte(fmt.Sprintf("h%d.example", h)))
		r.AddIP(at(h, 0), netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", h)))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	file := func(h int) string { return filepath.Join(dir, fileName(hourOf(at(h, 0)), 0)) }
	// Hour 6 truncated, hour 7 with a damaged block, hour 8 replaced by
	// garbage; hour 9 intact.
	b, _ := os.ReadFile(file(6))
	os.WriteFile(file(6), b[:len(b)-3], 0o600)
	b, _ = os.ReadFile(file(7))
	b[headerSize] ^= 1 // first key of the names section
	os.WriteFile(file(7), b, 0o600)
	os.WriteFile(file(8), []byte("hdnretro but not really"), 0o600)

	var logs bytes.Buffer
	r, err := Open(dir, Options{Now: c.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := r.Stats(); st.Corrupt != 2 || st.Files != 2 {
		t.Errorf("Stats = %+v, want 2 corrupt, 2 readable", st)
	}
	for _, h := range []int{6, 8} {
		if !strings.Contains(logs.String(), filepath.Base(file(h))) {
			t.Errorf("unusable %s not logged:\n%s", file(h), logs.String())
		}
	}
	hits, err := r.Search(indicator.Domain, "h7.example")
	if !errors.Is(err, ErrCorrupt) || len(hits) != 0 {
		t.Errorf("damaged block: %v, %v; want ErrCorrupt", hits, err)
	}
	// The damaged hour's intact sections and the other hours still answer.
	hits, err = r.Search(indicator.CIDR, "192.0.2.0/24")
	if err != nil || !slices.Equal(hours(hits), []int{7, 9}) {
		t.Errorf("Search CIDR = %v, %v; want hours 7, 9", hits, err)
	}
	// A new file for a damaged hour does not overwrite it.
	r.Add(at(8, 30), Domain, []byte("h8b.example"))
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	// (The search may read hour 7's damaged block and say so.)
	if hits, err := r.Search(indicator.Domain, "h8b.example"); err != nil && !errors.Is(err, ErrCorrupt) || !slices.Equal(hours(hits), []int{8}) {
		t.Errorf("hour 8 after damage: %v, %v", hits, err)
	}
}

func TestDamagedKey(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, keyFile), []byte("not hex\n"), 0o600)
	if _, err := Open(dir, Options{}); err == nil {
		t.Error("Open accepted a damaged key file")
	}
}

// TestOtherKey: hour files made under another key are skipped, not
// misread (their hashes mean nothing under the new key).
func TestOtherKey(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: at(11, 0)}
	r := open(t, dir, c, Options{})
	r.Add(at(8, 0), Domain, []byte("a.example"))
	r.Close()
	os.Remove(filepath.Join(dir, keyFile))
	r = open(t, dir, c, Options{})
	defer r.Close()
	if st := r.Stats(); st.Corrupt != 1 || st.Files != 0 {
		t.Errorf("Stats = %+v, want the file skipped", st)
	}
}

func TestMaxPerHour(t *testing.T) {
	c := &clock{t: at(11, 0)}
	r := open(t, t.TempDir(), c, Options{MaxPerHour: 100})
	defer r.Close()
	value := func(i int) string { return fmt.Sprintf("%032x", i) }
	for i := range 1000 {
		r.Add(at(8, 0), Hash, []byte(value(i)))
	}
	if st := r.Stats(); st.InMemory != 100 || st.Dropped != 900 {
		t.Errorf("in memory: %+v, want 100 kept, 900 dropped", st)
	}
	r.Flush()
	// Later files of the hour share its cap.
	for i := 1000; i < 1050; i++ {
		r.Add(at(8, 0), Hash, []byte(value(i)))
	}
	r.Flush()
	found := 0
	for i := range 1050 {
		hits, err := r.Search(indicator.MD5, value(i))
		if err != nil {
			t.Fatal(err)
		}
		found += len(hits)
	}
	if found != 100 {
		t.Errorf("%d values of the hour found, want 100 (MaxPerHour)", found)
	}
	if st := r.Stats(); st.Dropped != 950 {
		t.Errorf("Stats = %+v, want 950 dropped", st)
	}
}

func TestConcurrentAdd(t *testing.T) {
	c := &clock{t: at(11, 0)}
	r := open(t, t.TempDir(), c, Options{})
	defer r.Close()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				tm := at(8+i%3, i%60)
				r.Add(tm, Domain, []byte(fmt.Sprintf("h%d.w%d.example", i, w)))
				r.AddIP(tm, netip.AddrFrom4([4]byte{10, byte(w), byte(i >> 8), byte(i)}))
				r.Add(tm, URL, []byte(fmt.Sprintf("http://w%d.example/%d?x", w, i)))
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			r.Search(indicator.Domain, "w1.example")
			r.Search(indicator.CIDR, "10.0.0.0/8")
			r.Flush()
			r.Stats()
		}
	})
	wg.Wait()
	for w := range workers {
		for _, i := range []int{0, 1, 2, each - 1} {
			want := []int{8 + i%3}
			hits, err := r.Search(indicator.Hostname, fmt.Sprintf("h%d.w%d.example", i, w))
			if err != nil || !slices.Equal(hours(hits), want) {
				t.Errorf("worker %d value %d: %v, %v; want %v", w, i, hours(hits), err, want)
			}
			hits, err = r.Search(indicator.URL, fmt.Sprintf("http://w%d.example/%d", w, i))
			if err != nil || !slices.Equal(hours(hits), want) {
				t.Errorf("worker %d URL %d: %v, %v; want %v", w, i, hours(hits), err, want)
			}
		}
		hits, err := r.Search(indicator.Domain, fmt.Sprintf("w%d.example", w))
		if err != nil || !slices.Equal(hours(hits), []int{8, 9, 10}) {
			t.Errorf("worker %d domain: %v, %v", w, hours(hits), err)
		}
	}
	hits, err := r.Search(indicator.CIDR, "10.0.0.0/8")
	if err != nil || len(hits) != 3 {
		t.Errorf("CIDR: %v, %v", hours(hits), err)
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	c := &clock{t: at(11, 0)}
	r := open(t, t.TempDir(), c, Options{})
	defer r.Close()
	tm := at(10, 0)
	values := []struct {
		kind  Kind
		value []byte
	}{
		{Domain, []byte("WWW.a.b.Evil.Example.")},
		{URL, []byte("http://evil.example/a/b?c=d")},
		{Hash, []byte("D41D8CD98F00B204E9800998ECF8427E")},
		{Email, []byte("Bob@Example.org")},
		{JA4, []byte("t13d1516h2_8daaf6152771_b186095e22b6")},
	}
	for _, v := range values {
		r.Add(tm, v.kind, v.value) // the hour's sets are made
		if n := testing.AllocsPerRun(100, func() { r.Add(tm, v.kind, v.value) }); n != 0 {
			t.Errorf("Add(%v, %s): %v allocations", v.kind, v.value, n)
		}
	}
	a := netip.MustParseAddr("192.0.2.7")
	r.AddIP(tm, a)
	if n := testing.AllocsPerRun(100, func() { r.AddIP(tm, a) }); n != 0 {
		t.Errorf("AddIP: %v allocations", n)
	}
}

func TestSipHash(t *testing.T) {
	// Vectors from the SipHash paper's reference implementation: key
	// 00 01 … 0f, message 00 01 … n-1.
	want := map[int]uint64{0: 0x726fdb47dd0e0e31, 1: 0x74f839c593dc67fd, 8: 0x93f5f5799a932462, 15: 0xa129ca6149be45e5, 16: 0x3f2acc7f57c29bdb}
	var k, m [16]byte
	for i := range k {
		k[i], m[i] = byte(i), byte(i)
	}
	key := keyFrom(k[:])
	for n, w := range want {
		if got := key.sum(m[:n]); got != w {
			t.Errorf("SipHash of %d bytes = %#x, want %#x", n, got, w)
		}
	}
}

// TestHourFileRoundTrip writes sections of several blocks and reads every
// value back.
func TestHourFileRoundTrip(t *testing.T) {
	c := testContent(3000, 1300)
	var buf bytes.Buffer
	if err := c.encode(&buf); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != c.fileSize() {
		t.Errorf("size %d, fileSize says %d", buf.Len(), c.fileSize())
	}
	ra := bytes.NewReader(buf.Bytes())
	s, err := readSegment(ra, int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	blk := make([]byte, maxBlockSize)
	for sec := range nSets {
		for i, k := range c.sets[sec] {
			if i%7 != 0 && i != len(c.sets[sec])-1 {
				continue
			}
			if ok, err := s.hasKey(ra, sec, k, blk); !ok || err != nil {
				t.Fatalf("section %d key %#x: %v, %v", sec, k, ok, err)
			}
			if ok, _ := s.hasKey(ra, sec, k+1, blk); ok && !slices.Contains(c.sets[sec], k+1) {
				t.Fatalf("section %d finds absent key %#x", sec, k+1)
			}
		}
	}
	var got []ip128
	err = s.ipsIn(ra, c.ips[100], c.ips[1100], blk, func(a ip128) { got = append(got, a) })
	if err != nil || !slices.Equal(got, c.ips[100:1101]) {
		t.Errorf("ipsIn: %d addresses, %v; want %d", len(got), err, 1001)
	}
}

// testContent makes an hour's content with n values in every hashed set
// and m addresses.
func testContent(n, m int) *hourContent {
	c := &hourContent{hour: 42, keyID: 7}
	for sec := range nSets {
		for i := range n {
			c.sets[sec] = append(c.sets[sec], uint64(i*(sec+3)+1)*0x9e3779b97f4a7c15)
		}
	}
	for i := range m {
		c.ips = append(c.ips, toIP128(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})))
	}
	c.ips = append(c.ips, toIP128(netip.MustParseAddr("2001:db8::1")), ip128{})
	sortContent(c)
	return c
}

func FuzzHourFile(f *testing.F) {
	for _, c := range []*hourContent{testContent(0, 0), testContent(3, 2), testContent(1100, 600)} {
		var buf bytes.Buffer
		c.encode(&buf)
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:buf.Len()/2])
	}
	f.Add([]byte("hdnretro"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ra := bytes.NewReader(data)
		s, err := readSegment(ra, int64(len(data)))
		if err != nil {
			return
		}
		blk := make([]byte, maxBlockSize)
		for sec := range nSections {
			for i := range s.fences[sec] {
				s.block(ra, sec, i, blk)
			}
			if sec < nSets {
				for _, k := range []uint64{0, 1, 1 << 63, ^uint64(0)} {
					s.hasKey(ra, sec, k, blk)
				}
				for _, fc := range s.fences[sec] {
					s.hasKey(ra, sec, fc.first.lo, blk)
				}
			}
		}
		s.ipsIn(ra, ip128{}, ip128{^uint64(0), ^uint64(0)}, blk, func(ip128) {})
	})
}

// TestDeepNamesBounded: a name of many labels puts itself and its parents
// of at most maxParentLabels labels into the hour's budget, not one value
// per label — a few thousand queries of 100-label names (their asker's
// choice) filled an hour's budget for everyone. A domain indicator finds its
// sub-domains within that depth.
func TestDeepNamesBounded(t *testing.T) {
	c := &clock{t: at(11, 0)}
	r := open(t, t.TempDir(), c, Options{})
	defer r.Close()
	name := strings.Repeat("a.", 100) + "x.deep.example.org"
	r.Add(at(8, 0), Domain, []byte(name))
	if st := r.Stats(); st.InMemory != 1+(maxParentLabels-1) {
		t.Errorf("a %d-label name took %d values, want %d", strings.Count(name, ".")+1, st.InMemory, maxParentLabels)
	}
	r.Flush()
	for _, parent := range []string{"deep.example.org", "x.deep.example.org", "a.a.a.a.x.deep.example.org"} {
		if hits, err := r.Search(indicator.Domain, parent); err != nil || len(hits) != 1 {
			t.Errorf("Search(%s): %v, %v; want the hour", parent, hits, err)
		}
	}
}
