package sensor_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// startSensor runs a sensor with cfg until stop or the end of the test,
// counting in the returned arrivals what reaches its copy (cfg's
// OnIndicators is replaced). Unset, cfg gets a fresh state directory, an
// empty EVE file as input, and no output or log.
func startSensor(t *testing.T, cfg sensor.Config) (s *sensor.Sensor, got *arrivals, stop func()) {
	t.Helper()
	got = &arrivals{arrived: map[string]int{}, alerts: map[string]int{}}
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Inputs == nil {
		cfg.Inputs = []sensor.Input{{Format: match.FormatEVE, Path: writeFile(t)}}
	}
	cfg.OnIndicators = func(in []match.Indicator, _ []string) {
		got.mu.Lock()
		defer got.mu.Unlock()
		for _, ind := range in {
			got.arrived[ind.Value]++
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := sensor.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("sensor: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, got, stop
}

// has says whether value has reached the copy.
func (a *arrivals) has(value string) bool { return a.count(a.arrived, value) > 0 }

// postGreen submits each value to h with key, TLP:GREEN to the network.
func postGreen(t *testing.T, h *hubtest.Hub, key string, values ...string) {
	t.Helper()
	var its []any
	for _, v := range values {
		its = append(its, map[string]any{"value": v, "tlp": "green"})
	}
	if r := h.Do("POST", "/api/v1/indicators", key, map[string]any{"indicators": its}); r.Status != 200 {
		t.Fatalf("post %v: %d %s", values, r.Status, r.Body)
	}
}

// dialSocket connects to the unix socket a sensor listens on, waiting for
// it to listen.
func dialSocket(t *testing.T, sock string) net.Conn {
	t.Helper()
	var err error
	for range 200 {
		var conn net.Conn
		if conn, err = net.Dial("unix", sock); err == nil {
			return conn
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the sensor does not listen on %s: %v", sock, err)
	return nil
}
