package sensor_test

import (
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
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
	status := func(action string) {
		t.Helper()
		if r := h.Do("POST", "/api/v1/orgs/hospital-a/"+action, kc, map[string]any{}); r.Status != 200 {
			t.Fatalf("%s: %d %s", action, r.Status, r.Body)
		}
	}
	s, got, _ := startSensor(t, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, RefusedRetry: 100 * time.Millisecond, Name: "edge-1"})
	postGreen(t, h, analyst, "before.example.org")
	eventually(t, 30*time.Second, "the first indicator", func() bool { return got.has("before.example.org") })

	status("suspend")
	eventually(t, 30*time.Second, "the stream ended by the suspension", func() bool { return !s.Metrics().StreamConnected })
	postGreen(t, h, kc, "while-suspended.example.org") // shared with the network, hospital-a included
	time.Sleep(500 * time.Millisecond)                 // several refused attempts
	if got.has("while-suspended.example.org") {
		t.Fatal("a suspended organisation's sensor received an indicator")
	}
	status("resume")
	eventually(t, 30*time.Second, "the indicator shared during the suspension, after the resume", func() bool { return got.has("while-suspended.example.org") })
	postGreen(t, h, analyst, "after.example.org")
	eventually(t, 30*time.Second, "a new indicator after the resume", func() bool { return got.has("after.example.org") })
}
