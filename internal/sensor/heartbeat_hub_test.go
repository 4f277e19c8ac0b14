package sensor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// sensorsJSON is GET /api/v1/sensors.
type sensorsJSON struct {
	Sensors []struct {
		KeyID   string `json:"key_id"`
		Name    string `json:"name"`
		Version string `json:"version"`
		Inputs  []struct {
			Path       string  `json:"path"`
			Format     string  `json:"format"`
			Events     int64   `json:"events"`
			LagSeconds float64 `json:"lag_seconds"`
		} `json:"inputs"`
		EventsPerSecond float64 `json:"events_per_second"`
		LagSeconds      float64 `json:"lag_seconds"`
		Indicators      int     `json:"indicators"`
		LastError       string  `json:"last_error"`
		LastSeen        string  `json:"last_seen"`
		Live            bool    `json:"live"`
	} `json:"sensors"`
}

// TestHeartbeatsReachTheHub runs a sensor against a real hub: its
// heartbeats show in the organisation's list of sensors with its inputs,
// the lines read from them and the indicators it holds.
func TestHeartbeatsReachTheHub(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	admin, analyst, sensorKey := h.Key(a, policy.Admin), h.Key(a, policy.Analyst), h.Key(a, policy.Sensor)
	var res struct{ Results []api.ItemResult }
	h.Do("POST", "/api/v1/indicators", analyst, map[string]any{"indicators": []any{map[string]any{"value": "hb-c2.example.net", "tlp": "green"}}}).JSON(t, &res)

	eve := writeFile(t, eveDNS(time.Now(), "a.example.org"), eveDNS(time.Now(), "b.example.org"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sensor.New(ctx, sensor.Config{Hubs: []string{h.URL}, Key: sensorKey, StateDir: t.TempDir(), Out: io.Discard, Name: "edge-1",
		FromStart: true, HeartbeatEvery: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: eve}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	// More lines while it runs: the count follows.
	f, err := os.OpenFile(eve, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, eveDNS(time.Now(), "c.example.org"))
	f.Close()

	var list sensorsJSON
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := h.Do("GET", "/api/v1/sensors", admin, nil)
		if r.Status != 200 {
			t.Fatalf("GET /api/v1/sensors: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &list)
		if len(list.Sensors) == 1 && len(list.Sensors[0].Inputs) == 1 && list.Sensors[0].Inputs[0].Events == 3 && list.Sensors[0].Indicators == 1 && list.Sensors[0].LagSeconds == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub does not show the sensor's heartbeat with 3 lines read, no lag and 1 indicator: %s", r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := list.Sensors[0]
	if got.Name != "edge-1" || got.Version == "" || got.KeyID == "" || !got.Live || got.LastSeen == "" ||
		got.Inputs[0].Path != eve || got.Inputs[0].Format != "eve" || got.LastError != "" {
		t.Errorf("sensor as the hub shows it: %+v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sensor: %v", err)
	}
}
