package sensor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
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
}

// maxReport is the most sightings sent in one request.
const maxReport = 5000

func newSightings(mode ReportMode, hub *hubClient) *sightings {
	return &sightings{mode: mode, hub: hub, pending: map[sightingKey]*sightingAgg{}}
}

// add records one match.
func (s *sightings) add(id string, at time.Time, host string) {
	if s.mode == ReportOff || s.hub == nil {
		return
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
			return
		}
		a = &sightingAgg{first: at}
		s.pending[k] = a
	}
	a.count++
}

// flush sends what is pending; what could not be sent stays for the next
// flush. Reports that may have reached the hub are sent first, again with
// their key.
func (s *sightings) flush(ctx context.Context) error {
	s.mu.Lock()
	retry, batch := s.unsent, s.pending
	s.unsent, s.unsentItems, s.pending = nil, 0, map[sightingKey]*sightingAgg{}
	s.mu.Unlock()
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for i, rp := range retry {
		err := s.send(ctx, rp)
		note(err)
		if err != nil && !isRefusal(err) {
			// The hub is still out of reach, or over the key's rate
			// limit: the rest waits too.
			for _, rest := range retry[i+1:] {
				s.keepReport(rest)
			}
			break
		}
	}
	if len(batch) == 0 {
		return firstErr
	}
	rp := &report{}
	for k, a := range batch {
		it := sightingItem{Indicator: k.id, Count: a.count, Hour: time.Unix(k.hour, 0).UTC().Format(time.RFC3339)}
		if s.mode == ReportFull {
			it.Host = k.host
			it.ObservedAt = a.first.UTC().Format(time.RFC3339Nano)
		}
		rp.items, rp.keys, rp.aggs = append(rp.items, it), append(rp.keys, k), append(rp.aggs, a)
		if len(rp.items) == maxReport {
			rp.key = rand.Text()
			note(s.send(ctx, rp))
			rp = &report{}
		}
	}
	if len(rp.items) > 0 {
		rp.key = rand.Text()
		note(s.send(ctx, rp))
	}
	return firstErr
}

// send posts one report. The hub answers a report it stored before 200
// (by its key) whatever changed since, so a refusal (4xx) means it was not
// stored: its counts go back to pending, merged with what came since. What
// may have been stored (no answer, 5xx), and what was turned away before
// being looked at (429, over the key's rate limit), is kept as it is, key
// included, for the next flush.
func (s *sightings) send(ctx context.Context, rp *report) error {
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
		// An indicator was revoked or left our view meanwhile: send the
		// rest one by one, dropping what is refused.
		for i := range rp.items {
			one := &report{key: rand.Text(), items: rp.items[i : i+1], keys: rp.keys[i : i+1], aggs: rp.aggs[i : i+1]}
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
				s.keepReport(one)
			}
		}
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
			return &hubError{status: resp.StatusCode, body: strings.TrimSpace(string(rb))}
		}
		if out != nil {
			return json.Unmarshal(rb, out)
		}
		return nil
	}
	return lastErr
}
