package sensor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// outboxHub is a real hub with one indicator shared with a second
// organisation, behind a proxy whose sightings requests the test steers.
type outboxHub struct {
	h         *hubtest.Hub
	id        string // the indicator
	srcKey    string // its source's analyst key (reads the sightings)
	sensorKey string // the second organisation's sensor key
	proxy     *httptest.Server

	mu     sync.Mutex
	action func(w http.ResponseWriter, r *http.Request) // for sightings requests; nil forwards
	keys   []string                                     // Idempotency-Key of each sightings request
	bodies []string
	rp     *httputil.ReverseProxy
}

func startOutboxHub(t *testing.T) *outboxHub {
	t.Helper()
	h := hubtest.Start(t, hub.Config{})
	src := h.Org("hospital-a", policy.Member, "")
	mine := h.Org("hospital-b", policy.Member, "")
	o := &outboxHub{h: h, srcKey: h.Key(src, policy.Analyst), sensorKey: h.Key(mine, policy.Sensor)}
	r := h.Do("POST", "/api/v1/indicators", o.srcKey, map[string]any{"indicators": []any{
		map[string]any{"type": "domain", "value": "outbox.example.org", "tlp": "amber"}}})
	var sub struct{ Results []api.ItemResult }
	r.JSON(t, &sub)
	if r.Status != 200 || len(sub.Results) != 1 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	o.id = sub.Results[0].ID
	target, _ := url.Parse(h.URL)
	o.rp = httputil.NewSingleHostReverseProxy(target)
	o.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/sightings" {
			o.rp.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		o.mu.Lock()
		o.keys = append(o.keys, r.Header.Get("Idempotency-Key"))
		o.bodies = append(o.bodies, string(body))
		act := o.action
		o.mu.Unlock()
		if act == nil {
			o.rp.ServeHTTP(w, r)
			return
		}
		act(w, r)
	}))
	t.Cleanup(o.proxy.Close)
	return o
}

func (o *outboxHub) steer(act func(w http.ResponseWriter, r *http.Request)) {
	o.mu.Lock()
	o.action = act
	o.mu.Unlock()
}

func (o *outboxHub) sent() (keys, bodies []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.keys...), append([]string(nil), o.bodies...)
}

// total is what the hub counts for the indicator.
func (o *outboxHub) total(t *testing.T) int64 {
	t.Helper()
	var sg api.SightingsJSON
	o.h.Do("GET", "/api/v1/indicators/"+o.id+"/sightings", o.srcKey, nil).JSON(t, &sg)
	return sg.Total
}

// sightingsFor makes the sightings of a sensor whose state is in dir, and
// takes back what that state saved, as Sensor.New does.
func (o *outboxHub) sightingsFor(t *testing.T, mode ReportMode, dir string) (*sightings, *State) {
	t.Helper()
	st, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := newSightings(mode, &hubClient{urls: []string{o.proxy.URL}, key: o.sensorKey,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}})
	reports, pending, err := st.Sightings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.state = st
	s.restore(reports, pending)
	return s, st
}

// refuseConnection cuts a request without an answer: the hub is out of reach.
func refuseConnection(w http.ResponseWriter, _ *http.Request) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

// TestSightingsSurviveRestart: while the hub is out of reach, a sensor
// keeps a report it could not send and the counts that came after. It
// stops; a new sensor on the same state directory sends the report again
// under the same key, then the counts, and the hub has each match once.
// Before, they were held in memory only and a restart lost them.
func TestSightingsSurviveRestart(t *testing.T) {
	o := startOutboxHub(t)
	dir := t.TempDir()
	o.steer(refuseConnection)
	s, st := o.sightingsFor(t, ReportCount, dir)
	now := time.Now().UTC()
	for range 3 {
		s.add(o.id, now, "")
	}
	for range 2 {
		s.add(o.id, now.Add(-time.Hour), "")
	}
	if err := s.flush(t.Context()); err == nil {
		t.Fatal("a flush with the hub out of reach reported no error")
	}
	s.add(o.id, now, "") // after the flush: pending
	if err := s.flush(t.Context()); err == nil {
		t.Fatal("the second flush with the hub out of reach reported no error")
	}
	st.Close()
	keys, _ := o.sent()
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Fatalf("keys sent while out of reach %q: want the first report's twice (the second report waits behind it)", keys)
	}

	o.steer(nil)
	s2, _ := o.sightingsFor(t, ReportCount, dir)
	if _, pending, _ := s2.counts(); pending != 3 {
		t.Fatalf("the restarted sensor holds %d sightings, want 3 (the kept report's 2 and the later count)", pending)
	}
	if err := s2.flush(t.Context()); err != nil {
		t.Fatalf("flush after the restart: %v", err)
	}
	if got := o.total(t); got != 6 {
		t.Errorf("the hub counts %d sightings, want 6", got)
	}
	keys, _ = o.sent()
	if len(keys) < 3 || keys[2] != keys[0] {
		t.Errorf("keys sent %q: the restarted sensor must send the kept report under its key first", keys)
	}
	reports, pending, err := s2.state.Sightings(t.Context())
	if err != nil || len(reports) != 0 || len(pending) != 0 {
		t.Errorf("after everything was taken the state still holds %d reports and %d counts (%v)", len(reports), len(pending), err)
	}
}

// TestSightingsCrashAfterStoreCountOnce: the hub stores a report and the
// sensor dies before it hears the answer. The state directory as it was at
// that moment (copied while the request is in the hub's hands) holds the
// report with its key, saved before it was sent; a sensor started on it
// sends it again under that key and the hub counts it once.
func TestSightingsCrashAfterStoreCountOnce(t *testing.T) {
	o := startOutboxHub(t)
	dir, crashed := t.TempDir(), t.TempDir()
	o.steer(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		o.rp.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Errorf("the hub answered %d: %s", rec.Code, rec.Body)
		}
		// The sensor is killed now: its state directory stays as it is.
		copyDir(t, dir, crashed)
		refuseConnection(w, r)
	})
	s, _ := o.sightingsFor(t, ReportCount, dir)
	at := time.Now().UTC()
	for range 4 {
		s.add(o.id, at, "")
	}
	s.flush(t.Context())
	if got := o.total(t); got != 4 {
		t.Fatalf("the hub counts %d after the first sending, want 4", got)
	}

	o.steer(nil)
	s2, _ := o.sightingsFor(t, ReportCount, crashed)
	if _, pending, _ := s2.counts(); pending != 1 {
		t.Fatalf("the sensor started on the crashed state holds %d sightings, want the report's 1", pending)
	}
	if err := s2.flush(t.Context()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	keys, _ := o.sent()
	if len(keys) != 2 || keys[1] != keys[0] {
		t.Fatalf("keys sent %q: want the report's key twice", keys)
	}
	if got := o.total(t); got != 4 {
		t.Errorf("the hub counts %d sightings, want 4: the report was counted again", got)
	}
}

// TestSightingsModeNarrowedKeepsHostsIn: a report saved under --report full
// is sent by a sensor restarted under count without its hosts (the counts
// of one indicator and hour merged). If the hub stored the full report
// before, it refuses the narrowed one as another report under the same key
// (422), and the sensor drops it instead of counting it again.
func TestSightingsModeNarrowedKeepsHostsIn(t *testing.T) {
	for _, stored := range []bool{false, true} {
		t.Run(map[bool]string{false: "not stored", true: "stored before"}[stored], func(t *testing.T) {
			o := startOutboxHub(t)
			dir := t.TempDir()
			if stored {
				o.steer(func(w http.ResponseWriter, r *http.Request) {
					o.rp.ServeHTTP(httptest.NewRecorder(), r)
					refuseConnection(w, r)
				})
			} else {
				o.steer(refuseConnection)
			}
			s, st := o.sightingsFor(t, ReportFull, dir)
			at := time.Now().UTC()
			s.add(o.id, at, "10.1.2.3")
			s.add(o.id, at, "10.1.2.3")
			s.add(o.id, at, "10.9.8.7")
			s.flush(t.Context())
			st.Close()

			o.steer(nil)
			s2, _ := o.sightingsFor(t, ReportCount, dir)
			if err := s2.flush(t.Context()); err != nil {
				t.Fatalf("flush under count: %v", err)
			}
			keys, bodies := o.sent()
			if len(bodies) != 2 || keys[1] != keys[0] {
				t.Fatalf("keys sent %q: want the saved report's key twice", keys)
			}
			if strings.Contains(bodies[1], "10.1.2.3") || strings.Contains(bodies[1], "host") || !strings.Contains(bodies[1], `"count":3`) {
				t.Errorf("the report sent under count is %s: want one count of 3 and no host", bodies[1])
			}
			if got := o.total(t); got != 3 {
				t.Errorf("the hub counts %d sightings, want 3", got)
			}
			if _, pending, dropped := s2.counts(); pending != 0 || dropped != 0 {
				t.Errorf("pending %d, dropped %d after the flush; want 0 and 0", pending, dropped)
			}
		})
	}
}

// TestStateSightingsRoundTrip: what SaveSightings writes, Sightings reads
// back in the same order, and a second save replaces the first.
func TestStateSightingsRoundTrip(t *testing.T) {
	st, err := OpenState(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	reports := []SavedReport{
		{Key: "b-first", Items: []SavedSighting{{Indicator: "x", Hour: 3600, Count: 2, First: 3601e9}}},
		{Key: "a-second", Items: []SavedSighting{{Indicator: "y", Hour: 7200, Host: "10.0.0.1", Count: 1, First: 7201e9}, {Indicator: "x", Hour: 7200, Count: 5, First: 7300e9}}},
	}
	pending := []SavedSighting{{Indicator: "z", Hour: 0, Count: 9, First: 5}}
	if err := st.SaveSightings(ctx, reports, pending); err != nil {
		t.Fatal(err)
	}
	gotR, gotP, err := st.Sightings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotR) != 2 || gotR[0].Key != "b-first" || gotR[1].Key != "a-second" || len(gotR[1].Items) != 2 ||
		gotR[1].Items[0] != reports[1].Items[0] || gotR[1].Items[1] != reports[1].Items[1] || gotR[0].Items[0] != reports[0].Items[0] {
		t.Fatalf("reports read back %+v, want %+v", gotR, reports)
	}
	if len(gotP) != 1 || gotP[0] != pending[0] {
		t.Fatalf("pending read back %+v, want %+v", gotP, pending)
	}
	if err := st.SaveSightings(ctx, reports[1:], nil); err != nil {
		t.Fatal(err)
	}
	if gotR, gotP, err = st.Sightings(ctx); err != nil || len(gotR) != 1 || gotR[0].Key != "a-second" || len(gotP) != 0 {
		t.Fatalf("after the second save: %+v %+v %v; want only a-second", gotR, gotP, err)
	}
}

// copyDir copies the files of a state directory (the database and its
// write-ahead log) as a killed process leaves them.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkStateSaveSightings: saving the most a sensor holds unsent
// (100,000 pending counts, one report of 5,000), as every flush does while
// the hub is out of reach.
func BenchmarkStateSaveSightings(b *testing.B) {
	st, err := OpenState(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	pending := make([]SavedSighting, maxPendingSightings)
	for i := range pending {
		pending[i] = SavedSighting{Indicator: fmt.Sprintf("01a2b3c4-0000-7000-8000-%012d", i), Hour: 3600 * int64(i%48), Count: 3, First: 5}
	}
	reports := []SavedReport{{Key: "bench", Items: pending[:maxReport]}}
	for b.Loop() {
		if err := st.SaveSightings(b.Context(), reports, pending); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSightingsSplitSurvivesCrash: the hub refuses a report whole (404:
// an indicator left the sensor's view, here only for that one answer), so
// the sensor sends it one sighting at a time; the first is stored and the
// sensor is killed while the second is in the hub's hands. Started on the
// state as the kill left it, the sensor goes on one at a time under the
// same keys: the hub counts each sighting once. Sent whole again, the report
// would now be taken and the first sighting counted twice.
func TestSightingsSplitSurvivesCrash(t *testing.T) {
	o := startOutboxHub(t)
	dir, crashed := t.TempDir(), t.TempDir()
	var n int
	o.steer(func(w http.ResponseWriter, r *http.Request) {
		n++
		switch n {
		case 1:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"not_found","message":"sightings[1]: not found"}}`)
		case 2:
			o.rp.ServeHTTP(w, r)
		default:
			copyDir(t, dir, crashed) // killed now
			refuseConnection(w, r)
		}
	})
	s, _ := o.sightingsFor(t, ReportCount, dir)
	now := time.Now().UTC()
	for range 3 {
		s.add(o.id, now, "")
	}
	for range 2 {
		s.add(o.id, now.Add(-time.Hour), "")
	}
	s.flush(t.Context())
	keys, _ := o.sent()
	if len(keys) != 3 || keys[1] != keys[0]+".0" || keys[2] != keys[0]+".1" {
		t.Fatalf("keys sent %q: want the report's, then its first and second sighting's", keys)
	}
	first := o.total(t)
	if first != 2 && first != 3 {
		t.Fatalf("the hub counts %d after the first sighting alone, want 2 or 3", first)
	}

	o.steer(nil)
	s2, _ := o.sightingsFor(t, ReportCount, crashed)
	if err := s2.flush(t.Context()); err != nil {
		t.Fatalf("flush on the crashed state: %v", err)
	}
	keys, _ = o.sent()
	for _, k := range keys[3:] {
		if k == keys[0] {
			t.Errorf("keys sent after the restart %q: the split report went whole again", keys[3:])
		}
	}
	if got := o.total(t); got != 5 {
		t.Errorf("the hub counts %d sightings, want 5", got)
	}
}
