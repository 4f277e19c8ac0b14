package sensor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSightingsKeptWhenRateLimited: when a batch is refused because one
// indicator left the sensor's view (404), the sightings are sent one by
// one; once the hub says the key is over its rate limit (429), the rest is
// kept for the next flush, not dropped.
func TestSightingsKeptWhenRateLimited(t *testing.T) {
	var singles atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Sightings []json.RawMessage `json:"sightings"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		switch {
		case len(body.Sightings) > 1:
			http.Error(w, `{"error":{"code":"not_found","message":"indicator gone"}}`, http.StatusNotFound)
		case singles.Add(1) <= 2:
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{}`))
		default:
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":{"code":"rate_limited","message":"slow down"}}`, http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	s := newSightings(ReportCount, &hubClient{urls: []string{srv.URL}, key: "k", http: srv.Client()})
	now := time.Now()
	for _, id := range []string{"i1", "i2", "i3", "i4", "i5", "i6"} {
		s.add(id, now, "")
	}
	s.flush(context.Background())
	if _, pending, _ := s.counts(); pending != 4 {
		t.Errorf("%d sightings pending after the hub rate-limited the key, want the 4 not sent", pending)
	}
	if n := singles.Load(); n != 3 {
		t.Errorf("%d single requests, want 3: two sent, then one refused with 429 and the rest held back", n)
	}
}

// TestSightingsReportKeptThroughRateLimit: a report that may have been
// stored (its answer was lost) and is then turned away by the rate limit
// is neither merged into new counts nor dropped: it goes again, with its
// key, until the hub answers.
func TestSightingsReportKeptThroughRateLimit(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		switch n {
		case 1:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		case 2:
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":{"code":"rate_limited","message":"slow down"}}`, http.StatusTooManyRequests)
		default:
			w.Write([]byte(`{"stored":1}`))
		}
	}))
	defer srv.Close()
	s := newSightings(ReportCount, &hubClient{urls: []string{srv.URL}, key: "k", http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	s.add("i1", time.Now(), "")
	for range 3 {
		s.flush(context.Background())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 3 || keys[0] == "" || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("keys %q: want one report sent three times under one key", keys)
	}
	if sent, pending, dropped := s.counts(); sent != 1 || pending != 0 || dropped != 0 {
		t.Errorf("sent %d, pending %d, dropped %d; want 1, 0, 0", sent, pending, dropped)
	}
}

// TestSightingsOfUndatedLines: a match on a log line stamped 0 (1970) is
// filed under the hour it was read, not 1970 (the hub stored it there, out
// of every view); an old but real time is kept.
func TestSightingsOfUndatedLines(t *testing.T) {
	var mu sync.Mutex
	var hours []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Sightings []struct{ Hour string } `json:"sightings"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("report: %v", err)
		}
		mu.Lock()
		for _, s := range body.Sightings {
			hours = append(hours, s.Hour)
		}
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	s := newSightings(ReportCount, &hubClient{urls: []string{srv.URL}, key: "k", http: srv.Client()})
	old := time.Date(2021, 6, 6, 13, 20, 0, 0, time.UTC)
	s.add("undated", time.Unix(0, 0), "")
	s.add("old", old, "")
	before := time.Now().UTC().Truncate(time.Hour)
	s.flush(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(hours) != 2 {
		t.Fatalf("hours reported: %v, want two", hours)
	}
	slices.Sort(hours)
	if want := old.Truncate(time.Hour).Format(time.RFC3339); hours[0] != want {
		t.Errorf("the old sighting's hour %s, want %s", hours[0], want)
	}
	if h, err := time.Parse(time.RFC3339, hours[1]); err != nil || h.Before(before) {
		t.Errorf("the undated sighting's hour %s, want the hour it was read (%s or later)", hours[1], before.Format(time.RFC3339))
	}
}
