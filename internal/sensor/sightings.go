package sensor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
)

// ReportMode is what an organisation lets leave the building about what its
// sensor saw.
type ReportMode string

// The report modes.
const (
	ReportFull  ReportMode = "full"  // indicator, count, hour, the observing host's address and the event time
	ReportCount ReportMode = "count" // indicator, count and hour only (the default)
	ReportOff   ReportMode = "off"   // nothing
)

// ParseReportMode checks a --report value.
func ParseReportMode(s string) (ReportMode, error) {
	switch m := ReportMode(s); m {
	case ReportFull, ReportCount, ReportOff:
		return m, nil
	}
	return "", fmt.Errorf("--report %q is not one of full, count, off", s)
}

// maxPendingSightings bounds what is kept while the hub is unreachable.
const maxPendingSightings = 100_000

type sightingKey struct {
	id   string
	hour int64
	host string // full mode only
}

type sightingAgg struct {
	count int64
	first time.Time
}

// sightings aggregates matches into counts per indicator and hour and sends
// them to the hub in batches.
type sightings struct {
	mode    ReportMode
	hub     *hubClient
	mu      sync.Mutex
	pending map[sightingKey]*sightingAgg
	// unsent are reports the hub may or may not have stored (the
	// connection failed, or it answered 5xx): sent again as they are,
	// with their key, so that the hub counts each once.
	unsent      []*report
	unsentItems int
	sent        int64
	dropped     int64
	// state keeps what the hub has not taken across restarts and crashes
	// (outbox.go); nil keeps it in memory only.
	state      *State
	savedEmpty bool      // the state holds no sightings
	inflight   []*report // of the flush under way, not sent yet
	log        *slog.Logger
}

// sightingItem is one sighting as the hub's API takes it.
type sightingItem struct {
	Indicator  string `json:"indicator"`
	Count      int64  `json:"count"`
	Hour       string `json:"hour"`
	Host       string `json:"host,omitempty"`
	ObservedAt string `json:"observed_at,omitempty"`
}

// report is one request's sightings and its Idempotency-Key, and the
// aggregates they came from (to merge back what the hub refused).
type report struct {
	key   string
	items []sightingItem
	keys  []sightingKey
	aggs  []*sightingAgg
	// split: the hub refused it whole (an indicator left our view); it
	// goes one sighting at a time from then on, each under key.i, even
	// after a restart (the whole accepted later would count twice what
	// went alone).
	split bool
}

// earliestSighting is the earliest time a sighting is filed under; an
// event stamped earlier (a log line's time of 0: 1970) is filed under the
// hour it was read.
var earliestSighting = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// maxReport is the most sightings sent in one request.
const maxReport = 5000

func newSightings(mode ReportMode, hub *hubClient) *sightings {
	return &sightings{mode: mode, hub: hub, pending: map[sightingKey]*sightingAgg{}, log: slog.New(slog.DiscardHandler)}
}

// add records one match, and says whether it was counted for the hub (not
// with --report off, without a hub, or when too much is pending).
func (s *sightings) add(id string, at time.Time, host string) bool {
	if s.mode == ReportOff || s.hub == nil {
		return false
	}
	if at.Before(earliestSighting) {
		// A log line stamped 0 or garbled into the last century: the
		// hour it was seen is not known, the hour it was read is near.
		at = time.Now()
	}
	k := sightingKey{id: id, hour: at.UTC().Truncate(time.Hour).Unix()}
	if s.mode == ReportFull {
		k.host = host
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.pending[k]
	if !ok {
		if len(s.pending)+s.unsentItems >= maxPendingSightings {
			s.dropped++
			return false
		}
		a = &sightingAgg{first: at}
		s.pending[k] = a
	}
	a.count++
	return true
}

// flush sends what is pending; what could not be sent stays for the next
// flush. Reports that may have reached the hub are sent first, again with
// their key. Every report is saved in the state directory before it is
// sent, and what is left after (outbox.go).
func (s *sightings) flush(ctx context.Context) error {
	s.mu.Lock()
	reports, batch := s.unsent, s.pending
	s.unsent, s.unsentItems, s.pending = nil, 0, map[sightingKey]*sightingAgg{}
	s.mu.Unlock()
	rp := &report{}
	for k, a := range batch {
		rp.keys, rp.aggs = append(rp.keys, k), append(rp.aggs, a)
		if len(rp.keys) == maxReport {
			reports = append(reports, rp)
			rp = &report{}
		}
	}
	if len(rp.keys) > 0 {
		reports = append(reports, rp)
	}
	for _, rp := range reports {
		if rp.key == "" {
			rp.key = rand.Text()
			rp.items = s.items(rp.keys, rp.aggs)
		}
	}
	s.setInflight(reports)
	s.save(ctx)
	var firstErr error
	for i, rp := range reports {
		s.setInflight(reports[i:])
		err := s.send(ctx, rp)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if err != nil && !isRefusal(err) {
			// The hub is out of reach, or over the key's rate limit: the
			// rest waits too.
			for _, rest := range reports[i+1:] {
				s.keepReport(rest)
			}
			break
		}
	}
	s.setInflight(nil)
	s.save(ctx)
	return firstErr
}

// setInflight records the reports of the flush not sent yet, which save
// writes with the rest.
func (s *sightings) setInflight(rps []*report) {
	s.mu.Lock()
	s.inflight = rps
	s.mu.Unlock()
}

// items are the sightings of a report as the hub's API takes them, shaped
// by the report mode.
func (s *sightings) items(keys []sightingKey, aggs []*sightingAgg) []sightingItem {
	items := make([]sightingItem, len(keys))
	for i, k := range keys {
		items[i] = sightingItem{Indicator: k.id, Count: aggs[i].count, Hour: time.Unix(k.hour, 0).UTC().Format(time.RFC3339)}
		if s.mode == ReportFull {
			items[i].Host = k.host
			items[i].ObservedAt = aggs[i].first.UTC().Format(time.RFC3339Nano)
		}
	}
	return items
}

// send posts one report. The hub answers a report it stored before 200
// (by its key) whatever changed since, so a refusal (4xx) means it was not
// stored: its counts go back to pending, merged with what came since. What
// may have been stored (no answer, 5xx), and what was turned away before
// being looked at (429, over the key's rate limit), is kept as it is, key
// included, for the next flush.
func (s *sightings) send(ctx context.Context, rp *report) error {
	if rp.split {
		return s.sendSplit(ctx, rp)
	}
	err := s.hub.postReport(ctx, "/api/v1/sightings", rp.key, map[string]any{"sightings": rp.items})
	var he *hubError
	switch {
	case err == nil:
		s.mu.Lock()
		s.sent += int64(len(rp.items))
		s.mu.Unlock()
		return nil
	case asHubError(err, &he) && he.status == http.StatusTooManyRequests:
		s.keepReport(rp)
		return err
	case asHubError(err, &he) && he.status == http.StatusNotFound && len(rp.items) == 1:
		return nil // its indicator was revoked or left our view: dropped
	case asHubError(err, &he) && he.status == http.StatusNotFound:
		// An indicator was revoked or left our view meanwhile: the rest
		// goes one by one. The report is saved as split first, so that a
		// sensor killed halfway sends the rest the same way.
		rp.split = true
		s.save(ctx)
		return s.sendSplit(ctx, rp)
	case asHubError(err, &he) && he.status == http.StatusUnprocessableEntity && he.code == api.CodeConflict:
		// The hub stored a report under this key before, shaped
		// otherwise (a report saved under --report full and sent again
		// under count): its counts are in, and sending them under a new
		// key would count them twice.
		s.log.Warn("the hub holds another report under this sightings report's key; dropped as counted", "key", rp.key, "sightings", len(rp.items))
		return nil
	case asHubError(err, &he) && he.status < 500:
		for i := range rp.keys {
			s.keep(rp.keys[i], rp.aggs[i])
		}
	default:
		s.keepReport(rp)
	}
	return err
}

// sendSplit sends a report one sighting at a time, dropping what is
// refused. Each one's key comes from the report's, so that a report split
// again after a restart is counted once for what went through already.
func (s *sightings) sendSplit(ctx context.Context, rp *report) error {
	var he *hubError
	single := func(i int) *report {
		return &report{key: rp.key + "." + strconv.Itoa(i), items: rp.items[i : i+1], keys: rp.keys[i : i+1], aggs: rp.aggs[i : i+1]}
	}
	for i := range rp.items {
		one := single(i)
		err := s.hub.postReport(ctx, "/api/v1/sightings", one.key, map[string]any{"sightings": one.items})
		switch {
		case err == nil:
			s.mu.Lock()
			s.sent++
			s.mu.Unlock()
		case asHubError(err, &he) && he.status == http.StatusTooManyRequests:
			// Over the key's rate limit: the rest waits for the next
			// flush rather than being dropped.
			for j := i; j < len(rp.items); j++ {
				s.keep(rp.keys[j], rp.aggs[j])
			}
			return err
		case asHubError(err, &he) && he.status < 500:
			// Refused: dropped.
		default:
			// It may have been stored, and the hub is out of reach: this
			// one and the rest wait, each under its own key, instead of
			// each waiting for a timeout now.
			s.keepReport(one)
			for j := i + 1; j < len(rp.items); j++ {
				s.keepReport(single(j))
			}
			return err
		}
	}
	return nil
}

// isRefusal says whether err is the hub's answer refusing a report it
// looked at (4xx but 429), rather than no answer, a failure of the hub, or
// its rate limit.
func isRefusal(err error) bool {
	var he *hubError
	return asHubError(err, &he) && he.status < 500 && he.status != http.StatusTooManyRequests
}

// keepReport keeps a report that may have been stored, to be sent again
// with its key.
func (s *sightings) keepReport(rp *report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending)+s.unsentItems+len(rp.items) > maxPendingSightings {
		s.dropped += int64(len(rp.items))
		return
	}
	s.unsent = append(s.unsent, rp)
	s.unsentItems += len(rp.items)
}

// keep puts an unsent aggregate back.
func (s *sightings) keep(k sightingKey, a *sightingAgg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.pending[k]; ok {
		b.count += a.count
		return
	}
	if len(s.pending)+s.unsentItems >= maxPendingSightings {
		s.dropped++
		return
	}
	s.pending[k] = a
}

func (s *sightings) counts() (sent, pending, dropped int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, int64(len(s.pending) + s.unsentItems), s.dropped
}

// hubClient calls the hub's API with the sensor's key, failing over between
// hub URLs.
type hubClient struct {
	urls []string
	key  string
	http *http.Client
	mu   sync.Mutex
	next int
}

type hubError struct {
	status int
	code   string // the API's error code, when the body says it
	body   string
}

func (e *hubError) Error() string { return fmt.Sprintf("hub answered %d: %s", e.status, e.body) }

func asHubError(err error, target **hubError) bool {
	he, ok := err.(*hubError)
	if ok {
		*target = he
	}
	return ok
}

func (c *hubClient) postJSON(ctx context.Context, path string, body, out any) error {
	return c.post(ctx, path, "", body, out)
}

// postReport posts a sightings report under its Idempotency-Key: the hub
// counts it once, however often it is sent.
func (c *hubClient) postReport(ctx context.Context, path, key string, body any) error {
	return c.post(ctx, path, key, body, nil)
}

func (c *hubClient) post(ctx context.Context, path, idempotencyKey string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var lastErr error
	for range c.urls {
		c.mu.Lock()
		base := c.urls[c.next%len(c.urls)]
		c.mu.Unlock()
		req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(base, "/")+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Content-Type", "application/json")
		if idempotencyKey != "" {
			req.Header.Set("Idempotency-Key", idempotencyKey)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			lastErr = err
			c.mu.Lock()
			c.next++
			c.mu.Unlock()
			continue
		}
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable {
			// A proxy without a live replica behind it, or a replica
			// that is stopping: the request was not handled, another hub
			// may answer. Not a hubError: what was sent is kept for the
			// next try, not dropped as refused.
			lastErr = fmt.Errorf("hub %s answered %d: %s", base, resp.StatusCode, strings.TrimSpace(string(rb)))
			c.mu.Lock()
			c.next++
			c.mu.Unlock()
			continue
		}
		if resp.StatusCode >= 300 {
			var e struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal(rb, &e) // a proxy's page has no code
			return &hubError{status: resp.StatusCode, code: e.Error.Code, body: strings.TrimSpace(string(rb))}
		}
		if out != nil {
			return json.Unmarshal(rb, out)
		}
		return nil
	}
	return lastErr
}
