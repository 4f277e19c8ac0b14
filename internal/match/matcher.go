package match

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hdnetwork/hdn/internal/logparse"
)

// Matcher holds the current Index. The sensor builds a new Index when its
// indicators change and swaps it in; matching goroutines pick it up with
// one atomic load, and never wait for a lock. Expiry needs no new index:
// an indicator past its ValidUntil stops matching at once, by the
// Matcher's clock at match time.
type Matcher struct {
	idx atomic.Pointer[Index]
	now func() time.Time
}

// Option configures a Matcher.
type Option func(*Matcher)

// WithClock sets the clock that decides expiry and stamps events that have
// no time of their own (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(m *Matcher) { m.now = now }
}

// NewMatcher returns a Matcher holding idx (nil is an empty index).
func NewMatcher(idx *Index, opts ...Option) *Matcher {
	m := &Matcher{now: time.Now}
	for _, o := range opts {
		o(m)
	}
	m.Swap(idx)
	return m
}

// Swap makes idx the current index and returns the previous one. Lines
// being matched finish with the index they started with.
func (m *Matcher) Swap(idx *Index) *Index {
	if idx == nil {
		idx = NewBuilder().Build()
	}
	return m.idx.Swap(idx)
}

// Load returns the current index.
func (m *Matcher) Load() *Index { return m.idx.Load() }

// Now returns the Matcher's clock reading.
func (m *Matcher) Now() time.Time { return m.now() }

// Format is an input format.
type Format string

// The input formats.
const (
	// FormatEVE is Suricata EVE JSON.
	FormatEVE Format = "eve"
	// FormatZeek is a Zeek log, TSV (with its "#" header lines) or JSON;
	// each line is read as JSON if it starts with "{".
	FormatZeek Format = "zeek"
	// FormatSquid is Squid's native access.log.
	FormatSquid Format = "squid"
	// FormatLines is one observable per line.
	FormatLines Format = "lines"
)

// Formats lists the formats.
var Formats = []Format{FormatEVE, FormatZeek, FormatSquid, FormatLines}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown input format %q (want eve, zeek, squid or lines)", s)
}

// Stats counts what happened to the lines of an input.
type Stats struct {
	// Lines is every line read.
	Lines int64
	// Events is the lines parsed as events.
	Events int64
	// Skipped is blank, comment and Zeek header lines.
	Skipped int64
	// Errors is the lines that could not be parsed (malformed, too long).
	Errors int64
	// Matched is the events that raised at least one alert.
	Matched int64
	// Alerts is the alerts raised.
	Alerts int64
}

func (s *Stats) add(o Stats) {
	s.Lines += o.Lines
	s.Events += o.Events
	s.Skipped += o.Skipped
	s.Errors += o.Errors
	s.Matched += o.Matched
	s.Alerts += o.Alerts
}

// LoadStats reads counts that RunObserved updates while it runs.
func LoadStats(s *Stats) Stats {
	return Stats{Lines: atomic.LoadInt64(&s.Lines), Events: atomic.LoadInt64(&s.Events), Skipped: atomic.LoadInt64(&s.Skipped),
		Errors: atomic.LoadInt64(&s.Errors), Matched: atomic.LoadInt64(&s.Matched), Alerts: atomic.LoadInt64(&s.Alerts)}
}

func (s *Stats) addAtomic(o *Stats) {
	atomic.AddInt64(&s.Lines, o.Lines)
	atomic.AddInt64(&s.Events, o.Events)
	atomic.AddInt64(&s.Skipped, o.Skipped)
	atomic.AddInt64(&s.Errors, o.Errors)
	atomic.AddInt64(&s.Matched, o.Matched)
	atomic.AddInt64(&s.Alerts, o.Alerts)
}

// Session matches lines of one input, one at a time, and writes alerts.
// It holds the per-goroutine state (the parsed event, the hits of the
// current line, a Zeek header) so that matching allocates nothing; use
// one Session per goroutine.
type Session struct {
	m      *Matcher
	format Format
	ev     logparse.Event
	zeek   *logparse.ZeekHeader
	hits   []hit
	stats  Stats
	misses missCache
	raw    int // index entries reported for the current observation

	// per line
	obs      int
	nowSet   bool
	nowValue time.Time
	report   func(Ref)
	clockFn  func() time.Time

	observe  Observer
	hourKey  [24]byte // the time text that hourTime was read from, up to the hour and the zone
	hourTime time.Time

	seen map[obsKey]struct{} // the observations of an event with many (dedupe)
}

// obsKey is what makes two observations of an event the same.
type obsKey struct {
	kind  logparse.Kind
	addr  netip.Addr
	value string
}

type hit struct {
	ref Ref
	obs int // index in ev.Obs, or -1: field and val say what was observed
	// field and val, for a pattern hit (obs -1)
	field string
	val   []byte
}

// NewSession returns a Session reading lines of format f.
func (m *Matcher) NewSession(f Format) *Session {
	s := &Session{m: m, format: f, zeek: logparse.NewZeekHeader(), misses: newMissCache()}
	s.report, s.clockFn = s.addHit, s.clock
	return s
}

// Stats returns the session's counts so far.
func (s *Session) Stats() Stats { return s.stats }

// Match parses one line, matches it against the Matcher's current index
// and appends an alert line to dst for every (event, indicator) pair: an
// indicator seen several times in one event (in the query and again in an
// answer) raises one alert, naming the first field it was seen in. A line
// that cannot be parsed returns its error (and dst unchanged); blank and
// comment lines, and Zeek header lines, return nil.
func (s *Session) Match(dst, line []byte) ([]byte, error) {
	return s.match(dst, line)
}

func (s *Session) parse(line []byte) error {
	switch s.format {
	case FormatEVE:
		return logparse.ParseEVE(line, &s.ev)
	case FormatZeek:
		i := 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i < len(line) && line[i] == '{' {
			return logparse.ParseZeekJSON(line, &s.ev)
		}
		if logparse.IsHeader(line) {
			h, err := s.zeek.WithLine(line)
			if err != nil {
				return err
			}
			s.zeek = h
			return logparse.ErrEmpty
		}
		if len(line) == 0 || line[0] == '\r' {
			return logparse.ErrEmpty
		}
		return logparse.ParseZeekTSV(line, s.zeek, &s.ev)
	case FormatSquid:
		return logparse.ParseSquid(line, &s.ev)
	case FormatLines:
		return logparse.ParseLine(line, &s.ev)
	}
	return fmt.Errorf("unknown input format %q", s.format)
}

// match matches one line. The event is filed with the observer (the
// sensor's retro-hunt record) before the index is loaded, with one atomic
// load per event: the sensor swaps a new index in before it hunts the
// record for the indicators that arrived, so a line either is filed before
// the hunt starts (the hunt finds it) or loads the new index (it alerts
// live). An index loaded before the line is filed (once per batch, say)
// would let a line matched with the old index be filed after the hunt,
// and be neither alerted nor hunted. A line may so raise both (filed before the hunt, matched
// with the new index): one alert too many, never one too few.
func (s *Session) match(dst, line []byte) ([]byte, error) {
	s.stats.Lines++
	if err := s.parse(line); err != nil {
		if err == logparse.ErrEmpty {
			s.stats.Skipped++
			return dst, nil
		}
		s.stats.Errors++
		return dst, err
	}
	s.stats.Events++
	s.hits, s.nowSet = s.hits[:0], false
	if s.observe != nil {
		s.observeEvent()
	}
	x := s.m.Load()
	obs := s.ev.Obs
	many := len(obs) > manyObservations
	if many {
		if s.seen == nil {
			s.seen = map[obsKey]struct{}{}
		}
		clear(s.seen)
	}
	for i := range obs {
		o := &obs[i]
		if many && s.dedupe(o) || !many && seenBefore(obs, i) {
			continue
		}
		// Addresses skip the miss cache: most stop at the index's /16 and
		// /24 filters, which cost less than a probe of the cache.
		cache := o.Kind != logparse.KindIP
		if cache && s.misses.missed(x.gen, o) {
			continue
		}
		s.obs, s.raw = i, 0
		x.Match(o, s.report)
		if cache && s.raw == 0 {
			s.misses.add(x.gen, o)
		}
	}
	if len(x.live) > 0 {
		s.matchPatterns(x)
	}
	if len(s.hits) == 0 {
		return dst, nil
	}
	s.stats.Matched++
	s.stats.Alerts += int64(len(s.hits))
	for _, h := range s.hits {
		field, val := h.field, h.val
		if h.obs >= 0 {
			o := &s.ev.Obs[h.obs]
			field, val = o.Field, o.Value
		}
		a := alertInd{ref: h.ref, prof: h.ref.prof()}
		dst = appendAlert(dst, &s.ev, &a, val, field, s.clockFn)
	}
	return dst, nil
}

// manyObservations is how many observations an event may have before the
// matcher dedupes them with a set instead of comparing each with the
// earlier ones: that comparison grows with the square of their number, and
// a certificate's subject alternative names — as many as the server's owner
// likes — made one log line take seconds.
const manyObservations = 32

// dedupe says whether an observation of the event was seen already, and
// remembers it otherwise.
func (s *Session) dedupe(o *logparse.Observation) bool {
	k := obsKey{kind: o.Kind}
	if o.Kind == logparse.KindIP {
		k.addr = o.Addr
	} else {
		k.value = string(o.Value)
	}
	if _, ok := s.seen[k]; ok {
		return true
	}
	s.seen[k] = struct{}{}
	return false
}

// seenBefore reports whether an earlier observation of the event has the
// same kind and value (a DNS answer repeats the query name; a
// response's addresses repeat in its records): its hits are already
// recorded, under the earlier field.
func seenBefore(obs []logparse.Observation, i int) bool {
	o := &obs[i]
	for j := range obs[:i] {
		p := &obs[j]
		if p.Kind == o.Kind && (o.Kind == logparse.KindIP && p.Addr == o.Addr || string(p.Value) == string(o.Value)) {
			return true
		}
	}
	return false
}

// addHit records a hit unless the indicator already hit this event or has
// expired.
func (s *Session) addHit(r Ref) {
	s.raw++
	for i := range s.hits {
		if s.hits[i].ref == r {
			return
		}
	}
	if u := r.until(); u != 0 && s.clock().Unix() >= int64(u) {
		return
	}
	s.hits = append(s.hits, hit{ref: r, obs: s.obs})
}

// clock reads the Matcher's clock once per line, when first needed.
func (s *Session) clock() time.Time {
	if !s.nowSet {
		s.nowValue, s.nowSet = s.m.now(), true
	}
	return s.nowValue
}
