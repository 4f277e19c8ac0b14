package sensor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestSightingsSentAgainCountOnce: the hub stores a report but its answer
// is lost (the connection is cut after the hub answered). The sensor
// keeps the report as it was and sends it again with the same
// Idempotency-Key at the next flush, even though more sightings arrived
// meanwhile; the hub counts it once. Through a real hub.
func TestSightingsSentAgainCountOnce(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	src := h.Org("hospital-a", policy.Member, "")
	mine := h.Org("hospital-b", policy.Member, "")
	srcKey := h.Key(src, policy.Analyst)
	r := h.Do("POST", "/api/v1/indicators", srcKey, map[string]any{"indicators": []any{
		map[string]any{"type": "domain", "value": "lost-answer.example.org", "tlp": "amber"}}})
	var sub struct{ Results []api.ItemResult }
	r.JSON(t, &sub)
	if r.Status != 200 || len(sub.Results) != 1 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	id := sub.Results[0].ID

	target, _ := url.Parse(h.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var keys []string
	cut := true
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/sightings" {
			rp.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		drop := cut
		cut = false
		mu.Unlock()
		if !drop {
			rp.ServeHTTP(w, r)
			return
		}
		// Forward, let the hub store and answer, then lose the answer.
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Errorf("the hub answered the first sending %d: %s", rec.Code, rec.Body)
		}
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	defer proxy.Close()

	s := newSightings(ReportCount, &hubClient{urls: []string{proxy.URL}, key: h.Key(mine, policy.Sensor), http: &http.Client{Timeout: 10 * time.Second}})
	at := time.Now().UTC()
	for range 3 {
		s.add(id, at, "")
	}
	if err := s.flush(context.Background()); err == nil {
		t.Fatal("the first flush reported no error although its answer was lost")
	}
	if _, pending, _ := s.counts(); pending != 1 {
		t.Fatalf("%d sightings pending after the lost answer, want the report's 1", pending)
	}
	s.add(id, at, "") // a new match meanwhile: its own report
	if err := s.flush(context.Background()); err != nil {
		t.Fatalf("second flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 3 || keys[0] == "" || keys[1] != keys[0] || keys[2] == keys[0] {
		t.Fatalf("keys sent %q: want the first report's key twice, then another", keys)
	}
	var sg api.SightingsJSON
	h.Do("GET", "/api/v1/indicators/"+id+"/sightings", srcKey, nil).JSON(t, &sg)
	if sg.Total != 4 {
		t.Errorf("the hub counts %d sightings, want 4 (3 sent twice, counted once, and 1)", sg.Total)
	}
	if sent, pending, dropped := s.counts(); sent != 2 || pending != 0 || dropped != 0 {
		t.Errorf("sent %d, pending %d, dropped %d; want 2 (aggregates), 0, 0", sent, pending, dropped)
	}
}
