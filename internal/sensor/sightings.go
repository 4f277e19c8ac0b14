package sensor

import (
	"bytes"
	"context"
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
	sent    int64
	dropped int64
}

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
		if len(s.pending) >= maxPendingSightings {
			s.dropped++
			return
		}
		a = &sightingAgg{first: at}
		s.pending[k] = a
	}
	a.count++
}

// flush sends what is pending; what could not be sent stays for the next
// flush.
func (s *sightings) flush(ctx context.Context) error {
	s.mu.Lock()
	batch := s.pending
	s.pending = map[sightingKey]*sightingAgg{}
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	type item struct {
		Indicator  string `json:"indicator"`
		Count      int64  `json:"count"`
		Hour       string `json:"hour"`
		Host       string `json:"host,omitempty"`
		ObservedAt string `json:"observed_at,omitempty"`
	}
	items := make([]item, 0, len(batch))
	keys := make([]sightingKey, 0, len(batch))
	for k, a := range batch {
		it := item{Indicator: k.id, Count: a.count, Hour: time.Unix(k.hour, 0).UTC().Format(time.RFC3339)}
		if s.mode == ReportFull {
			it.Host = k.host
			it.ObservedAt = a.first.UTC().Format(time.RFC3339Nano)
		}
		items = append(items, it)
		keys = append(keys, k)
	}
	var firstErr error
	for start := 0; start < len(items); start += 5000 {
		end := min(start+5000, len(items))
		err := s.hub.postJSON(ctx, "/api/v1/sightings", map[string]any{"sightings": items[start:end]}, nil)
		if err != nil {
			var he *hubError
			if asHubError(err, &he) && he.status == http.StatusNotFound {
				// An indicator was revoked or left our view meanwhile:
				// send the rest one by one, dropping what is refused.
				for i := start; i < end; i++ {
					err := s.hub.postJSON(ctx, "/api/v1/sightings", map[string]any{"sightings": items[i : i+1]}, nil)
					if asHubError(err, &he) && he.status == http.StatusTooManyRequests {
						// Over the key's rate limit: the rest waits for the
						// next flush rather than being dropped.
						for j := i; j < end; j++ {
							s.keep(keys[j], batch[keys[j]])
						}
						break
					}
					if err != nil && !asHubError(err, &he) {
						s.keep(keys[i], batch[keys[i]])
					}
				}
				continue
			}
			for i := start; i < end; i++ {
				s.keep(keys[i], batch[keys[i]])
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		s.mu.Lock()
		s.sent += int64(end - start)
		s.mu.Unlock()
	}
	return firstErr
}

// keep puts an unsent aggregate back.
func (s *sightings) keep(k sightingKey, a *sightingAgg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.pending[k]; ok {
		b.count += a.count
		return
	}
	if len(s.pending) >= maxPendingSightings {
		s.dropped++
		return
	}
	s.pending[k] = a
}

func (s *sightings) counts() (sent, pending, dropped int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, int64(len(s.pending)), s.dropped
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
