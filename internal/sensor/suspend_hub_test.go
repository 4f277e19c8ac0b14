package sensor_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// TestSensorResumesAfterSuspension: a sensor whose organisation is
// suspended loses its stream (the hub refuses its key), keeps asking, and
// follows the stream again, from where it was, once the organisation is
// resumed, without a restart. Before, a refused key stopped it following
// for good.
func TestSensorResumesAfterSuspension(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("cert", policy.Coordinator, "")
	a := h.Org("hospital-a", policy.Member, "")
	kc, analyst, sensorKey := h.Key(coord, policy.Admin), h.Key(a, policy.Analyst), h.Key(a, policy.Sensor)
	post := func(key, value string) {
		t.Helper()
		r := h.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": []any{map[string]any{"value": value, "tlp": "green"}}})
		if r.Status != 200 {
			t.Fatalf("post %s: %d %s", value, r.Status, r.Body)
		}
	}
	status := func(action string) {
		t.Helper()
		if r := h.Do("POST", "/api/v1/orgs/hospital-a/"+action, kc, map[string]any{}); r.Status != 200 {
			t.Fatalf("%s: %d %s", action, r.Status, r.Body)
		}
	}
	var mu sync.Mutex
	arrived := map[string]int{}
	has := func(v string) bool { mu.Lock(); defer mu.Unlock(); return arrived[v] > 0 }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: t.TempDir(), Out: io.Discard,
		RefusedRetry: 100 * time.Millisecond, Name: "edge-1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t)}},
		OnIndicators: func(in []match.Indicator, _ []string) {
			mu.Lock()
			defer mu.Unlock()
			for _, ind := range in {
				arrived[ind.Value]++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sensor: %v", err)
		}
	}()
	post(analyst, "before.example.org")
	eventually(t, 30*time.Second, "the first indicator", func() bool { return has("before.example.org") })

	status("suspend")
	eventually(t, 30*time.Second, "the stream ended by the suspension", func() bool { return !s.Metrics().StreamConnected })
	post(kc, "while-suspended.example.org") // shared with the network, hospital-a included
	time.Sleep(500 * time.Millisecond)      // several refused attempts
	if has("while-suspended.example.org") {
		t.Fatal("a suspended organisation's sensor received an indicator")
	}
	status("resume")
	eventually(t, 30*time.Second, "the indicator shared during the suspension, after the resume", func() bool { return has("while-suspended.example.org") })
	post(analyst, "after.example.org")
	eventually(t, 30*time.Second, "a new indicator after the resume", func() bool { return has("after.example.org") })
}
