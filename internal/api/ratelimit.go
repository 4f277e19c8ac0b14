package api

import (
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// Rate limits (docs/HARDENING.md). Every authenticated request — native,
// MISP and TAXII alike — takes a token from its key's bucket once the key is
// verified, so that buckets exist only for real keys; unauthenticated
// requests (POST /api/v1/enrol, the web UI's sign-in) take one from the
// bucket of their remote address. An empty bucket is 429 rate_limited with
// Retry-After. Buckets are kept in memory, one hub process each: with
// several replicas a key gets each replica's rate.

// Rate-limit defaults: generous enough for bulk ingest and for many sensors
// of one organisation sharing a key; a remote address without a key is held
// much tighter (sign-in and enrolment are not bulk operations).
const (
	DefaultRateLimit        = 50.0 // requests per second per key
	DefaultRateBurst        = 200
	DefaultAnonRateLimit    = 1.0 // requests per second per remote address without a key
	DefaultAnonRateBurst    = 20
	DefaultMaxStreamsPerOrg = 1000
	// maxBuckets bounds the buckets of one limiter; beyond it idle buckets
	// are dropped, and failing that an arbitrary one.
	maxBuckets = 100_000
)

// CodeRateLimited is the error code of a request over its rate limit (429).
const CodeRateLimited = "rate_limited"

// CodeTooManyStreams is the error code of a stream refused because the hub,
// or the caller's organisation, has its maximum of open streams.
const CodeTooManyStreams = "too_many_streams"

// rateLimitedError is a 429 that tells the client when to retry.
type rateLimitedError struct {
	err        *Error
	retryAfter time.Duration
}

func (e *rateLimitedError) Error() string { return e.err.Error() }
func (e *rateLimitedError) Unwrap() error { return e.err }

// retryAfterSeconds is the Retry-After value of d: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// setRetryAfter sets Retry-After when err is a rate limit.
func setRetryAfter(w http.ResponseWriter, err error) {
	var rl *rateLimitedError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(rl.retryAfter)))
	}
}

// isRateLimited says whether err is a rate limit (which the MISP and TAXII
// authentication pass through rather than turning it into a key failure).
func isRateLimited(err error) bool {
	var rl *rateLimitedError
	return errors.As(err, &rl)
}

// writeRateLimited answers a rate-limited request with the native error
// envelope, whichever API it came to, and says whether it did.
func (s *Server) writeRateLimited(w http.ResponseWriter, r *http.Request, err error) bool {
	if !isRateLimited(err) {
		return false
	}
	s.writeError(w, r, err)
	return true
}

// rateLimiter holds one token bucket per name (a key id or a remote
// address). A nil *rateLimiter allows everything.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time
	what  string // "key" or "address", for the message

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newRateLimiter returns nil (no limit) when rate is not positive.
func newRateLimiter(rate float64, burst int, what string, now func() time.Time) *rateLimiter {
	if rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	return &rateLimiter{rate: rate, burst: float64(burst), now: now, what: what, buckets: map[string]*bucket{}}
}

// allow takes a token from name's bucket, or says how long until one is
// there.
func (l *rateLimiter) allow(name string) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[name]
	if b == nil {
		l.makeRoom(now)
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[name] = b
	} else if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// refill is how long an empty bucket takes to be full again; a bucket idle
// that long is the same as none and may be dropped.
func (l *rateLimiter) refill() time.Duration {
	return time.Duration(l.burst / l.rate * float64(time.Second))
}

// makeRoom drops idle buckets once a minute (once a second when the
// limiter is full), and when it is full of busy ones an arbitrary hundredth
// of them (those names get fresh buckets: generous, but memory stays
// bounded and a flood of new names costs no scan per request). l.mu is
// held.
func (l *rateLimiter) makeRoom(now time.Time) {
	full := len(l.buckets) >= maxBuckets
	if since := now.Sub(l.swept); since >= time.Minute || full && since >= time.Second {
		l.swept = now
		idle := l.refill()
		for name, b := range l.buckets {
			if now.Sub(b.last) >= idle {
				delete(l.buckets, name)
			}
		}
	}
	if len(l.buckets) >= maxBuckets {
		for name := range l.buckets {
			if len(l.buckets) <= maxBuckets-maxBuckets/100 {
				break
			}
			delete(l.buckets, name)
		}
	}
}

// size is the number of buckets held (for tests).
func (l *rateLimiter) size() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// take is allow as an error: nil, or a 429 for the client.
func (l *rateLimiter) take(name string) error {
	ok, wait := l.allow(name)
	if ok {
		return nil
	}
	return &rateLimitedError{
		err: errf(http.StatusTooManyRequests, CodeRateLimited, "this %s is over its rate limit (%s requests per second, bursts of %d); retry after %d s",
			l.what, strconv.FormatFloat(l.rate, 'f', -1, 64), int(l.burst), retryAfterSeconds(wait)),
		retryAfter: wait,
	}
}

// remoteHost is the address a request came from, without its port. A
// proxy's X-Forwarded-For is not trusted: behind a proxy, limit there.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// addressBucket is the rate bucket of a remote address: an IPv4 address, or
// the /64 of an IPv6 one — a single host commonly holds a whole /64, so
// that counting each address apart would give it billions of buckets.
func addressBucket(host string) string {
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String() // an IPv4-mapped address is its IPv4 host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// limitAddress charges r's remote address (a request without a key).
func (s *Server) limitAddress(r *http.Request) error {
	return s.anonRate.take(addressBucket(remoteHost(r)))
}

// LimitByAddress wraps a handler that takes requests without a key (the web
// UI's sign-in): each remote address gets the rate of unauthenticated
// requests; over it, 429 with Retry-After.
func (s *Server) LimitByAddress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.limitAddress(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// orgStreams bounds the open streams of each organisation, so that one
// organisation cannot take the whole hub's MaxStreams; and those of each
// partner with its customers (a party), whose admins may make keys for every
// customer: a party holds at most half the hub's streams.
type orgStreams struct {
	max      int // per organisation; 0: no bound
	partyMax int // per partner with its customers
	mu       sync.Mutex
	open     map[string]int // by organisation
	parties  map[string]int // by partner
}

func newOrgStreams(n, hubMax int) *orgStreams {
	return &orgStreams{max: n, partyMax: max(n, hubMax/2), open: map[string]int{}, parties: map[string]int{}}
}

// streamParty is the partner whose party org's streams count in: itself for
// a partner, its partner for a customer, none for other organisations.
func streamParty(org model.Org) string {
	switch {
	case org.Kind == policy.Partner:
		return org.ID
	case org.Kind == policy.Customer:
		return org.Partner
	}
	return ""
}

// acquire takes a slot of org (and of its party, when it has one); the
// returned function gives it back. partyFull says which bound refused.
func (o *orgStreams) acquire(org, party string) (release func(), ok, partyFull bool) {
	if o.max <= 0 {
		return func() {}, true, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.open[org] >= o.max {
		return nil, false, false
	}
	if party != "" && o.parties[party] >= o.partyMax {
		return nil, false, true
	}
	o.open[org]++
	if party != "" {
		o.parties[party]++
	}
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.open[org]--; o.open[org] <= 0 {
			delete(o.open, org)
		}
		if party == "" {
			return
		}
		if o.parties[party]--; o.parties[party] <= 0 {
			delete(o.parties, party)
		}
	}, true, false
}

// errOrgStreams is the answer to a stream over its organisation's bound.
func errOrgStreams(org string, n int) error {
	return &rateLimitedError{
		err:        errf(http.StatusTooManyRequests, CodeTooManyStreams, "%s has %d streams open, its maximum; close one or retry later", org, n),
		retryAfter: 10 * time.Second,
	}
}

// errPartyStreams is the answer to a stream over its party's bound.
func errPartyStreams(partner string, n int) error {
	return &rateLimitedError{
		err: errf(http.StatusTooManyRequests, CodeTooManyStreams,
			"%s and its customers have %d streams open, their maximum (half the hub's); close one or retry later", partner, n),
		retryAfter: 10 * time.Second,
	}
}

// initLimits builds the rate limiters and the per-organisation stream bound
// from s.limits, filling in the defaults.
func (s *Server) initLimits() {
	l := &s.limits
	if l.RateLimit == 0 {
		l.RateLimit = DefaultRateLimit
	}
	if l.RateBurst <= 0 {
		l.RateBurst = DefaultRateBurst
	}
	if l.AnonRateLimit == 0 {
		l.AnonRateLimit = DefaultAnonRateLimit
	}
	if l.AnonRateBurst <= 0 {
		l.AnonRateBurst = DefaultAnonRateBurst
	}
	if l.MaxStreamsPerOrg == 0 {
		l.MaxStreamsPerOrg = DefaultMaxStreamsPerOrg
	}
	if l.MaxPendingProposals == 0 {
		l.MaxPendingProposals = DefaultMaxPendingProposals
	}
	if l.RateLimit > 0 {
		s.keyRate = newRateLimiter(l.RateLimit, l.RateBurst, "key", s.now)
		s.anonRate = newRateLimiter(l.AnonRateLimit, l.AnonRateBurst, "address", s.now)
	}
	s.orgStreams = newOrgStreams(max(0, l.MaxStreamsPerOrg), cap(s.streams.slots))
}
