package api

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestTokenBucket(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	l := newRateLimiter(2, 3, "key", clk.now) // 2/s, bursts of 3
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: ok %t, wait %v; want refused, 500ms", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another key's bucket was charged")
	}
	clk.advance(500 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("a token earned in 500 ms at 2/s was refused")
	}
	if ok, _ := l.allow("a"); ok {
		t.Fatal("a token spent twice")
	}
	clk.advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("after an hour idle, request %d refused: the bucket holds at most the burst, but that much", i+1)
		}
	}
	if ok, _ := l.allow("a"); ok {
		t.Fatal("an idle bucket grew beyond its burst")
	}
}

func TestRateLimitError(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	l := newRateLimiter(0.01, 1, "key", clk.now) // one token per 100 s
	if err := l.take("k"); err != nil {
		t.Fatal(err)
	}
	err := l.take("k")
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.Code != CodeRateLimited || !isRateLimited(err) {
		t.Fatalf("over the limit: %v, want a 429 %s", err, CodeRateLimited)
	}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest("GET", "/api/v1/me", nil), err)
	if w.Code != 429 || w.Header().Get("Retry-After") != "100" {
		t.Errorf("rendered: status %d, Retry-After %q; want 429, 100", w.Code, w.Header().Get("Retry-After"))
	}
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {90 * time.Second, 90}} {
		if got := retryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestRateLimiterDisabled(t *testing.T) {
	for _, rate := range []float64{0, -1} {
		l := newRateLimiter(rate, 10, "key", time.Now)
		for range 1000 {
			if err := l.take("k"); err != nil {
				t.Fatalf("rate %v: %v; want no limit", rate, err)
			}
		}
	}
}

// TestRateLimiterBounded: idle buckets are dropped once they would be full
// again, and the number of buckets never exceeds maxBuckets however many
// names come.
func TestRateLimiterBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	l := newRateLimiter(10, 10, "address", clk.now) // full again after 1 s
	for i := range 1000 {
		l.allow("10.0.0." + strconv.Itoa(i))
	}
	if n := l.size(); n != 1000 {
		t.Fatalf("%d buckets, want 1000", n)
	}
	clk.advance(2 * time.Minute)
	l.allow("fresh")
	if n := l.size(); n != 1 {
		t.Errorf("after two idle minutes %d buckets, want only the fresh one", n)
	}
	for i := range maxBuckets + 500 {
		l.allow("n" + strconv.Itoa(i)) // all busy: same instant
	}
	if n := l.size(); n > maxBuckets {
		t.Errorf("%d buckets, more than maxBuckets %d", n, maxBuckets)
	}
}

func TestOrgStreams(t *testing.T) {
	o := newOrgStreams(2, 100)
	r1, ok1, _ := o.acquire("a", "")
	_, ok2, _ := o.acquire("a", "")
	_, ok3, _ := o.acquire("a", "")
	_, okB, _ := o.acquire("b", "")
	if !ok1 || !ok2 || ok3 || !okB {
		t.Fatalf("acquire a, a, a, b = %t %t %t %t; want true true false true", ok1, ok2, ok3, okB)
	}
	r1()
	if _, ok, _ := o.acquire("a", ""); !ok {
		t.Fatal("a released slot was not given again")
	}
	unbounded := newOrgStreams(0, 100)
	for range 100 {
		if _, ok, _ := unbounded.acquire("a", ""); !ok {
			t.Fatal("no bound refused a stream")
		}
	}
}

// A partner and its customers share half the hub's streams.
func TestPartyStreams(t *testing.T) {
	o := newOrgStreams(2, 8) // a party holds at most 4
	var releases []func()
	for _, org := range []string{"p", "c1", "c1", "c2"} {
		r, ok, _ := o.acquire(org, "p")
		if !ok {
			t.Fatalf("%s's stream refused below the party's bound", org)
		}
		releases = append(releases, r)
	}
	if _, ok, partyFull := o.acquire("c3", "p"); ok || !partyFull {
		t.Fatalf("a fifth stream of the party: ok %t, party full %t; want refused as the party's", ok, partyFull)
	}
	if _, ok, _ := o.acquire("m", ""); !ok {
		t.Fatal("another organisation's stream refused")
	}
	releases[3]()
	if _, ok, _ := o.acquire("c3", "p"); !ok {
		t.Fatal("the party's released slot was not given again")
	}
	if o.parties["p"] != 4 || o.open["c2"] != 0 {
		t.Fatalf("counts after release: parties %v, open %v", o.parties, o.open)
	}
}

// Requests without a key are counted per IPv4 address and per IPv6 /64:
// one host holding a /64 does not get a bucket per address.
func TestAddressBuckets(t *testing.T) {
	s := &Server{anonRate: newRateLimiter(0.001, 1, "address", time.Now)} // one request, then none for 1,000 s
	req := func(remote string) error {
		r, _ := http.NewRequest("POST", "/api/v1/enrol", nil)
		r.RemoteAddr = remote
		return s.limitAddress(r)
	}
	for _, tc := range []struct {
		first, second string
		shared        bool
	}{
		{"[2001:db8:1:2::1]:4000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:4001", true},
		{"[2001:db8:1:3::1]:4000", "[2001:db8:1:4::1]:4000", false},
		{"192.0.2.1:4000", "192.0.2.1:4001", true},
		{"192.0.2.2:4000", "192.0.2.3:4000", false},
		{"[::ffff:192.0.2.4]:4000", "192.0.2.4:5000", true}, // the same IPv4 host
	} {
		if err := req(tc.first); err != nil {
			t.Fatalf("%s: first request refused: %v", tc.first, err)
		}
		err := req(tc.second)
		if tc.shared && err == nil {
			t.Errorf("%s after %s: let through, want the same bucket", tc.second, tc.first)
		}
		if !tc.shared && err != nil {
			t.Errorf("%s after %s: %v, want a bucket of its own", tc.second, tc.first, err)
		}
	}
}
